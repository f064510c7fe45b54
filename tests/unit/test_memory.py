"""Allocator tuning for CPU training: fewer page faults, an opt-out, and a safe no-op."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fm2s.engine import memory

_COUNT_FAULTS = textwrap.dedent("""
    import resource
    import torch
    import torch.nn.functional as F
    from fm2s.engine.memory import tune_allocator
    from fm2s.engine.model import FM2SNet
    tuned = tune_allocator()
    torch.set_num_threads(1)
    model = FM2SNet(2)
    opt = torch.optim.Adam(model.parameters())
    def steps(n):  # what a training step allocates and frees
        for _ in range(n):
            x = torch.rand(8, 2, 96, 96)
            opt.zero_grad()
            F.mse_loss(model(x), x).backward()
            opt.step()
    steps(3)  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    steps(30)
    print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(env_value: str) -> tuple[bool, int]:
    env = {**os.environ, "FM2S_MALLOC_TUNING": env_value}
    out = subprocess.run([sys.executable, "-c", _COUNT_FAULTS], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(memory._glibc() is None, reason="needs glibc (Linux)")
def test_tuned_allocator_reuses_freed_blocks_instead_of_faulting_them_in_again():
    tuned, tuned_faults = _faults("1")
    untuned, untuned_faults = _faults("0")
    assert tuned and not untuned
    # each step maps its ~10 MB of activations afresh; reused heap memory barely faults
    assert untuned_faults > 30 * 1000
    assert tuned_faults < untuned_faults / 20


def test_opt_out_and_non_glibc_are_no_ops(monkeypatch):
    memory._glibc.cache_clear()
    memory.tune_allocator.cache_clear()
    try:
        monkeypatch.setenv("FM2S_MALLOC_TUNING", "0")
        assert memory.tune_allocator() is False
        memory.release_memory()  # nothing to do, no error
        memory._glibc.cache_clear()
        memory.tune_allocator.cache_clear()
        monkeypatch.delenv("FM2S_MALLOC_TUNING")
        monkeypatch.setattr(sys, "platform", "darwin")
        assert memory.tune_allocator() is False
    finally:
        memory._glibc.cache_clear()
        memory.tune_allocator.cache_clear()
