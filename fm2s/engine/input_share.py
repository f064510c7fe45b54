"""How much of the input to put back into a denoised plane: the share that Stein's unbiased
risk estimate (SURE) finds best.

For a denoiser ``f`` and noise of variance ``sigma_i ** 2`` at pixel ``i``, the result
``z = (1 - s) * f(y) + s * y`` has an expected squared error against the unknown clean image
that SURE estimates from the noisy image alone, up to a constant:

``SURE(s) = (1 - s) ** 2 * R + 2 * (1 - s) * D + 2 * s * S``

with ``R = ||y - f(y)||**2`` (the residual), ``S = sum(sigma_i ** 2)`` (the noise) and
``D = sum(sigma_i ** 2 * df_i / dy_i)`` (the noise the denoiser lets through). Its minimum is at

``s = 1 - (S - D) / R``, clipped to [0, 1].

``D`` is estimated with one more pass of the denoiser on a perturbed input (Monte-Carlo SURE,
Ramani, Blu and Unser, IEEE TIP 17, 2008): ``D ~ sum(sigma_i * b_i * (f(y + eps * sigma * b) -
f(y))_i) / eps`` with ``b`` standard normal.

A denoiser that removes only noise gets ``s = 0``; one that also removes detail the noise does
not hide (FM2S on an image far less noisy than its noise model, :mod:`fm2s.noise_level`) gets
part of the input back. ``s`` is only as good as the noise measured: where it is measured too
high (fine texture of a bright image read as noise), ``S`` and ``D`` grow together and ``s``
comes out below the best share; where too low (noisy single captures), above it; and noise
shared by neighbouring pixels breaks the estimate of ``D`` (BENCHMARKS.md, "Less noise than
avg16").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import torch

#: Size of the perturbation, in noise standard deviations.
EPSILON = 0.5

#: Seed of the perturbation (the same for every plane: the share is a function of the data).
PROBE_SEED = 0


class NoiseModel(Protocol):
    """Noise variance ``max(a * mu + b, floor)`` at brightness ``mu`` (the [0, 1] scale), as
    :class:`fm2s.noise_estimate.NoiseEstimate` measures it."""

    a: float
    b: float
    floor: float


def sure_terms(
    denoise: Callable[[torch.Tensor], torch.Tensor],
    noisy: torch.Tensor,
    noise: NoiseModel,
    denoised: torch.Tensor | None = None,
) -> tuple[float, float]:
    """``(S - D, R)`` of one plane (see the module), for :func:`best_share`.

    ``denoise`` maps an ``(H, W)`` plane to its denoised plane; it runs once on a perturbed
    ``noisy``, and on ``noisy`` itself unless ``denoised`` (its result) is given.
    """
    if denoised is None:
        denoised = denoise(noisy)
    variance = torch.clamp(noise.a * denoised + noise.b, min=max(noise.floor, 1e-12))
    sigma = variance.sqrt()
    generator = torch.Generator(device=noisy.device).manual_seed(PROBE_SEED)
    probe = torch.randn(noisy.shape, generator=generator, device=noisy.device) * sigma
    moved = denoise(noisy + EPSILON * probe)
    through = float((probe * (moved - denoised)).sum(dtype=torch.float64)) / EPSILON
    residual = float(((noisy - denoised) ** 2).sum(dtype=torch.float64))
    return float(variance.sum(dtype=torch.float64)) - through, residual


def best_share(terms: Iterable[tuple[float, float]]) -> float:
    """The share of the input that minimizes SURE over planes with :func:`sure_terms` ``terms``.

    Examples
    --------
    >>> best_share([(3.0, 4.0)]), best_share([(5.0, 4.0)]), best_share([(1.0, 2.0), (0.0, 2.0)])
    (0.25, 0.0, 0.75)
    """
    excess = residual = 0.0
    for e, r in terms:
        excess, residual = excess + e, residual + r
    if residual <= 0.0:
        return 0.0
    return float(min(max(1.0 - excess / residual, 0.0), 1.0))
