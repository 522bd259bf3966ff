#!/usr/bin/env python3
"""Runs every libFuzzer target of a build for a fixed time, as CI does.

A target is an executable named `fuzz_*` anywhere under the build directory. Its checked-in
seed corpus is `tests/<area>/fuzz_corpus/<target>/` when that exists, else
`tests/<area>/fuzz_corpus/` for the area whose CMake folder built it; `tests/<area>/fuzz.dict`,
when present, is passed as the libFuzzer dictionary. The seeds are copied
to a scratch corpus first, so a run never writes into the repository. Exits non-zero when
any target reports a finding (crash, leak, sanitizer error, timeout) or no target exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_targets(build: Path) -> list[Path]:
    found = []
    for path in sorted(build.rglob("fuzz_*")):
        if path.is_file() and os.access(path, os.X_OK) and path.suffix == "":
            found.append(path)
    return found


def seed_corpus(target: Path) -> Path | None:
    for area in sorted((REPO / "tests").iterdir()):
        specific = area / "fuzz_corpus" / target.name
        if specific.is_dir():
            return specific
    area = "runtime" if "runtime" in target.parts else "compiler"
    general = REPO / "tests" / area / "fuzz_corpus"
    return general if general.is_dir() else None


def fuzz_dictionary(target: Path) -> Path | None:
    """`tests/<area>/fuzz.dict`: tokens that steer byte mutation towards deep defects."""
    area = "runtime" if "runtime" in target.parts else "compiler"
    path = REPO / "tests" / area / "fuzz.dict"
    return path if path.is_file() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, required=True, help="CMake build directory")
    parser.add_argument("--seconds", type=int, default=60, help="time per target")
    args = parser.parse_args()

    targets = find_targets(args.build)
    if not targets:
        print(f"error: no fuzz_* targets under {args.build}", file=sys.stderr)
        return 1
    failed = []
    for target in targets:
        seeds = seed_corpus(target)
        with tempfile.TemporaryDirectory(prefix=f"{target.name}-") as scratch:
            corpus = Path(scratch) / "corpus"
            if seeds is not None:
                shutil.copytree(seeds, corpus)
            else:
                corpus.mkdir()
            artifacts = Path(scratch) / "artifacts"
            artifacts.mkdir()
            cmd = [str(target), f"-max_total_time={args.seconds}", "-timeout=10",
                   "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
            dictionary = fuzz_dictionary(target)
            if dictionary is not None:
                cmd.append(f"-dict={dictionary}")
            cmd.append(str(corpus))
            print(f"-- {target.name}: {args.seconds}s, seeds from "
                  f"{seeds.relative_to(REPO) if seeds else 'nothing'}", flush=True)
            result = subprocess.run(cmd, check=False, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
            tail = "\n".join(result.stdout.splitlines()[-12:])
            if result.returncode != 0:
                failed.append(target.name)
                print(result.stdout[-20000:])
                for artifact in artifacts.iterdir():
                    print(f"finding: {artifact.name}: {artifact.read_bytes()[:200]!r}")
            else:
                print(tail)
    if failed:
        print(f"fuzzers with findings: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"fuzzers: {len(targets)} targets ran {args.seconds}s each with no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
