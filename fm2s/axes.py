"""The axis vocabulary of fm2s, in one place: the API, files, ImageJ and the CLI all use it.

DataArrays use pyimagej's dim names: ``t`` (time), ``pln`` (z), ``ch`` (channels), ``row`` and
``col`` (the image plane). Other common names are accepted as aliases (:data:`ALIASES`:
``y``/``x``, ``z``, ``c``/``channel``, ``time``). fm2s writes its DataArrays in ImageJ's
hyperstack order :data:`DIMS` (``TZCYX``), whatever reads or writes them: TIFF files, OME and
ImageJ images. Numpy arrays have their plane in the last two axes unless told otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

#: The dims fm2s names, in ImageJ's hyperstack order (T, Z, C, Y, X).
DIMS: tuple[str, ...] = ("t", "pln", "ch", "row", "col")

#: Each dim's ImageJ/TIFF axis letter (and back: :data:`DIM_OF_LETTER`).
LETTERS: dict[str, str] = {"t": "T", "pln": "Z", "ch": "C", "row": "Y", "col": "X"}

#: Axis letters of TIFF series (tifffile) -> dims; ``S`` (RGB samples) are channels too.
#: Other letters (``Q``, ``I``, ...) are given a free ``pln`` or ``t``.
DIM_OF_LETTER: dict[str, str] = {**{v: k for k, v in LETTERS.items()}, "S": "ch"}

#: Other names of the dims, as other software spells them.
ALIASES: dict[str, str] = {
    "y": "row", "x": "col", "z": "pln", "c": "ch", "C": "ch", "channel": "ch",
    "Channel": "ch", "time": "t", "Time": "t",
}

ROW_DIMS: tuple[str, ...] = ("row", *(a for a, d in ALIASES.items() if d == "row"))
COL_DIMS: tuple[str, ...] = ("col", *(a for a, d in ALIASES.items() if d == "col"))
CHANNEL_DIMS: tuple[str, ...] = ("ch", *(a for a, d in ALIASES.items() if d == "ch"))

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
    # A dim fm2s cannot name could hold channels ('channels', 'wavelength'), which must not
    # share one intensity range and one network as the planes of a stack do.
    unknown = [n for n in names if canonical(n) is None]
    if unknown:
        raise ValueError(
            f"cannot place the dim(s) {', '.join(map(repr, unknown))} of {tuple(names)}: rename "
            "them (DataArray.rename) to 'ch' if they hold channels (each channel gets its own "
            "intensity range and network), or to 't' or 'pln' if they are planes of one kind "
            "(they share them)")
    canonical_dims(names)  # two dims of one meaning ('z' and 'pln') are refused
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


def canonical(dim: Hashable) -> str | None:
    """The fm2s name of ``dim`` (itself or the dim it is an alias of), or None."""
    name = str(dim)
    return name if name in DIMS else ALIASES.get(name)


def canonical_dims(dims: Sequence[Hashable]) -> dict[Hashable, str]:
    """Map each of ``dims`` to its fm2s name.

    Raises
    ------
    ValueError
        For a dim fm2s cannot name, or two dims with the same meaning.
    """
    names: dict[Hashable, str] = {}
    for dim in dims:
        name = canonical(dim)
        if name is None:
            raise ValueError(
                f"cannot place the dim {dim!r} of {tuple(dims)}: use {', '.join(DIMS)} "
                f"(or {', '.join(ALIASES)})"
            )
        if name in names.values():
            raise ValueError(f"dims {tuple(dims)} name the axis {name!r} twice")
        names[dim] = name
    return names


def in_order(data: Any, order: Sequence[str] = DIMS) -> Any:
    """``data`` (a DataArray) with its dims renamed to fm2s's and transposed into ``order``."""
    names = canonical_dims(data.dims)
    renamed = data.rename({old: new for old, new in names.items() if old != new})
    wanted = [d for d in order if d in renamed.dims]
    return renamed.transpose(*wanted) if tuple(wanted) != tuple(renamed.dims) else renamed


def image_in_order(data: Any, order: Sequence[str] = DIMS) -> Any:
    """:func:`in_order`, for an image that must have a plane: ``row`` and ``col`` dims.

    Raises
    ------
    ValueError
        When a dim has no fm2s name, or there is no ``row`` or no ``col``.
    """
    data = in_order(data, order)
    if "row" not in data.dims or "col" not in data.dims:
        raise ValueError(f"the image needs row and col dims, got {tuple(data.dims)}")
    return data


def letters(dims: Sequence[Hashable]) -> str:
    """ImageJ/TIFF axis letters of ``dims`` (fm2s names or aliases), e.g. ``"ZCYX"``."""
    return "".join(LETTERS[n] for n in canonical_dims(dims).values())


def dims_of_letters(axes: str) -> tuple[str, ...]:
    """fm2s dims for TIFF axis letters (unknown letters become a free ``pln`` or ``t``).

    Raises
    ------
    ValueError
        When there are several channel axes, too many unknown axes, or no Y and X.
    """
    names: list[str | None] = [DIM_OF_LETTER.get(a) for a in axes]
    if names.count("ch") > 1:
        raise ValueError(f"several channel axes ({axes}); fm2s cannot tell them apart")
    unknown = [i for i, name in enumerate(names) if name is None]
    if unknown:
        # One unnamed axis (Q, I, ...) is taken as z; two as (t, z) in file order.
        free = [d for d in ("t", "pln") if d not in names]
        if len(unknown) > len(free):
            raise ValueError(f"cannot name the axes {axes!r} (at most T, Z, C, Y, X)")
        for i, dim in zip(unknown, free[len(free) - len(unknown):]):
            names[i] = dim
    if "row" not in names or "col" not in names:
        raise ValueError(f"the axes {axes!r} have no Y and X")
    return tuple(n for n in names if n is not None)


def sizes_in_order(sizes: Mapping[str, int]) -> tuple[int, ...]:
    """The sizes of all :data:`DIMS` (1 for those missing from ``sizes``), in order."""
    return tuple(int(sizes.get(d, 1)) for d in DIMS)


def _normalise(axis: int, ndim: int, what: str) -> int:
    """``axis`` in ``range(ndim)``; a float or a bool is refused, not truncated by ``int()``."""
    try:
        if isinstance(axis, bool):
            raise TypeError
        index = operator.index(axis)
    except TypeError:
        raise ValueError(f"{what} takes whole numbers (axis indices), got {axis!r}") from None
    if not -ndim <= index < ndim:
        raise ValueError(f"{what} axis {axis} is out of range for an array with {ndim} dimensions")
    return index % ndim
