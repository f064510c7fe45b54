"""Correction of the network's low-frequency intensity bias (see BENCHMARKS.md, "Intensity bias").

FM2S's network learns to reproduce its training target, a median-filtered copy of the image,
from synthetic noise that only imitates the real noise. Two things make its output's local mean
differ from the image's: the median of skewed (Poisson, clipped) noise sits below its mean, so
the target is darker than the signal; and where the synthetic noise's mean differs from the real
noise's (clamping at 0 and 1, the overall Poisson draw), the network learns an offset that is
wrong for real data. The output is therefore shifted by a smooth, data-dependent amount
(measured with the reference schedule, mean of output - raw: +0.90 grey levels on FMD
Confocal_BPAE_B_1, +0.18 on TwoPhoton_BPAE_B_1, -1.46 on WideField_BPAE_B_1), which the
authors' integer truncation (-0.5 on average) happens to offset on confocal data and worsens
elsewhere.

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
        Gaussian standard deviation in pixels (edges reflected). fm2s uses 16 by default
        (``fm2s.api.DEFAULT_BIAS_SIGMA``): on the FMD images 16-32 gained most, 8 less.
    """
    residual = gaussian_blur(noisy - denoised, sigma)
    return (denoised + residual).clamp_(0.0, 1.0)


def gaussian_blur(plane: torch.Tensor, sigma: float, strip: int = 512) -> torch.Tensor:
    """Separable Gaussian filter of an ``(H, W)`` plane, truncated at 4 sigma, edges reflected.

    Each axis is truncated on its own where it is too short to reflect 4 sigma (at ``side - 1``
    pixels), so an 11 x 512 plane is still filtered over +-4 sigma along its 512 pixels.
    Computed in strips of ``strip`` output rows, so a 4096 x 4096 plane needs tens of MB of
    working memory rather than the GB a single convolution over it would take on the CPU.
    """
    radius = max(1, int(4.0 * sigma + 0.5))
    h, w = plane.shape
    rh, rw = min(radius, h - 1), min(radius, w - 1)
    row_kernel = _kernel(sigma, rw, plane).view(1, 1, 1, -1)
    col_kernel = _kernel(sigma, rh, plane).view(1, 1, -1, 1)
    padded = F.pad(plane[None, None], (rw, rw, rh, rh), mode="reflect")
    out = torch.empty_like(plane)
    for top in range(0, h, strip):
        bottom = min(h, top + strip)
        rows = padded[..., top : bottom + 2 * rh, :]
        out[top:bottom] = F.conv2d(F.conv2d(rows, row_kernel), col_kernel)[0, 0]
    return out


def _kernel(sigma: float, radius: int, like: torch.Tensor) -> torch.Tensor:
    """The normalized Gaussian of ``sigma`` over ``-radius..radius``, in ``like``'s dtype and device."""
    x = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()
