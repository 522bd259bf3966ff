"""`MultiHeadAttention`: self-attention with ternary projections, as a single layer.

The layer owns two projections, a fused `qkv` (embed_dim -> 3 * embed_dim) and `proj`
(embed_dim -> embed_dim), both `TernaryLinear` unless `quantization: "none"` makes them
float `Linear`s. Their parameters are `qkv.weight`, `qkv.bias`, `proj.weight`, `proj.bias`,
the layout timm's ViT uses, so its checkpoints map over by name. The attention itself is
`scaled_dot_product_attention`, which picks a fused kernel where one exists.

The forward never reads a tensor's shape into Python (it uses `unflatten`/`flatten`), so the
module traces with `torch.fx`, `torch.jit.trace` and `torch.onnx.export` for any batch and
sequence length.
"""

from __future__ import annotations

from torch import Tensor, nn

from triton_dsl.errors import UserError
from triton_dsl.layers.linear import Linear
from triton_dsl.layers.ternary import TernaryLinear


class MultiHeadAttention(nn.Module):
    """Self-attention over [batch, seq, embed_dim]; returns a tensor of the same shape."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 quantization: str = "deterministic", threshold: float = 0.7,
                 scaling: str = "per_channel", gradient_estimator: str = "ste") -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise UserError(f"`embed_dim: {embed_dim}` must be divisible by "
                            f"`num_heads: {num_heads}`")
        if not 0.0 <= dropout < 1.0:
            raise UserError(f"`dropout` must be in [0, 1), got {dropout}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.quantization = quantization
        if quantization == "none":
            self.qkv: nn.Linear = Linear(embed_dim, 3 * embed_dim, bias=bias)
            self.proj: nn.Linear = Linear(embed_dim, embed_dim, bias=bias)
        else:
            options = {"quantization": quantization, "threshold": threshold,
                       "scaling": scaling, "gradient_estimator": gradient_estimator}
            self.qkv = TernaryLinear(embed_dim, 3 * embed_dim, bias=bias, **options)
            self.proj = TernaryLinear(embed_dim, embed_dim, bias=bias, **options)

    def reset_parameters(self) -> None:
        self.qkv.reset_parameters()
        self.proj.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        # [B, N, 3E] -> [B, N, 3, H, D] -> [3, B, H, N, D]
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, self.head_dim)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attended = nn.functional.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0)
        # [B, H, N, D] -> [B, N, H * D]
        return self.proj(attended.transpose(1, 2).flatten(2))

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, quantization={self.quantization!r}")
