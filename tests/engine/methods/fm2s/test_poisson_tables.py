"""The compiled sampler's tables (fm2s.engine.methods.fm2s.poisson_tables).

Each outcome's probability is rebuilt from the packed words (the threshold's share of its own
column plus the shares other columns hand over to it) and compared with scipy's pmf.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fm2s.engine.methods.fm2s import poisson_tables


def test_packed_tables_hold_every_row_of_the_pmf_to_24_bits():
    n_rows, n_cols = poisson_tables.GRID * poisson_tables.TABLE_MAX_MEAN, poisson_tables.TABLE_OUTCOMES
    table = poisson_tables.sampler_tables()[: n_rows * n_cols].reshape(n_rows, n_cols)
    threshold = (table >> np.uint32(8)).astype(float) / 2**24
    alias = (table & np.uint32(255)).astype(np.int64)
    assert alias.max() < n_cols
    rows = np.arange(n_rows)[:, None]
    prob = threshold / n_cols
    np.add.at(prob, (np.broadcast_to(rows, alias.shape), alias), (1.0 - threshold) / n_cols)
    means = np.arange(n_rows) / poisson_tables.GRID
    pmf = stats.poisson.pmf(np.arange(n_cols)[None, :], means[:, None])
    pmf[0] = np.eye(1, n_cols)[0]  # Poisson(0) is always 0
    assert np.abs(prob - pmf).max() < 2**-24


def test_anchor_tables_hold_the_pmf_to_32_bits_and_leave_out_no_more_than_the_tail():
    tables = poisson_tables.sampler_tables()
    step = poisson_tables.ANCHOR_STEP
    for j in range(1, poisson_tables.ANCHOR_MAX_MEAN // step):
        start, first, width = (int(v) for v in tables[poisson_tables.ANCHOR_ROWS_AT + 3 * j:][:3])
        words = tables[start: start + 2 * width].reshape(width, 2).astype(np.int64)
        threshold, alias = words[:, 0] / 2**32, words[:, 1]
        assert alias.max() < width
        prob = threshold / width
        np.add.at(prob, alias, (1.0 - threshold) / width)
        outcomes = np.arange(first, first + width)
        pmf = stats.poisson.pmf(outcomes, step * j)
        assert np.abs(prob - pmf).max() < 2**-32 + 1e-15, j
        left_out = stats.poisson.cdf(first - 1, step * j) + stats.poisson.sf(first + width - 1, step * j)
        assert left_out < 1e-29, j
