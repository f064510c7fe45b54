"""FM2S noise synthesis compiled for the CPU (numba): the same distribution for less CPU time.

``torch.poisson`` draws one value at a time on one core (60-160 ns a value on the project
machine), and FM2S draws two Poisson values per pixel for every training batch: on a CPU that
was as much work as the training step itself. This module draws the same noise, ``N(u)`` of
:func:`fm2s.engine.noise.synthesize_noisy`, in one compiled pass per crop, in about half the
time on confocal and two-photon data (BENCHMARKS.md):

* Poisson means below 64 come from alias tables (Walker/Vose) of ``Poisson(g / 16)`` on a grid
  of means in steps of 1/16, plus an exact draw of the remainder ``Poisson(mean - g / 16)``
  (Poisson variables add): one memory access per draw.
* Means from 64 to 8,192 add ``Poisson(64 j)``, from alias tables of the multiples of 64, and
  ``Poisson(mean - 64 j)`` from the first tables: 10-12 ns a draw against 25-38 ns for
  rejection sampling.
* Larger means use Hoermann's PTRS transformed rejection (numpy's algorithm).

  These are exact samplers up to the precision of the stored probabilities (2**-24 and
  2**-32 of a column; :mod:`fm2s.engine.methods.fm2s.poisson_tables`), not approximations of
  the distribution.
* Gaussian read noise comes from Marsaglia's polar method.
* Uniform numbers come from xoshiro256+ (Blackman and Vigna), written inline: every library
  generator reached through a function call cost 5-13 ns a value on the project machine,
  the inline one 2 ns. Each crop of a batch gets its own stream, seeded by splitmix64 from
  the batch seed and the crop's index, so results do not depend on how crops are shared out.

numba is a dependency of fm2s; when it cannot be imported (or ``FM2S_NOISE_SAMPLER=torch``)
:func:`fm2s.engine.noise.synthesize_noisy` falls back to ``torch.poisson``, which draws the same
distribution from a different random stream.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .jit import IMPORT_ERROR as _IMPORT_ERROR
from .jit import compiled as _compiled
from .jit import njit
from .poisson_tables import (
    ANCHOR_MAX_MEAN,
    ANCHOR_ROWS_AT,
    ANCHOR_STEP,
    ANCHOR_THRESHOLD_ONE,
    GRID,
    TABLE_MAX_MEAN,
    TABLE_OUTCOMES,
    THRESHOLD_ONE,
    sampler_tables,
)

if njit is not None:
    from numba import uint32, uint64

_ENV = "FM2S_NOISE_SAMPLER"


def available() -> bool:
    """True when the compiled sampler will be used for CPU noise.

    False when numba cannot be imported or the environment variable ``FM2S_NOISE_SAMPLER`` is
    ``torch`` (use ``torch.poisson``, e.g. to compare with results made without numba).
    """
    choice = os.environ.get(_ENV, "auto").strip().lower()
    if choice not in ("auto", "numba", "torch"):
        raise ValueError(f"{_ENV}={choice!r} is not understood; use 'auto', 'numba' or 'torch'")
    if choice == "torch":
        return False
    if _IMPORT_ERROR is not None:
        if choice == "numba":
            raise RuntimeError(
                f"{_ENV}=numba, but numba cannot be imported ({_IMPORT_ERROR}); "
                "install it with `pip install numba` or unset the variable"
            )
        return False
    return True


def poisson(rates: np.ndarray, seed: int) -> np.ndarray:
    """Draw ``Poisson(rates)`` with the compiled sampler (one stream seeded by ``seed``).

    Parameters
    ----------
    rates : numpy.ndarray
        Means, any shape. Means that are not positive (or NaN) give 0.
    seed : int
        Seed of the random stream (any integer; taken modulo 2**64).

    Returns
    -------
    numpy.ndarray
        Counts as float64, the shape of ``rates``.
    """
    _require()
    tables = sampler_tables()
    flat = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    _draw_poisson(flat, np.uint64(seed % 2**64), tables, out)
    return out.reshape(np.shape(rates))


def synthesize_noisy(
    clean: np.ndarray,
    mean_map: np.ndarray,
    k_p: float,
    k_g: float,
    lam_p: float,
    seed: int,
) -> np.ndarray:
    """Draw one synthetic noisy batch ``N(u)`` (see :func:`fm2s.engine.noise.synthesize_noisy`).

    Parameters
    ----------
    clean : numpy.ndarray
        ``(B, C, H, W)`` float32 target ``u`` in [0, 1].
    mean_map : numpy.ndarray
        Window brightness (:func:`fm2s.engine.noise.window_mean_map`, positive: it is
        clamped to at least 1e-5), broadcastable to ``clean`` (e.g. ``(B, 1, H, W)``).
    k_p, k_g, lam_p : float
        The preset's Poisson map, Gaussian map and overall Poisson factors.
    seed : int
        Seed of the batch; crop ``b`` draws from a stream seeded by ``(seed, b)``.

    Returns
    -------
    numpy.ndarray
        ``(B, C, H, W)`` float32 noisy batch in [0, 1].
    """
    _require()
    if clean.ndim != 4:
        raise ValueError(f"expected clean of shape (B, C, H, W), got {clean.shape}")
    tables = sampler_tables()
    clean = np.ascontiguousarray(clean, dtype=np.float32)
    mean_map = np.ascontiguousarray(np.broadcast_to(mean_map, clean.shape), dtype=np.float32)
    out = np.empty(clean.shape, dtype=np.float32)
    _noise_batch(clean, mean_map, float(k_p), float(k_g), float(lam_p),
                 np.uint64(seed % 2**64), tables, out)
    return out


def _require() -> None:
    if _IMPORT_ERROR is not None:
        raise RuntimeError(f"the compiled noise sampler needs numba, which cannot be imported: {_IMPORT_ERROR}")


if njit is not None:
    _INV_2_53 = 1.0 / 9007199254740992.0

    @_compiled()
    def _uniform(s0, s1, s2, s3):  # pragma: no cover - compiled
        """xoshiro256+: a uniform double in [0, 1) and the next state."""
        result = s0 + s3
        t = s1 << uint64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << uint64(45)) | (s3 >> uint64(19))
        return (result >> uint64(11)) * _INV_2_53, s0, s1, s2, s3

    @_compiled()
    def _splitmix(x):  # pragma: no cover - compiled
        """splitmix64: the next counter and its output (seeds xoshiro's state)."""
        x = x + uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
        return x, z ^ (z >> uint64(31))

    @_compiled()
    def _seed_stream(seed, index):  # pragma: no cover - compiled
        x = seed ^ (uint64(index) * uint64(0xD1B54A32D192ED03))
        x, s0 = _splitmix(x)
        x, s1 = _splitmix(x)
        x, s2 = _splitmix(x)
        x, s3 = _splitmix(x)
        return s0, s1, s2, s3

    @_compiled()
    def _normal_pair(s0, s1, s2, s3):  # pragma: no cover - compiled
        """Two independent standard normals (Marsaglia's polar method)."""
        while True:
            a, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            b, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            a = 2.0 * a - 1.0
            b = 2.0 * b - 1.0
            q = a * a + b * b
            if 0.0 < q < 1.0:
                f = math.sqrt(-2.0 * math.log(q) / q)
                return a * f, b * f, s0, s1, s2, s3

    @_compiled()
    def _poisson_remainder(mean, u):  # pragma: no cover - compiled
        """``Poisson(mean)`` for ``mean < 1 / GRID`` by inversion of the uniform ``u``."""
        # The draw is 0 unless u > exp(-mean); as 1 - exp(-mean) < mean, 1 - u >= mean settles
        # it without the exponential for all but a fraction ``mean`` of draws.
        if 1.0 - u >= mean:
            return 0
        p = math.exp(-mean)
        k = 0
        while u > p and k < 64:
            u -= p
            k += 1
            p *= mean / k
        return k

    @_compiled()
    def _ptrs(mean, s0, s1, s2, s3):  # pragma: no cover - compiled
        """``Poisson(mean)`` for ``mean >= 10`` (Hoermann 1993, PTRS; numpy's algorithm)."""
        b = 0.931 + 2.53 * math.sqrt(mean)
        a = -0.059 + 0.02483 * b
        v_r = 0.9277 - 3.6224 / (b - 2.0)
        while True:
            u, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            v, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            u -= 0.5
            us = 0.5 - abs(u)
            k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
            if us >= 0.07 and v <= v_r:
                return float(k), s0, s1, s2, s3
            if k < 0 or (us < 0.013 and v > us):
                continue
            inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
            log_accept = -mean + k * math.log(mean) - math.lgamma(k + 1.0)
            if math.log(v * inv_alpha / (a / (us * us) + b)) <= log_accept:
                return float(k), s0, s1, s2, s3

    @_compiled(inline="always")
    def _table_draw(mean, s0, s1, s2, s3, tables):  # pragma: no cover - compiled
        """``Poisson(mean)`` for ``0 <= mean < TABLE_MAX_MEAN`` from the first tables."""
        row = int(mean * GRID)
        rest = mean - row * (1.0 / GRID)
        u, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
        x = u * TABLE_OUTCOMES
        col = int(x)
        entry = tables[row * TABLE_OUTCOMES + col]
        if (x - col) * THRESHOLD_ONE < (entry >> uint32(8)):
            k = float(col)
        else:
            k = float(entry & uint32(255))
        if rest > 0.0:
            u, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            k += _poisson_remainder(rest, u)
        return k, s0, s1, s2, s3

    @_compiled(inline="always")
    def _anchor_draw(j, s0, s1, s2, s3, tables):  # pragma: no cover - compiled
        """``Poisson(ANCHOR_STEP * j)`` from the anchor tables."""
        at = ANCHOR_ROWS_AT + 3 * j
        start = int(tables[at])
        u, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
        x = u * tables[at + 2]
        col = int(x)
        if (x - col) * ANCHOR_THRESHOLD_ONE < tables[start + 2 * col]:
            k = col
        else:
            k = int(tables[start + 2 * col + 1])
        return float(int(tables[at + 1]) + k), s0, s1, s2, s3

    @_compiled(inline="always")
    def _poisson_one(mean, s0, s1, s2, s3, tables):  # pragma: no cover - compiled
        """One exact ``Poisson(mean)`` draw and the next state."""
        if not mean > 0.0:  # also NaN
            return 0.0, s0, s1, s2, s3
        if mean >= ANCHOR_MAX_MEAN:
            return _ptrs(mean, s0, s1, s2, s3)
        anchor = 0.0
        if mean >= TABLE_MAX_MEAN:
            # Exact: ANCHOR_STEP is a power of two and ANCHOR_STEP * j is within a factor 2 of mean.
            j = int(mean * (1.0 / ANCHOR_STEP))
            mean -= j * ANCHOR_STEP
            anchor, s0, s1, s2, s3 = _anchor_draw(j, s0, s1, s2, s3, tables)
        k, s0, s1, s2, s3 = _table_draw(mean, s0, s1, s2, s3, tables)
        return anchor + k, s0, s1, s2, s3

    @_compiled(nogil=True)
    def _draw_poisson(means, seed, tables, out):  # pragma: no cover - compiled
        s0, s1, s2, s3 = _seed_stream(seed, 0)
        for i in range(means.shape[0]):
            out[i], s0, s1, s2, s3 = _poisson_one(means[i], s0, s1, s2, s3, tables)

    @_compiled(nogil=True)
    def _noise_batch(clean, mean_map, k_p, k_g, lam_p, seed, tables, out):  # pragma: no cover - compiled
        """``N(u)`` for every crop of the batch, crop ``b`` from the stream ``(seed, b)``."""
        n_crops, n_chan, height, width = clean.shape
        inv_lam_p = 1.0 / lam_p
        sigma_per_mean = k_g / 255.0
        for b in range(n_crops):
            s0, s1, s2, s3 = _seed_stream(seed, b)
            spare = 0.0
            have_spare = False
            m_last = -1.0
            rate = 1.0
            inv_rate = 1.0
            sigma = 0.0
            for c in range(n_chan):
                for y in range(height):
                    for x in range(width):
                        m = mean_map[b, c, y, x]
                        if m != m_last:  # constant over a window: divide once per run of it
                            m_last = m
                            rate = k_p / m
                            inv_rate = m / k_p
                            sigma = sigma_per_mean * m
                        shot, s0, s1, s2, s3 = _poisson_one(
                            clean[b, c, y, x] * rate, s0, s1, s2, s3, tables
                        )
                        if have_spare:
                            z = spare
                            have_spare = False
                        else:
                            z, spare, s0, s1, s2, s3 = _normal_pair(s0, s1, s2, s3)
                            have_spare = True
                        v = min(max(shot * inv_rate + z * sigma, 0.0), 1.0)
                        count, s0, s1, s2, s3 = _poisson_one(
                            v * lam_p, s0, s1, s2, s3, tables
                        )
                        out[b, c, y, x] = min(count * inv_lam_p, 1.0)
