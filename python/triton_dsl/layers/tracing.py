"""`torch.fx` tracing that keeps the language's built-in layers whole.

fx's default tracer keeps only modules defined inside `torch.nn` as leaves and traces
through everything else. The classes of `triton_dsl.layers` live outside `torch.nn`, so
by default fx would open them up: a ternary layer would dissolve into its quantization
arithmetic, and `BatchNorm2d` would fail on the shape checks in PyTorch's forward. This
tracer calls each built-in layer as one node instead (`Sequential` excepted: it is a plain
container), which is what the packed exporter and anyone else reading a model's graph want.
"""

from __future__ import annotations

from typing import Any

from torch import fx, nn


class LayerTracer(fx.Tracer):
    """An fx tracer whose leaves are the built-in layers plus fx's usual `torch.nn` ones."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        from triton_dsl.layers import is_leaf  # the registry imports this module

        return is_leaf(m) or super().is_leaf_module(m, module_qualified_name)


def symbolic_trace(model: nn.Module, concrete_args: dict[str, Any] | None = None
                   ) -> fx.GraphModule:
    """Like `torch.fx.symbolic_trace`, with the built-in layers as single nodes."""
    graph = LayerTracer().trace(model, concrete_args)
    name = type(model).__name__
    return fx.GraphModule(model, graph, name)
