#!/usr/bin/env python3
"""Checks that no object compiled with ISA flags shares an inline function with another.

The runtime compiles each SIMD kernel file with its own flags (`-mavx512f`, `-mamx-tile`,
...) and calls it only after cpuid said the CPU has them. An inline function that such a
file instantiates (a `std::vector` member, `std::fill` on a type, a header helper) is a weak
symbol; when a baseline file instantiates it too, the linker keeps one copy for every caller,
and if it keeps the AVX-512 one, a baseline caller dies with SIGILL on a CPU without AVX-512
(seen: `std::vector<float>::_M_fill_assign` from the tile packer, in the -O1 ASan build on an
AVX2 machine). Which copy wins depends on the optimization level and link order, so the only
safe rule is that no such symbol exists: this script lists the weak (COMDAT)
function symbols each object defines and fails on any defined by an ISA object and by some
other object.

    check_isa_objects.py --isa-sources ternary_avx512.cpp ... --objects OBJ...

Run by ctest as `runtime_isa_objects`.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path


def weak_functions(obj: str) -> set[str]:
    out = subprocess.run(["nm", "--defined-only", obj], capture_output=True, text=True, check=True)
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        # W: a weak function (inline code). Weak or unique data (V, u: inline variables such
        # as constants) holds no instructions, and DW.ref.* are references.
        if len(parts) == 3 and parts[1] == "W" and not parts[2].startswith("DW.ref."):
            names.add(parts[2])
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa-sources", nargs="*", default=[])
    parser.add_argument("--objects", nargs="+", required=True)
    args = parser.parse_args()
    # ctest passes a generator expression's list as one `;`-separated argument.
    args.objects = [o for arg in args.objects for o in arg.split(";") if o]
    isa_objects = {o for o in args.objects
                   if any(Path(o).name.startswith(src + ".") for src in args.isa_sources)}
    if len(isa_objects) != len(args.isa_sources):
        print(f"check_isa_objects: {len(args.isa_sources)} ISA sources but {len(isa_objects)} "
              "of their objects found", file=sys.stderr)
        return 1
    defined_by = collections.defaultdict(set)
    for obj in args.objects:
        for name in weak_functions(obj):
            defined_by[name].add(Path(obj).name)
    isa_names = {Path(o).name for o in isa_objects}
    shared = {name: objs for name, objs in defined_by.items() if objs & isa_names and len(objs) > 1}
    for name, objs in sorted(shared.items()):
        demangled = subprocess.run(["c++filt", name], capture_output=True, text=True,
                                   check=False).stdout.strip()
        print(f"error: `{demangled}` is emitted by {', '.join(sorted(objs))}; an ISA file must "
              "not instantiate inline code a baseline file also instantiates (move it to a "
              "baseline file, or keep it inside the ISA file's anonymous namespace)")
    if not shared:
        print(f"check_isa_objects: {len(isa_objects)} ISA objects share no inline function "
              f"with the other {len(args.objects) - len(isa_objects)}")
    return 1 if shared else 0


if __name__ == "__main__":
    sys.exit(main())
