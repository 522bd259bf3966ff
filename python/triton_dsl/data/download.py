"""Downloading dataset files with checksum verification, atomically.

A dataset that is not found locally is fetched from its official mirrors into
`locate.download_dir`. Each file goes to a temporary name in the destination directory,
is verified, and only then renamed into place (`os.replace`), so an interrupted or
corrupted download never leaves a file that later looks valid, and an existing file is
never overwritten. Archives (CIFAR-10) are unpacked the same way: into a temporary
directory, then renamed.

Checksums: a `RemoteFile` lists the digests it accepts. `md5`/`sha256` are of the file as
downloaded; `content_md5` is of the decompressed content of a `.gz`. Both kinds exist
because the publicly known MNIST digests are of the original 1998 gzip streams *and* of
the decompressed IDX files, and a recompressed copy keeps only the second.

Limits, so that a broken or hostile mirror costs a bounded amount of disk and time: a file
may be at most `size_limit(remote)` bytes (twice its known size plus 1 MiB, else
`DEFAULT_MAX_BYTES`), refused up front when the server announces more and stopped as soon
as more arrives; and a transfer that moves fewer than `STALL_BYTES` in `STALL_SECONDS`
(a mirror trickling a byte at a time, or silent) is abandoned. Every socket read also times
out after `STALL_SECONDS`. Whatever fails, the partial `.part` file is removed. Verifying
a decompressed digest and unpacking an archive stop at `DEFAULT_MAX_BYTES` of content too.

`TRITON_DATA_MIRROR` (or the `mirrors` argument) replaces the official mirror list with
one base URL; it exists for the tests, which serve files from 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triton_dsl.errors import UserError

MIRROR_ENV = "TRITON_DATA_MIRROR"
_CHUNK = 1 << 20
# A file of unknown size may be this large (the largest dataset archive fetched, CIFAR-10's,
# is 170 MB).
DEFAULT_MAX_BYTES = 1 << 30
# A download that moves fewer than STALL_BYTES in STALL_SECONDS is abandoned as stalled.
STALL_SECONDS = 30.0
STALL_BYTES = 16 << 10


class _TransferError(Exception):
    """A download broke one of the limits; the message is the reason."""


@dataclass(frozen=True)
class RemoteFile:
    """A file of a dataset on its mirrors, with the digests that prove it genuine."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    content_md5: str | None = None
    size: int | None = None  # bytes of the official file, where known


def size_limit(remote: RemoteFile) -> int:
    """The most bytes accepted for `remote`: room for a recompressed copy, no more."""
    return 2 * remote.size + (1 << 20) if remote.size else DEFAULT_MAX_BYTES


def _copy_limited(response, out, limit: int) -> None:
    """Copies `response` to `out`, enforcing the size limit and the stall rule."""
    announced = response.headers.get("Content-Length")
    if announced and announced.isdigit() and int(announced) > limit:
        raise _TransferError(f"the server announces {int(announced):,} bytes, more than the "
                             f"{limit:,} allowed")
    total = 0
    window_start, window_bytes = time.monotonic(), 0
    while True:
        # read1 returns what one socket read brings, so a trickle cannot hold the loop in
        # a read that waits for a whole chunk.
        chunk = response.read1(_CHUNK)
        if not chunk:
            return
        total += len(chunk)
        if total > limit:
            raise _TransferError(f"more than the {limit:,} bytes allowed")
        out.write(chunk)
        window_bytes += len(chunk)
        now = time.monotonic()
        if window_bytes >= STALL_BYTES:
            window_start, window_bytes = now, 0
        elif now - window_start > STALL_SECONDS:
            raise _TransferError(f"stalled: {window_bytes} bytes in the last "
                                 f"{now - window_start:.0f} s")


def mirrors_for(default: Sequence[str], override: Sequence[str] | None = None) -> list[str]:
    """The base URLs to try: the argument, else `TRITON_DATA_MIRROR`, else the defaults."""
    if override:
        return list(override)
    env = os.environ.get(MIRROR_ENV)
    if env:
        return [env]
    return list(default)


def _join(base: str, name: str) -> str:
    return base if base.endswith(name) else base.rstrip("/") + "/" + name


def _reason(error: BaseException) -> str:
    """A short lowercase reason for a failed fetch (connection refused, HTTP 404, ...)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        error = error.reason if isinstance(error.reason, BaseException) else error
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, str):
            return error
    if isinstance(error, TimeoutError):
        return "timed out"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text).lower()


def verify(path: Path, remote: RemoteFile) -> str | None:
    """None when `path` matches one of `remote`'s digests, else why it does not.

    `content_md5` is compared with the decompressed content of a gzip file (told by its
    magic bytes, since a download in progress has a temporary name), and with the file
    itself otherwise (an uncompressed copy of the same content)."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    if remote.md5 and md5.hexdigest() == remote.md5:
        return None
    if remote.sha256 and sha.hexdigest() == remote.sha256:
        return None
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if remote.content_md5 and not gzipped:
        if md5.hexdigest() == remote.content_md5:
            return None
    elif remote.content_md5:
        content = hashlib.md5()
        inflated = 0
        try:
            with gzip.open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    content.update(chunk)
                    inflated += len(chunk)
                    if inflated > DEFAULT_MAX_BYTES:  # a gzip bomb: no dataset file is this big
                        return "checksum mismatch (the content is too long)"
        except (OSError, EOFError, zlib.error):
            return "checksum mismatch (corrupt gzip stream)"
        if content.hexdigest() == remote.content_md5:
            return None
    if not (remote.md5 or remote.sha256 or remote.content_md5):
        return None
    return f"checksum mismatch (md5 {md5.hexdigest()})"


def fetch(remote: RemoteFile, dest_dir: Path, mirrors: Sequence[str], *, what: str) -> Path:
    """Download `remote` into `dest_dir` from the first mirror that serves a valid copy.

    Returns the final path. An existing file there is left alone and returned as is (the
    caller only asks for missing files). Raises a one-line UserError naming the file and
    the last failure when no mirror worked.
    """
    final = dest_dir / remote.name
    if final.exists():
        return final
    created = not dest_dir.exists()
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create `{dest_dir}` to download {what}: "
                        f"{e.strerror or e}") from None
    failures: list[str] = []
    for base in mirrors:
        url = _join(base, remote.name)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part", dir=dest_dir)
        tmp = Path(tmp_name)
        try:
            print(f"downloading {url}", file=sys.stderr, flush=True)
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(url, timeout=STALL_SECONDS) as r:
                _copy_limited(r, out, size_limit(remote))
            problem = verify(tmp, remote)
            if problem is None:
                os.replace(tmp, final)
                return final
            failures.append(f"{problem} from {url}")
        except (_TransferError, http.client.HTTPException) as e:
            failures.append(f"{str(e) or type(e).__name__} from {url}")
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append(f"{_reason(e)} from {url}")
        finally:
            tmp.unlink(missing_ok=True)
    if created and not any(dest_dir.iterdir()):
        dest_dir.rmdir()  # leave no trace of a download that never happened
    detail = failures[-1] if failures else "no mirror configured"
    raise UserError(f"cannot download {what} file `{remote.name}`: {detail}; put the files in "
                    f"`{dest_dir}` or pass `--data-path`")


def fetch_all(remotes: Sequence[RemoteFile], dest_dir: Path, mirrors: Sequence[str], *,
              what: str) -> list[Path]:
    """`fetch` each file in order; the first failure stops (and names its file)."""
    return [fetch(r, dest_dir, mirrors, what=what) for r in remotes]


def extract_dir(archive: Path, member_dir: str, dest_dir: Path, *, what: str) -> Path:
    """Unpack `member_dir/` of a tar archive into `dest_dir/member_dir`, atomically.

    Only the members under `member_dir/` are extracted, with tarfile's "data" filter (no
    absolute paths, links out of the tree or device files). An existing target is kept.
    """
    target = dest_dir / member_dir
    if target.exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{member_dir}.", dir=dest_dir))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers()
                       if m.name == member_dir or m.name.startswith(member_dir + "/")]
            if not members:
                raise UserError(f"`{archive}` holds no `{member_dir}/` directory")
            unpacked = sum(m.size for m in members)
            if unpacked > DEFAULT_MAX_BYTES:
                raise UserError(f"`{archive}` would unpack to {unpacked:,} bytes, more than "
                                f"the {DEFAULT_MAX_BYTES:,} a dataset may take")
            tar.extractall(staging, members=members, filter="data")
        os.replace(staging / member_dir, target)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        # Several processes (one per GPU) may download at once: when another one finished
        # first, its complete copy is already in place and this failure does not matter.
        if target.is_dir():
            return target
        raise UserError(f"cannot unpack {what} archive `{archive}`: {e}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
