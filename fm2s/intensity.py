"""Mapping pixel values of any supported type to the [0, 1] scale FM2S works in, and back.

The presets' noise model was tuned on 8-bit images divided by 255, so what matters is that the
*image's own* intensity range lands on [0, 1], as it does for an 8-bit acquisition that uses its
range. The mapping is:

``uint8``
    ``x / 255`` exactly, as the authors do.
``uint16``, ``int16``, ``float32``, ``float64``
    ``(x - lo) / (hi - lo)`` with ``lo``/``hi`` the minimum and maximum of the data being
    denoised together (one channel of a stack). A 12-bit camera in a 16-bit container with a
    camera offset of 100 thus maps its 100..4095 to 0..1 instead of 0.0015..0.062 (which would
    make every window look dark to the noise model). Float data already in [0, 1] is treated the
    same way. The inverse ``y * (hi - lo) + lo`` is applied afterwards. Isolated hot pixels
    far above the rest of the image do not set ``hi``; they are kept as they were
    (:mod:`fm2s.spikes`).

You can pass ``intensity_range=(lo, hi)`` to fix the range yourself (e.g. the same range for
every file of an experiment); values outside it are clipped for training and in the output.
Integer outputs are rounded (not truncated) and clipped to the type's range; the output has the
input's dtype and intensity scale (no histogram stretching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ImageError
from .spikes import SpikeRange, fill_spikes, in_memory_range

SUPPORTED_DTYPES = ("uint8", "uint16", "int16", "float32", "float64")


@dataclass(frozen=True)
class IntensityMap:
    """An affine map between data values and [0, 1]: ``unit = (x - lo) / (hi - lo)``.

    ``spikes`` counts the pixels above ``hi`` set aside as hot pixels (:mod:`fm2s.spikes`):
    :meth:`to_unit` gives them the median of their neighbours; the result keeps them as they
    were.
    """

    lo: float
    hi: float
    spikes: int = 0

    def to_unit(self, data: np.ndarray) -> np.ndarray:
        """Map data to float32 in [0, 1] (clipped).

        Computed in float32 (float64 for float64 data, and for data whose range float32 cannot
        hold) in place, so a large plane costs one float copy: uint8 / 255 and integer
        differences are exact there.
        """
        unit = data.astype(self._work_dtype(data.dtype))
        if self.hi > self.lo:
            if np.isfinite(self.hi - self.lo):
                unit -= self.lo
                unit /= self.hi - self.lo
            else:  # a range wider than float64 holds (+-1e308): halve everything first
                unit *= 0.5
                unit -= 0.5 * self.lo
                unit /= 0.5 * self.hi - 0.5 * self.lo
            np.clip(unit, 0.0, 1.0, out=unit)
            if self.spikes and data.ndim >= 2:
                fill_spikes(unit, data, self.hi)
        else:
            unit[...] = 0.0
        return unit.astype(np.float32, copy=False)

    def from_unit(self, unit: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Map [0, 1] values back to data values of ``dtype`` (rounded and clipped for integers)."""
        values = unit.astype(self._work_dtype(np.dtype(dtype)))
        if np.isfinite(self.hi - self.lo):
            values *= self.hi - self.lo
            values += self.lo
        else:  # lo * (1 - u) + hi * u: each term finite
            values = self.lo * (1.0 - values) + self.hi * values
        return _cast_in_place(values, dtype)

    def _work_dtype(self, dtype: np.dtype) -> type:
        """float64 for float64 data (its precision) and for ranges float32 cannot hold (beyond
        +-1e37: the steps of the map would overflow); float32 otherwise (memory)."""
        wide = max(abs(self.lo), abs(self.hi), self.hi - self.lo) > 1e37
        return np.float64 if dtype == np.float64 or wide else np.float32


def _cast_in_place(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        np.rint(values, out=values)
        np.clip(values, info.min, info.max, out=values)
    return values.astype(dtype, copy=False)


def check_dtype(dtype: np.dtype) -> np.dtype:
    """Return ``dtype`` if FM2S supports it, else raise a ValueError that says what to do."""
    dtype = np.dtype(dtype)
    if dtype.name in SUPPORTED_DTYPES:
        return dtype
    to_float = {"cli": "convert the file to 32-bit float first (Fiji: Image > Type > 32-bit)",
                "macro": 'convert it to 32-bit first: run("32-bit");'}
    if dtype == np.bool_:
        fixes = {"python": "a binary mask has no noise to remove; convert with "
                           "image.astype('uint8') * 255 if you really mean it"}
    elif np.issubdtype(dtype, np.complexfloating):
        fixes = {"python": "denoise the magnitude (numpy.abs) instead"}
    elif np.issubdtype(dtype, np.integer):
        fixes = {"python": "convert it to float32 first (image.astype('float32')); the output "
                           "will then be float32", **to_float}
    else:
        fixes = {"python": "convert it to float32 first", **to_float}
    raise ImageError(
        f"unsupported pixel type {dtype.name}; FM2S accepts {', '.join(SUPPORTED_DTYPES)}", fixes
    )


def check_intensity_range(intensity_range: Any) -> tuple[float, float]:
    """Return ``(lo, hi)`` as floats, or raise a ValueError unless they are two numbers, lo < hi."""
    try:
        lo, hi = (float(v) for v in intensity_range)
    except (TypeError, ValueError):
        raise ValueError(f"intensity_range must be two numbers (lo, hi), got {intensity_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"intensity_range must be two finite numbers, got ({lo:g}, {hi:g})")
    if not lo < hi:
        raise ValueError(f"intensity_range must have lo < hi, got ({lo}, {hi})")
    return lo, hi


def intensity_map_for(data: np.ndarray, intensity_range: tuple[float, float] | None = None) -> IntensityMap:
    """Choose the :class:`IntensityMap` for ``data`` (see the module docstring).

    Parameters
    ----------
    data : numpy.ndarray
        Pixels of one supported type, finite: one channel, planes in the last two axes.
        Without ``intensity_range``, isolated hot pixels above the rest of the image do not
        set the top of the range (:mod:`fm2s.spikes`).
    intensity_range : (float, float), optional
        Explicit ``(lo, hi)``; must satisfy ``lo < hi``.
    """
    if intensity_range is not None:
        return IntensityMap(*check_intensity_range(intensity_range))
    if data.dtype == np.uint8:
        return IntensityMap(0.0, 255.0)
    lo, hi = float(data.min()), float(data.max())
    if data.ndim < 2 or min(data.shape[-2:]) < 3:  # extremes only (no plane of neighbours;
        return IntensityMap(lo, hi)                 # fm2s.lazy looks for its spikes itself)
    return without_spikes(IntensityMap(lo, hi), in_memory_range(data, lo, hi))


def sets_range_from_data(dtype: np.dtype, intensity_range: Any) -> bool:
    """Whether the range of data of ``dtype`` comes from the data (and its spikes are set aside)."""
    return intensity_range is None and np.dtype(dtype) != np.uint8


def without_spikes(imap: IntensityMap, spikes: SpikeRange) -> IntensityMap:
    """``imap`` ending below the spikes that :mod:`fm2s.spikes` found, where it found some."""
    return IntensityMap(imap.lo, spikes.top, spikes.count) if spikes.count else imap
