"""The Noise2Detail networks, pair downsampling, pixel (un)shuffles and the inference pipeline.

One network (:class:`N2DNet`) is ``C -> 48`` (3x3), ``48 -> 48`` (3x3), ``48 -> C`` (1x1) with
LeakyReLU(0.2) between: 21,313 parameters for one channel, an output pixel sees a 5 x 5
neighbourhood of its input (:data:`NET_RADIUS`). :class:`N2DModel` holds the two networks of
the method: ``f`` (stages 1 and 2) and ``g`` (stage 3).

Receptive radius of the whole pipeline, in full-resolution pixels: ``f`` on the sub-images of
factor ``s`` sees ``2 s`` pixels, ``f`` once more at full resolution 2 more, ``g`` on their
mean 2 more: 12 for the scales (2, 4) (:data:`PIPELINE_RADIUS`). The sub-images depend on
where a plane starts modulo 4 (:data:`ALIGN`); :func:`n2d_output` and :func:`structure_estimate`
reflect-pad the end of a plane to a multiple of 4 and crop back, so a tile that starts on a
multiple of 4 computes the same pixels as the whole plane.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...layers import build_seeded, conv2d
from ...layers import count_parameters as count_parameters

#: Hidden channels of :class:`N2DNet`.
WIDTH = 48
#: Pixels each side that influence one output pixel of one network (3x3, 3x3, 1x1: 1 + 1 + 0).
NET_RADIUS = 2
#: Pixel-unshuffle factors of stage 2.
SCALES: tuple[int, ...] = (2, 4)
#: Sub-image alignment: planes and tiles start on multiples of this (lcm of the scales and 2).
ALIGN = 4
#: Receptive radius of stage 2's estimate ``y_hat`` (``f`` on sub-images, then at full res).
STRUCTURE_RADIUS = NET_RADIUS * max(SCALES) + NET_RADIUS
#: Receptive radius of the whole N2D pipeline (stage 2, then ``g``): 12 pixels.
PIPELINE_RADIUS = STRUCTURE_RADIUS + NET_RADIUS


class N2DNet(nn.Module):
    """``n_chan -> 48`` (3x3), ``48 -> 48`` (3x3), ``48 -> n_chan`` (1x1), LeakyReLU(0.2).

    Zero padding 1 for the 3x3 convolutions ("same" output), no normalisation: 21,313
    parameters for ``n_chan=1``.
    """

    def __init__(self, n_chan: int = 1, width: int = WIDTH) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_chan, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, n_chan, 1)
        self.act = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor, *, valid: bool = False) -> torch.Tensor:
        """Apply the network to ``x`` (``(B, n_chan, H, W)``).

        With ``valid=True`` the convolutions are not padded: the output is :data:`NET_RADIUS`
        pixels smaller on every side and equals the interior of the padded output (the pixels
        that never see the zero padding). Crop training scores only those pixels.
        """
        return self.conv3(self.hidden(x, valid=valid))

    def hidden(self, x: torch.Tensor, *, valid: bool = False) -> torch.Tensor:
        """The 48 features that the last (1x1) convolution turns into the output."""
        h = self.act(conv2d(self.conv1, x, valid))
        return self.act(conv2d(self.conv2, h, valid))


class N2DModel(nn.Module):
    """The two networks of Noise2Detail: ``f`` (stages 1 and 2) and ``g`` (stage 3)."""

    def __init__(self, f: N2DNet, g: N2DNet) -> None:
        super().__init__()
        self.f = f
        self.g = g


def build_net(n_chan: int, generator: torch.Generator, device: torch.device) -> N2DNet:
    """Return a freshly initialised :class:`N2DNet` on ``device``, its weights drawn from
    ``generator`` only (torch's global random stream is left untouched)."""
    return build_seeded(lambda: N2DNet(n_chan), generator, device)


def pair_downsample(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair images ``D1(x)``, ``D2(x)`` of ``(..., H, W)`` ``x``, each ``(..., H//2, W//2)``.

    ``D1`` and ``D2`` are the stride-2 depthwise 2x2 convolutions with kernels
    ``[[0.5, 0], [0, 0.5]]`` and ``[[0, 0.5], [0.5, 0]]``: the means of the two diagonals of
    every 2x2 block (a trailing odd row or column is dropped, as the convolutions do).
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    d1 = 0.5 * x[..., 0::2, 0::2] + 0.5 * x[..., 1::2, 1::2]
    d2 = 0.5 * x[..., 0::2, 1::2] + 0.5 * x[..., 1::2, 0::2]
    return d1, d2


def to_subimages(x: torch.Tensor, s: int) -> torch.Tensor:
    """Pixel-unshuffle ``(B, C, H, W)`` by ``s`` into a batch of ``s*s`` sub-images per image.

    Returns ``(B * s * s, C, H // s, W // s)``; sub-image ``i * s + j`` of image ``b`` (at
    batch index ``b * s * s + i * s + j``) holds the pixels ``x[b, :, i::s, j::s]``. ``H`` and
    ``W`` must be multiples of ``s``.
    """
    b, c, h, w = x.shape
    if h % s or w % s:
        raise ValueError(f"plane sides must be multiples of {s}, got {h} x {w}")
    sub = x.reshape(b, c, h // s, s, w // s, s).permute(0, 3, 5, 1, 2, 4)
    return sub.reshape(b * s * s, c, h // s, w // s)


def from_subimages(sub: torch.Tensor, s: int) -> torch.Tensor:
    """Inverse of :func:`to_subimages`: ``(B * s * s, C, h, w)`` -> ``(B, C, h * s, w * s)``."""
    bss, c, h, w = sub.shape
    b = bss // (s * s)
    x = sub.reshape(b, s, s, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(b, c, h * s, w * s)


def residual_denoise(f: N2DNet, x: torch.Tensor) -> torch.Tensor:
    """Stage 1's estimate ``clamp(x - f(x), 0, 1)`` of ``(B, C, H, W)`` ``x``."""
    return (x - f(x)).clamp_(0.0, 1.0)


def shuffled_estimate(f: N2DNet, x: torch.Tensor, s: int) -> torch.Tensor:
    """Stage 2's estimate ``y_s``: denoise the sub-images of factor ``s``, reassemble, denoise.

    ``x`` is ``(B, C, H, W)`` with ``H`` and ``W`` multiples of ``s``.
    """
    coarse = from_subimages(residual_denoise(f, to_subimages(x, s)), s)
    return residual_denoise(f, coarse)


def structure_estimates(f: N2DNet, x: torch.Tensor) -> list[torch.Tensor]:
    """The three estimates ``[y1, y_2, y_4]`` whose mean is ``y_hat`` (sides multiples of 4)."""
    return [residual_denoise(f, x)] + [shuffled_estimate(f, x, s) for s in SCALES]


def structure_estimate(f: N2DNet, x: torch.Tensor) -> torch.Tensor:
    """Stage 2's ``y_hat``: the mean of :func:`structure_estimates`, for any plane size.

    ``x`` is ``(B, C, H, W)``; its end is reflect-padded to multiples of :data:`ALIGN` and the
    result cropped back to ``H x W``.
    """
    padded, (h, w) = pad_to_multiple(x, ALIGN)
    y1, y2, y4 = structure_estimates(f, padded)
    return ((y1 + y2 + y4) / 3.0)[..., :h, :w]


def n2d_output(model: N2DModel, x: torch.Tensor) -> torch.Tensor:
    """The Noise2Detail output ``clamp(g(y_hat), 0, 1)`` of ``(B, C, H, W)`` ``x``, any size."""
    return model.g(structure_estimate(model.f, x)).clamp_(0.0, 1.0)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the end (bottom, right) of ``x``'s last two axes to multiples of ``multiple``.

    Returns the padded tensor and the original ``(H, W)``. Planes must be larger than the pad.
    """
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w)
    padded = F.pad(flat, (0, pw, 0, ph), mode="reflect")
    return padded.reshape(*lead, h + ph, w + pw), (h, w)
