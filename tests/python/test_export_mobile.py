"""`--export-mobile`: a lite-interpreter TorchScript file that loads and matches the model.

The file written through the command line from a checkpoint is loaded with
`torch.jit.mobile._load_for_lite_interpreter` (what PyTorch Mobile runs) and its outputs
compared with the eval-mode PyTorch model on the same inputs.
"""

from __future__ import annotations

import pytest
import torch
from fixtures.programs import load_model_module, run_in_process
from torch.jit.mobile import _load_for_lite_interpreter


@pytest.mark.parametrize("name", ["simple_mlp.py", "tiny_cnn.py"])
def test_export_mobile_loads_in_the_lite_interpreter_and_matches(tmp_path, name):
    model = load_model_module(name).Model()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    target = tmp_path / "model.ptl"
    assert run_in_process(name, ["--export-mobile", "--checkpoint", str(checkpoint),
                                 "--output", str(target)]) == 0
    lite = _load_for_lite_interpreter(str(target))
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(lite(x), expected, rtol=1e-5, atol=1e-5)
