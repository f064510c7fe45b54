"""The noise estimator recovers known Poisson-Gaussian noise, its correlation, and refuses
images it cannot measure with a message that names the fix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fm2s.noise_estimate import NoiseEstimateError, estimate_noise
from fm2s.phantom import noisy_phantom


def _clean(seed: int = 3, size: int = 512) -> np.ndarray:
    """A float phantom (cells, filaments, puncta) scaled to a peak of 1."""
    clean = noisy_phantom((size, size), seed=seed, dtype="float32")[0].astype(np.float64)
    return clean / clean.max()


def _camera(clean: np.ndarray, peak: float, read: float, offset: float, seed: int = 0):
    """16-bit camera counts: Poisson photons + Gaussian read noise + offset; and the
    true ``a`` and ``b`` of the data once mapped min..max to [0, 1]."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(clean * peak) + rng.normal(0.0, read, clean.shape) + offset
    counts = np.clip(np.rint(counts), 0, 65535)
    lo, hi = counts.min(), counts.max()
    scale = hi - lo
    a = 1.0 / scale  # variance of mu*scale photons, on the [0, 1] scale
    b = (read**2 + 1 / 12 - (offset - lo)) / scale**2
    return (counts - lo) / scale, a, b


# Tolerance on the Poisson gain: 10 % from 50 to 500 photons at the peak, 15 % at 20 (where
# read noise of 5 outweighs the shot noise),
# 25 % at 2000 (there the phantom's own fine texture is comparable to the noise).
@pytest.mark.parametrize(("peak", "tolerance"), [(20, 0.15), (50, 0.10), (200, 0.10),
                                                 (500, 0.10), (2000, 0.25)])
@pytest.mark.parametrize(("read", "offset"), [(0.0, 0.0), (2.0, 100.0), (5.0, 400.0)])
def test_recovers_the_gain_of_poisson_gaussian_camera_images(peak, tolerance, read, offset):
    unit, a, b = _camera(_clean(), peak, read, offset)
    est = estimate_noise(unit)
    assert est.a == pytest.approx(a, rel=tolerance)
    # the whole variance at the typical brightness: within the same tolerance plus a little
    true_var = a * est.typical + b
    assert est.variance(est.typical) == pytest.approx(true_var, rel=tolerance + 0.05)


@pytest.mark.parametrize("sigma", [0.01, 0.02, 0.05])
def test_recovers_pure_gaussian_noise(sigma):
    rng = np.random.default_rng(1)
    unit = 0.2 + 0.6 * _clean(5) + rng.normal(0.0, sigma, (512, 512))
    est = estimate_noise(unit)
    assert est.sigma == pytest.approx(sigma, rel=0.1)
    assert est.a * 0.5 < 0.2 * sigma**2  # no signal dependence found


def test_averaging_n_captures_divides_the_measured_variance_by_n():
    clean = _clean()
    rng = np.random.default_rng(2)
    captures = [rng.poisson(clean * 100) / 100 for _ in range(4)]
    one = estimate_noise(captures[0])
    four = estimate_noise(np.mean(captures, axis=0))
    assert one.variance(0.1) / four.variance(0.1) == pytest.approx(4.0, rel=0.15)


def test_white_noise_has_correlation_1_and_blurred_noise_more():
    rng = np.random.default_rng(4)
    base = 0.3 + 0.4 * _clean(7)
    white = estimate_noise(base + rng.normal(0.0, 0.03, base.shape))
    blurred = estimate_noise(base + ndimage.uniform_filter(rng.normal(0.0, 0.06, base.shape), 2))
    assert white.correlation == pytest.approx(1.0, abs=0.3)  # the phantom adds a little
    assert blurred.correlation > 2.0


def test_stacks_are_measured_together():
    rng = np.random.default_rng(5)
    clean = _clean()
    planes = np.stack([clean + rng.normal(0.0, 0.02, clean.shape) for _ in range(3)])
    together = estimate_noise(planes)
    assert together.sigma == pytest.approx(0.02, rel=0.1)
    assert together.blocks > 2 * estimate_noise(planes[0]).blocks


@pytest.mark.parametrize(("plane", "match"), [
    (np.full((64, 64), 0.5), "constant"),
    (np.random.default_rng(0).random((8, 64)), "too small"),
    (np.where(np.random.default_rng(0).random((64, 64)) < 0.5, 0.0, 1.0), "unsaturated"),
    (np.zeros((2, 3, 4, 64)), r"\(H, W\) or \(K, H, W\)"),
])
def test_unmeasurable_images_get_a_message_naming_the_fix(plane, match):
    with pytest.raises(NoiseEstimateError, match=match) as err:
        estimate_noise(plane)
    if "K, H, W" not in match:
        assert "noise_level=avg1 .. avg16" in str(err.value)


@pytest.mark.parametrize(("width", "top"), [(200, 2000), (400, 2500), (400, 2000), (800, 2500)])
def test_saturated_pixels_do_not_hide_the_noise(width, top):
    # A bright cell clipped at the camera's maximum (3-5 % of the pixels): the flat,
    # saturated blocks have no variance; they read as noise 100 .. 1e9 times weaker than the
    # 500 .. 2500 photons elsewhere have.
    yy, xx = np.mgrid[0:128, 0:128]
    clean = 0.2 + 0.6 * np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / width)
    rng = np.random.default_rng(0)
    counts = np.clip(rng.poisson(clean * 4000), 0, top).astype(np.float64)
    lo, hi = counts.min(), counts.max()
    unit = (counts - lo) / (hi - lo)
    assert 0.01 < np.mean(unit == 1.0) < 0.3
    est = estimate_noise(unit)
    a = 1.0 / (hi - lo)  # the Poisson gain on the [0, 1] scale
    assert est.variance(0.3) == pytest.approx(a * (0.3 + lo / (hi - lo)), rel=0.3)


@pytest.mark.parametrize("fill", [0.3, 0.45])
def test_a_flat_filled_region_does_not_hide_the_noise(fill):
    # A border of one constant value (registration or stitching fill, a masked region): its
    # blocks have no variance at all, and the fit took them as the noise (1e-20, as if 1e9
    # captures were averaged), whatever the noise of the rest.
    yy, xx = np.mgrid[0:128, 0:128]
    clean = 0.1 + 0.7 * np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / 1500.0)
    counts = np.random.default_rng(8).poisson(clean * 300).astype(np.float64)
    unit = (counts - counts.min()) / (counts.max() - counts.min())
    truth = estimate_noise(unit).variance(0.1)
    unit[:, :26] = fill
    assert estimate_noise(unit).variance(0.1) == pytest.approx(truth, rel=0.3)
