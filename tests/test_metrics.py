"""Image quality measures (fm2s.metrics): PSNR and SSIM against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fm2s import metrics, phantom


def test_psnr_known_values():
    ref = np.zeros((8, 8), np.uint8)
    assert metrics.psnr(ref, ref) == math.inf
    # an error of 1 grey level everywhere: 20 log10(255)
    assert metrics.psnr(ref, ref + 1) == pytest.approx(20 * math.log10(255))
    assert metrics.psnr(ref, np.full((8, 8), 255, np.uint8)) == pytest.approx(0.0)
    # uint8 arithmetic must not wrap around: 0 - 1 is -1, not 255
    assert metrics.psnr(ref + 1, ref) == pytest.approx(20 * math.log10(255))
    f = np.zeros((4, 4))
    assert metrics.psnr(f, f + 0.1, data_range=1.0) == pytest.approx(20.0)
    assert metrics.psnr(np.zeros(3, np.uint16), np.ones(3, np.uint16)) == pytest.approx(
        20 * math.log10(65535))



def test_psnr_errors():
    with pytest.raises(ValueError, match="data_range is required"):
        metrics.psnr(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.psnr(np.zeros(4, np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="data_range must be > 0"):
        metrics.psnr(np.zeros(4), np.ones(4), data_range=0)



def test_ssim():
    clean = phantom.fluorescence_phantom((64, 64), seed=3)
    assert metrics.ssim(clean, clean, data_range=1.0) == pytest.approx(1.0)
    noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape)
    value = metrics.ssim(clean, noisy, data_range=1.0)
    assert 0.0 < value < 0.9

