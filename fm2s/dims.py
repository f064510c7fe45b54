"""Axis conventions, in one place, so the Python API, the CLI and the ImageJ bridge agree.

DataArrays use pyimagej's dim names: ``row`` and ``col`` for the image plane, ``ch`` for
channels, ``pln`` for z and ``t`` for time; ``y``/``x``, ``c``/``channel`` and ``z`` are accepted
too. Numpy arrays have their plane in the last two axes unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

ROW_DIMS: tuple[str, ...] = ("row", "y")
COL_DIMS: tuple[str, ...] = ("col", "x")
CHANNEL_DIMS: tuple[str, ...] = ("ch", "c", "channel", "C")

#: Smallest plane side FM2S accepts: the network's receptive field is 11 x 11.
MIN_PLANE_SIDE = 11


def dataarray_axes(dims: Sequence[Hashable]) -> tuple[int, int, int | None]:
    """Return (row, col, channel-or-None) axis indices for a DataArray's ``dims``.

    Raises
    ------
    ValueError
        When the plane dims cannot be identified.
    """
    names = [str(d) for d in dims]

    def find(candidates: tuple[str, ...]) -> int | None:
        hits = [i for i, n in enumerate(names) if n in candidates]
        if len(hits) > 1:
            raise ValueError(f"DataArray has more than one of the dims {candidates}: {tuple(names)}")
        return hits[0] if hits else None

    row, col = find(ROW_DIMS), find(COL_DIMS)
    if row is None or col is None:
        raise ValueError(
            f"cannot tell which dims form the image plane in {tuple(names)}: name them "
            "'row' and 'col' (pyimagej's names) or 'y' and 'x'; channels 'ch' or 'c'; "
            "other dims (e.g. 't', 'pln', 'z') are iterated"
        )
    return row, col, find(CHANNEL_DIMS)


def numpy_axes(
    ndim: int, plane_axes: Sequence[int] | None = None, channel_axis: int | None = None
) -> tuple[int, int, int | None]:
    """Return normalised (row, col, channel-or-None) axes for an ``ndim``-D numpy array.

    Without ``plane_axes`` the plane is the last two axes that are not ``channel_axis``
    (so an RGB array ``(rows, cols, 3)`` with ``channel_axis=-1`` works as in scikit-image).
    """
    if ndim < 2:
        raise ValueError(f"FM2S needs at least a 2-D image, got an array with {ndim} dimension(s)")
    ch = None if channel_axis is None else _normalise(channel_axis, ndim, "channel_axis")
    if plane_axes is None:
        rest = [a for a in range(ndim) if a != ch]
        if len(rest) < 2:
            raise ValueError(f"an array with {ndim} dimensions and a channel axis has no 2-D plane")
        plane_axes = tuple(rest[-2:])
    if len(plane_axes) != 2:
        raise ValueError(f"plane_axes must name two axes (rows, columns), got {plane_axes!r}")
    row, col = (_normalise(a, ndim, "plane_axes") for a in plane_axes)
    if row == col:
        raise ValueError(f"plane_axes must be two different axes, got {plane_axes!r}")
    if ch is not None and ch in (row, col):
        raise ValueError(
            f"channel_axis {channel_axis} is one of the plane axes {tuple(plane_axes)}; "
            "for an RGB image of shape (rows, cols, 3) pass channel_axis=-1 and plane_axes=(0, 1)"
        )
    return row, col, ch


def _normalise(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"{what} axis {axis} is out of range for an array with {ndim} dimensions")
    return int(axis) % ndim
