"""An N-D image seen as channels of 2-D planes, in place: planes are read and written one at a time.

Denoising a stack needs its planes one by one (and a few dozen of them at once for a shared
model's training), never the whole stack as floats. :class:`PlaneLayout` says how the axes of
an array are cut (the channel axis first, every other axis but the plane's iterated, in the
array's order) and gives views, not copies; :class:`UnitPlanes` reads a channel's planes mapped
to [0, 1] and :class:`DataPlanes` writes [0, 1] planes back as data values, so denoising keeps
at most the input, the output and a few planes in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .intensity import IntensityMap


@dataclass(frozen=True)
class PlaneLayout:
    """How an array's axes are cut into channels of planes.

    Attributes
    ----------
    row, col : int
        The plane's axes.
    channel : int or None
        The channel axis (each channel is denoised on its own).
    """

    row: int
    col: int
    channel: int | None

    def order(self, ndim: int) -> list[int]:
        """The axes in the order channel, stack axes (as in the array), row, col."""
        stack = [a for a in range(ndim) if a not in (self.row, self.col, self.channel)]
        return ([self.channel] if self.channel is not None else []) + stack + [self.row, self.col]

    def channels(self, array: np.ndarray) -> list[np.ndarray]:
        """One view per channel, shaped ``stack shape + (rows, cols)``."""
        moved = np.transpose(array, self.order(array.ndim))
        if self.channel is None:
            return [moved]
        return [moved[c] for c in range(moved.shape[0])]


class UnitPlanes:
    """The planes of one channel view, read one at a time and mapped to float32 in [0, 1]."""

    def __init__(self, view: np.ndarray, imap: IntensityMap) -> None:
        self.view, self.imap = view, imap
        self.stack_shape = view.shape[:-2]

    def __len__(self) -> int:
        return int(np.prod(self.stack_shape, dtype=np.int64))

    def __getitem__(self, i: int) -> np.ndarray:
        return self.imap.to_unit(self.view[np.unravel_index(i, self.stack_shape)])


class DataPlanes:
    """Where [0, 1] planes are written back into one channel view, as data values."""

    def __init__(self, view: np.ndarray, imap: IntensityMap) -> None:
        self.view, self.imap = view, imap
        self.stack_shape = view.shape[:-2]

    def __len__(self) -> int:
        return int(np.prod(self.stack_shape, dtype=np.int64))

    def __setitem__(self, i: int, unit: np.ndarray) -> None:
        self.view[np.unravel_index(i, self.stack_shape)] = self.imap.from_unit(unit, self.view.dtype)
