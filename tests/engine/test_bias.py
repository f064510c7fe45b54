"""The intensity-bias correction (``restore_local_mean``) and its Gaussian low-pass."""

from __future__ import annotations

import pytest
import torch

from fm2s.engine.bias import gaussian_blur, restore_local_mean


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("rows", [11, 12, 40])
def test_short_side_does_not_truncate_long_side(rows):
    # A plane constant down its columns: the column filter leaves it as it is, so every row
    # must be the 1-D Gaussian of the row, as on a tall plane, however few rows there are.
    line = _rand(200)
    tall = gaussian_blur(line.repeat(200, 1), 16.0)[0]
    short = gaussian_blur(line.repeat(rows, 1), 16.0)
    torch.testing.assert_close(short, tall.expand(rows, -1))
    transposed = gaussian_blur(line.repeat(rows, 1).T.contiguous(), 16.0)
    torch.testing.assert_close(transposed, tall[:, None].expand(-1, rows))


def test_blur_keeps_constant_and_mean():
    torch.testing.assert_close(gaussian_blur(torch.full((11, 37), 0.3), 16.0),
                               torch.full((11, 37), 0.3))
    plane = _rand(64, 48, seed=1)
    assert abs(float(gaussian_blur(plane, 4.0).mean() - plane.mean())) < 0.01


def test_strips_equal_one_pass():
    plane = _rand(150, 70, seed=2)
    torch.testing.assert_close(gaussian_blur(plane, 5.0, strip=32), gaussian_blur(plane, 5.0))


def test_restore_local_mean_puts_back_a_constant_offset():
    noisy = _rand(40, 30, seed=3) * 0.5 + 0.25
    restored = restore_local_mean(noisy, noisy - 0.1, 8.0)
    torch.testing.assert_close(restored, noisy)
