"""`--export-packed`: the command line writes what `save_packed` writes, in either packing.

The packed format and its exporter are tested with the native runtime; here only the
command line's part: the checkpoint's weights reach the exporter, `--bits` is passed on,
and the file is the exporter's output byte for byte.
"""

from __future__ import annotations

import pytest
import torch
from fixtures.programs import load_model_module, run_in_process

from triton_dsl.export.packed import save_packed


@pytest.mark.parametrize("bits", ["2", "1.6"])
def test_export_packed_writes_the_exporters_bytes(tmp_path, bits):
    model = load_model_module("simple_mlp.py").Model().eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "cli.tpk"
    assert run_in_process("simple_mlp.py", ["--export-packed", "--checkpoint", str(checkpoint),
                                            "--output", str(target), "--bits", bits]) == 0
    reference = tmp_path / "reference.tpk"
    save_packed(model, reference, example_input=torch.randn(1, 1, 28, 28), bits=bits)
    assert target.read_bytes() == reference.read_bytes()


def test_export_packed_defaults_to_the_best_checkpoint_in_the_output_dir(tmp_path, capsys):
    model = load_model_module("simple_mlp.py").Model().eval()
    torch.save(model.state_dict(), tmp_path / "simple_mlp_best.pth")
    assert run_in_process("simple_mlp.py", ["--export-packed", "--output-dir",
                                            str(tmp_path)]) == 0
    assert (tmp_path / "simple_mlp.tpk").stat().st_size > 0
    assert "x smaller than float32" in capsys.readouterr().out
