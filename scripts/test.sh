#!/usr/bin/env bash
# Runs every test of Triton DSL, as CI does: the C++ suites (compiler and runtime) built with
# warnings as errors under AddressSanitizer and UBSan, the golden files, the shared-engine test
# under ThreadSanitizer, each libFuzzer target for a short run, and the Python suites against
# the installed package.
# Expects scripts/setup.sh to have run (the README's test command runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}  # each target; raise it for a longer local run
export PYTHONDONTWRITEBYTECODE=1

echo "== C++ tests (ASan + UBSan, -Werror)"
cmake -S . -B build/ci-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DTRITON_WERROR=ON -DTRITON_SANITIZE=ON -DTRITON_BUILD_TESTS=ON -DTRITON_BUILD_PYTHON=OFF >/dev/null
cmake --build build/ci-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/ci-asan --output-on-failure -j "$JOBS"

echo "== shared engine under ThreadSanitizer (runtime + runtime_concurrency_tests only)"
cmake -S . -B build/ci-tsan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DTRITON_WERROR=ON -DTRITON_TSAN=ON -DTRITON_BUILD_TESTS=ON -DTRITON_BUILD_PYTHON=OFF >/dev/null
cmake --build build/ci-tsan -j "$JOBS" --target runtime_concurrency_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/ci-tsan/runtime/tests/runtime_concurrency_tests

echo "== fuzzers (${FUZZ_SECONDS}s each, clang + ASan + UBSan)"
CC=clang CXX=clang++ cmake -S . -B build/ci-fuzz -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DTRITON_BUILD_FUZZERS=ON -DTRITON_BUILD_TESTS=OFF -DTRITON_BUILD_PYTHON=OFF >/dev/null
fuzz_targets=$(cmake --build build/ci-fuzz --target help | sed -n 's/^\(fuzz_[A-Za-z0-9_]*\):.*/\1/p')
cmake --build build/ci-fuzz -j "$JOBS" --target $fuzz_targets
python tools/run_fuzzers.py --build build/ci-fuzz --seconds "$FUZZ_SECONDS"

echo "== Python tests (installed package)"
python -m pytest -q -p no:cacheprovider tests/python
