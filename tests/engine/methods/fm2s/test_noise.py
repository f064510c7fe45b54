"""Noise synthesis N(u): window brightness map and the statistics of the synthetic noise.

For a constant clean value ``u`` in a window of brightness ``m`` the model is
``v = Poisson(lam_p * clamp(P + G, 0, 1)) / lam_p`` with ``P = Poisson(u k_p / m) m / k_p`` and
``G ~ N(0, (k_g m / 255)^2)``. Away from the clamp, ``E[v] = u`` and, by the law of total
variance, ``Var[v] = u m / k_p + (k_g m / 255)^2 + u / lam_p``.

Every test runs with both CPU samplers: the compiled one (numba, the default) and
``torch.poisson`` (the fallback, and what GPUs use).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fm2s.engine.methods.fm2s.noise import M_MAX, M_MIN, synthesize_noisy, window_mean_map
from fm2s.presets import FM2SParams, resolve_params


@pytest.fixture(autouse=True, params=["numba", "torch"])
def sampler(request, monkeypatch):
    monkeypatch.setenv("FM2S_NOISE_SAMPLER", request.param)
    return request.param


def _params(k_g: float, k_p: float, lam_p: float) -> FM2SParams:
    return FM2SParams(n_chan=1, stride=8, median_window=3, k_g=k_g, k_p=k_p, lam_p=lam_p)


def _expected_var(u: float, m: float, p: FM2SParams) -> float:
    return u * m / p.k_p + (p.k_g * m / 255.0) ** 2 + u / p.lam_p


def _numpy_window_means(plane: np.ndarray, stride: int) -> np.ndarray:
    """Reference: mean over the in-image pixels of each window, clamped, broadcast to pixels."""
    h, w = plane.shape
    out = np.empty_like(plane, dtype=np.float64)
    for top in range(0, h, stride):
        for left in range(0, w, stride):
            block = plane[top:top + stride, left:left + stride].astype(np.float64)
            out[top:top + stride, left:left + stride] = np.clip(block.mean(), M_MIN, M_MAX)
    return out


def test_clamp_bounds_are_the_authors():
    assert (M_MIN, M_MAX) == (1e-5, 0.15)


@pytest.mark.parametrize(("shape", "stride"), [((37, 53), 10), ((64, 64), 16), ((48, 30), 75),
                                                ((20, 23), 1), ((75, 151), 75)])
def test_window_mean_map_matches_numpy(shape, stride):
    rng = np.random.default_rng(stride)
    plane = rng.uniform(0.0, 0.3, shape).astype(np.float32)
    plane[: shape[0] // 3, : shape[1] // 3] = 0.0  # dark corner: exercises the 1e-5 clamp
    got = window_mean_map(torch.from_numpy(plane), stride).numpy()
    assert got.shape == plane.shape
    np.testing.assert_allclose(got, _numpy_window_means(plane, stride), rtol=1e-5, atol=1e-8)


def test_edge_windows_are_not_darkened_by_padding():
    """A uniform image has the same brightness in every window, edge windows included."""
    plane = torch.full((50, 50), 0.1)
    got = window_mean_map(plane, 30)
    torch.testing.assert_close(got, torch.full_like(plane, 0.1))


def test_window_mean_map_clamps_both_ends():
    plane = torch.zeros(40, 40)
    plane[:, 20:] = 0.9
    got = window_mean_map(plane, 20)
    torch.testing.assert_close(got[:, :20], torch.full((40, 20), M_MIN))
    torch.testing.assert_close(got[:, 20:], torch.full((40, 20), M_MAX))


def test_window_mean_map_keeps_leading_dims_independent():
    rng = np.random.default_rng(5)
    planes = rng.uniform(0, 0.2, (3, 1, 33, 29)).astype(np.float32)
    got = window_mean_map(torch.from_numpy(planes), 8).numpy()
    assert got.shape == planes.shape
    for i in range(3):
        np.testing.assert_allclose(got[i, 0], _numpy_window_means(planes[i, 0], 8), rtol=1e-5)


@pytest.mark.parametrize(("u", "k_g", "k_p", "lam_p"), [
    (0.5, 100.0, 30.0, 200.0),   # all three terms comparable
    (0.5, 0.0, 20.0, 1e4),       # Poisson map dominates
    (0.4, 150.0, 1e4, 1e4),      # Gaussian map dominates
    (0.6, 0.0, 1e4, 60.0),       # overall Poisson dominates
])
def test_noise_mean_and_variance_follow_the_formula_bright(u, k_g, k_p, lam_p):
    params = _params(k_g, k_p, lam_p)
    clean = torch.full((1, 2, 256, 256), u)
    mean_map = window_mean_map(clean[:, :1], params.stride)
    m = M_MAX  # u > 0.15: the window mean is clamped
    gen = torch.Generator().manual_seed(0)
    v = synthesize_noisy(clean, mean_map, params, gen).double()
    n = v.numel()
    var = _expected_var(u, m, params)
    assert abs(v.mean().item() - u) < 5 * (var / n) ** 0.5
    assert v.var().item() == pytest.approx(var, rel=0.05)


@pytest.mark.parametrize(("preset", "level", "u"), [("confocal", "avg16", 0.05),
                                                     ("twophoton", "avg8", 0.08)])
def test_noise_variance_with_published_settings_dim_window(preset, level, u):
    """In a dim window (u < 0.15) m equals u itself."""
    params = resolve_params(preset, level)
    clean = torch.full((1, 1, 256, 256), u)
    mean_map = window_mean_map(clean, params.stride)
    torch.testing.assert_close(mean_map, torch.full_like(clean, u))
    v = synthesize_noisy(clean, mean_map, params, torch.Generator().manual_seed(1)).double()
    var = _expected_var(u, u, params)
    assert abs(v.mean().item() - u) < 5 * (var / v.numel()) ** 0.5
    assert v.var().item() == pytest.approx(var, rel=0.07)


def test_noise_keeps_structure_of_a_nonconstant_image():
    """Mean preserved pixel by pixel: averaging many draws recovers the clean ramp."""
    params = _params(40.0, 200.0, 500.0)
    ramp = torch.linspace(0.2, 0.8, 32).repeat(32, 1)[None, None]
    mean_map = window_mean_map(ramp, params.stride)
    gen = torch.Generator().manual_seed(2)
    draws = torch.stack([synthesize_noisy(ramp, mean_map, params, gen) for _ in range(400)])
    torch.testing.assert_close(draws.mean(0), ramp, atol=0.01, rtol=0)


def test_brighter_windows_are_noisier():
    params = _params(100.0, 30.0, 1e4)
    clean = torch.full((1, 1, 128, 128), 0.05)
    clean[..., 64:] = 0.12  # stays below 0.15: m = u on each side
    mean_map = window_mean_map(clean, 64)
    v = synthesize_noisy(clean, mean_map, params, torch.Generator().manual_seed(3)).double()
    dim, bright = v[..., :64], v[..., 64:]
    var_dim, var_bright = dim.var().item(), bright.var().item()
    assert var_bright > 2 * var_dim
    assert var_dim == pytest.approx(_expected_var(0.05, 0.05, params), rel=0.07)
    assert var_bright == pytest.approx(_expected_var(0.12, 0.12, params), rel=0.07)


def test_output_is_clamped_to_unit_interval():
    params = _params(255.0, 5.0, 20.0)
    clean = torch.rand(1, 2, 64, 64, generator=torch.Generator().manual_seed(4))
    v = synthesize_noisy(clean, window_mean_map(clean[:, :1], 8), params,
                         torch.Generator().manual_seed(5))
    assert v.min() >= 0.0 and v.max() <= 1.0
    assert v.shape == clean.shape and v.dtype == clean.dtype


def test_zero_image_stays_finite():
    clean = torch.zeros(1, 1, 32, 32)
    v = synthesize_noisy(clean, window_mean_map(clean, 8), resolve_params(),
                         torch.Generator().manual_seed(0))
    assert torch.isfinite(v).all()
    assert v.min() >= 0.0


def test_amplified_channels_get_independent_noise():
    params = resolve_params("confocal", "avg1")
    clean = torch.full((1, 2, 64, 64), 0.3)
    v = synthesize_noisy(clean, window_mean_map(clean[:, :1], 75), params,
                         torch.Generator().manual_seed(6))
    a, b = (v[0, i].flatten().double() - 0.3 for i in range(2))
    corr = (a * b).mean() / (a.std() * b.std())
    assert abs(corr.item()) < 0.05


def test_repeatable_with_seeded_generator():
    params = resolve_params("twophoton", "avg2")
    clean = torch.rand(1, 2, 48, 48, generator=torch.Generator().manual_seed(9))
    mean_map = window_mean_map(clean[:, :1], params.stride)

    def draw(seed: int) -> torch.Tensor:
        return synthesize_noisy(clean, mean_map, params, torch.Generator().manual_seed(seed))

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))
