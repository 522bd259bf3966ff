"""The command line of every generated model file (`python model.py --train ...`).

`main` is what the generated code calls; `run` does the same and returns the exit status
instead of exiting, for tests and tools. Argument parsing lives in `cli.py` only; the work
lives in library functions (`commands.py` here, `triton_dsl.train` for the trainer).
"""

from __future__ import annotations

from triton_dsl.program.main import main, run

__all__ = ["main", "run"]
