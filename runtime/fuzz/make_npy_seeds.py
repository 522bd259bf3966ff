"""Writes the `.npy` reader fuzzer's seed corpus: small valid arrays of every accepted dtype
and header version, plus the shapes of files the reader must refuse (Fortran order, a
header that claims more data than the file holds).

Run from the repository root: `python runtime/fuzz/make_npy_seeds.py` (numpy only).
Output: tests/runtime/fuzz_corpus/fuzz_npy/*.npy (checked in).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "runtime" / "fuzz_corpus" / "fuzz_npy"


def npy(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    lying = npy(image)[:-48]  # the header still says 16 elements
    return {
        "f4_image": npy(image),
        "f8_vector": npy(rng.standard_normal(3)),
        "i8_matrix": npy(np.arange(4, dtype=np.int64).reshape(2, 2)),
        "f4_scalar": npy(np.float32(1.5).reshape(())),
        "f4_empty": npy(np.zeros((0, 3), np.float32)),
        "f4_v2": npy(image, version=(2, 0)),
        "f4_fortran": npy(np.asfortranarray(rng.standard_normal((2, 3)).astype(np.float32))),
        "f4_truncated": lying,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (OUT / f"{name}.npy").write_bytes(data)
        print(f"{name}.npy: {len(data)} bytes")


if __name__ == "__main__":
    main()
