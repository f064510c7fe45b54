"""The FM2S network: three convolutions, 11 x 11 receptive field, a few thousand parameters."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Pixels each side that influence one output pixel (5x5, 3x3, 5x5 convolutions: 2 + 1 + 2).
RECEPTIVE_RADIUS = 5


class FM2SNet(nn.Module):
    """``n_chan -> 24`` (5x5), ``24 -> 12`` (3x3), ``12 -> n_chan`` (5x5), LeakyReLU(1e-3).

    3,529 parameters for ``n_chan=1``, 4,430 for 2, 8,034 for 6.
    """

    def __init__(self, n_chan: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_chan, 24, 5, padding=2)
        self.conv2 = nn.Conv2d(24, 12, 3, padding=1)
        self.conv3 = nn.Conv2d(12, n_chan, 5, padding=2)
        self.act = nn.LeakyReLU(negative_slope=1e-3, inplace=True)

    def forward(self, x: torch.Tensor, *, valid: bool = False) -> torch.Tensor:
        """Denoise ``x`` (``(B, n_chan, H, W)``).

        With ``valid=True`` the convolutions are not padded: the output is
        ``RECEPTIVE_RADIUS`` pixels smaller on every side and is exactly the interior of the
        padded output (the pixels that never see the zero padding). Training scores only
        those pixels, so it computes nothing else.
        """
        return _conv(self.conv3, self.hidden(x, valid=valid), valid)

    def hidden(self, x: torch.Tensor, *, valid: bool = False) -> torch.Tensor:
        """The 12-channel features that the last convolution turns into the output.

        ``valid=True``: unpadded convolutions, 3 pixels smaller on every side.
        """
        return self.act(_conv(self.conv2, self.act(_conv(self.conv1, x, valid)), valid))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Initialise like torch's default Conv2d init, but from ``generator`` (repeatable)."""
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
            fan_in = conv.weight.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(conv.bias, -bound, bound, generator=generator)


def _conv(conv: nn.Conv2d, x: torch.Tensor, valid: bool) -> torch.Tensor:
    if not valid:
        return conv(x)
    return F.conv2d(x, conv.weight, conv.bias)


def build_model(n_chan: int, generator: torch.Generator, device: torch.device) -> FM2SNet:
    """Return a freshly initialised :class:`FM2SNet` on ``device``.

    Weights come from ``generator`` only; torch's global random stream is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        model = FM2SNet(n_chan)
    with torch.no_grad():
        model.reset_parameters(generator)
    return model.to(device)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pad_plane(x: torch.Tensor) -> torch.Tensor:
    """Reflect-pad the last two axes by :data:`RECEPTIVE_RADIUS`.

    The network's layers pad with zeros ("same" convolutions, as in the authors' code), which
    the image border would otherwise see and interior pixels never do. Training and inference
    both run on reflect-padded planes and drop the rim, so every output pixel is computed
    from image content (or its mirror image at the border), never from zeros.
    """
    r = RECEPTIVE_RADIUS
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    return F.pad(flat, (r, r, r, r), mode="reflect").reshape(*lead, *(s + 2 * r for s in x.shape[-2:]))
