"""Generated test images (fm2s.phantom): seeded, in range, noisy like a single capture, drifting."""

from __future__ import annotations

import numpy as np
import pytest

from fm2s import metrics, phantom


def test_phantom_is_seeded_and_in_range():
    a = phantom.fluorescence_phantom((96, 128), seed=5)
    b = phantom.fluorescence_phantom((96, 128), seed=5)
    c = phantom.fluorescence_phantom((96, 128), seed=6)
    assert a.shape == (96, 128) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0
    # fluorescence-like: mostly dark background with bright sparse structures
    assert np.median(a) < 0.25 and a.max() > 0.6
    assert 0.02 < np.mean(a > 0.3) < 0.6



def test_add_poisson_gaussian_statistics():
    rng = np.random.default_rng(0)
    clean = np.full((300, 300), 50.0)
    noisy = phantom.add_poisson_gaussian(clean, photons_per_unit=0.5, read_sigma=3.0,
                                         offset=100.0, rng=rng)
    assert noisy.mean() == pytest.approx(150.0, abs=0.2)
    # variance: Poisson clean / photons_per_unit + read noise
    assert noisy.var() == pytest.approx(50.0 / 0.5 + 9.0, rel=0.03)
    cast = phantom.add_poisson_gaussian(np.full((10, 10), 300.0), 1.0, 0.0, rng=1,
                                        dtype="uint8")
    assert cast.dtype == np.uint8 and cast.max() == 255  # clipped, not wrapped
    with pytest.raises(ValueError, match="photons_per_unit"):
        phantom.add_poisson_gaussian(clean, 0, 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        phantom.add_poisson_gaussian(-clean, 1.0, 1.0)



def test_noisy_phantom_is_noisy_like_a_single_capture():
    clean, noisy = phantom.noisy_phantom((128, 128), seed=0)
    assert clean.dtype == noisy.dtype == np.uint8
    assert 18.0 < metrics.psnr(clean, noisy) < 28.0
    c16, n16 = phantom.noisy_phantom((64, 64), dtype="uint16", offset=100, seed=0)
    assert c16.dtype == np.uint16 and c16.min() >= 100 and c16.max() <= 4095



def test_moving_phantom_drifts():
    clean, noisy = phantom.moving_phantom(4, (96, 96), drift=(1.0, 2.0), cell_speed=0.0,
                                          seed=2)
    assert clean.shape == noisy.shape == (4, 96, 96)
    assert clean.dtype == noisy.dtype == np.uint16
    assert clean.min() >= 100 and clean.max() <= 4095 and noisy.max() <= 4095
    assert np.median(noisy) > 90  # camera offset
    assert not np.array_equal(clean[0], clean[1])
    from skimage.registration import phase_cross_correlation

    shift, _, _ = phase_cross_correlation(clean[0].astype(float), clean[2].astype(float),
                                          upsample_factor=4)
    np.testing.assert_allclose(shift, (-2.0, -4.0), atol=0.75)  # 2 frames x (1, 2) px
    c2, n2 = phantom.moving_phantom(4, (96, 96), drift=(1.0, 2.0), cell_speed=0.0, seed=2)
    np.testing.assert_array_equal(n2, noisy)

