"""The FM2S network: three convolutions, 11 x 11 receptive field, a few thousand parameters."""

from __future__ import annotations

import torch
from torch import nn

from ...infer import DEFAULT_TILE, reflect_pad
from ...infer import predict_plane as predict_views
from ...layers import build_seeded, conv2d
from ...layers import count_parameters as count_parameters

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
        return conv2d(self.conv3, self.hidden(x, valid=valid), valid)

    def hidden(self, x: torch.Tensor, *, valid: bool = False) -> torch.Tensor:
        """The 12-channel features that the last convolution turns into the output.

        ``valid=True``: unpadded convolutions, 3 pixels smaller on every side.
        """
        return self.act(conv2d(self.conv2, self.act(conv2d(self.conv1, x, valid)), valid))


def build_model(n_chan: int, generator: torch.Generator, device: torch.device) -> FM2SNet:
    """Return a freshly initialised :class:`FM2SNet` on ``device``, its weights drawn from
    ``generator`` only (torch's global random stream is left untouched)."""
    return build_seeded(lambda: FM2SNet(n_chan), generator, device)


def pad_plane(x: torch.Tensor) -> torch.Tensor:
    """Reflect-pad the last two axes by :data:`RECEPTIVE_RADIUS` (see :func:`fm2s.engine.infer.reflect_pad`)."""
    return reflect_pad(x, RECEPTIVE_RADIUS)


def predict_plane(
    model: FM2SNet,
    plane: torch.Tensor,
    n_chan: int,
    *,
    tile: int | None = DEFAULT_TILE,
    views: int = 1,
) -> torch.Tensor:
    """Denoise one ``(H, W)`` plane in [0, 1]; returns an ``(H, W)`` plane in [0, 1].

    The network output is clamped to [0, 1] and averaged over the amplified channels, as in
    the authors' code; tiles and views as in :func:`fm2s.engine.infer.predict_plane`.

    Parameters
    ----------
    model : FM2SNet
        Trained network (on ``plane``'s device).
    plane : torch.Tensor
        ``(H, W)`` float tensor.
    n_chan : int
        Channel amplification factor the model was trained with.
    tile : int or None
        Largest tile side; None processes the plane in one pass.
    views : {1, 2, 4, 8}
        Views of the plane averaged (:data:`fm2s.engine.views.VIEW_TRANSFORMS`).
    """

    def forward(x: torch.Tensor) -> torch.Tensor:
        amplified = x[None, None].expand(1, n_chan, *x.shape).contiguous()
        return model(amplified).clamp_(0.0, 1.0).mean(dim=1)[0]

    return predict_views(forward, plane, radius=RECEPTIVE_RADIUS, tile=tile, views=views)
