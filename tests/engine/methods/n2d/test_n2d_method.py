"""Noise2Detail and ZS-N2N as engine methods: schedules, denoising gain, determinism, stack modes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fm2s.engine.methods.n2d.method import N2DMethod, ZSN2NMethod
from fm2s.engine.methods.n2d.model import N2DModel
from fm2s.engine.methods.n2d.schedules import (
    FAST,
    QUICK,
    REFERENCE,
    SCHEDULES,
    ZSN2N_FAST,
    N2DSchedule,
    named_schedule,
)
from fm2s.engine.pipeline import denoise_stack
from fm2s.engine.plan import WARM_FRACTION, resolve_stack_mode
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom

CPU = torch.device("cpu")
TINY = N2DSchedule("tiny", stage1_steps=3, stage3_steps=2, lr=1e-3, crop=16, batch=2)
TINY_PLANES = N2DSchedule("tiny-planes", stage1_steps=2, stage3_steps=2, lr=1e-3,
                          lr_halve_every=1)


def _denoise(planes: np.ndarray, method, seed: int = 0, mode: str = "per_plane", **kw):
    gen = torch.Generator().manual_seed(seed)
    return denoise_stack(planes.astype(np.float32), method, stack_mode=mode, device=CPU,
                         cpu_generator=gen, device_generator=gen, tile=None, **kw)


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.6, (40, 44))
    return np.stack([np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1) for _ in range(3)])


def test_reference_schedule_is_the_authors():
    assert (REFERENCE.stage1_steps, REFERENCE.stage3_steps, REFERENCE.lr) == (2000, 2000, 1e-3)
    assert REFERENCE.crop is None and not REFERENCE.bf16 and REFERENCE.views == 1
    assert [REFERENCE.lr_at(i, 2000) for i in (0, 999, 1000, 1999)] == [1e-3, 1e-3, 5e-4, 5e-4]
    assert not N2DMethod(REFERENCE).crop_training and N2DMethod(FAST).crop_training
    assert named_schedule("Fast") is FAST and set(SCHEDULES) == {"fast", "reference", "quick"}
    assert named_schedule("fast", "zsn2n") is ZSN2N_FAST is ZSN2NMethod().schedule
    assert named_schedule("reference", "zsn2n") is REFERENCE and N2DMethod().schedule is FAST
    with pytest.raises(ValueError, match="unknown n2d schedule"):
        named_schedule("slow")


def test_cosine_schedule_and_scaling():
    s = N2DSchedule("c", stage1_steps=10, stage3_steps=6, lr=1e-2, lr_final=1e-3)
    assert s.lr_at(0, 10) == pytest.approx(1e-2) and s.lr_at(9, 10) == pytest.approx(1e-3)
    half = REFERENCE.scaled(0.25)
    assert (half.stage1_steps, half.stage3_steps, half.lr_halve_every) == (500, 500, 250)
    assert N2DMethod(REFERENCE).training_steps(0.25) == 1000
    assert ZSN2NMethod(REFERENCE).training_steps() == 2000
    with pytest.raises(ValueError, match="crop"):
        N2DSchedule("bad", stage1_steps=1, stage3_steps=1, crop=4)


def test_quick_schedule_gains_several_db_on_a_phantom():
    clean, noisy = noisy_phantom((128, 128), seed=3)
    out = _denoise(noisy[None] / 255.0, N2DMethod(QUICK))[0]
    before, after = psnr(clean, noisy), psnr(clean, out * 255.0, data_range=255)
    assert after > before + 5.0, (before, after)


def test_same_seed_same_output_other_seed_other_output(stack):
    method = N2DMethod(TINY)
    state = torch.get_rng_state()
    a = _denoise(stack[:1], method, seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # torch's global stream is not used
    b = _denoise(stack[:1], method, seed=1)
    c = _denoise(stack[:1], method, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("mode", ["shared", "per_plane", "warm_start"])
def test_denoise_stack_modes(stack, mode):
    method = N2DMethod(TINY)
    assert resolve_stack_mode(mode, method.crop_training, TINY.name, len(stack)) == mode
    events: list = []
    out = _denoise(stack, method, mode=mode, progress=events.append, bias_sigma=4.0)
    assert out.shape == stack.shape and out.dtype == np.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    steps = [e for e in events if e.phase == "train"]
    full, warm = method.training_steps(), method.training_steps(WARM_FRACTION)
    expected = {"shared": full, "per_plane": 3 * full, "warm_start": full + 2 * warm}[mode]
    assert len(steps) == expected
    assert events[-1].fraction == pytest.approx(1.0)


def test_whole_plane_schedule_on_odd_planes():
    planes = np.random.default_rng(1).uniform(0, 1, (2, 23, 31)).astype(np.float32)
    for method in (N2DMethod(TINY_PLANES), ZSN2NMethod(TINY_PLANES)):
        out = _denoise(planes, method, mode="warm_start")
        assert out.shape == planes.shape


def test_zsn2n_trains_the_first_network_of_n2d(stack):
    data_n2d = N2DMethod(TINY).prepare(stack[:1], CPU)
    gens = [torch.Generator().manual_seed(5) for _ in range(2)]
    model = N2DMethod(TINY).train(data_n2d, None, fraction=1.0, cpu_generator=gens[0],
                                  device_generator=gens[0], on_step=None)
    f = ZSN2NMethod(TINY).train(data_n2d, None, fraction=1.0, cpu_generator=gens[1],
                                device_generator=gens[1], on_step=None)
    assert isinstance(model, N2DModel)
    for a, b in zip(model.f.parameters(), f.parameters()):
        assert torch.equal(a, b)
    out = _denoise(stack[:1], ZSN2NMethod(TINY))
    assert out.shape == stack[:1].shape


def test_views_are_checked():
    with pytest.raises(ValueError, match="views"):
        dataclasses.replace(FAST, views=3)
