"""The libFuzzer dictionaries (`tests/*/fuzz.dict`) parse: libFuzzer reads a dictionary
line by line and gives up on the whole file at the first line it cannot parse, which only
shows up as a line in the fuzz step's log (the targets then run without a dictionary).
Its grammar: blank lines, `#` comments, and `[name=]"value"` where the value escapes only
`\\\\`, `\\"` and `\\xHH`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY = re.compile(r'^(?:[A-Za-z0-9_]+=)?"((?:[^"\\]|\\\\|\\"|\\x[0-9A-Fa-f]{2})*)"$')


@pytest.mark.parametrize("path", sorted(REPO.glob("tests/*/fuzz.dict")), ids=lambda p: p.parent.name)
def test_dictionary_lines_parse(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assert ENTRY.match(stripped), f"{path.name}:{number}: libFuzzer cannot parse {line!r}"
