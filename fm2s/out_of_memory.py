"""Allocation failures from numpy or torch, turned into a :class:`MemoryError` that says what to do.

numpy raises ``MemoryError`` ("Unable to allocate 64.0 MiB ..."), torch's CPU allocator a
``RuntimeError`` ("[enforce fail at alloc_cpu.cpp:127] ... DefaultCPUAllocator: can't allocate
memory: you tried to allocate 67108864 bytes"), CUDA an ``OutOfMemoryError``. A user sees none of
that machinery: they see which image ran out of memory, how much was asked for, what the
process was allowed and had in use, and the ways out. Limits on address space rather than
resident memory (``ulimit -v``, SGE's ``h_vmem``) deserve a word of their own: PyTorch and its
libraries reserve about 1 GiB of address space they never fill, so such a limit fails a run
whose real memory would fit; the advice then names the limit the run needs, computed from what
was in use and what was asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_TORCH_BYTES = re.compile(r"allocate (\d+) bytes")
_NUMPY_SIZE = re.compile(r"allocate ([\d.]+) (KiB|MiB|GiB|TiB)")
_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
#: Headroom on top of what was in use and what was asked for.
MARGIN = 1.1


@dataclass(frozen=True)
class MemoryState:
    """What the process was allowed and had in use when an allocation failed (bytes)."""

    address_space_limit: int | None
    address_space_used: int | None
    available: int | None


def memory_state() -> MemoryState:
    """Read the process's address-space limit and use, and the memory the machine has free."""
    limit = used = available = None
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        limit = None if soft == resource.RLIM_INFINITY else int(soft)
    except (ImportError, OSError, ValueError):
        pass
    used = _proc_kib("/proc/self/status", "VmSize:")
    available = _proc_kib("/proc/meminfo", "MemAvailable:")
    return MemoryState(limit, used, available)


def _proc_kib(path: str, key: str) -> int | None:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def explain_out_of_memory(
    exc: BaseException, shape: Sequence[int], device_type: str = "cpu",
    state: MemoryState | None = None,
) -> MemoryError | None:
    """Return a :class:`MemoryError` explaining ``exc`` if it is an allocation failure, else None.

    Parameters
    ----------
    exc : BaseException
        What denoising raised.
    shape : sequence of int
        Shape of the image being denoised (named in the message).
    device_type : str
        ``"cpu"``, ``"cuda"`` or ``"mps"``: the advice differs.
    state : MemoryState, optional
        The process's memory when it failed (default: read now, :func:`memory_state`).

    Returns
    -------
    MemoryError or None
        Raise it ``from exc`` so the original stays in the traceback chain.
    """
    text = " ".join(str(exc).split())
    asked: float | None = None
    if isinstance(exc, MemoryError):
        detail = text or "no detail given"
        found = _NUMPY_SIZE.search(text)
        if found:
            asked = float(found.group(1)) * _UNITS[found.group(2)]
    elif isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    ):
        found = _TORCH_BYTES.search(text)
        asked = int(found.group(1)) if found else None
        detail = f"could not allocate {asked / 2**20:.1f} MiB" if found else text[:200]
    else:
        return None
    size = " x ".join(str(int(s)) for s in shape)
    tile = "a smaller tile (tile=512; CLI --tile 512) lowers the peak on large planes"
    if device_type in ("cuda", "mps"):
        advice = (f"Free {device_type.upper()} memory, use a smaller tile (tile=512; "
                  "CLI --tile 512), or denoise on the CPU (device='cpu').")
    else:
        state = memory_state() if state is None else state
        if state.address_space_limit is not None:
            need = (state.address_space_used or 0) + (asked or 0)
            advice = (
                f"This process may use {_gib(state.address_space_limit)} of address space "
                "(a limit such as ulimit -v or SGE h_vmem; PyTorch and its libraries reserve "
                "about 1 GiB they never fill)"
                + (f" and was using {_gib(state.address_space_used)}"
                   if state.address_space_used else "")
                + f": allow at least {math.ceil(need * MARGIN / 2**30 * 10) / 10:g} GiB, or "
                + f"{tile}."
            )
        else:
            free = (f"The machine had {_gib(state.available)} free. "
                    if state.available is not None else "")
            advice = f"{free}Free memory or raise the memory limit; {tile}."
    return MemoryError(f"out of memory while denoising the {size} image ({detail}). {advice}")
