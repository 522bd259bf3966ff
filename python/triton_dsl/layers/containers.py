"""Structural layers: `Sequential`, `Identity`, `Flatten`, `Dropout` and `Embedding`.

`Sequential` is `nn.Sequential`: the compiler also uses it for repetitions (`Block[3]`),
table-driven stacks and conditional sub-networks, so state dict keys are `name.0.weight`,
exactly as in a hand-written PyTorch model. The rest are the `torch.nn` classes with the
language's signatures.
"""

from __future__ import annotations

from torch import nn


class Sequential(nn.Sequential):
    """Runs its children in order, each on the previous one's output."""


class Identity(nn.Identity):
    """Returns its input; a placeholder where a layer is optional."""

    def __init__(self) -> None:
        super().__init__()


class Flatten(nn.Flatten):
    """Merges dimensions `start_dim` to `end_dim` into one (by default all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__(start_dim=start_dim, end_dim=end_dim)


class Dropout(nn.Dropout):
    """Zeroes each element with probability `p` in training and scales the rest by 1/(1-p);
    the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)


class Embedding(nn.Embedding):
    """A lookup table from integer ids to `embedding_dim`-wide float vectors; the row at
    `padding_idx` starts at zero and receives no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx)
