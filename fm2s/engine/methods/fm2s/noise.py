"""FM2S noise synthesis ("Noise Addition"): region-wise mixed Poisson-Gaussian, then overall Poisson.

On a GPU the draws are torch's, on the tensor's device. On the CPU they come from the compiled
sampler of :mod:`fm2s.engine.methods.fm2s.poisson_cpu` (numba; the same distribution for less CPU time),
or from ``torch.poisson`` where numba is missing. The brightness map ``m`` (one value per
``stride x stride`` window, broadcast to pixels) is computed once per plane and can be cropped
together with the image, so crop-based training draws exactly the noise whole-image training
would draw on those pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ....presets import FM2SParams

#: Bounds the authors put on a window's mean brightness.
M_MIN, M_MAX = 1e-5, 0.15


def window_mean_map(plane: torch.Tensor, stride: int) -> torch.Tensor:
    """Mean brightness of each ``stride x stride`` window, broadcast back to every pixel.

    Parameters
    ----------
    plane : torch.Tensor
        ``(..., H, W)`` intensities in [0, 1].
    stride : int
        Window side. Windows are laid from the top-left corner; the last row/column of windows
        may be cut by the image edge.

    Returns
    -------
    torch.Tensor
        Same shape as ``plane``: ``clamp(mean of its window, 1e-5, 0.15)``.

    Notes
    -----
    Edge windows are averaged over their pixels inside the image. The authors zero-pad the
    image up to a multiple of ``stride`` and divide by the full window, which darkens edge
    windows (a 512 px image with stride 75 gets a corner window at ~0.68 of its true mean);
    that is a bug we do not copy.
    """
    h, w = plane.shape[-2:]
    lead = plane.shape[:-2]
    x = plane.reshape(-1, 1, h, w)
    ph, pw = (-h) % stride, (-w) % stride
    sums = F.avg_pool2d(F.pad(x, (0, pw, 0, ph)), stride, stride, divisor_override=1)
    ones = F.pad(torch.ones_like(x[:1]), (0, pw, 0, ph))
    counts = F.avg_pool2d(ones, stride, stride, divisor_override=1)
    means = (sums / counts).clamp(M_MIN, M_MAX)
    full = means.repeat_interleave(stride, dim=-2).repeat_interleave(stride, dim=-1)
    return full[..., :h, :w].reshape(*lead, h, w)


def synthesize_noisy(
    clean: torch.Tensor,
    mean_map: torch.Tensor,
    params: FM2SParams,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one synthetic noisy image ``v = N(u)``.

    Parameters
    ----------
    clean : torch.Tensor
        ``(B, C, H, W)`` target ``u`` in [0, 1] (C = amplified channels; each channel gets
        independent noise).
    mean_map : torch.Tensor
        ``(B, 1, H, W)`` (or broadcastable) window brightness from :func:`window_mean_map`.
    params : FM2SParams
        Supplies ``k_g``, ``k_p`` and ``lam_p``.
    generator : torch.Generator, optional
        Generator on ``clean``'s device, for repeatable draws.

    Returns
    -------
    torch.Tensor
        ``clamp(Poisson(clamp(P + G, 0, 1) * lam_p) / lam_p, 0, 1)`` with
        ``P = Poisson(u * k_p / m) / (k_p / m)`` and ``G ~ Normal(0, (k_g * m / 255)^2)``.

    Notes
    -----
    On the CPU with the compiled sampler, ``generator`` gives one 63-bit seed per call and the
    sampler's own streams draw the rest; ``torch.poisson`` draws the same distribution from
    ``generator`` directly. So a seed repeats results on one machine and sampler, not across
    samplers.
    """
    if noise_sampler(clean.device) == "numba":
        return _synthesize_compiled(clean, mean_map, params, generator)
    rate = params.k_p / mean_map
    shot = torch.poisson(clean * rate, generator=generator) / rate
    sigma = params.k_g * mean_map / 255.0
    read = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    noisy = (shot + read * sigma).clamp_(0.0, 1.0)
    noisy = torch.poisson(noisy * params.lam_p, generator=generator).div_(params.lam_p)
    return noisy.clamp_(0.0, 1.0)


def compiled_sampler() -> bool:
    """True when CPU noise is drawn by the compiled sampler (numba), False for ``torch.poisson``."""
    from . import poisson_cpu  # imports numba: only when noise is first drawn

    return poisson_cpu.available()


def noise_sampler(device: torch.device) -> str:
    """What draws the noise on ``device``: ``"numba"`` (the compiled CPU sampler) or ``"torch"``."""
    return "numba" if device.type == "cpu" and compiled_sampler() else "torch"


def _synthesize_compiled(
    clean: torch.Tensor,
    mean_map: torch.Tensor,
    params: FM2SParams,
    generator: torch.Generator | None,
) -> torch.Tensor:
    from . import poisson_cpu

    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
    batch = clean.detach().float().numpy()
    brightness = mean_map.detach().float().numpy()  # broadcast to the batch by poisson_cpu
    noisy = poisson_cpu.synthesize_noisy(batch, brightness, params.k_p, params.k_g, params.lam_p, seed)
    return torch.from_numpy(noisy).to(clean.dtype)
