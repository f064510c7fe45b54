"""Allocation failures from numpy or torch, turned into a :class:`MemoryError` that says what to do.

numpy raises ``MemoryError`` ("Unable to allocate 64.0 MiB ..."), torch's CPU allocator a
``RuntimeError`` ("[enforce fail at alloc_cpu.cpp:127] ... DefaultCPUAllocator: can't allocate
memory: you tried to allocate 67108864 bytes"), CUDA an ``OutOfMemoryError``. A user sees none of
that machinery: they see which image ran out of memory, how much was asked for, and the ways
out. Limits on address space rather than resident memory (``ulimit -v``, SGE's ``h_vmem``)
deserve a word of their own: PyTorch and its libraries reserve about 1 GiB of address space they
never fill, so such a limit fails a run whose real memory would fit (BENCHMARKS.md, section 5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Address space the 4096 x 4096 benchmark plane ran in (``ulimit -v``; its peak resident
#: memory was 1.05 GiB, its peak address space 2.0 GiB).
ADDRESS_SPACE_HINT_GIB = 2.5

_TORCH_BYTES = re.compile(r"allocate (\d+) bytes")


def explain_out_of_memory(
    exc: BaseException, shape: Sequence[int], device_type: str = "cpu"
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

    Returns
    -------
    MemoryError or None
        Raise it ``from exc`` so the original stays in the traceback chain.
    """
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        detail = text or "no detail given"
    elif isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    ):
        found = _TORCH_BYTES.search(text)
        detail = (f"could not allocate {int(found.group(1)) / 2**20:.1f} MiB" if found
                  else text[:200])
    else:
        return None
    size = " x ".join(str(int(s)) for s in shape)
    if device_type in ("cuda", "mps"):
        advice = (f"Free {device_type.upper()} memory, use a smaller tile (tile=512; "
                  "CLI --tile 512), or denoise on the CPU (device='cpu').")
    else:
        advice = (
            "Free memory or raise the memory limit; a smaller tile (tile=512; CLI --tile 512) "
            "lowers the peak on large planes. Under a limit on address space (ulimit -v, "
            f"SGE h_vmem) allow at least {ADDRESS_SPACE_HINT_GIB:g} GiB: PyTorch and its "
            "libraries reserve about 1 GiB of address space they never use."
        )
    return MemoryError(f"out of memory while denoising the {size} image ({detail}). {advice}")
