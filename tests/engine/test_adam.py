"""fm2s's Adam against torch.optim.Adam: the same weights, bit for bit, on the CPU."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from fm2s.engine.adam import Adam


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3), torch.nn.ReLU(), torch.nn.Conv2d(6, 1, 1)
    )
    return net.to(memory_format=torch.channels_last)


def _train(net: torch.nn.Module, optimizer, set_lr, steps: int = 60) -> None:
    gen = torch.Generator().manual_seed(3)
    for i in range(steps):
        set_lr(1e-2 * (1 - i / steps) + 1e-4)
        x = torch.rand(4, 1, 20, 20, generator=gen).contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), x[..., 1:-1, 1:-1] * 0.5).backward()
        optimizer.step()


@pytest.mark.parametrize("foreach", [False, True], ids=["single-tensor", "multi-tensor"])
def test_the_weights_equal_torch_optim_adam_bit_for_bit(foreach):
    """torch's CPU default (single-tensor) and its GPU default (multi-tensor), both on the CPU."""
    ours, theirs = _net(0), _net(0)
    mine = Adam(ours.parameters(), lr=1e-2)
    ref = torch.optim.Adam(theirs.parameters(), lr=1e-2, foreach=foreach)

    def set_mine(lr: float) -> None:
        mine.lr = lr

    def set_ref(lr: float) -> None:
        for group in ref.param_groups:
            group["lr"] = lr

    _train(ours, mine, set_mine)
    _train(theirs, ref, set_ref)
    moved = False
    for a, b, start in zip(ours.parameters(), theirs.parameters(), _net(0).parameters()):
        assert torch.equal(a, b)
        moved |= not torch.equal(a, start)
    assert moved


def test_a_parameter_without_a_gradient_is_left_alone():
    used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt = Adam([used, unused], lr=0.5)
    (used * torch.arange(3.0)).sum().backward()
    opt.step()
    assert torch.equal(unused.detach(), torch.ones(3))
    # the first step moves each weight by lr times its gradient's sign
    assert torch.allclose(used.detach(), torch.tensor([1.0, 0.5, 0.5]), rtol=0, atol=1e-6)


def test_a_negative_learning_rate_is_refused():
    try:
        Adam([torch.nn.Parameter(torch.ones(1))], lr=-1.0)
    except ValueError as err:
        assert "learning rate" in str(err)
    else:
        raise AssertionError("no error")


def test_training_does_not_import_torch_dynamo():
    """torch.optim imports torch._dynamo (about 1 s in a fresh process); fm2s never needs it."""
    code = (
        "import sys, numpy as np, fm2s\n"
        "from fm2s.engine.methods.fm2s.schedules import FAST\n"
        "import dataclasses\n"
        "img = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)\n"
        "fm2s.denoise(img, preset='twophoton', schedule=dataclasses.replace(FAST, noise_draws=3,"
        " stage1_steps=2), seed=0)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
