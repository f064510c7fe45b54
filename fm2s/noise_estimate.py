"""Estimating an image's noise: signal-dependent (Poisson-Gaussian) variance and its correlation.

Fluorescence noise is, to a good approximation, Poisson-Gaussian: a pixel of mean ``mu`` (on
the [0, 1] scale FM2S works in, :mod:`fm2s.intensity`) varies by ``a * mu + b``, where ``a``
is the photon-transfer gain (shot noise) and ``b`` the read noise (less any offset's share).
Averaging ``N`` captures divides both by ``N``.

:func:`estimate_noise` measures ``a`` and ``b`` from the image alone, as Foi et al. (IEEE TIP
17, 2008) and Immerkaer (CVIU 64, 1996) do:

1. A high-pass kernel that removes planes and ramps (Immerkaer's 3 x 3 Laplacian difference,
   scaled so that white noise keeps its variance) leaves mostly noise.
2. The plane is cut into ``block x block`` blocks; each gives its mean intensity and the
   variance of its high-pass values. Blocks with structure (edges, spots) have a larger
   high-pass variance than flat ones of the same brightness; blocks with a saturated pixel
   (at 1) are left out, as clipping flattens them, and so are blocks of a single value.
3. Blocks are grouped by brightness; in each group a low quantile of the block variances (the
   flattest blocks), divided by what that quantile reads on pure white noise, is the noise
   variance at that brightness.
4. ``a`` and ``b`` are fitted to those points by weighted least squares, leaving out groups
   near 0 and 1 where clipping hides noise.

The same measurement on the 2 x 2-binned plane gives the noise's *correlation*: binning
divides white noise's variance by 4, correlated noise's by less. ``correlation`` is
``4 * variance(binned) / variance(original)`` at the image's typical brightness: about 1 for
white noise (confocal, two-photon point scanning), larger where neighbouring pixels share
noise (camera optics, interpolation, deconvolution).

Torch-free (numpy and scipy).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Immerkaer's kernel: zero response to constant, linear and bilinear signals; unit gain on
#: white noise after division by 6.
_KERNEL = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]) / 6.0

#: Smallest plane side the estimate accepts (pixels).
MIN_SIDE = 16


@dataclass(frozen=True)
class NoiseEstimate:
    """The noise of one plane or channel on the [0, 1] scale: ``variance(mu) = a * mu + b``.

    Attributes
    ----------
    a : float
        Signal-dependent (Poisson) part: the variance added per unit of brightness.
    b : float
        Signal-independent (Gaussian) part: the variance at brightness 0 (may be slightly
        negative when a camera offset was subtracted or the dark level is clipped).
    correlation : float
        ``4 * variance after 2 x 2 binning / variance``: 1 for white noise, up to 4 for noise
        shared by neighbouring pixels.
    typical : float
        The brightness at which the noise is summarized (the median of the plane's blocks the
        fit can use: unsaturated, not of one value).
    blocks : int
        Number of blocks the fit used.
    floor : float
        The smallest variance measured at any brightness: the fitted line is not taken below
        it (where a camera offset makes ``b`` negative, the line can reach 0 in the dark).
    """

    a: float
    b: float
    correlation: float
    typical: float
    blocks: int
    floor: float = 1e-12

    def variance(self, mu: np.ndarray | float) -> np.ndarray | float:
        """The noise variance at brightness ``mu``: ``a * mu + b``, at least ``floor``."""
        return np.maximum(self.a * np.asarray(mu, dtype=np.float64) + self.b,
                          max(self.floor, 1e-12))

    @property
    def sigma(self) -> float:
        """Noise standard deviation at the typical brightness (the [0, 1] scale)."""
        return float(math.sqrt(float(self.variance(self.typical))))

    def as_dict(self) -> dict[str, float]:
        """The estimate as plain numbers (for metadata)."""
        return {"a": float(self.a), "b": float(self.b), "floor": float(self.floor),
                "sigma": self.sigma,
                "correlation": float(self.correlation), "typical": float(self.typical),
                "blocks": int(self.blocks)}


class NoiseEstimateError(ValueError):
    """The image holds too little to measure its noise (constant, tiny or saturated)."""


def _block_stats(planes: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean brightness, high-pass variance and largest value of every whole
    ``block x block`` block of every plane of ``planes`` (``(H, W)`` or ``(K, H, W)``)."""
    if planes.ndim == 3:
        stats = [_block_stats(plane, block) for plane in planes]
        means, variances, tops = (np.concatenate(parts) for parts in zip(*stats))
        return means, variances, tops
    plane = planes
    high = ndimage.correlate(plane, _KERNEL, mode="reflect")[1:-1, 1:-1]
    inner = plane[1:-1, 1:-1]
    h, w = (s // block * block for s in inner.shape)
    if h == 0 or w == 0:
        return np.empty(0), np.empty(0), np.empty(0)

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // block, block, w // block, block).swapaxes(1, 2).reshape(
            -1, block * block)

    pixels = blocks(inner)
    variances = (blocks(high) ** 2).mean(axis=1)  # the high-pass has zero mean on flat blocks
    return pixels.mean(axis=1), variances, pixels.max(axis=1)


#: Quantile of the block variances taken in each brightness group: the flatter blocks.
QUANTILE = 0.2


@functools.cache
def _quantile_factor(block: int, quantile: float = QUANTILE) -> float:
    """The ``quantile`` of the block variances of unit white noise (what it reads for 1).

    Measured once per block size on generated white noise (fixed seed), so the estimate is
    unbiased on flat regions whatever the block size.
    """
    noise = np.random.default_rng(12345).standard_normal((max(256, 32 * block),) * 2)
    _, variances, _ = _block_stats(noise, block)
    return float(np.quantile(variances, quantile) / np.mean(variances))


def _variance_points(
    plane: np.ndarray, block: int, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(brightness, variance, weight) per brightness group, and every block's brightness.

    Blocks holding a saturated pixel (1, the top of the scale) are left out: clipping flattens
    them, and the flattest blocks are the ones a group's low quantile takes. So are blocks of
    one value (no variance: a constant fill, a masked region), which hold no noise to measure.
    """
    means, variances, tops = _block_stats(plane, block)
    measurable = (tops < 1.0) & (variances > 0.0)
    means, variances = means[measurable], variances[measurable]
    if means.size == 0:
        return np.empty(0), np.empty(0), np.empty(0), means
    factor = _quantile_factor(block)
    bins = max(1, min(bins, means.size // 8))  # at least 8 blocks per group
    edges = np.unique(np.quantile(means, np.linspace(0.0, 1.0, bins + 1)))
    which = np.clip(np.searchsorted(edges, means, side="right") - 1, 0, len(edges) - 2)
    mu, var, weight = [], [], []
    for k in range(len(edges) - 1):
        sel = which == k
        count = int(sel.sum())
        if count < 4:
            continue
        mu.append(float(np.median(means[sel])))
        var.append(float(np.quantile(variances[sel], QUANTILE)) / factor)
        weight.append(count)
    return np.array(mu), np.array(var), np.array(weight, dtype=np.float64), means


def _fit(mu: np.ndarray, var: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted least squares of ``var = a * mu + b`` with ``a >= 0`` (relative errors)."""
    w = weight / np.maximum(var, 1e-12) ** 2  # the spread of a variance estimate grows with it
    if mu.size == 1 or np.ptp(mu) < 1e-9:
        return 0.0, float(np.average(var, weights=weight))
    design = np.stack([mu, np.ones_like(mu)], axis=1) * np.sqrt(w)[:, None]
    (a, b), *_ = np.linalg.lstsq(design, var * np.sqrt(w), rcond=None)
    if a < 0:  # no signal dependence: pure Gaussian noise
        return 0.0, float(np.average(var, weights=w))
    return float(a), float(b)


def _unclipped(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Groups far enough from 0 and 1 that clipping does not hide their noise."""
    sd = np.sqrt(np.maximum(var, 0.0))
    return (mu > 2.0 * sd) & (mu < 1.0 - 2.0 * sd)


def estimate_noise(plane: np.ndarray, *, block: int = 8, bins: int = 16) -> NoiseEstimate:
    """Estimate the Poisson-Gaussian noise of a 2-D plane on the [0, 1] scale.

    Parameters
    ----------
    plane : numpy.ndarray
        ``(H, W)`` intensities mapped to [0, 1] (:func:`fm2s.intensity.intensity_map_for`),
        at least 16 x 16 pixels, or ``(K, H, W)``: K planes with the same noise, measured
        together.
    block : int
        Side of the blocks whose variance is measured.
    bins : int
        Number of brightness groups the blocks are sorted into.

    Returns
    -------
    NoiseEstimate

    Raises
    ------
    NoiseEstimateError
        For a plane smaller than 16 x 16, a constant plane, or one with too few unsaturated,
        non-constant blocks to measure; the message says what to give instead.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0.1, 0.8, 256), (256, 1))
    >>> noisy = rng.poisson(clean * 200) / 200 + rng.normal(0, 0.01, clean.shape)
    >>> est = estimate_noise(noisy)
    >>> round(est.a * 200, 1), round(math.sqrt(max(est.b, 0)), 3)  # made with 1.0 and 0.01
    (1.0, 0.008)
    """
    plane = np.asarray(plane, dtype=np.float64)
    if plane.ndim not in (2, 3):
        raise NoiseEstimateError(
            f"the noise is estimated on (H, W) or (K, H, W) planes, got shape {plane.shape}")
    if min(plane.shape[-2:]) < MIN_SIDE:
        raise NoiseEstimateError(
            f"a {plane.shape[-2]} x {plane.shape[-1]} plane is too small to measure its noise "
            f"(at least {MIN_SIDE} x {MIN_SIDE}); give noise_level=avg1 .. avg16 instead of auto")
    if float(np.ptp(plane)) == 0.0:
        raise NoiseEstimateError(
            "the plane is constant: it has no noise to measure; give noise_level=avg1 .. "
            "avg16 instead of auto, or check that the right image or channel was chosen")
    block = max(4, min(block, min(plane.shape[-2:]) // 4))
    mu, var, weight, means = _variance_points(plane, block, bins)
    keep = _unclipped(mu, var)
    if keep.sum() < 1 or weight[keep].sum() < 8:
        raise NoiseEstimateError(
            "too few unsaturated, unclipped regions to measure the noise (the image is "
            "mostly at its minimum or maximum, or of a few flat values); give noise_level=avg1 "
            ".. avg16 instead of auto")
    a, b = _fit(mu[keep], var[keep], weight[keep])
    typical = float(np.median(means))
    floor = float(var[keep].min())
    estimate = NoiseEstimate(a, b, 1.0, typical, int(weight[keep].sum()), floor)
    return NoiseEstimate(a, b, _correlation(plane, estimate, block, bins), typical,
                         estimate.blocks, floor)


def _correlation(plane: np.ndarray, estimate: NoiseEstimate, block: int, bins: int) -> float:
    """``4 * variance(2 x 2 binned) / variance`` at the typical brightness (1 when unmeasurable)."""
    h, w = plane.shape[-2] // 2 * 2, plane.shape[-1] // 2 * 2
    lead = plane.shape[:-2]
    cells = plane[..., :h, :w].reshape(*lead, h // 2, 2, w // 2, 2)
    binned = cells.mean(axis=(-3, -1))
    binned[cells.max(axis=(-3, -1)) >= 1.0] = 1.0  # a bin with a saturated pixel is saturated
    if min(binned.shape[-2:]) < MIN_SIDE:
        return 1.0
    mu, var, weight, _ = _variance_points(binned, max(4, block // 2), bins)
    keep = _unclipped(mu, var)
    if keep.sum() < 1:
        return 1.0
    a2, b2 = _fit(mu[keep], var[keep], weight[keep])
    ratio = 4.0 * max(a2 * estimate.typical + b2, 0.0) / float(estimate.variance(estimate.typical))
    return float(np.clip(ratio, 0.25, 4.0))
