"""One training per output directory: an advisory lock held for the whole run.

Two trainings writing `checkpoint_epoch_N.pth` and `<stem>_best.pth` into the same folder
silently replace each other's files and both report the same weights path. The first run
therefore takes an exclusive `fcntl.flock` on `<output-dir>/.triton-train.lock` and writes
its holder (process id, host, start time) into it; a second run fails at once with one
line naming that holder, and `--run-name NAME` gives it a subfolder of its own instead.

flock was chosen over a create-exclusive marker file because the kernel drops the lock when
its holder dies, however it dies (SIGKILL, a crash, a power cut on a local disk), so there is
never a stale lock to clean by hand; the file left behind by a killed run is simply locked
again by the next one. The file is removed on a clean release. Removing a lock file races
with a process that opened it just before: such a process may lock the unlinked inode. So
after taking the lock, the holder checks that the path still names the inode it locked and
starts over when it does not.

flock is advisory and, on some network file systems, local to one machine; it keeps our own
runs apart, which is what it is for.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from triton_dsl.errors import UserError

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations are strings here
    from typing import Self

LOCK_NAME = ".triton-train.lock"
# The holder's description is one short line; a longer file is not ours to print.
_HOLDER_LIMIT = 256


def _describe_holder(fd: int) -> str:
    try:
        text = os.pread(fd, _HOLDER_LIMIT, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    line = text.splitlines()[0] if text else ""
    return line or "a process that has not yet written its name"


class OutputDirLock:
    """Context manager: holds the training lock of `directory` (created if missing).

    When the directory did not exist and is empty again on release (the run failed before
    writing anything), it is removed, so a mistake leaves no trace.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None
        self._created_dir = False

    def acquire(self) -> None:
        if not self.directory.exists():
            try:
                self.directory.mkdir(parents=True)
                self._created_dir = True
            except FileExistsError:
                pass
            except OSError as error:
                raise UserError(f"cannot create output directory `{self.directory}` "
                                f"({error.strerror or error})") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                self._remove_created_dir()
                raise UserError(f"cannot create the lock file `{self.path}` "
                                f"({error.strerror or error})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe_holder(fd)
                os.close(fd)
                raise UserError(f"output directory `{self.directory}` is in use by another "
                                f"training ({holder}); wait for it, choose another "
                                f"`--output-dir`, or pass `--run-name NAME` to write into "
                                f"`{self.directory / 'NAME'}`") from None
            except OSError as error:
                os.close(fd)
                self._remove_created_dir()
                raise UserError(f"cannot lock `{self.path}` "
                                f"({error.strerror or error})") from None
            # The previous holder may have unlinked the file between our open and our lock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        holder = f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock, so no one locks a file that is going away
        # without noticing (see the module docstring).
        with contextlib.suppress(OSError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        self._remove_created_dir()

    def _remove_created_dir(self) -> None:
        if self._created_dir:
            with contextlib.suppress(OSError):
                self.directory.rmdir()  # only succeeds when empty
            self._created_dir = False

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()
