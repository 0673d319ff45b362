"""Real TorchScript archives, saved the ways people save them: `torch.jit.script(...).save`,
`torch.jit.trace(...).save` and a `torch.jit.freeze`d module, of a model with nested submodules,
BatchNorm running statistics, a custom `register_buffer`, a parameter whose name sounds like a
buffer, and Silero-style empty tensor attributes (`_state`, `_context`)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        # a buffer whose name says nothing: by name alone it would pass for a parameter
        self.register_buffer("anchors", torch.linspace(0.5, 2.0, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x)) * self.anchors[None, :, None, None]


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(3), Block(4)])
        self.head = nn.Linear(4, 3)
        # a parameter whose name sounds like a buffer ("mask")
        self.mask_token = nn.Parameter(torch.full((4,), 0.25))
        # plain tensor attributes: neither parameters nor buffers; empty until the first call
        self._state = torch.zeros(0)
        self._context = torch.zeros(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean((2, 3)) + self.mask_token)


def trained_net() -> Net:
    torch.manual_seed(0)
    net = Net()
    net.train()
    with torch.no_grad():
        for _ in range(2):  # running statistics that are not the defaults
            net(torch.randn(4, 3, 10, 10))
    return net.eval()


def save_scripted(path: Path) -> nn.Module:
    net = trained_net()
    torch.jit.script(net).save(str(path))
    return net


def save_traced(path: Path) -> nn.Module:
    net = trained_net()
    torch.jit.trace(net, torch.randn(1, 3, 10, 10)).save(str(path))
    return net


def save_frozen(path: Path) -> torch.jit.ScriptModule:
    frozen = torch.jit.freeze(torch.jit.script(trained_net()))
    frozen.save(str(path))
    return frozen


def frozen_constants(frozen: torch.jit.ScriptModule) -> list[torch.Tensor]:
    """The tensors a frozen module's graph holds as constants (its folded weights)."""
    out = []
    for node in frozen.graph.nodes():
        if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType":
            out.append(node.output().toIValue())
    return out


def save_quantized(path: Path) -> list[torch.Tensor]:
    """A dynamically quantised model, scripted as mobile apps ship them; returns the stored int8
    weights (`int_repr`) of its two Linear layers."""
    import warnings

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantised = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    torch.jit.script(quantised).save(str(path))
    return [quantised[i]._packed_params._weight_bias()[0].int_repr() for i in (0, 2)]
