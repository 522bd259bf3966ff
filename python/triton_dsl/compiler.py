"""Runs the `triton` compiler from Python: find the executable, compile a file.

The compiler is a C++ executable, not a Python module (docs/architecture.md): `pip install`
puts it in the environment's scripts directory, and development builds point
`$TRITON_COMPILER` at `build/<name>/compiler/triton`. `compile_file` runs it as a
subprocess and turns a failed compilation into a `UserError` whose message is the
compiler's own diagnostics, so Python callers (tests, notebooks) see exactly what the
command line would have printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from triton_dsl.errors import UserError

ENVIRONMENT_VARIABLE = "TRITON_COMPILER"


def find_compiler() -> Path:
    """`$TRITON_COMPILER`, else `triton` beside this Python, else `triton` on the PATH."""
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UserError(f"${ENVIRONMENT_VARIABLE} is `{configured}`, which is not an "
                            f"executable file")
        return path
    # The interpreter's own scripts directory first: a venv's `triton` even when the venv
    # is not activated.
    beside = Path(sys.executable).parent / "triton"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("triton")
    if found is None:
        raise UserError(f"the `triton` compiler was not found; install the package or set "
                        f"${ENVIRONMENT_VARIABLE} to the executable")
    return Path(found)


def run_compiler(*arguments: str, timeout: float | None = 300) -> subprocess.CompletedProcess:
    """Runs `triton ARGUMENTS...` and returns the completed process (never raises on exit)."""
    return subprocess.run([str(find_compiler()), *arguments], capture_output=True, text=True,
                          timeout=timeout, check=False)


def compile_file(source: str | os.PathLike, output: str | os.PathLike, *flags: str) -> Path:
    """`triton compile SOURCE --output OUTPUT FLAGS...`; returns OUTPUT.

    A user error in the source raises `UserError` carrying the compiler's diagnostics; an
    internal compiler error (exit 70) raises `RuntimeError`, because it is a bug.
    """
    source = Path(source)
    if not source.is_file():
        raise UserError(f"`{source}` does not exist")
    result = run_compiler("compile", str(source), "--output", str(output), *flags)
    if result.returncode == 0:
        return Path(output)
    diagnostics = (result.stderr or result.stdout).rstrip()
    if result.returncode == 70:
        raise RuntimeError(f"the compiler failed internally on `{source}`:\n{diagnostics}")
    # The message is every `error:` line (a UserError is one line); the full text with the
    # source excerpts and carets stays available as `.diagnostics`.
    errors = [line for line in diagnostics.splitlines() if ": error:" in line]
    message = "; ".join(errors) if errors else (diagnostics.splitlines()[0] if diagnostics else
                                                f"`triton compile {source}` failed with "
                                                f"status {result.returncode}")
    error = UserError(message)
    error.diagnostics = diagnostics
    error.returncode = result.returncode
    raise error


def load_module(source: str | os.PathLike, output_dir: str | os.PathLike):
    """Compiles `source` (a `.triton` file) into `output_dir` and imports the generated
    module without running its `__main__` block; `module.Model` is the entry model class.

    Tests, parity checks and benchmarks build the seed models this way, from
    `examples/basic/*.triton`, so they run what the compiler emits rather than copies.
    Compiling again over an up-to-date output is skipped (the output is newer than the
    source and than the compiler).
    """
    import importlib.util

    source = Path(source)
    output = Path(output_dir) / f"{source.stem}.py"
    output.parent.mkdir(parents=True, exist_ok=True)
    if not output.is_file() or output.stat().st_mtime < max(
            source.stat().st_mtime, find_compiler().stat().st_mtime):
        compile_file(source, output)
    name = f"triton_generated_{source.stem}_{abs(hash(str(output.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, output)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module
