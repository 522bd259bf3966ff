#!/usr/bin/env python3
"""Tests of the `triton` command line that golden files cannot express: exit statuses of
usage errors, --help/--version, atomic --output, --verbose timings, and internal errors.

Run by ctest as `driver_cli_test.py --triton PATH`; standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TRITON = ""
MODEL = "model Tiny {\n    width: 4\n    layer fc: TernaryLinear { in_features: width, out_features: 2 }\n}\n"


def triton(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TRITON, *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          check=False)


class DriverTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.model = Path(self.dir.name) / "tiny.triton"
        self.model.write_text(MODEL)

    def test_version_and_help(self) -> None:
        result = triton("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^triton \d+\.\d+\.\d+\n$")
        result = triton("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("compile FILE", result.stdout)
        result = triton("compile", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--emit", result.stdout)
        self.assertIn("--stop-after", result.stdout)

    def test_usage_errors_exit_2(self) -> None:
        cases = {
            (): "usage: triton",
            ("frobnicate",): "unknown command `frobnicate`",
            ("compile",): "no input file",
            ("compile", str(self.model), "--emitt=ast"): "did you mean `--emit`?",
            ("compile", str(self.model), "--emit=bytecode"): "invalid value `bytecode`",
            ("compile", str(self.model), "--backend", "coreml"): "invalid value `coreml`",
            ("compile", str(self.model), "--stop-after"): "`--stop-after` needs a value",
            ("compile", str(self.model), "--error-limit=0"): "expects a positive integer",
            ("compile", str(self.model), str(self.model)): "more than one input file",
            ("compile", "model.txt"): "expected a `.triton` or `.tri` file",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                result = triton(*args)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(message, result.stderr + result.stdout)

    def test_missing_file_is_a_user_error(self) -> None:
        result = triton("compile", str(Path(self.dir.name) / "absent.triton"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot read", result.stderr)
        self.assertIn("no such file or directory", result.stderr)

    def test_tri_extension_and_stop_after_parse(self) -> None:
        tri = Path(self.dir.name) / "tiny.tri"
        tri.write_text(MODEL)
        result = triton("compile", str(tri), "--stop-after=parse")
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))

    def test_standard_input(self) -> None:
        result = subprocess.run([TRITON, "compile", "-", "--emit=ast"], input="model {",
                                capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("<stdin>:1:7: error: expected a name after `model`", result.stderr)
        result = subprocess.run([TRITON, "compile", "-", "--stop-after=parse"], input=MODEL,
                                capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_output_is_written_atomically(self) -> None:
        out = Path(self.dir.name) / "tiny.ast"
        out.write_text("old contents\n")
        result = triton("compile", str(self.model), "--emit=ast", "--output", str(out))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertTrue(out.read_text().startswith("File @1:1-"))
        # Nothing but the input and the output is left in the folder (no temporary files).
        self.assertEqual(sorted(p.name for p in Path(self.dir.name).iterdir()),
                         ["tiny.ast", "tiny.triton"])

    def test_output_error_leaves_nothing_behind(self) -> None:
        out = Path(self.dir.name) / "missing-dir" / "x.ast"
        result = triton("compile", str(self.model), "--emit=ast", "-o", str(out))
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot write", result.stderr)

    def test_output_onto_a_fifo_or_device_is_refused(self) -> None:
        # Renaming over a FIFO replaces it (and, run as root, `--output /dev/null` would
        # replace the device node): the target must be a regular file or absent.
        fifo = Path(self.dir.name) / "pipe"
        os.mkfifo(fifo)
        for target in (str(fifo), os.devnull):
            result = triton("compile", str(self.model), "--emit=ast", "--output", target)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("it is not a regular file", result.stderr)
        self.assertTrue(fifo.is_fifo())
        result = triton("compile", str(self.model), "--emit=ast", "--output", self.dir.name)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("it is a directory", result.stderr)

    def test_output_onto_the_source_is_refused(self) -> None:
        before = self.model.read_bytes()
        link = Path(self.dir.name) / "alias.triton"
        os.link(self.model, link)  # the same file under another name is still the source
        for target in (str(self.model), str(link)):
            result = triton("compile", str(self.model), "--emit=ast", "--output", target)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("it is the input file", result.stderr)
        self.assertEqual(self.model.read_bytes(), before)

    def test_failed_compile_does_not_touch_output(self) -> None:
        bad = Path(self.dir.name) / "bad.triton"
        bad.write_text("model {")
        out = Path(self.dir.name) / "kept.ast"
        out.write_text("previous\n")
        result = triton("compile", str(bad), "--emit=ast", "--output", str(out))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(out.read_text(), "previous\n")

    def test_verbose_prints_phase_times(self) -> None:
        result = triton("compile", str(self.model), "--stop-after=parse", "--verbose")
        self.assertEqual(result.returncode, 0, result.stderr)
        for phase in ("load", "lex", "parse", "total"):
            self.assertRegex(result.stderr, rf"triton: {phase} +\d+\.\d{{3}} ms")

    def test_internal_error_exits_70_with_our_location(self) -> None:
        result = triton("compile", str(self.model), "--debug-internal-error")
        self.assertEqual(result.returncode, 70)
        self.assertRegex(result.stderr,
                         r"^triton: internal error: .* \(at compiler/driver/pipeline\.cpp:\d+\)\n$")

    def test_crash_becomes_an_internal_error(self) -> None:
        result = triton("compile", str(self.model), "--debug-crash")
        if "Sanitizer" in result.stderr:
            return  # sanitizer builds keep the sanitizer's own report
        self.assertEqual(result.returncode, 70, result.stderr)
        self.assertEqual(result.stderr, "triton: internal error: the compiler crashed "
                                        "(segmentation fault); please report it with the "
                                        "input file\n")

    def test_list_diagnostics(self) -> None:
        result = triton("--list-diagnostics")
        self.assertEqual(result.returncode, 0)
        lines = result.stdout.splitlines()
        self.assertIn("unterminated_string\terror\t", "\n".join(lines))
        ids = [line.split("\t")[0] for line in lines]
        self.assertEqual(len(ids), len(set(ids)), "diagnostic ids must be unique")

    def test_emit_tokens_is_deterministic(self) -> None:
        first = triton("compile", str(self.model), "--emit=tokens")
        second = triton("compile", str(self.model), "--emit=tokens")
        self.assertEqual(first.returncode, 0)
        self.assertEqual(first.stdout, second.stdout)
        self.assertIn("1:1 KwModel \"model\"", first.stdout)


def main() -> None:
    global TRITON
    args = sys.argv[1:]
    if "--triton" in args:
        at = args.index("--triton")
        TRITON = os.path.abspath(args[at + 1])
        del args[at:at + 2]
    else:
        TRITON = os.environ.get("TRITON_COMPILER", "triton")
    unittest.main(argv=[sys.argv[0], *args])


if __name__ == "__main__":
    main()
