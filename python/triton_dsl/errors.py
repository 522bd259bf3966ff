"""The error type every part of `triton_dsl` raises for mistakes the user can fix.

A `UserError` means "your input is wrong" (a bad attribute value, a missing dataset, an
unknown option), as opposed to a bug in this package. The generated program catches it,
prints `error: <message>` on one line and exits with status 2, so its message must read
well on its own: lowercase, no trailing period, code in backticks, one line.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's model, data or command line, with a one-line message."""

    def __init__(self, message: str) -> None:
        # The program prints the message as one line; fold any line breaks a caller built
        # from multi-line text so the output stays one line.
        message = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
