"""The docs' tables of built-in layers and functions (docs/language.md, and the layer
table in docs/architecture.md) are generated from the compiler's schema by tools/update_docs;
this fails when someone changed the schema without regenerating them (or edited the tables by
hand)."""

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


def test_a_hand_edited_layer_table_in_the_architecture_doc_fails_the_check(
        triton_compiler: Path, tmp_path: Path):
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs", docs)
    command = [sys.executable, str(REPO / "tools" / "update_docs"), "--check", "--triton",
               str(triton_compiler), "--docs", str(docs)]
    assert subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0
    arch = docs / "architecture.md"
    # The drift the table once had: an attribute missing from one row.
    arch.write_text(arch.read_text(encoding="utf-8").replace(
        ", `activation_bits: int = 32` (8 \\| 32)", "", 1), encoding="utf-8")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "architecture.md out of date" in result.stdout
