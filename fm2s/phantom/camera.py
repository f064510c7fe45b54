"""Camera-like noise: Poisson shot noise, Gaussian read noise, an offset, rounding to a type."""

from __future__ import annotations

import numpy as np


def add_poisson_gaussian(
    clean: np.ndarray,
    photons_per_unit: float,
    read_sigma: float,
    offset: float = 0.0,
    rng: np.random.Generator | int | None = None,
    *,
    dtype: str | np.dtype | None = None,
    max_value: float | None = None,
) -> np.ndarray:
    """Add camera-like noise: Poisson shot noise plus Gaussian read noise plus an offset.

    ``noisy = Poisson(clean * photons_per_unit) / photons_per_unit + N(0, read_sigma) + offset``

    Parameters
    ----------
    clean : numpy.ndarray
        Noise-free intensities (>= 0), in the units of the output (e.g. grey levels).
    photons_per_unit : float
        Detected photons per intensity unit (conversion gain); fewer = noisier.
    read_sigma : float
        Standard deviation of the Gaussian read noise, in intensity units.
    offset : float
        Constant added last (camera offset / black level).
    rng : numpy.random.Generator or int or None
        Random source or seed.
    dtype : str or numpy.dtype, optional
        If given, round and clip to ``[0, max_value]`` and cast (e.g. ``"uint8"``).
    max_value : float, optional
        Clip ceiling when casting (default: the integer type's maximum; none for floats).

    Returns
    -------
    numpy.ndarray
        float64 (or ``dtype``) noisy image.
    """
    if photons_per_unit <= 0:
        raise ValueError(f"photons_per_unit must be > 0, got {photons_per_unit}")
    if read_sigma < 0:
        raise ValueError(f"read_sigma must be >= 0, got {read_sigma}")
    rng = np.random.default_rng(rng)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.size and clean.min() < 0:
        raise ValueError("clean intensities must be >= 0 for Poisson noise")
    noisy = rng.poisson(clean * photons_per_unit) / photons_per_unit
    if read_sigma:
        noisy = noisy + rng.normal(0.0, read_sigma, clean.shape)
    noisy = noisy + offset
    if dtype is None:
        return noisy
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        top = np.iinfo(dtype).max if max_value is None else max_value
        return np.clip(np.rint(noisy), 0, top).astype(dtype)
    if max_value is not None:
        noisy = np.clip(noisy, None, max_value)
    return noisy.astype(dtype)


def cast(values: np.ndarray, dtype: np.dtype, top: float | None = None) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        hi = np.iinfo(dtype).max if top is None else top
        return np.clip(np.rint(values), 0, hi).astype(dtype)
    return values.astype(dtype)
