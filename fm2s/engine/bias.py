"""Correction of the network's low-frequency intensity bias (see BENCHMARKS.md, "Intensity bias").

FM2S's network learns to reproduce its training target, a median-filtered copy of the image,
from synthetic noise that only imitates the real noise. Two things make its output's local mean
differ from the image's: the median of skewed (Poisson, clipped) noise sits below its mean, so
the target is darker than the signal; and where the synthetic noise's mean differs from the real
noise's (clamping at 0 and 1, the overall Poisson draw), the network learns an offset that is
wrong for real data. The output is therefore shifted by a smooth, data-dependent amount
(measured: +0.5 grey levels on FMD confocal images, -1.8 on two-photon and wide-field ones),
which the authors' integer truncation happens to hide on confocal data and worsens elsewhere.

The raw image is an unbiased measurement of the signal, so the fix is to put the output's local
mean back on the raw image's: add the residual ``noisy - denoised`` low-pass filtered with a
Gaussian of ``sigma`` pixels. The noise that leaks back is the raw noise attenuated by the
filter (its standard deviation divided by about ``2 * sqrt(pi) * sigma``), while the bias, being
smooth, is removed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def restore_local_mean(noisy: torch.Tensor, denoised: torch.Tensor, sigma: float) -> torch.Tensor:
    """Return ``denoised + G_sigma * (noisy - denoised)``, clamped to [0, 1].

    Parameters
    ----------
    noisy, denoised : torch.Tensor
        ``(H, W)`` planes in [0, 1].
    sigma : float
        Gaussian standard deviation in pixels (edges reflected).
    """
    residual = gaussian_blur(noisy - denoised, sigma)
    return (denoised + residual).clamp_(0.0, 1.0)


def gaussian_blur(plane: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian filter of an ``(H, W)`` plane, truncated at 4 sigma, edges reflected."""
    radius = max(1, int(4.0 * sigma + 0.5))
    h, w = plane.shape
    radius = min(radius, h - 1, w - 1)
    x = torch.arange(-radius, radius + 1, dtype=plane.dtype, device=plane.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    img = plane[None, None]
    img = F.conv2d(F.pad(img, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    img = F.conv2d(F.pad(img, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return img[0, 0]
