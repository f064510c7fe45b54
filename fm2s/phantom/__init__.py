"""Synthetic fluorescence-like test images with a known clean truth (for tests, the demo, benchmarks).

A phantom is a sum of smooth, positive structures like those of a stained cell culture: a faint
uneven background, cells (soft ellipses with a brighter nucleus and a little texture),
filaments (thin smooth curves, like microtubules or actin) and puncta (diffraction-limited
spots). :func:`fluorescence_phantom` returns it as float in [0, 1];
:func:`add_poisson_gaussian` adds camera-like shot and read noise;
:func:`noisy_phantom` and :func:`moving_phantom` put both together for a still image and a
drifting time-lapse; :func:`blob_phantom` is a simpler image of smooth blobs recorded by a
camera model in detector units. Everything is seeded, so the same seed gives the same image.

This is a stand-in for real data (e.g. the FMD data set) when only a quick, repeatable check is
needed; it says nothing about how FM2S does on a particular microscope.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .camera import add_poisson_gaussian, cast
from .shapes import PhantomObjects, fluorescence_phantom, random_objects, render

__all__ = [
    "PhantomObjects",
    "add_poisson_gaussian",
    "blob_phantom",
    "fluorescence_phantom",
    "moving_phantom",
    "noisy_phantom",
    "random_objects",
    "render",
]


def noisy_phantom(
    shape: tuple[int, int] = (256, 256),
    *,
    dtype: str = "uint8",
    peak: float | None = None,
    photons_per_unit: float = 0.1,
    read_sigma: float = 6.0,
    offset: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a (clean, noisy) pair of a still phantom, both of ``dtype``.

    The defaults (8-bit, peak 220 grey levels, 0.1 photons per grey level, read noise 6 grey
    levels) give about 23 dB PSNR: a noisy single capture, in the spirit of FMD
    ``confocal`` ``avg1`` (use the preset ``confocal``, noise level ``avg1``).

    Parameters
    ----------
    shape : (int, int)
        Rows, columns.
    dtype : str
        ``"uint8"`` or ``"uint16"`` (or a float type).
    peak : float, optional
        Grey level of the brightest clean pixel (default 220 for uint8, 4095 - offset for
        others, i.e. a 12-bit camera).
    photons_per_unit, read_sigma, offset : float
        See :func:`add_poisson_gaussian`.
    seed : int
        Seed of both the structures and the noise.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Clean (rounded to ``dtype``) and noisy images.
    """
    dt = np.dtype(dtype)
    if peak is None:
        peak = 220.0 if dt == np.uint8 else 4095.0 - offset
    rng = np.random.default_rng(seed)
    clean = fluorescence_phantom(shape, seed=int(rng.integers(2**31))) * peak
    noisy = add_poisson_gaussian(clean, photons_per_unit, read_sigma, offset, rng, dtype=dt)
    return cast(clean + offset, dt), noisy


def moving_phantom(
    n_frames: int = 8,
    shape: tuple[int, int] = (128, 128),
    *,
    drift: Sequence[float] = (0.6, 0.9),
    cell_speed: float = 0.5,
    offset: float = 100.0,
    bit_depth: int = 12,
    photons_per_unit: float = 0.05,
    read_sigma: float = 8.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a drifting time-lapse: (clean, noisy) uint16 stacks of shape ``(n_frames, *shape)``.

    The whole field drifts by ``drift`` pixels per frame and each cell also crawls on its own
    (random direction, ``cell_speed`` pixels per frame), so consecutive frames are similar but
    not identical, as in live imaging. Intensities are those of a ``bit_depth``-bit camera
    with a black level ``offset`` (default: 100 .. 4095 in a 16-bit container).

    Parameters
    ----------
    n_frames : int
        Number of time points.
    shape : (int, int)
        Rows, columns of a frame.
    drift : (float, float)
        Global (dy, dx) motion per frame, pixels.
    cell_speed : float
        Extra motion of each cell per frame, pixels.
    offset : float
        Camera offset added to every pixel.
    bit_depth : int
        Camera bit depth; values are clipped to ``2**bit_depth - 1``.
    photons_per_unit, read_sigma : float
        See :func:`add_poisson_gaussian` (defaults: a dim, noisy live-cell acquisition).
    seed : int
        Seed of the structures, the motion and the noise.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``clean`` and ``noisy``, uint16, shape ``(n_frames, rows, cols)``.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    rng = np.random.default_rng(seed)
    h, w = (int(s) for s in shape)
    objects = random_objects((h, w), rng=rng)
    heading = rng.uniform(0, 2 * np.pi, len(objects.cells))
    velocity = cell_speed * np.column_stack([np.sin(heading), np.cos(heading)])
    top = 2**bit_depth - 1
    peak = top - offset
    clean = np.empty((n_frames, h, w), np.uint16)
    noisy = np.empty((n_frames, h, w), np.uint16)
    dy, dx = (float(v) for v in drift)
    for t in range(n_frames):
        frame = render(objects, (h, w), offset=(dy * t, dx * t), cell_offsets=velocity * t)
        frame = frame * peak
        clean[t] = cast(frame + offset, np.dtype(np.uint16), top)
        noisy[t] = add_poisson_gaussian(frame, photons_per_unit, read_sigma, offset, rng,
                                        dtype=np.uint16, max_value=top)
    return clean, noisy


def blob_phantom(
    shape: tuple[int, int] = (128, 128),
    *,
    seed: int = 0,
    background_photons: float = 5.0,
    peak_photons: float = 100.0,
    gain: float = 2.0,
    read_noise: float = 2.0,
    offset: float = 0.0,
    bits: int = 8,
    dtype: str | np.dtype | type = np.uint8,
    n_blobs: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """A (clean, noisy) pair of smooth Gaussian blobs recorded by a camera, in detector units.

    Photons per pixel are ``background + (peak - background) * blobs`` (blobs: random isotropic
    Gaussians normalised to a maximum of 1); the acquisition is ``offset + gain * (Poisson(
    photons) + Normal(0, read_noise))`` in ADU, clipped to ``[0, 2**bits - 1]`` and rounded for
    integer types. The defaults resemble a single 8-bit FMD confocal capture (noisy PSNR about
    29 dB).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The float64 expected detector values and the noisy acquisition in ``dtype``.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    blobs = np.zeros(shape)
    for _ in range(n_blobs):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        sigma = rng.uniform(2.0, 8.0)
        amp = rng.uniform(0.3, 1.0)
        blobs += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2.0 * sigma**2))
    blobs /= blobs.max()
    photons = background_photons + (peak_photons - background_photons) * blobs
    electrons = rng.poisson(photons) + rng.normal(0.0, read_noise, shape)
    top = float(2**bits - 1)
    noisy = np.clip(offset + gain * electrons, 0.0, top)
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        noisy = np.rint(noisy)
    return offset + gain * photons, noisy.astype(dtype)
