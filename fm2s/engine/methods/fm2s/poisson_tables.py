"""Tables of the compiled Poisson sampler (:mod:`fm2s.engine.methods.fm2s.poisson_cpu`).

* ``Poisson(g / GRID)`` for ``g = 0 .. GRID * TABLE_MAX_MEAN - 1`` (means below 64 in steps of
  1/16) over the outcomes 0 .. 207, beyond which less than 1e-30 of the probability lies. Each
  entry packs its acceptance threshold (24 bits, so every outcome's probability is kept to
  2**-24 / 208) and its alias (8 bits) into one 32-bit word: 0.85 MB.
* ``Poisson(ANCHOR_STEP * j)`` for ``j = 1 .. ANCHOR_MAX_MEAN / ANCHOR_STEP - 1`` (the
  multiples of 64 below 8,192), each over the outcomes outside of which less than
  ``ANCHOR_TAIL`` lies on either side (at most 2,068), two 32-bit words an outcome: the
  threshold in units of 2**-32 and the alias. 1.4 MB.

Vose's alias method builds both; :func:`sampler_tables` lays them out in one array, built once per
process (about 0.25 s). One array, because numba keeps a reference count, per draw, for each
array handed to the inlined draw unless there is only one: with three arrays a draw cost 40 ns
instead of 5-11.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .jit import compiled, njit

#: Grid points per unit of the mean in the alias tables.
GRID = 16
#: Means at and above this are drawn as ``Poisson(ANCHOR_STEP * j) + Poisson(rest)``.
TABLE_MAX_MEAN = 64
#: Outcomes per table row: 0 .. 207. ``P(X > 207) < 1e-30`` for every mean below 64.
TABLE_OUTCOMES = 208  # at most 256: aliases are stored in 8 bits
#: Spacing of the anchor means ``ANCHOR_STEP * j``; the rest below it comes from the first tables.
ANCHOR_STEP = TABLE_MAX_MEAN
#: Means at and above this use PTRS (rejection) instead of the tables.
ANCHOR_MAX_MEAN = 8192
#: Probability left out of each anchor row, on each side.
ANCHOR_TAIL = 1e-30


#: Acceptance thresholds are stored as integers in units of 2**-24 (first tables) and 2**-32 (anchors).
THRESHOLD_ONE = float(2**24)
ANCHOR_THRESHOLD_ONE = float(2**32)
#: Where the anchor rows' ``(start, first outcome, outcomes)`` triples begin in the tables' array.
ANCHOR_ROWS_AT = GRID * TABLE_MAX_MEAN * TABLE_OUTCOMES
_TABLES: np.ndarray | None = None
_TABLES_LOCK = threading.Lock()


def sampler_tables() -> np.ndarray:
    """All of the sampler's tables in one ``uint32`` array, built once.

    * ``[0, ANCHOR_ROWS_AT)``: the packed alias tables of ``Poisson(g / GRID)``,
      ``g = 0 .. GRID * TABLE_MAX_MEAN - 1``, ``TABLE_OUTCOMES`` words a row (:func:`_pack`).
    * then three words per anchor ``j = 0 .. ANCHOR_MAX_MEAN / ANCHOR_STEP - 1``: where the
      alias table of ``Poisson(ANCHOR_STEP * j)`` starts in the array, its first outcome and
      its number of outcomes (``j = 0`` is never used);
    * then those tables, two words an outcome: the threshold in units of 2**-32, the alias.
    """
    global _TABLES
    with _TABLES_LOCK:
        if _TABLES is None:
            fine = _fine_table().reshape(-1)
            n_anchors = ANCHOR_MAX_MEAN // ANCHOR_STEP
            rows = np.zeros((n_anchors, 3), dtype=np.uint32)
            words = []
            start = fine.size + rows.size
            for j in range(1, n_anchors):
                first, prob, alias = _anchor_alias(float(ANCHOR_STEP * j))
                rows[j] = (start, first, prob.size)
                threshold = np.minimum(np.floor(prob * ANCHOR_THRESHOLD_ONE), ANCHOR_THRESHOLD_ONE - 1)
                words.append(np.stack([threshold.astype(np.uint32), alias.astype(np.uint32)], axis=1).ravel())
                start += 2 * prob.size
            _TABLES = np.concatenate([fine, rows.ravel(), *words])
        return _TABLES


def _fine_table() -> np.ndarray:
    """Packed alias tables of ``Poisson(g / GRID)``, one row a grid mean."""
    means = np.arange(GRID * TABLE_MAX_MEAN, dtype=np.float64) / GRID
    k = np.arange(TABLE_OUTCOMES, dtype=np.float64)
    log_pmf = np.full((means.size, k.size), -np.inf)
    log_pmf[1:] = _log_pmf(k, means[1:, None])
    log_pmf[0, 0] = 0.0
    pmf = np.exp(log_pmf)
    pmf /= pmf.sum(axis=1, keepdims=True)
    prob = np.ones_like(pmf)
    alias = np.tile(np.arange(k.size, dtype=np.int32), (means.size, 1))
    _build_alias(pmf, prob, alias)
    return _pack(prob, alias)


def _anchor_alias(mean: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Alias table of ``Poisson(mean)`` over the outcomes that leave out at most
    ``ANCHOR_TAIL`` on each side: ``(first outcome, thresholds, aliases)``."""
    reach = 25.0 * math.sqrt(mean)  # 25 standard deviations: far more than ANCHOR_TAIL needs
    k = np.arange(max(0, int(mean - reach)), int(mean + reach) + 1, dtype=np.float64)
    pmf = np.exp(_log_pmf(k, np.float64(mean)))
    kept = (np.cumsum(pmf) >= ANCHOR_TAIL) & (np.cumsum(pmf[::-1])[::-1] >= ANCHOR_TAIL)
    k, pmf = k[kept], pmf[kept][None, :] / pmf[kept].sum()
    prob = np.ones_like(pmf)
    alias = np.arange(k.size, dtype=np.int32)[None, :]
    _build_alias(pmf, prob, alias)
    return int(k[0]), prob[0], alias[0]


def _log_pmf(k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``log P(X = k)`` for ``X ~ Poisson(mean)``, ``mean > 0`` (broadcast)."""
    from scipy.special import gammaln

    return k * np.log(mean) - mean - gammaln(k + 1.0)


def _pack(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """One ``uint32`` per table entry: threshold ``floor(prob * 2**24)`` above, alias below.

    A column whose probability is 1 (it never hands over to its alias) keeps ``2**24 - 1``;
    Vose's construction leaves such columns aliased to themselves, so the rare draw above
    the threshold returns the column all the same.
    """
    threshold = np.minimum(np.floor(prob * THRESHOLD_ONE), THRESHOLD_ONE - 1).astype(np.uint32)
    return (threshold << np.uint32(8)) | alias.astype(np.uint32)



if njit is not None:

    @compiled()
    def _build_alias(pmf, prob, alias):  # pragma: no cover - compiled
        """Vose's alias method, row by row: ``prob`` thresholds and ``alias`` outcomes."""
        n_rows, n = pmf.shape
        small = np.empty(n, np.int64)
        large = np.empty(n, np.int64)
        scaled = np.empty(n)
        for r in range(n_rows):
            n_small = 0
            n_large = 0
            for i in range(n):
                scaled[i] = pmf[r, i] * n
                if scaled[i] < 1.0:
                    small[n_small] = i
                    n_small += 1
                else:
                    large[n_large] = i
                    n_large += 1
            while n_small > 0 and n_large > 0:
                n_small -= 1
                s = small[n_small]
                n_large -= 1
                big = large[n_large]
                prob[r, s] = scaled[s]
                alias[r, s] = big
                scaled[big] = (scaled[big] + scaled[s]) - 1.0
                if scaled[big] < 1.0:
                    small[n_small] = big
                    n_small += 1
                else:
                    large[n_large] = big
                    n_large += 1
            # Left over by rounding: columns that are (within rounding) exactly full.
            for i in range(n_large):
                prob[r, large[i]] = 1.0
            for i in range(n_small):
                prob[r, small[i]] = 1.0
