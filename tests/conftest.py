"""Shared fixtures for the fm2s test suite; the images and measures come from the package
(:func:`fm2s.phantom.blob_phantom`, :func:`fm2s.metrics.psnr`).

The machines running these tests have two CPU cores shared with other jobs; torch is pinned to
one thread for the session, which is several times faster than two oversubscribed threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from fm2s.engine.methods.fm2s.schedules import Schedule
from fm2s.metrics import psnr
from fm2s.phantom import blob_phantom


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
        The noisy acquisition in ``dtype``.
    data_range : float
        Range used for PSNR: the full range of the detector (``2**bits - 1``).
    """

    clean: np.ndarray
    noisy: np.ndarray
    data_range: float


def make_phantom(shape: tuple[int, int] = (128, 128), *, bits: int = 8, **camera) -> Phantom:
    """:func:`fm2s.phantom.blob_phantom` with its data range (see there for ``camera``)."""
    clean, noisy = blob_phantom(shape, bits=bits, **camera)
    return Phantom(clean=clean, noisy=noisy, data_range=float(2**bits - 1))


@pytest.fixture(scope="session")
def phantom() -> Callable[..., Phantom]:
    """Factory: ``phantom(shape, seed=..., ...)`` -> :class:`Phantom` (see :func:`make_phantom`)."""
    return make_phantom


@pytest.fixture(scope="session")
def psnr_db() -> Callable[[np.ndarray, np.ndarray, float], float]:
    """:func:`fm2s.metrics.psnr` as a fixture."""
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
