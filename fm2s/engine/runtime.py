"""Where the engine runs: the torch device, the random generators, CPU threads, malloc tuning.

This is the one place that turns the user's ``device``, ``seed`` and ``num_threads`` into torch
objects, and the one place that changes process-wide settings.

Thread safety
    torch's CPU thread count is a setting of the whole process. :func:`cpu_threads` changes it
    for the duration of a block and sets the value it found back when the block ends, under a
    process-wide lock: when two threads (a Jupyter kernel and a napari worker, say) denoise at
    the same time, CPU training runs one call at a time, so neither changes the other's
    thread count and each finds the setting it started with. Results do not depend on this:
    each call has its own generators.
Allocator
    :func:`reuse_freed_memory` raises glibc malloc's mmap and trim thresholds while a model
    trains on the CPU, so that training reuses freed activation memory instead of page-faulting
    it in again (up to 6 % less CPU time on a 512 x 512 plane, 40x fewer page faults), and sets
    glibc's initial thresholds again afterwards. glibc can neither report nor restore the
    thresholds it had, so this happens only in processes fm2s owns (the ``fm2s`` command, the
    benchmarks: :func:`own_process`). In a library call it sets nothing: it frees one block
    of :data:`PRIME_BLOCK` bytes, which moves glibc's own adaptive thresholds to where they
    settle after the process's first large free anyway, and saves the first call in a fresh
    process about 1 s on a 512 x 512 plane.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from functools import cache

import torch

from .plan import DEVICE_CHOICES

log = logging.getLogger("fm2s")

#: Held while a block of :func:`cpu_threads` runs (re-entrant: a block may nest another).
_THREADS_LOCK = threading.RLock()


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``device``.

    Parameters
    ----------
    device : str or torch.device or None
        ``"auto"`` (or None) picks CUDA, else Apple MPS, else the CPU. ``"cpu"``, ``"cuda"``,
        ``"cuda:1"`` and ``"mps"`` are taken as given, after checking they exist.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        When the requested device is unknown or not available on this machine.
    """
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            chosen = torch.device("cuda")
        elif _mps_available():
            chosen = torch.device("mps")
        else:
            chosen = torch.device("cpu")
        log.info("fm2s: device auto -> %s", chosen)
        return chosen
    base = name.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {device!r}; choose one of: {', '.join(DEVICE_CHOICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; "
                         "use device='auto' or 'cpu'")
    if base == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but Apple MPS is not available; "
                         "use device='auto' or 'cpu'")
    return torch.device(name)


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def make_generators(seed: int | None, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """Return (cpu_generator, device_generator) seeded from ``seed`` (random when None).

    The CPU generator drives weight initialisation and crop positions, the device generator
    the noise draws, so the same seed gives the same result on the same device.
    """
    cpu = torch.Generator(device="cpu")
    if seed is None:
        cpu.seed()
    else:
        cpu.manual_seed(int(seed))
    dev = cpu if device.type == "cpu" else torch.Generator(device=device)
    if dev is not cpu:
        dev.manual_seed(int(torch.randint(0, 2**62, (1,), generator=cpu)))
    return cpu, dev


def set_process_threads(threads: int) -> None:
    """Set torch's CPU threads for the whole process: for processes fm2s owns (a cluster
    worker it started), never in library calls (see :func:`cpu_threads`)."""
    with _THREADS_LOCK:
        torch.set_num_threads(int(threads))


def channel_seed(seed: int, channel: int) -> int:
    """Seed of channel ``channel``: ``seed`` itself for channel 0, a distinct one otherwise (so a
    channel's result does not depend on the channels before it)."""
    return seed if channel == 0 else (seed * 1_000_003 + channel) % 2**63


@contextlib.contextmanager
def cpu_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with torch's CPU thread count set to ``num_threads``.

    ``None`` leaves torch's setting as it is. The value found is set back on leaving, and the
    block holds a process-wide lock, so calls from other threads wait instead of changing the
    setting under it (see the module docstring).

    Raises
    ------
    ValueError
        If ``num_threads`` is less than 1.
    """
    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)


def available_cpus() -> int:
    """CPU cores this process may use: its affinity mask, and a cgroup quota (containers,
    SLURM/Kubernetes CPU limits) where one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota else max(1, cores)


def _cgroup_cpu_quota() -> int | None:
    """Whole CPUs of a cgroup v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``) quota, if any."""
    import math

    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
            period_us = int(fh.read())
        return None if quota_us <= 0 else math.ceil(quota_us / period_us)
    except (OSError, ValueError):
        return None


def capped_threads(num_threads: int | None) -> int | None:
    """``num_threads``, but no more than :func:`available_cpus` (with a warning): more threads
    than cores only makes the small convolutions wait for each other (16 threads on 2 cores
    ran a 64 x 64 plane 17x slower; 10,000 never finished)."""
    if num_threads is None:
        return None
    cores = available_cpus()
    if num_threads > cores:
        log.warning("fm2s: num_threads=%d asks for more threads than the %d CPU core(s) this "
                    "process may use; using %d", num_threads, cores, cores)
        return cores
    return num_threads


def native_bf16(device: torch.device) -> bool:
    """True when ``device`` computes bfloat16 convolutions natively (faster than float32).

    CPUs need AMX or AVX512-BF16 (Intel Sapphire Rapids and later, AMD Zen 4 and later);
    elsewhere oneDNN emulates bfloat16 and it is slower than float32. CUDA needs
    ``torch.cuda.is_bf16_supported()`` (Ampere and later).
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return False


# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: Blocks up to this size are reused from the heap instead of being mmap-ed afresh.
MMAP_THRESHOLD = 256 << 20
#: Free memory at the top of the heap kept (not trimmed) between steps.
TRIM_THRESHOLD = 1 << 30
#: glibc's initial mmap and trim thresholds, set again on leaving.
DEFAULT_THRESHOLD = 128 << 10
#: Freeing an mmap-ed block raises glibc's adaptive mmap threshold to its size (and the trim
#: threshold to twice that) if it is at most glibc's cap, 32 MiB on 64-bit systems; this block
#: is just under the cap.
PRIME_BLOCK = (32 << 20) - (64 << 10)


_OWNED = {"process": False, "primed": False}


def own_process() -> None:
    """Declare that fm2s owns this process (its command line, a benchmark): the allocator
    tuning of :func:`reuse_freed_memory` may be used. Library users leave this alone."""
    _OWNED["process"] = True


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or os.environ.get("FM2S_MALLOC_TUNING", "1") == "0":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError off glibc
    except (OSError, AttributeError):
        return None
    return libc


def _prime_adaptive_thresholds(libc: ctypes.CDLL) -> None:
    """Free one mmap-ed block just under glibc's cap, as any large temporary array does.

    A fresh process's first training otherwise runs with glibc's initial 128 KiB threshold
    until some large block happens to be freed, and every step's activations are mapped and
    page-faulted afresh (in a fresh process, about 25 % slower steps on a 512 x 512 plane).
    glibc keeps adapting as before; a threshold the user set (``MALLOC_MMAP_THRESHOLD_``, or
    ``mallopt``) turns the adaptation off and is left as it is.

    Once per process: glibc's adaptive thresholds only ever rise, so a second block would
    change nothing.
    """
    if _OWNED["primed"]:
        return
    _OWNED["primed"] = True
    malloc, free = libc.malloc, libc.free
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    block = malloc(PRIME_BLOCK)
    if block:
        free(block)


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Within the block, make glibc malloc reuse freed blocks of up to :data:`MMAP_THRESHOLD`.

    Only in processes fm2s owns (:func:`own_process`; see the module docstring; a library
    call only primes glibc's adaptive thresholds, :func:`_prime_adaptive_thresholds`). On leaving,
    glibc's initial thresholds (128 KiB) are set and free heap memory is returned to the OS, so
    the rest of the work (tiled inference of a large plane, file writing) keeps its usual, lower
    peak memory. A no-op off glibc (macOS, Windows, musl) and when ``FM2S_MALLOC_TUNING=0``.

    Yields
    ------
    bool
        True when the thresholds were changed.
    """
    libc = _glibc()
    if libc is not None and not _OWNED["process"]:
        _prime_adaptive_thresholds(libc)
        libc = None
    if libc is None:
        yield False
        return
    tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    try:
        yield tuned
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, DEFAULT_THRESHOLD)
        libc.malloc_trim(0)
