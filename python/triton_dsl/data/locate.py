"""Where dataset files are looked for, and where downloads go.

Lookup order (documented in `docs/datasets.md`): the `--data-path` argument, then the
`TRITON_DATA` environment variable, then the per-user cache (`$XDG_CACHE_HOME/triton_dsl`,
else `~/.cache/triton_dsl`). Each root is tried first as `<root>/<dataset>/` and then as
`<root>/` itself, so `--data-path ~/data` and `--data-path ~/data/mnist` both work. The
first directory that holds a complete split wins; nothing is ever written while looking.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path


def cache_root() -> Path:
    """The per-user cache directory where downloads go when no other root is given."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "triton_dsl"


def search_roots(data_path: str | os.PathLike | None) -> list[Path]:
    """The roots in lookup order, without duplicates; roots need not exist."""
    roots: list[Path] = []
    if data_path:
        roots.append(Path(data_path).expanduser())
    env = os.environ.get("TRITON_DATA")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(cache_root())
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def candidate_dirs(roots: Iterable[Path], dir_names: Iterable[str],
                   foreign_names: Iterable[str] = ()) -> list[Path]:
    """`<root>/<name>/` for each dataset directory name, then `<root>/`, root by root.

    A root named like another dataset with the same file names (`foreign_names`: MNIST's
    directories when looking for Fashion-MNIST) is not taken as holding this one directly,
    so `--data-path data/mnist --dataset fashion_mnist` never trains on digits.
    """
    names = list(dir_names)
    foreign = {name.lower() for name in foreign_names}
    out: list[Path] = []
    for root in roots:
        direct = [] if root.name.lower() in foreign else [root]
        for path in [root / name for name in names] + direct:
            if path not in out:
                out.append(path)
    return out


def find_first(dirs: Iterable[Path], holds_split: Callable[[Path], object]) -> tuple[Path, object]:
    """The first existing directory for which `holds_split` returns something truthy.

    Returns `(directory, that value)`, or `(None, None)` when no directory qualifies.
    """
    for path in dirs:
        if path.is_dir():
            found = holds_split(path)
            if found:
                return path, found
    return None, None


def download_dir(data_path: str | os.PathLike | None, dir_name: str) -> Path:
    """Where a missing dataset is downloaded: `<first root>/<dir_name>/`.

    The first root is `--data-path` when given (the user pointed there), else `TRITON_DATA`,
    else the cache. When `--data-path` already names the dataset's own directory (its last
    component is `dir_name`), files go straight into it instead of a nested copy.
    """
    root = search_roots(data_path)[0]
    if root.name.lower() == dir_name.lower():
        return root
    return root / dir_name


def show(paths: Iterable[Path]) -> str:
    """Paths for a one-line message: backticked, comma separated."""
    return ", ".join(f"`{p}`" for p in paths)
