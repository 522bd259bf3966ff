"""`benchmarks/quantization_variants.py`: the quantization section it inserts, and a smoke
run that trains a tiny CIFAR-shaped network under three sections (one batch each, on
synthetic CIFAR-10 files) and prints one row per variant. Accuracy is chance here and is
not checked; that each variant compiled, trained and reported is.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.programs import child_environment

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from quantization_variants import with_quantization
from train_cifar_speed import write_synthetic_cifar

TINY = """
model Tiny {
    num_classes: 10
    layer conv: TernaryConv2d { in_channels: 3, out_channels: 8, kernel_size: 3, stride: 2, padding: 1, bias: false }
    layer bn: BatchNorm2d { num_features: 8 }
    layer fc: TernaryLinear { in_features: 8, out_features: num_classes }

    forward(x: Tensor[batch, 3, 32, 32]) -> Tensor[batch, num_classes] {
        return fc(relu(bn(conv(x))).mean(dim: [2, 3]))
    }

    training {
        optimizer: "sgd"
        learning_rate: 0.05
        batch_size: 16
        epochs: 1
    }
}
"""


def test_section_goes_before_the_training_section():
    text = with_quantization(TINY, 'weights: "ttq"')
    assert text.index("quantization {") < text.index("training {")
    assert '        weights: "ttq"\n' in text
    assert with_quantization(TINY, None) == TINY
    with pytest.raises(SystemExit, match="no `training"):
        with_quantization("model M { }\n", "activation_bits: 8")


def test_variants_train_and_report(tmp_path, triton_compiler):
    model = tmp_path / "tiny.triton"
    model.write_text(TINY)
    data = write_synthetic_cifar(tmp_path / "cifar10", train=160, test=32)
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quantization_variants.py"), "--model",
         str(model), "--data-path", str(data), "--variants", "twn,ttq,int4_weights",
         "--recipe", "", "--max-train-batches", "1", "--keep-runs", str(tmp_path / "runs")],
        env=child_environment(TRITON_COMPILER=str(triton_compiler)), capture_output=True,
        text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| (twn|ttq|int4_weights) \|", line)]
    assert [row.split("|")[1].strip() for row in rows] == ["twn", "ttq", "int4_weights"]
    for row in rows:
        assert re.search(r"\| \d+\.\d\d% \|", row), row
    # the kept runs hold each variant's program and checkpoints
    assert (tmp_path / "runs" / "tiny_ttq.py").is_file()
    assert list((tmp_path / "runs" / "int4_weights").glob("*_best.pth"))
