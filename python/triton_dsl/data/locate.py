"""Where dataset files are looked for, and where downloads go.

Lookup order (documented in `docs/datasets.md`): the `--data-path` argument, then the
`TRITON_DATA` environment variable, then the per-user cache (`$XDG_CACHE_HOME/triton_dsl`,
else `~/.cache/triton_dsl`). Each root is tried first as `<root>/<dataset>/` and then as
`<root>/` itself, so `--data-path ~/data` and `--data-path ~/data/mnist` both work. The
first directory that holds a complete split wins; nothing is ever written while looking.

A root the file system cannot name (longer than `PATH_MAX`, a component longer than
`NAME_MAX`, a NUL byte) is a one-line error naming where it came from, checked before it is
used: otherwise the first `stat` of it raises `ENAMETOOLONG` deep inside a lookup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from triton_dsl.errors import UserError

# Linux's limits, the strictest of the systems we run on.
PATH_MAX = 4096
NAME_MAX = 255


def cache_root() -> Path:
    """The per-user cache directory where downloads go when no other root is given."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "triton_dsl"


def checked_root(value: str | os.PathLike, source: str) -> Path:
    """`value` as a path, or a UserError naming `source` when no file system could hold it."""
    text = os.fsdecode(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    if "\0" in text:
        raise UserError(f"{source} `{shown}` contains a NUL byte")
    path = Path(text).expanduser()
    size = len(os.fsencode(str(path)))
    if size > PATH_MAX:
        raise UserError(f"{source} is {size} bytes long, more than a path may be "
                        f"({PATH_MAX}): `{shown}`")
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            name = part if len(part) <= 40 else part[:37] + "..."
            raise UserError(f"{source} has a component longer than {NAME_MAX} bytes: `{name}`")
    return path


def search_roots(data_path: str | os.PathLike | None) -> list[Path]:
    """The roots in lookup order, without duplicates; roots need not exist."""
    roots: list[Path] = []
    if data_path:
        roots.append(checked_root(data_path, "`--data-path`"))
    env = os.environ.get("TRITON_DATA")
    if env:
        roots.append(checked_root(env, "`TRITON_DATA`"))
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
