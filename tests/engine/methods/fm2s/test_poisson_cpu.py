"""The compiled CPU sampler (fm2s.engine.methods.fm2s.poisson_cpu): exact Poisson draws, streams, fallback.

Poisson counts are checked against the Poisson pmf with a chi-square test on every path of the
sampler (alias table with and without a remainder, the remainder alone, an anchor table with and
without the rest, PTRS); the full noise
``N(u)`` is checked against ``torch.poisson``'s, intensity level by intensity level.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from fm2s.engine.methods.fm2s import noise, poisson_cpu
from fm2s.engine.methods.fm2s.noise import synthesize_noisy, window_mean_map
from fm2s.presets import resolve_params


def _chi_square_p(counts: np.ndarray, mean: float) -> float:
    """p-value of ``counts`` against Poisson(mean), outcomes pooled so each bin expects >= 20."""
    n = counts.size
    top = int(counts.max()) + 1
    observed = np.bincount(counts.astype(np.int64), minlength=top).astype(float)
    expected = n * stats.poisson.pmf(np.arange(top), mean)
    expected[-1] += n * stats.poisson.sf(top - 1, mean)
    obs_bins, exp_bins, o, e = [], [], 0.0, 0.0
    for ob, ex in zip(observed, expected):
        o, e = o + ob, e + ex
        if e >= 20:
            obs_bins.append(o)
            exp_bins.append(e)
            o, e = 0.0, 0.0
    if e > 0:
        obs_bins[-1] += o
        exp_bins[-1] += e
    return float(stats.chisquare(obs_bins, exp_bins).pvalue)


@pytest.mark.parametrize("mean", [
    1e-3,      # remainder only (row 0)
    0.3,       # table row plus a remainder
    2.5,       # a grid point: the table alone
    6.99,
    30.06,
    63.99,     # the table's last row
    64.0,      # the first anchor alone
    127.99,    # the first anchor and the first tables' last row
    150.5,
    2000.3,
    4800.0,    # lam_p of widefield avg16 (an anchor alone)
    8191.9,    # the last anchor
    8192.0,    # PTRS from here
    20000.7,
])
def test_counts_follow_the_poisson_distribution(mean):
    counts = poisson_cpu.poisson(np.full(200_000, mean), seed=11)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    assert _chi_square_p(counts, mean) > 1e-4
    assert counts.mean() == pytest.approx(mean, abs=5 * np.sqrt(mean / counts.size))


def test_means_that_are_not_positive_give_zero():
    counts = poisson_cpu.poisson(np.array([0.0, -3.0, np.nan, 5.0]), seed=1)
    assert counts[:3].tolist() == [0.0, 0.0, 0.0]


def test_a_detectable_error_would_fail_the_check():
    """The chi-square test rejects a Poisson of a mean 1 % off, so it can catch a wrong table."""
    counts = poisson_cpu.poisson(np.full(200_000, 30.3), seed=11)
    assert _chi_square_p(counts, 30.0) < 1e-4


def _batch(seed: int = 0, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0.0, 0.3, (n, 2, 24, 24)).astype(np.float32)
    mean_map = window_mean_map(torch.from_numpy(clean[:, :1]), 8).numpy()
    return clean, mean_map


def test_same_seed_same_noise_other_seed_other_noise():
    clean, mean_map = _batch()
    p = resolve_params("confocal", "avg1")
    a = poisson_cpu.synthesize_noisy(clean, mean_map, p.k_p, p.k_g, p.lam_p, seed=5)
    b = poisson_cpu.synthesize_noisy(clean, mean_map, p.k_p, p.k_g, p.lam_p, seed=5)
    c = poisson_cpu.synthesize_noisy(clean, mean_map, p.k_p, p.k_g, p.lam_p, seed=6)
    np.testing.assert_array_equal(a, b)
    assert np.mean(a != c) > 0.5
    assert a.dtype == np.float32 and a.shape == clean.shape
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_each_crop_has_its_own_stream():
    """A crop's noise depends on the seed and its index only, not on the rest of the batch."""
    clean, mean_map = _batch(n=3)
    p = resolve_params("twophoton", "avg1")
    full = poisson_cpu.synthesize_noisy(clean, mean_map, p.k_p, p.k_g, p.lam_p, seed=9)
    first_two = poisson_cpu.synthesize_noisy(clean[:2], mean_map[:2], p.k_p, p.k_g, p.lam_p, seed=9)
    np.testing.assert_array_equal(full[:2], first_two)
    assert np.mean(full[0] != full[1]) > 0.5


@pytest.mark.parametrize(("preset", "level"), [("confocal", "avg1"), ("widefield", "avg1"),
                                               ("twophoton", "avg16")])
def test_noise_matches_torch_level_by_level(preset, level, monkeypatch):
    """Mean and variance of N(u) at each of 16 intensities agree with torch.poisson's."""
    params = resolve_params(preset, level)
    levels = torch.linspace(0.005, 0.6, 16)
    clean = levels.repeat_interleave(8).repeat(128, 1)[None, None].expand(1, 2, -1, -1).contiguous()
    mean_map = window_mean_map(clean[:, :1], params.stride)
    draws = {}
    for name in ("numba", "torch"):
        monkeypatch.setenv("FM2S_NOISE_SAMPLER", name)
        gen = torch.Generator().manual_seed(3)
        v = torch.stack([synthesize_noisy(clean, mean_map, params, gen) for _ in range(12)]).double()
        draws[name] = v.reshape(-1, 16, 8).transpose(0, 1).reshape(16, -1)  # per level
    a, b = draws["numba"], draws["torch"]
    n = a.shape[1]
    var = b.var(dim=1)
    assert torch.all((a.mean(1) - b.mean(1)).abs() < 5 * (2 * var / n).sqrt() + 1e-9)
    # Variance of a sample variance ~ 2 var^2 / n for near-normal data; allow heavy tails.
    assert torch.all((a.var(1) - var).abs() < 8 * var * (2 / n) ** 0.5 + 1e-9)


def test_environment_variable_chooses_the_sampler(monkeypatch):
    params = resolve_params("confocal", "avg1")
    clean = torch.full((1, 2, 16, 16), 0.1)
    mean_map = window_mean_map(clean[:, :1], params.stride)
    monkeypatch.setenv("FM2S_NOISE_SAMPLER", "torch")
    assert not noise.compiled_sampler()
    torch_draw = synthesize_noisy(clean, mean_map, params, torch.Generator().manual_seed(1))
    rate = params.k_p / mean_map
    gen = torch.Generator().manual_seed(1)
    shot = torch.poisson(clean * rate, generator=gen) / rate
    read = torch.randn(clean.shape, generator=gen)
    expected = (shot + read * params.k_g * mean_map / 255.0).clamp(0, 1)
    expected = (torch.poisson(expected * params.lam_p, generator=gen) / params.lam_p).clamp(0, 1)
    torch.testing.assert_close(torch_draw, expected)
    monkeypatch.setenv("FM2S_NOISE_SAMPLER", "numba")
    assert noise.compiled_sampler()
    monkeypatch.setenv("FM2S_NOISE_SAMPLER", "fast")
    with pytest.raises(ValueError, match="FM2S_NOISE_SAMPLER='fast'.*'auto', 'numba' or 'torch'"):
        noise.compiled_sampler()


def test_other_devices_never_take_the_cpu_sampler(monkeypatch):
    """The dispatch looks at the device: tensors off the CPU (here "meta", on a GPU "cuda")
    are drawn by torch on their device."""
    calls = []
    monkeypatch.setattr(noise, "_synthesize_compiled", lambda *a: calls.append(a))
    meta = torch.empty((1, 1, 4, 4), device="meta")
    out = synthesize_noisy(meta, meta, resolve_params(), None)
    assert out.device.type == "meta" and calls == []


def _run_python(*lines: str, timeout: float) -> subprocess.CompletedProcess:
    """Run ``lines`` as a program in a fresh interpreter (for import-time conditions)."""
    return subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True,
                          text=True, timeout=timeout)


def test_without_numba_torch_draws_and_asking_for_numba_says_how_to_get_it():
    """A broken or missing numba must not stop denoising (run in a fresh interpreter)."""
    done = _run_python(
        "import os, sys",
        "sys.modules['numba'] = None  # makes `import numba` fail",
        "import torch",
        "from fm2s.engine.methods.fm2s import noise, poisson_cpu",
        "from fm2s.presets import resolve_params",
        "assert not noise.compiled_sampler()",
        "clean = torch.full((1, 2, 16, 16), 0.1)",
        "v = noise.synthesize_noisy(clean, noise.window_mean_map(clean[:, :1], 75),",
        "                           resolve_params(), torch.Generator().manual_seed(0))",
        "assert v.shape == clean.shape and 0 <= float(v.min()) and float(v.max()) <= 1",
        "os.environ['FM2S_NOISE_SAMPLER'] = 'numba'",
        "try:",
        "    noise.compiled_sampler()",
        "except RuntimeError as exc:",
        "    print(exc)",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "numba cannot be imported" in done.stdout and "pip install numba" in done.stdout


def test_without_a_writable_numba_cache_the_sampler_still_compiles():
    """numba refuses ``cache=True`` when it finds no writable cache directory (read-only
    installs); the sampler then compiles without a cache instead of failing to import."""
    done = _run_python(
        "import numba.core.caching as caching",
        "caching.CacheImpl._locator_classes = []  # no place to cache: njit(cache=True) raises",
        "import numpy as np",
        "from fm2s.engine.methods.fm2s import poisson_cpu",
        "counts = poisson_cpu.poisson(np.full(10_000, 4.0), seed=1)",
        "print(round(float(counts.mean()), 1))",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert abs(float(done.stdout.split()[-1]) - 4.0) < 0.2
