#!/usr/bin/env bash
# Sets up a fresh machine for Triton DSL: the system packages the C++ build and tests need,
# a virtual environment in .venv with the pinned PyTorch pair, and the project itself
# installed with `pip install .` (which builds the compiler and the native runtime).
# Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  need=()
  # libclang-rt-14-dev: clang's sanitizer and libFuzzer runtimes (the fuzz step links them).
  for pkg in g++ cmake ninja-build clang libclang-rt-14-dev libgtest-dev python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q -r requirements/torch.txt
python -m pip install -q -r requirements/dev.txt
python -m pip install -q --no-build-isolation .
echo "setup: done ($(python -c 'import torch; print("torch", torch.__version__)'))"
