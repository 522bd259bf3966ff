"""The four seed architectures built from `triton_dsl.layers`, for the native runtime's
parity tests and benchmark.

Each builder mirrors its `examples/basic/*.triton` model layer for layer (same layer
classes, attributes and forward), with size knobs so tests can run a narrow variant of the
same structure. Until every benchmark machine has the compiler's generated modules, this
keeps the native engine measurable on exactly the layers the generated code uses.
`MODELS` is the registry tests parametrize over: name -> (builder, example input shape).
"""

from __future__ import annotations

import torch
from torch import nn

from triton_dsl import functional as F
from triton_dsl import layers as L


class SimpleMLP(nn.Module):
    def __init__(self, *, num_classes: int = 10, hidden: int = 256,
                 activation_bits: int = 32) -> None:
        super().__init__()
        self.fc1 = L.TernaryLinear(in_features=784, out_features=hidden, bias=True,
                                   activation_bits=activation_bits)
        self.fc2 = L.TernaryLinear(in_features=hidden, out_features=num_classes, bias=True,
                                   activation_bits=activation_bits)

    def forward(self, x):
        x = F.flatten(x, start_dim=1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class BasicBlock(nn.Module):
    def __init__(self, *, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = L.TernaryConv2d(in_channels=in_channels, out_channels=out_channels,
                                     kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = L.BatchNorm2d(num_features=out_channels)
        self.conv2 = L.TernaryConv2d(in_channels=out_channels, out_channels=out_channels,
                                     kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = L.BatchNorm2d(num_features=out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = L.Sequential(
                L.TernaryConv2d(in_channels=in_channels, out_channels=out_channels,
                                kernel_size=1, stride=stride, bias=False),
                L.BatchNorm2d(num_features=out_channels))

    def forward(self, x):
        identity = x
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            identity = self.shortcut(x)
        out += identity
        return F.relu(out)


class ResNet18(nn.Module):
    def __init__(self, *, num_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        w = width
        self.conv1 = L.TernaryConv2d(in_channels=3, out_channels=w, kernel_size=3, stride=1,
                                     padding=1, bias=False)
        self.bn1 = L.BatchNorm2d(num_features=w)
        stages = []
        for cin, cout, stride in [(w, w, 1), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 8 * w, 2)]:
            stages.append(L.Sequential(
                BasicBlock(in_channels=cin, out_channels=cout, stride=stride),
                BasicBlock(in_channels=cout, out_channels=cout, stride=1)))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = L.AdaptiveAvgPool2d(output_size=1)
        self.fc = L.TernaryLinear(in_features=8 * w, out_features=num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.pool(x), start_dim=1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(self, *, in_channels: int, out_channels: int, stride: int = 1,
                 expand_ratio: int = 6) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        self.expand = None
        if expand_ratio != 1:
            self.expand = L.Sequential(
                L.TernaryConv2d(in_channels=in_channels, out_channels=hidden, kernel_size=1,
                                bias=False),
                L.BatchNorm2d(num_features=hidden), L.ReLU6())
        self.depthwise = L.TernaryConv2d(in_channels=hidden, out_channels=hidden, kernel_size=3,
                                         stride=stride, padding=1, groups=hidden, bias=False)
        self.depthwise_bn = L.BatchNorm2d(num_features=hidden)
        self.project = L.TernaryConv2d(in_channels=hidden, out_channels=out_channels,
                                       kernel_size=1, bias=False)
        self.project_bn = L.BatchNorm2d(num_features=out_channels)

    def forward(self, x):
        out = x
        if self.expand is not None:
            out = self.expand(x)
        out = F.relu6(self.depthwise_bn(self.depthwise(out)))
        out = self.project_bn(self.project(out))
        if self.use_residual:
            out += x
        return out


MOBILENET_TABLE = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                   [6, 160, 3, 2], [6, 320, 1, 1]]


class MobileNetV2(nn.Module):
    def __init__(self, *, num_classes: int = 1000, dropout: float = 0.2,
                 table: list[list[int]] | None = None) -> None:
        super().__init__()
        table = MOBILENET_TABLE if table is None else table
        self.stem = L.TernaryConv2d(in_channels=3, out_channels=32, kernel_size=3, stride=2,
                                    padding=1, bias=False)
        self.stem_bn = L.BatchNorm2d(num_features=32)
        blocks, cin = [], 32
        for t, c, n, s in table:
            for i in range(n):
                blocks.append(InvertedResidual(in_channels=cin, out_channels=c,
                                               stride=s if i == 0 else 1, expand_ratio=t))
                cin = c
        self.blocks = L.Sequential(*blocks)
        self.head = L.TernaryConv2d(in_channels=cin, out_channels=1280, kernel_size=1, bias=False)
        self.head_bn = L.BatchNorm2d(num_features=1280)
        self.dropout = L.Dropout(p=dropout)
        self.classifier = L.TernaryLinear(in_features=1280, out_features=num_classes, bias=True)

    def forward(self, x):
        x = F.relu6(self.stem_bn(self.stem(x)))
        x = self.blocks(x)
        x = F.relu6(self.head_bn(self.head(x)))
        x = F.flatten(F.adaptive_avg_pool2d(x, 1), start_dim=1)
        return self.classifier(self.dropout(x))


class EncoderBlock(nn.Module):
    def __init__(self, *, embed_dim: int, num_heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = L.LayerNorm(normalized_shape=embed_dim, eps=1e-6)
        self.attn = L.MultiHeadAttention(embed_dim=embed_dim, num_heads=num_heads,
                                         dropout=dropout, bias=True)
        self.norm2 = L.LayerNorm(normalized_shape=embed_dim, eps=1e-6)
        self.mlp = L.Sequential(
            L.TernaryLinear(in_features=embed_dim, out_features=mlp_dim), L.GELU(),
            L.Dropout(p=dropout), L.TernaryLinear(in_features=mlp_dim, out_features=embed_dim),
            L.Dropout(p=dropout))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    def __init__(self, *, num_classes: int = 1000, image_size: int = 224, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: int = 4) -> None:
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = L.TernaryConv2d(in_channels=3, out_channels=embed_dim,
                                           kernel_size=patch_size, stride=patch_size, bias=True)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, embed_dim) * 0.02)
        self.blocks = L.Sequential(*[
            EncoderBlock(embed_dim=embed_dim, num_heads=num_heads, mlp_dim=embed_dim * mlp_ratio)
            for _ in range(depth)])
        self.norm = L.LayerNorm(normalized_shape=embed_dim, eps=1e-6)
        self.head = L.TernaryLinear(in_features=embed_dim, out_features=num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = F.transpose(F.flatten(x, start_dim=2), 1, 2)
        b = x.shape[0]
        cls = F.repeat(self.cls_token, b)
        x = F.cat([cls, x], dim=1) + self.pos_embed
        x = self.blocks(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def randomize_batch_norm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Gives every batch norm non-trivial statistics and affine parameters, as training
    would, so that folding them is actually tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def calibrated(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """Sets the input_amax of 8-bit layers from a few training-mode passes on random inputs."""
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(16, *shape))
    return model


# name -> (builder, example input shape without the batch)
MODELS = {
    "mlp": (lambda: SimpleMLP(), (1, 28, 28)),
    "mlp8": (lambda: calibrated(SimpleMLP(activation_bits=8), (1, 28, 28)), (1, 28, 28)),
    "resnet18": (lambda: ResNet18(), (3, 32, 32)),
    "resnet18_small": (lambda: ResNet18(width=8), (3, 32, 32)),
    "mobilenetv2": (lambda: MobileNetV2(), (3, 224, 224)),
    "mobilenetv2_small": (lambda: MobileNetV2(num_classes=10, table=[[1, 16, 1, 1],
                                                                      [6, 24, 2, 2]]),
                          (3, 64, 64)),
    "vit_b16": (lambda: VisionTransformer(), (3, 224, 224)),
    "vit_tiny": (lambda: VisionTransformer(num_classes=10, image_size=32, patch_size=8,
                                           embed_dim=64, depth=2, num_heads=4),
                 (3, 32, 32)),
}


def build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    builder, _ = MODELS[name]
    return randomize_batch_norm(builder(), seed)
