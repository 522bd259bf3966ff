"""Exporters of trained models: the native packed format (`packed.py`: `save_packed`,
`load_packed`), ONNX (`onnx.py`) and a mobile TorchScript package (`mobile.py`).

Each exporter is imported by name (`from triton_dsl.export.packed import save_packed`) so that
one exporter's optional dependencies are never needed to use another.
"""
