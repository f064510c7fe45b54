"""Applying a trained network to a whole plane: reflect padding, tiles, and averaged views.

Generic over the method: a method hands :func:`predict_plane` a ``forward`` function that maps
an ``(h, w)`` plane to an ``(h, w)`` prediction with a network whose output pixels depend on the
input within ``radius`` pixels. Tiles overlap by that radius, so tiled and untiled inference
give the same pixels (up to float rounding): every output pixel is computed from exactly the
input pixels it would see in one pass over the whole plane.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .plan import DEFAULT_TILE
from .views import VIEW_TRANSFORMS, check_views

PlaneFunction = Callable[[torch.Tensor], torch.Tensor]


def reflect_pad(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Reflect-pad the last two axes of ``x`` by ``radius`` pixels.

    The networks' layers pad with zeros ("same" convolutions, as in the authors' code), which
    the image border would otherwise see and interior pixels never do. Training and inference
    run on reflect-padded planes and drop the rim, so every output pixel is computed from image
    content (or its mirror image at the border), never from zeros.
    """
    r = radius
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    padded = F.pad(flat, (r, r, r, r), mode="reflect")
    return padded.reshape(*lead, *(s + 2 * r for s in x.shape[-2:]))


def predict_plane(
    forward: PlaneFunction,
    plane: torch.Tensor,
    *,
    radius: int,
    tile: int | None = DEFAULT_TILE,
    views: int = 1,
) -> torch.Tensor:
    """Apply ``forward`` to one ``(H, W)`` plane, reflect-padded, in tiles, averaged over views.

    Parameters
    ----------
    forward : callable
        ``(h, w)`` tensor -> ``(h, w)`` tensor; called under :func:`torch.inference_mode`.
    plane : torch.Tensor
        ``(H, W)`` float tensor.
    radius : int
        Receptive radius of ``forward``: the padding, and the overlap of tiles.
    tile : int or None
        Largest tile side; None processes the plane in one pass.
    views : {1, 2, 4, 8}
        1: the plane as it is; 2: averaged with its left-right mirror image; 4: over its four
        rotations; 8: over all flips and rotations (:data:`fm2s.engine.views.VIEW_TRANSFORMS`).

    Returns
    -------
    torch.Tensor
        ``(H, W)``.
    """
    transforms = VIEW_TRANSFORMS[check_views(views)]
    r = radius
    acc = torch.zeros_like(plane)
    with torch.inference_mode():
        padded = reflect_pad(plane, r)
        for k in transforms:
            x = dihedral(padded, k)
            y = _predict_tiled(forward, x, r, tile)
            acc += dihedral_inverse(y, k)[r:-r, r:-r]
    return acc / len(transforms)


def _predict_tiled(
    forward: PlaneFunction, plane: torch.Tensor, r: int, tile: int | None
) -> torch.Tensor:
    h, w = plane.shape
    if tile is None or (h <= tile and w <= tile):
        return forward(plane)
    if tile <= 2 * r:
        raise ValueError(f"tile must be larger than {2 * r} pixels, got {tile}")
    out = torch.empty_like(plane)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(0, top - r), max(0, left - r)
            t1, l1 = min(h, bottom + r), min(w, right + r)
            pred = forward(plane[t0:t1, l0:l1])
            out[top:bottom, left:right] = pred[top - t0 : bottom - t0, left - l0 : right - l0]
    return out


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Dihedral transform ``k`` (0-3: rotations by k quarter turns; 4-7: mirrored, then rotated)."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`dihedral` ``k``."""
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x
