"""Allocator tuning for CPU training: fewer page faults inside, defaults after, an opt-out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fm2s.engine import runtime as memory

_COUNT_FAULTS = textwrap.dedent("""
    import resource
    import torch
    import torch.nn.functional as F
    from fm2s.engine.runtime import own_process, reuse_freed_memory
    from fm2s.engine.methods.fm2s.model import FM2SNet
    own_process()
    torch.set_num_threads(1)
    model = FM2SNet(2)
    opt = torch.optim.Adam(model.parameters())
    def faults_of_steps(n=30):  # what training steps allocate and free
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(n):
            x = torch.rand(8, 2, 96, 96)
            opt.zero_grad()
            F.mse_loss(model(x), x).backward()
            opt.step()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    faults_of_steps(3)  # warm up
    with reuse_freed_memory() as tuned:
        faults_of_steps(3)
        inside = faults_of_steps()
    after = faults_of_steps()
    print(tuned, inside, after)
""")


def _huge_pages_always() -> bool:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


def _faults(env_value: str) -> tuple[bool, int, int]:
    env = {**os.environ, "FM2S_MALLOC_TUNING": env_value}
    out = subprocess.run([sys.executable, "-c", _COUNT_FAULTS], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1]), int(out[2])


@pytest.mark.skipif(memory._glibc() is None, reason="needs glibc (Linux)")
@pytest.mark.skipif(_huge_pages_always(), reason="fresh mappings fault in 2 MiB pages here")
def test_training_steps_reuse_freed_blocks_inside_the_block_only():
    tuned, inside, after = _faults("1")
    assert tuned
    # every step maps its ~10 MB of activations afresh (thousands of page faults a step);
    # reused heap memory barely faults
    assert after > 30 * 1000
    assert inside < after / 20


def test_opt_out_by_environment_variable_leaves_malloc_alone(monkeypatch):
    # With the opt-out, glibc must not even be loaded: no mallopt, no malloc_trim. (Counting
    # page faults cannot show this: untuned glibc raises its mmap threshold by itself when large
    # blocks are freed, so whether it faults depends on the CPU's oneDNN buffer sizes.)
    def no_libc(*args, **kwargs):
        raise AssertionError("libc loaded although FM2S_MALLOC_TUNING=0")

    monkeypatch.setenv("FM2S_MALLOC_TUNING", "0")
    monkeypatch.setitem(memory._OWNED, "process", True)
    monkeypatch.setattr(memory.ctypes, "CDLL", no_libc)
    memory._glibc.cache_clear()
    try:
        with memory.reuse_freed_memory() as tuned:
            assert tuned is False
    finally:
        memory._glibc.cache_clear()


@pytest.mark.skipif(memory._glibc() is None, reason="needs glibc (Linux)")
def test_opt_out_in_a_fresh_process_reports_untuned():
    # The variable is read once per process (``_glibc`` is cached): check it from the start.
    code = "from fm2s.engine.runtime import own_process, reuse_freed_memory\n" \
           "own_process()\n" \
           "with reuse_freed_memory() as tuned:\n    print(tuned)"
    env = {**os.environ, "FM2S_MALLOC_TUNING": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def test_non_glibc_platforms_are_a_no_op(monkeypatch):
    memory._glibc.cache_clear()
    try:
        monkeypatch.setattr(sys, "platform", "darwin")
        with memory.reuse_freed_memory() as tuned:
            assert tuned is False
    finally:
        memory._glibc.cache_clear()


@pytest.mark.skipif(memory._glibc() is None, reason="needs glibc (Linux)")
def test_a_library_call_sets_no_malloc_threshold():
    """glibc cannot restore thresholds it had, so fm2s.denoise in someone else's process never
    sets them (it only frees one block: malloc and free); the fm2s command and the benchmarks
    (own_process) do, while training."""
    code = (
        "import ctypes, numpy as np\n"
        "import fm2s.engine.runtime as runtime\n"
        "calls = []\n"
        "libc = runtime._glibc()\n"
        "class Spy:\n"
        "    def __getattr__(self, name):\n"
        "        calls.append(name); return getattr(libc, name)\n"
        "runtime._glibc = lambda: Spy()\n"
        "import fm2s\n"
        "image = np.random.default_rng(0).poisson(40, (48, 48)).astype(np.uint16)\n"
        "fm2s.denoise(image, schedule='quick', seed=0, num_threads=1)\n"
        "fm2s.denoise(image, schedule='quick', seed=0, num_threads=1)\n"
        "print('library', sorted(set(calls)), calls.count('malloc'))\n"
        "runtime.own_process()\n"
        "fm2s.denoise(image, schedule='quick', seed=0, num_threads=1)\n"
        "print('owned', sorted(set(calls)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    # one block, once per process, however many calls
    assert out == ["library ['free', 'malloc'] 1",
                   "owned ['free', 'malloc', 'malloc_trim', 'mallopt']"]


_MAPPED_BLOCKS = textwrap.dedent("""
    import ctypes, sys
    import fm2s.engine.runtime as runtime
    libc = runtime._glibc()
    class Info(ctypes.Structure):  # glibc's struct mallinfo2
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    libc.mallinfo2.restype = Info
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    def mapped_by(size):  # 1 when a block of this size gets its own mapping
        before = libc.mallinfo2().hblks
        block = libc.malloc(size)
        mapped = libc.mallinfo2().hblks - before
        libc.free(block)
        return mapped
    if sys.argv[1] == "library":
        with runtime.reuse_freed_memory():
            pass
    print(mapped_by(16 << 20))
""")


@pytest.mark.skipif(memory._glibc() is None, reason="needs glibc (Linux)")
def test_a_library_call_primes_glibc_to_reuse_freed_blocks():
    """A fresh process maps every block over 128 KiB afresh; after the library call's prime
    (one block freed, as glibc's own adaptation wants) a 16 MiB block comes from the heap."""
    def run(mode: str) -> list[str]:
        env = {**os.environ, "FM2S_MALLOC_TUNING": "1"}
        env.pop("MALLOC_MMAP_THRESHOLD_", None)
        return subprocess.run([sys.executable, "-c", _MAPPED_BLOCKS, mode], env=env,
                              capture_output=True, text=True, check=True).stdout.split()

    assert run("none") == ["1"]
    assert run("library") == ["0"]
