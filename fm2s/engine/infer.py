"""Applying a trained FM2S network to a whole plane, in tiles when the plane is large.

Tiles overlap by the network's receptive radius, so tiled and untiled inference give the same
pixels (up to float rounding): every output pixel is computed from exactly the input pixels it
would see in one pass over the whole plane.
"""

from __future__ import annotations

import torch

from .model import RECEPTIVE_RADIUS, FM2SNet, pad_plane
from .schedules import VIEW_TRANSFORMS, check_views

#: Default tile side: 1024 x 1024 x 24 hidden channels x 4 bytes is about 100 MB per tile.
DEFAULT_TILE = 1024


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
    the authors' code. With ``views`` > 1 it is also averaged over mirrored/rotated views of
    the plane (the network is not symmetric, so this is a small ensemble). The plane is
    reflect-padded first (:func:`fm2s.engine.model.pad_plane`), as in training.

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
        1: the plane as it is; 2: averaged with its left-right mirror image; 4: over its four
        rotations; 8: over all flips and rotations (see
        :data:`fm2s.engine.schedules.VIEW_TRANSFORMS`).
    """
    transforms = VIEW_TRANSFORMS[check_views(views)]
    r = RECEPTIVE_RADIUS
    acc = torch.zeros_like(plane)
    with torch.inference_mode():
        padded = pad_plane(plane)
        for k in transforms:
            x = _dihedral(padded, k)
            y = _predict_tiled(model, x, n_chan, tile)
            acc += _dihedral_inverse(y, k)[r:-r, r:-r]
    return acc / len(transforms)


def _predict_tiled(model: FM2SNet, plane: torch.Tensor, n_chan: int, tile: int | None) -> torch.Tensor:
    h, w = plane.shape
    if tile is None or (h <= tile and w <= tile):
        return _forward(model, plane, n_chan)
    if tile <= 2 * RECEPTIVE_RADIUS:
        raise ValueError(f"tile must be larger than {2 * RECEPTIVE_RADIUS} pixels, got {tile}")
    out = torch.empty_like(plane)
    r = RECEPTIVE_RADIUS
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(0, top - r), max(0, left - r)
            t1, l1 = min(h, bottom + r), min(w, right + r)
            pred = _forward(model, plane[t0:t1, l0:l1], n_chan)
            out[top:bottom, left:right] = pred[top - t0 : bottom - t0, left - l0 : right - l0]
    return out


def _forward(model: FM2SNet, plane: torch.Tensor, n_chan: int) -> torch.Tensor:
    x = plane[None, None].expand(1, n_chan, *plane.shape).contiguous()
    return model(x).clamp_(0.0, 1.0).mean(dim=1)[0]


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def _dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x
