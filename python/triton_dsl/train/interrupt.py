"""Ctrl-C during training: finish cleanly instead of dying in the middle of a write.

While training runs, the first SIGINT only raises a flag; the training step checks it and
stops at the next step boundary, so the checkpoint of the last completed epoch is intact and
`--resume` continues from it. A second SIGINT interrupts immediately (the checkpoint writes
are atomic, so even that cannot leave a torn file). The previous handler is restored on exit.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations are strings here
    from typing import Self


class TrainingInterrupted(Exception):
    """Raised by the trainer when the user asked it to stop."""


class GracefulInterrupt:
    """Context manager turning the first SIGINT into a flag the trainer polls."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Self:
        # Signal handlers can only be installed from the main thread (tests may call the
        # trainer from others; they then simply keep the default behaviour).
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def check(self) -> None:
        if self.requested:
            raise TrainingInterrupted
