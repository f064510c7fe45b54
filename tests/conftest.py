"""Shared fixtures for the fm2s test suite.

The phantom generator here is deliberately local to the tests (it does not use
``fm2s.phantom``): smooth Gaussian blobs scaled to a photon count, then Poisson shot noise and
Gaussian read noise, converted to detector units (ADU) with a gain and a camera offset.

The machines running these tests have two CPU cores shared with other jobs; torch is pinned to
one thread for the session, which is several times faster than two oversubscribed threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from fm2s.engine.schedules import Schedule


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """Run torch on one CPU thread for the whole session (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True)
class Phantom:
    """A synthetic fluorescence image: noise-free expectation and one noisy acquisition.

    Attributes
    ----------
    clean : numpy.ndarray
        float64 expected detector values (ADU), the ground truth.
    noisy : numpy.ndarray
        The noisy acquisition in ``dtype`` (rounded and clipped for integer types).
    data_range : float
        Range used for PSNR: the full range of the detector (``2**bits - 1``).
    """

    clean: np.ndarray
    noisy: np.ndarray
    data_range: float


def smooth_blobs(shape: tuple[int, int], rng: np.random.Generator, n_blobs: int = 25) -> np.ndarray:
    """Sum of random isotropic Gaussian blobs, normalised to a maximum of 1."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    img = np.zeros(shape)
    for _ in range(n_blobs):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        sigma = rng.uniform(2.0, 8.0)
        amp = rng.uniform(0.3, 1.0)
        img += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2.0 * sigma**2))
    return img / img.max()


def make_phantom(
    shape: tuple[int, int] = (128, 128),
    *,
    seed: int = 0,
    background_photons: float = 5.0,
    peak_photons: float = 100.0,
    gain: float = 2.0,
    read_noise: float = 2.0,
    offset: float = 0.0,
    bits: int = 8,
    dtype: np.dtype | type = np.uint8,
) -> Phantom:
    """Generate a seeded Poisson-Gaussian phantom.

    Photons per pixel are ``background + (peak - background) * blobs``; the acquisition is
    ``offset + gain * (Poisson(photons) + Normal(0, read_noise))`` in ADU, clipped to
    ``[0, 2**bits - 1]`` (and rounded for integer dtypes). The defaults resemble a single 8-bit
    FMD confocal capture (noisy PSNR about 29 dB).
    """
    rng = np.random.default_rng(seed)
    photons = background_photons + (peak_photons - background_photons) * smooth_blobs(shape, rng)
    electrons = rng.poisson(photons) + rng.normal(0.0, read_noise, shape)
    top = float(2**bits - 1)
    clean = offset + gain * photons
    noisy = np.clip(offset + gain * electrons, 0.0, top)
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        noisy = np.rint(noisy)
    return Phantom(clean=clean, noisy=noisy.astype(dtype), data_range=top)


@pytest.fixture(scope="session")
def phantom() -> Callable[..., Phantom]:
    """Factory: ``phantom(shape, seed=..., ...)`` -> :class:`Phantom` (see :func:`make_phantom`)."""
    return make_phantom


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB."""
    err = np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2)
    return float(10.0 * np.log10(data_range**2 / err))


@pytest.fixture(scope="session")
def psnr_db() -> Callable[[np.ndarray, np.ndarray, float], float]:
    """The :func:`psnr` helper as a fixture."""
    return psnr


@pytest.fixture
def tiny_schedule() -> Schedule:
    """A crop-based schedule of 8 optimizer steps (milliseconds per plane)."""
    return Schedule("tiny", stage1_steps=2, noise_draws=6, steps_per_draw=1,
                    lr=5e-3, lr_final=1e-3, crop=32, batch=2)


@pytest.fixture
def tiny_plane_schedule() -> Schedule:
    """A whole-plane schedule (like ``reference``) of 7 optimizer steps."""
    return Schedule("tiny-plane", stage1_steps=1, noise_draws=3, steps_per_draw=2, lr=1e-3)


@pytest.fixture
def noisy_u8(phantom) -> np.ndarray:
    """A small 64 x 64 uint8 noisy phantom."""
    return phantom((64, 64), seed=11).noisy
