"""Hot pixels: isolated pixels far brighter than the rest of the image, kept out of its intensity range.

Without an ``intensity_range``, the range FM2S maps to [0, 1] runs from the data's minimum to
its maximum (:mod:`fm2s.intensity`). One hot camera pixel (or a cosmic ray) at 65,535 in a
16-bit image whose cells reach 4,500 would set that maximum: the image would lie in the lowest
7 % of the scale, so FM2S's noise model would see a dark image whose noise is small, and
denoise it far too little (``noise_level="auto"``) or far too much (a level given).

So the brightest pixels are examined first. A *spike* is a pixel more than
:data:`SPIKE_RATIO` times as bright (above the data's minimum) as the second brightest of its
eight neighbours (five on an edge, three in a corner): anything the optics resolve spreads
over neighbouring pixels, a hot pixel does not (and the second brightest neighbour lets a pair
of them through as well). Where every
pixel in the top half of the range is a spike, the range ends at the brightest pixel below
that half, and the same is asked again there (spikes of several heights). The network trains
on, and denoises, the image with each pixel above the range replaced by the median of its
neighbours (clipped to the range, a spike would leave a halo around it); the result keeps
those pixels as they were. The search stops where any pixel of the top half is not a spike,
where more than :data:`MAX_SPIKE_SHARE` of the pixels lie there, and (integer data) where the
range it has come to spans fewer than :data:`MIN_INTEGER_SPAN` grey levels; the range is then
where it stopped (the data's, where it stopped at once).

Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: A spike is brighter, above the data's minimum, than this many times its second brightest
#: neighbour.
SPIKE_RATIO = 2.0

#: Spikes end the range only when the rest of the image lies in this share of it or less.
RANGE_SHARE = 0.5

#: At most this share of the pixels (and at least :data:`MIN_SPIKES` pixels) are looked at as
#: possible spikes; more pixels in the top of the range are an image's own bright content.
MAX_SPIKE_SHARE = 1e-3
MIN_SPIKES = 64

#: Spikes of this many different heights at most are set aside.
MAX_TIERS = 8

#: The search stops on integer data whose range spans fewer grey levels than this: in a
#: photon count of a few levels, the shot noise itself makes pixels twice as bright as their
#: neighbours. (Float data has no grey levels: the same counts as float are searched on.)
MIN_INTEGER_SPAN = 64

#: The eight neighbours of a pixel, as (row, column) offsets.
_OFFSETS = tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc)


@dataclass(frozen=True)
class SpikeRange:
    """The top of a channel's intensity range once its spikes are set aside.

    Attributes
    ----------
    top : float
        The brightest pixel that is not a spike: where the range ends.
    count : int
        How many pixels lie above ``top`` (the spikes set aside); 0 when none.
    """

    top: float
    count: int


#: ``above(threshold)`` gives the values of the pixels above ``threshold`` and, per pixel, its
#: eight neighbours' values, or None when there are more than the limit.
Above = Callable[[float], tuple[np.ndarray, np.ndarray] | None]
#: ``top_at_most(threshold)`` gives the brightest pixel at or below ``threshold``.
TopAtMost = Callable[[float], float]


def spike_free_range(lo: float, hi: float, above: Above, top_at_most: TopAtMost,
                     dtype: np.dtype) -> SpikeRange:
    """Where a channel's range ends once its spikes are set aside (see the module docstring).

    Parameters
    ----------
    lo, hi : float
        The data's minimum and maximum.
    above, top_at_most : callable
        Access to the data (:data:`Above`, :data:`TopAtMost`), in memory or lazy.
    dtype : numpy.dtype
        The data's type (integer data spanning fewer than :data:`MIN_INTEGER_SPAN` grey levels
        is left as it is).
    """
    least = MIN_INTEGER_SPAN if np.issubdtype(dtype, np.integer) else 0.0
    top, count = hi, 0
    for _ in range(MAX_TIERS):
        if not top - lo > least:
            break
        threshold = lo + RANGE_SHARE * (top - lo)
        found = above(threshold)
        if found is None or not len(found[0]) or not is_spike(*found, lo).all():
            break
        top, count = top_at_most(threshold), len(found[0])
    return SpikeRange(float(top), count)


def is_spike(values: np.ndarray, neighbours: np.ndarray, lo: float) -> np.ndarray:
    """Which pixels of ``values`` are spikes, given each one's eight ``neighbours`` (n, 8)."""
    second = np.sort(np.asarray(neighbours, dtype=np.float64), axis=1)[:, -2]
    return np.asarray(values, dtype=np.float64) - lo > SPIKE_RATIO * (second - lo)


def neighbour_indices(rows: np.ndarray, cols: np.ndarray, height: int,
                      width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (n, 8) of each pixel's eight neighbours, mirrored at the edges
    (the pixel beyond an edge is the one inside it)."""
    def mirror(index: np.ndarray, size: int) -> np.ndarray:
        index = np.abs(index)
        return np.where(index >= size, 2 * (size - 1) - index, index)

    r = np.stack([mirror(rows + dr, height) for dr, _ in _OFFSETS], axis=1)
    c = np.stack([mirror(cols + dc, width) for _, dc in _OFFSETS], axis=1)
    return r, c


def inside(rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which of each pixel's eight neighbours (n, 8), in the order of :func:`neighbour_indices`,
    lie inside the image. The others are mirrored there onto a neighbour that is counted
    already: they take no part in the spike test or the fill (at an edge, the other pixel of a
    pair would be the second brightest neighbour as well as the brightest)."""
    r = np.stack([rows + dr for dr, _ in _OFFSETS], axis=1)
    c = np.stack([cols + dc for _, dc in _OFFSETS], axis=1)
    return (r >= 0) & (r < height) & (c >= 0) & (c < width)


def spike_limit(n_pixels: int) -> int:
    """The most pixels looked at as possible spikes in data of ``n_pixels`` pixels."""
    return max(MIN_SPIKES, int(n_pixels * MAX_SPIKE_SHARE))


def in_memory_range(view: np.ndarray, lo: float, hi: float) -> SpikeRange:
    """:func:`spike_free_range` of one channel view (stack shape + (rows, cols)), read plane by
    plane (no copy of the data)."""
    stack = view.shape[:-2]
    height, width = view.shape[-2:]
    limit = spike_limit(view.size)

    def above(threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
        values, neighbours, seen = [], [], 0
        for index in np.ndindex(stack):
            plane = view[index]
            bright = plane > threshold
            seen += int(np.count_nonzero(bright))
            if seen > limit:  # counted before listed: a list of them costs 16 bytes a pixel
                return None
            rows, cols = np.nonzero(bright)
            r, c = neighbour_indices(rows, cols, height, width)
            values.append(plane[rows, cols])
            neighbours.append(np.where(inside(rows, cols, height, width), plane[r, c], lo))
        return np.concatenate(values), np.concatenate(neighbours)

    def top_at_most(threshold: float) -> float:
        return max(float(np.max(view[index], where=view[index] <= threshold, initial=lo))
                   for index in np.ndindex(stack))

    return spike_free_range(lo, hi, above, top_at_most, view.dtype)


def lazy_range(channel: Any, lo: float, hi: float) -> SpikeRange:
    """:func:`spike_free_range` of one channel of a Dask array (stack shape + (rows, cols))."""
    import dask.array as da

    height, width = channel.shape[-2:]
    limit = spike_limit(int(channel.size))

    def above(threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
        mask = channel > threshold
        if int(mask.sum().compute(scheduler="synchronous")) > limit:
            return None
        where = np.asarray(da.argwhere(mask).compute(scheduler="synchronous"))
        stack = tuple(where[:, k] for k in range(where.shape[1] - 2))
        rows, cols = where[:, -2], where[:, -1]
        r, c = neighbour_indices(rows, cols, height, width)
        n = len(rows)
        points = tuple(np.repeat(s, 9) for s in stack) + (
            np.concatenate([rows[:, None], r], axis=1).ravel(),
            np.concatenate([cols[:, None], c], axis=1).ravel())
        picked = np.asarray(channel.vindex[points].compute(scheduler="synchronous")).reshape(n, 9)
        return picked[:, 0], np.where(inside(rows, cols, height, width), picked[:, 1:], lo)

    def top_at_most(threshold: float) -> float:
        kept = da.where(channel <= threshold, channel, lo)
        return float(kept.max().compute(scheduler="synchronous"))

    return spike_free_range(lo, hi, above, top_at_most, channel.dtype)


def fill_spikes(unit: np.ndarray, data: np.ndarray, top: float) -> None:
    """Give the pixels of ``unit`` (``data`` mapped to [0, 1]) where ``data`` lies above ``top``
    the median of their neighbours inside the image, in place: what the network trains on and
    denoises holds no spike (a spike clipped to the top of the range would leave a halo around
    it)."""
    where = np.nonzero(data > top)
    if not len(where[0]):
        return
    rows, cols = neighbour_indices(where[-2], where[-1], *data.shape[-2:])
    stack = tuple(np.repeat(s[:, None], 8, axis=1) for s in where[:-2])
    near = np.where(inside(where[-2], where[-1], *data.shape[-2:]), unit[stack + (rows, cols)],
                    np.nan)
    unit[where] = np.nanmedian(near, axis=1)


def keep_spikes(result: np.ndarray, source: np.ndarray, top: float) -> None:
    """Put the pixels of ``source`` above ``top`` back into ``result`` (the same shape), plane by
    plane: the spikes set aside are kept as they were."""
    for index in np.ndindex(source.shape[:-2]):
        np.copyto(result[index], source[index], where=source[index] > top)


def spike_lines(meta: dict) -> list[str]:
    """One line per channel whose spikes were set aside, from a run's ``fm2s_*`` record (for the
    command line and ImageJ's Log); empty when none were."""
    counts = meta.get("fm2s_hot_pixels") or []
    ranges = meta.get("fm2s_intensity_range") or []
    return [("" if len(counts) == 1 else f"channel {c + 1}: ")
            + "note: " + spike_note(count, ranges[c][1])
            for c, count in enumerate(counts) if count and c < len(ranges)]


def spike_note(count: int, top: float) -> str:
    """What setting ``count`` spikes aside above ``top`` means, in a sentence."""
    return (f"{count} isolated pixel(s) far brighter than their neighbours (hot pixels?) lie "
            f"above the rest of the image, which ends at {top:g}: the intensity range ends "
            "there, and these pixels are not denoised but kept as they were; give an "
            "intensity range to set it yourself")
