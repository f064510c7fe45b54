"""Running out of memory gives a MemoryError that names the image and the ways out, also under a
real address-space limit (``ulimit -v``, SGE ``h_vmem``)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from fm2s.out_of_memory import MemoryState, explain_out_of_memory

_TORCH_CPU = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
              "memory: you tried to allocate 67108864 bytes. Error code 12 (Cannot allocate memory)")


LIMITED = MemoryState(address_space_limit=2 * 2**30, address_space_used=int(1.9 * 2**30),
                      available=20 * 2**30)


def test_torch_allocator_failure_is_explained_with_the_size_asked_for():
    err = explain_out_of_memory(RuntimeError(_TORCH_CPU), (3, 4096, 4096), state=LIMITED)
    assert isinstance(err, MemoryError)
    text = str(err)
    assert text.startswith("out of memory while denoising the 3 x 4096 x 4096 image")
    assert "could not allocate 64.0 MiB" in text and "alloc_cpu" not in text
    assert "--tile 512" in text and "ulimit -v" in text


def test_the_limit_to_ask_for_is_computed_from_what_was_used_and_asked():
    text = str(explain_out_of_memory(RuntimeError(_TORCH_CPU), (4096, 4096), state=LIMITED))
    assert "may use 2.00 GiB of address space" in text and "was using 1.90 GiB" in text
    # (1.9 GiB + 64 MiB) x 1.1 = 2.16 GiB, rounded up to a tenth
    assert "allow at least 2.2 GiB" in text
    unlimited = MemoryState(None, None, available=3 * 2**30)
    text = str(explain_out_of_memory(MemoryError("Unable to allocate 1.5 GiB for an array"),
                                     (512, 512), state=unlimited))
    assert "The machine had 3.00 GiB free" in text and "ulimit" not in text


def test_numpy_memory_error_keeps_its_detail():
    err = explain_out_of_memory(MemoryError("Unable to allocate 64.0 MiB for an array"), (512, 512))
    assert "(Unable to allocate 64.0 MiB for an array)" in str(err)


def test_gpu_out_of_memory_suggests_the_cpu():
    err = explain_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"),
                                (512, 512), "cuda")
    assert "device='cpu'" in str(err) and "ulimit" not in str(err)


def test_other_errors_are_not_memory_errors():
    assert explain_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"),
                                 (512, 512)) is None
    assert explain_out_of_memory(ValueError("out of memory"), (512, 512)) is None


_UNDER_A_LIMIT = textwrap.dedent("""
    import resource
    import numpy as np
    import fm2s
    fm2s.denoise(np.full((64, 64), 20, np.uint16), schedule="quick", seed=0)  # load everything
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) for line in status if line.startswith("VmSize")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + (900 << 20), resource.RLIM_INFINITY))
    big = np.random.default_rng(0).poisson(20, (4096, 4096)).astype(np.uint16)
    try:
        fm2s.denoise(big, schedule="quick", seed=0, tile=None)  # untiled: 1.5 GiB at once
    except MemoryError as exc:
        print("MemoryError:", exc)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
def test_a_real_address_space_limit_gives_the_explained_error():
    done = subprocess.run([sys.executable, "-c", _UNDER_A_LIMIT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("MemoryError: out of memory while denoising the 4096 x 4096 image")
    assert "ulimit -v" in done.stdout
    limit = float(re.search(r"may use ([\d.]+) GiB", done.stdout).group(1))
    used = float(re.search(r"was using ([\d.]+) GiB", done.stdout).group(1))
    asked = float(re.search(r"could not allocate ([\d.]+) MiB", done.stdout).group(1)) / 1024
    allow = float(re.search(r"allow at least ([\d.]+) GiB", done.stdout).group(1))
    assert asked > 1.0  # the untiled plane's buffers, over a GiB at once
    assert allow >= used + asked > limit  # the advice covers what was used and what was asked
