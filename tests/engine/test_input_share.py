"""The share of the input put back into a denoised plane: Stein's unbiased risk estimate finds
the share that the clean image says is best, from the noisy image alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fm2s.engine.input_share import best_share, sure_terms
from fm2s.noise_estimate import NoiseEstimate

SIGMA = 0.02


def _blur(plane: torch.Tensor) -> torch.Tensor:
    """A 3 x 3 box filter: removes noise, and fine detail with it."""
    kernel = torch.full((1, 1, 3, 3), 1.0 / 9.0, dtype=plane.dtype)
    return F.conv2d(F.pad(plane[None, None], (1, 1, 1, 1), mode="replicate"), kernel)[0, 0]


def _images(texture: float) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    clean = 0.4 + 0.2 * np.sin(6 * xx) * np.cos(4 * yy)
    clean += texture * rng.standard_normal(clean.shape)  # fine detail the blur removes
    noisy = clean + SIGMA * rng.standard_normal(clean.shape)
    return torch.from_numpy(clean), torch.from_numpy(noisy)


def _oracle_share(clean: torch.Tensor, noisy: torch.Tensor, denoised: torch.Tensor) -> float:
    residual, error = noisy - denoised, clean - denoised
    return min(max(float((residual * error).sum() / (residual * residual).sum()), 0.0), 1.0)


@pytest.mark.parametrize("texture", [0.0, 0.01, 0.03])
def test_the_share_is_the_one_the_clean_image_says_is_best(texture):
    clean, noisy = _images(texture)
    noise = NoiseEstimate(a=0.0, b=SIGMA**2, correlation=1.0, typical=0.4, blocks=1)
    share = best_share([sure_terms(_blur, noisy, noise)])
    assert share == pytest.approx(_oracle_share(clean, noisy, _blur(noisy)), abs=0.04)
    if texture >= 0.03:  # most of the residual is detail: most of the input comes back
        assert share > 0.5


def test_a_denoiser_that_removes_only_noise_gets_none_of_the_input_back():
    clean, noisy = _images(0.01)
    noise = NoiseEstimate(a=0.0, b=SIGMA**2, correlation=1.0, typical=0.4, blocks=1)
    assert best_share([sure_terms(lambda y: clean, noisy, noise)]) < 0.05


def test_no_residual_means_no_share():
    _, noisy = _images(0.0)
    noise = NoiseEstimate(a=0.0, b=SIGMA**2, correlation=1.0, typical=0.4, blocks=1)
    assert best_share([sure_terms(lambda y: y, noisy, noise)]) == 0.0


def test_planes_are_pooled_before_the_share_is_taken():
    assert best_share([(1.0, 2.0), (0.0, 2.0)]) == 0.75
    assert best_share([(5.0, 4.0)]) == 0.0 and best_share([]) == 0.0
