#!/usr/bin/env python3
"""Golden-file tests of the `triton` compiler: check, regenerate, and diagnostic coverage.

Layout: every folder under `tests/compiler/goldens/` that holds an `ARGS` file is a phase.
`ARGS` holds the `triton` arguments for that phase (e.g. `compile --emit=ast`). Each
`NAME.triton` (or `NAME.tri`) in it is one test, run as

    triton <ARGS> [<per-file args>] NAME.triton        (working directory: the phase folder)

where per-file args come from a first line `// args: ...`. The expected results sit beside
it: `NAME.out` (standard output) and `NAME.err` (standard error), each present only when
non-empty. A name starting with `fail_` exists exactly when an error is expected: such a
test must exit with status 1 (or with `// exit: N` on its first lines), every other test
with 0.

A test named like an example (`examples/*/NAME.triton`, the seed models and the other
examples) is a copy of it, so the goldens follow the examples users read: `--check` fails
when the copy differs, `--update` copies the example over it first.

Modes:
  --check      (default) run every test and diff against the expected files
  --update     rewrite the expected files (and example copies) from the current compiler
               and examples (tools/update_goldens)
  --coverage   fail when an error or warning kind of the diagnostic registry
               (`triton --list-diagnostics`) is produced by no golden

Goldens are never edited by hand; review their diffs instead.
"""

from __future__ import annotations

import argparse
import difflib
import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GOLDEN_ROOT = Path(__file__).resolve().parent
REPO_ROOT = GOLDEN_ROOT.parents[2]
SOURCE_SUFFIXES = (".triton", ".tri")
ID_PATTERN = re.compile(r": (?:error|warning|note): .* \[([a-z0-9_]+)\]$", re.MULTILINE)
TIMEOUT_S = 60


@dataclass
class Case:
    phase: str
    path: Path
    args: list[str]
    expected_exit: int

    @property
    def name(self) -> str:
        return f"{self.phase}/{self.path.name}"

    def expected_file(self, suffix: str) -> Path:
        return self.path.with_suffix(suffix)


def find_compiler(explicit: str | None) -> str:
    # Tests run inside their phase folder, so a relative path is made absolute first.
    if explicit:
        return os.path.abspath(explicit)
    if os.environ.get("TRITON_COMPILER"):
        return os.path.abspath(os.environ["TRITON_COMPILER"])
    candidates = glob.glob(str(REPO_ROOT / "build" / "*" / "compiler" / "driver" / "triton"))
    if not candidates:
        sys.exit("run_goldens: no `triton` found; build it or pass --triton PATH")
    return max(candidates, key=os.path.getmtime)


def directives(path: Path) -> tuple[list[str], int | None]:
    """`// args: ...` and `// exit: N` from the first three lines of a test file."""
    args: list[str] = []
    exit_code = None
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8", errors="replace").splitlines()[:3]
    for line in head:
        match = re.match(r"\s*//\s*args:\s*(.*)$", line)
        if match:
            args = match.group(1).split()
        match = re.match(r"\s*//\s*exit:\s*(\d+)\s*$", line)
        if match:
            exit_code = int(match.group(1))
    return args, exit_code


def collect(selected: list[str]) -> list[Case]:
    cases = []
    for args_file in sorted(GOLDEN_ROOT.glob("**/ARGS")):
        phase_dir = args_file.parent
        phase = phase_dir.relative_to(GOLDEN_ROOT).as_posix()
        phase_args = args_file.read_text().split()
        for path in sorted(phase_dir.iterdir()):
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            extra, exit_code = directives(path)
            expected_exit = exit_code if exit_code is not None else (
                1 if path.name.startswith("fail_") else 0)
            case = Case(phase, path, phase_args + extra, expected_exit)
            if not selected or any(s in case.name for s in selected):
                cases.append(case)
    return cases


def example_copies(cases: list[Case], update: bool) -> int:
    """Checks (or, updating, refreshes) the tests that copy an example; the number stale."""
    examples = {p.name: p for p in sorted((REPO_ROOT / "examples").glob("*/*.triton"))}
    stale = 0
    for case in cases:
        example = examples.get(case.path.name)
        if example is None or case.path.read_bytes() == example.read_bytes():
            continue
        if update:
            case.path.write_bytes(example.read_bytes())
            continue
        stale += 1
        print(f"FAIL {case.name}: differs from its example "
              f"{example.relative_to(REPO_ROOT).as_posix()}; run tools/update_goldens")
    return stale


def run(compiler: str, case: Case, extra: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([compiler, *case.args, *extra, case.path.name], cwd=case.path.parent,
                          capture_output=True, timeout=TIMEOUT_S, check=False)


def text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def check(compiler: str, cases: list[Case], update: bool) -> int:
    stale = example_copies(cases, update)
    failures = 0
    for case in cases:
        result = run(compiler, case)
        problems = []
        if result.returncode != case.expected_exit:
            problems.append(f"exit status {result.returncode}, expected {case.expected_exit}")
        for suffix, actual in ((".out", text(result.stdout)), (".err", text(result.stderr))):
            expected_path = case.expected_file(suffix)
            if update:
                if actual:
                    expected_path.write_text(actual)
                elif expected_path.exists():
                    expected_path.unlink()
                continue
            expected = expected_path.read_text() if expected_path.exists() else ""
            if actual != expected:
                diff = difflib.unified_diff(expected.splitlines(keepends=True),
                                            actual.splitlines(keepends=True),
                                            f"{case.name} expected {suffix}",
                                            f"{case.name} actual {suffix}")
                problems.append("".join(diff))
        if problems:
            failures += 1
            print(f"FAIL {case.name}")
            for problem in problems:
                print(problem.rstrip())
    verb = "updated" if update else "passed"
    print(f"{len(cases) - failures} of {len(cases)} golden tests {verb}")
    if stale:
        print(f"{stale} copies of examples are stale")
    return 1 if failures or stale else 0


def coverage(compiler: str, cases: list[Case]) -> int:
    listing = subprocess.run([compiler, "--list-diagnostics"], capture_output=True, check=True)
    required = {}
    for line in text(listing.stdout).splitlines():
        kind, severity, _ = line.split("\t", 2)
        if severity in ("error", "warning"):
            required[kind] = severity
    produced: dict[str, str] = {}
    for case in cases:
        result = run(compiler, case, ["--diagnostic-ids"])
        for kind in ID_PATTERN.findall(text(result.stderr)):
            produced.setdefault(kind, case.name)
    missing = sorted(k for k in required if k not in produced)
    for kind in missing:
        print(f"MISSING {kind} ({required[kind]}): no golden produces it; add a "
              f"`fail_*.triton` test that does")
    print(f"{len(required) - len(missing)} of {len(required)} diagnostic kinds covered by goldens")
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--coverage", action="store_true")
    parser.add_argument("--triton", help="the compiler binary (default: $TRITON_COMPILER or "
                                         "the newest build/*/compiler/driver/triton)")
    parser.add_argument("filters", nargs="*", help="only tests whose `phase/name` contains one")
    args = parser.parse_args()
    compiler = find_compiler(args.triton)
    cases = collect(args.filters)
    if args.coverage:
        return coverage(compiler, cases)
    return check(compiler, cases, update=args.update)


if __name__ == "__main__":
    sys.exit(main())
