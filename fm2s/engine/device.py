"""One place that turns the user's ``device``, ``seed`` and ``num_threads`` into torch objects."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch

log = logging.getLogger("fm2s")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``device``.

    Parameters
    ----------
    device : str or torch.device or None
        ``"auto"`` (or None) picks CUDA, else Apple MPS, else the CPU. ``"cpu"``, ``"cuda"``,
        ``"cuda:1"`` and ``"mps"`` are taken as given, after checking they exist.

    Raises
    ------
    ValueError
        When the requested device is unknown or not available on this machine.
    """
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            chosen = torch.device("cuda")
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            chosen = torch.device("mps")
        else:
            chosen = torch.device("cpu")
        log.info("fm2s: device auto -> %s", chosen)
        return chosen
    base = name.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {device!r}; choose one of: {', '.join(DEVICE_CHOICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='auto' or 'cpu'")
    if base == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' was requested but Apple MPS is not available; use device='auto' or 'cpu'")
    return torch.device(name)


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


@contextlib.contextmanager
def cpu_threads(num_threads: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU thread count (None keeps torch's default: one per core)."""
    if num_threads is None:
        yield
        return
    if int(num_threads) < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
