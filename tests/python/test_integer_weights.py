"""Integer weight quantizers (`quantization: "int8"` / `"int4"` on a ternary layer, or
`weights: "int8"` in a quantization section): symmetric codes in [-qmax, qmax] with one
scale per output channel (or per layer), trained with the straight-through gradient.

The layer computes with exactly `scale * codes`; the packed `.tpk` stores that weight as
float32 (its format packs 2-bit codes only); the ONNX and TFLite backends recompute the same
codes from the latent weight in C++ and store them as int8 (int4 in an int4 ONNX file)
behind a dequantize, so the files stay integer and match PyTorch.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from fixtures.runtimes import load_program, relative_error, run_onnx, run_tflite, trained_like
from fixtures.training import train_steps

from triton_dsl import layers as L
from triton_dsl import native, quant
from triton_dsl.compiler import compile_file
from triton_dsl.export.packed import save_packed
from triton_dsl.export.safetensors import export_tensors, write_safetensors

MODEL = """
model IntegerWeights {
    num_classes: 10
    layer stem: TernaryConv2d { in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1, bias: false }
    layer stem_bn: BatchNorm2d { num_features: 8 }
    layer body: TernaryConv2d { in_channels: 8, out_channels: 16, kernel_size: 3, stride: 2, padding: 1 }
    layer mid: TernaryLinear { in_features: 16, out_features: 32 }
    layer head: TernaryLinear { in_features: 32, out_features: num_classes }

    forward(x: Tensor[batch, 3, 8, 8]) -> Tensor[batch, num_classes] {
        x = relu(stem_bn(stem(x)))
        x = relu(body(x)).mean(dim: [2, 3])
        return head(relu(mid(x)))
    }

    quantization {
        weights: "int8"
        layers {
            body { weights: "int4", scaling: "per_tensor" }
            mid { activation_bits: 8 }
            head { weights: "ternary" }
        }
    }
}
"""


@pytest.mark.parametrize("method,qmax", [("int8", 127), ("int4", 7)])
@pytest.mark.parametrize("scaling", ["per_channel", "per_layer"])
def test_integer_codes_and_straight_through_gradient(method, qmax, scaling):
    torch.manual_seed(0)
    layer = L.TernaryConv2d(in_channels=4, out_channels=6, kernel_size=3, quantization=method,
                            scaling=scaling)
    with torch.no_grad():
        layer.weight[2].zero_()  # an all-zero channel: scale 0, codes 0, no NaN
    codes, scales = layer.integer_weight()
    assert codes.dtype == torch.int8 and scales.shape == (6,)
    assert int(codes.abs().max()) == qmax  # the largest magnitude maps to the top code
    w = layer.weight.detach()
    rows = w.flatten(1) if scaling == "per_channel" else w.reshape(1, -1)
    want_scale = rows.abs().amax(dim=1) / qmax
    if scaling == "per_channel":
        torch.testing.assert_close(scales, want_scale, rtol=0, atol=0)
    else:
        torch.testing.assert_close(scales, want_scale.expand(6), rtol=0, atol=0)
    w_q = layer.quantized_weight()
    assert torch.equal(w_q, scales.view(-1, 1, 1, 1) * codes.float())
    assert torch.isfinite(w_q).all()
    # at most 2 qmax + 1 distinct values per channel; the rounding error is at most s / 2
    for c in range(6):
        assert torch.unique(w_q[c]).numel() <= 2 * qmax + 1
    assert float((w_q - w).abs().max()) <= float(scales.max()) / 2 + 1e-7
    assert not layer.has_codes and layer.integer_bits == (8 if method == "int8" else 4)
    with pytest.raises(ValueError, match="integer weights"):
        layer.ternary_weight()
    # straight-through: the latent weight's gradient is the weight gradient itself
    layer.train()
    x = torch.randn(2, 4, 5, 5)
    layer(x).sum().backward()
    reference = w_q.clone().requires_grad_(True)
    torch.nn.functional.conv2d(x, reference).sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.grad)


def test_integer_rows_round_half_to_even():
    w = torch.tensor([[2.5, -2.5, 1.5, 7.0]])  # s = 1 at qmax 7
    codes, scale = quant.integer_rows(w, 7)
    assert float(scale) == 1.0
    assert codes.tolist() == [[2.0, -2.0, 2.0, 7.0]]


def test_section_sets_the_quantizers(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    source = tmp_path / "integer_weights.triton"
    source.write_text(MODEL)
    module = load_program(compile_file(source, tmp_path / "integer_weights.py"))
    model = module.Model()
    assert (model.stem.quantization, model.body.quantization, model.mid.quantization,
            model.head.quantization) == ("int8", "int4", "int8", "deterministic")
    assert model.body.scaling == "per_layer" and model.mid.activation_bits == 8


def test_integer_model_trains_and_exports(triton_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    source = tmp_path / "integer_weights.triton"
    source.write_text(MODEL)
    module = load_program(compile_file(source, tmp_path / "integer_weights.py"))
    torch.manual_seed(0)
    model = module.Model()
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = model.stem.weight.detach().clone()
    losses = train_steps(model, x, y, optimizer, 5)
    assert not torch.equal(model.stem.weight.detach(), before)  # the latent weights learn
    assert losses[-1] < losses[0]
    model = trained_like(model)
    with torch.no_grad():
        want = model(x).numpy()

    # packed: integer layers travel as their float weight; the engine runs them
    target = tmp_path / "integer.tpk"
    report = save_packed(model, target, example_input=x[:1])
    assert report.ternary_weights == model.head.weight.numel()
    assert relative_error(np.asarray(native.load(target).run(x.numpy())), want) <= 1e-4

    weights = write_safetensors(export_tensors(model), tmp_path / "w.safetensors")
    for codes, body_type in (("int8", onnx.TensorProto.INT8), ("int4", onnx.TensorProto.INT4)):
        onnx_file = compile_file(source, tmp_path / f"m_{codes}.onnx", "--backend", "onnx",
                                 "--weights", str(weights), "--weight-codes", codes)
        assert relative_error(run_onnx(onnx_file, x.numpy()), want) <= 1e-4
        initializers = {t.name: t for t in onnx.load(str(onnx_file)).graph.initializer}
        # the stem (int8) keeps int8 codes whatever the file's code type; the int4 body
        # takes int4 codes where the file has them
        assert initializers["stem.weight.codes"].data_type == onnx.TensorProto.INT8
        assert initializers["body.weight.codes"].data_type == body_type
        stem_codes = onnx.numpy_helper.to_array(initializers["stem.weight.codes"])
        codes_want, _ = model.stem.integer_weight()
        assert np.array_equal(stem_codes, codes_want.numpy())
    pytest.importorskip("ai_edge_litert.interpreter")
    tflite_file = compile_file(source, tmp_path / "m.tflite", "--backend", "tflite",
                               "--weights", str(weights))
    assert relative_error(run_tflite(tflite_file, x[:1].numpy()), want[:1]) <= 1e-4
