"""A real address-space limit (``ulimit -v``, SGE ``h_vmem``) gives the explained MemoryError."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

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
