"""docs/language.md's tables of built-in layers and functions are generated from the
compiler's schema by tools/update_docs; this fails when someone changed the schema without
regenerating them (or edited the tables by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_builtin_tables_in_the_language_reference_match_the_schema(triton_compiler: Path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "update_docs"), "--check",
                             "--triton", str(triton_compiler)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
