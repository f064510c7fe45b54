"""Image quality metrics against a known clean reference: PSNR (numpy) and SSIM (scikit-image).

Used by the demo, the tests and the benchmarks to compare a denoised image with the ground
truth. Both take the ``data_range`` explicitly for float data, as a wrong range silently
changes the numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["psnr", "ssim"]


def _data_range(reference: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        value = float(data_range)
        if not value > 0:
            raise ValueError(f"data_range must be > 0, got {data_range}")
        return value
    if np.issubdtype(reference.dtype, np.integer):
        info = np.iinfo(reference.dtype)
        return float(info.max - info.min)
    raise ValueError(
        "data_range is required for float images (e.g. 1.0 for [0, 1] data, or "
        "reference.max() - reference.min())"
    )


def psnr(reference: Any, estimate: Any, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    ``10 * log10(data_range**2 / mean((reference - estimate)**2))``, computed in float64.

    Parameters
    ----------
    reference : array_like
        The clean image.
    estimate : array_like
        The image to score (same shape).
    data_range : float, optional
        Peak-to-peak range of the data; defaults to the integer dtype's range
        (255 for uint8); required for float images.

    Returns
    -------
    float
        PSNR in dB (``inf`` when the images are identical).

    Raises
    ------
    ValueError
        On a shape mismatch, a missing or non-positive ``data_range``.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros(4, np.uint8), np.full(4, 255, np.uint8)), 6)
    0.0
    """
    ref = np.asarray(reference)
    est = np.asarray(estimate)
    if ref.shape != est.shape:
        raise ValueError(f"shape mismatch: reference {ref.shape} vs estimate {est.shape}")
    rng = _data_range(ref, data_range)
    mse = float(np.mean((ref.astype(np.float64) - est.astype(np.float64)) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(rng * rng / mse))


def ssim(
    reference: Any, estimate: Any, data_range: float | None = None, **kwargs: Any
) -> float:
    """Structural similarity of ``estimate`` against ``reference`` (scikit-image's SSIM).

    Parameters
    ----------
    reference, estimate : array_like
        Images of the same shape (2-D planes; n-D arrays are treated as volumes by
        scikit-image).
    data_range : float, optional
        As for :func:`psnr`.
    **kwargs
        Passed to :func:`skimage.metrics.structural_similarity` (e.g. ``channel_axis``).

    Returns
    -------
    float
        Mean SSIM in [-1, 1].

    Raises
    ------
    ImportError
        If scikit-image is not installed (``pip install scikit-image`` or
        ``pip install fm2s[test]``).
    """
    try:
        from skimage.metrics import structural_similarity
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fm2s.metrics.ssim needs scikit-image: pip install scikit-image "
            "(or pip install 'fm2s[test]')"
        ) from exc
    ref = np.asarray(reference)
    est = np.asarray(estimate)
    if ref.shape != est.shape:
        raise ValueError(f"shape mismatch: reference {ref.shape} vs estimate {est.shape}")
    rng = _data_range(ref, data_range)
    return float(structural_similarity(
        ref.astype(np.float64), est.astype(np.float64), data_range=rng, **kwargs
    ))
