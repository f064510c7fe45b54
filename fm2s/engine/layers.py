"""What the methods' small convolutional networks share: seeded initialisation, unpadded
("valid") convolutions and parameter counts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

Net = TypeVar("Net", bound=nn.Module)


def conv2d(conv: nn.Conv2d, x: torch.Tensor, valid: bool) -> torch.Tensor:
    """``conv(x)``, or with ``valid=True`` the same convolution without its padding: the output
    is the interior of the padded one, the pixels that never see the zero padding."""
    if not valid:
        return conv(x)
    return F.conv2d(x, conv.weight, conv.bias)


def reset_conv(conv: nn.Conv2d, generator: torch.Generator) -> None:
    """Initialise ``conv`` as torch's default Conv2d initialisation does, but from
    ``generator`` (repeatable, and torch's global random stream is not used)."""
    nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
    fan_in = conv.weight.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(conv.bias, -bound, bound, generator=generator)


def build_seeded(make: Callable[[], Net], generator: torch.Generator,
                 device: torch.device) -> Net:
    """Return ``make()`` with every convolution initialised from ``generator``, on ``device``.

    Weights come from ``generator`` only; torch's global random stream is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        net = make()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                reset_conv(module, generator)
    return net.to(device)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
