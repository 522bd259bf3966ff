"""Exporters of trained models: the native packed format (`packed.py`: `save_packed`,
`load_packed`), ONNX (`onnx.py`, through the compiler's ONNX backend, which reads the
weights that `safetensors.py` writes) and a mobile TorchScript package (`mobile.py`).

Each exporter is imported by name (`from triton_dsl.export.packed import save_packed`) so that
one exporter's optional dependencies are never needed to use another.
"""
