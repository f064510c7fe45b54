"""Starting weights for training: FM2S networks pretrained on generated phantoms.

The authors' FM2S trains its network on the noisy image itself, from random weights. Much of
what those first few hundred steps learn is the same for every image of one microscope and
noise level: how the preset's synthetic noise looks and how to average it away. A *start* is
an FM2S network already trained, exactly as an image would train it, on generated phantoms
(:func:`fm2s.phantom.noisy_phantom`: no real data) with one preset's parameters. Training on
the image itself then begins from that network instead of from random weights, and needs a
half to two thirds of the noise draws for a better PSNR (BENCHMARKS.md, session 10). Nothing
else changes: the same network, noise model, targets and loss, all fitted to the image being
denoised.

Starts ship in the package as ``start_weights/<preset>_<level>.npz``: the weights, the
:class:`~fm2s.presets.FM2SParams` they were trained with and how they were made. They are
made by ``tools/make_starts.py`` (:mod:`fm2s.make_starts`). A start is only used for exactly the
parameters it was trained with: with any other parameters (another noise level, an
overridden factor) training starts from random weights.

The look-up functions use numpy only (no torch), so schedules can be resolved cheaply.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ....presets import FM2SParams
from .schedules import RANDOM_START

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import FM2SNet

#: Folder of the shipped starts.
STARTS_DIR = Path(__file__).resolve().parent / "start_weights"


@functools.cache
def _shipped(folder: Path = STARTS_DIR) -> dict[str, FM2SParams]:
    """Name -> parameters of every start in ``folder`` (read once)."""
    found: dict[str, FM2SParams] = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as npz:
            found[path.stem] = FM2SParams(**json.loads(str(npz["params"])))
    return found


def available_starts() -> dict[str, FM2SParams]:
    """Return the shipped starts: name (``"<preset>_<level>"``) -> the parameters they fit."""
    return dict(_shipped())


def find_start(params: FM2SParams) -> str | None:
    """Name of the shipped start trained with exactly ``params``, or None if there is none."""
    for name, fitted in _shipped().items():
        if fitted == params:
            return name
    return None


def check_start(start: str, params: FM2SParams) -> str:
    """Return ``start`` if training can begin from it with ``params``; raise ValueError if not.

    ``start`` is ``"random"`` or the name of a shipped start.
    """
    if start == RANDOM_START:
        return start
    shipped = _shipped()
    if start not in shipped:
        names = ", ".join([RANDOM_START, *shipped]) or RANDOM_START
        raise ValueError(f"unknown start {start!r}; choose one of: {names}")
    if shipped[start] != params:
        raise ValueError(
            f"the start {start!r} was trained for {shipped[start]}, not for {params}; use "
            f"start='random' with these parameters (or the preset and noise level it fits)"
        )
    return start


def load_start(start: str, n_chan: int, device: torch.device) -> FM2SNet:
    """Return a new network holding the weights of the shipped start ``start``, on ``device``.

    The file is read once per process; every call builds a fresh network from it (per-plane
    training asks for one per plane).
    """
    import torch

    from .model import FM2SNet

    state = {name: torch.tensor(weights) for name, weights in _start_weights(start).items()}
    with torch.random.fork_rng(devices=[]):
        model = FM2SNet(n_chan)
    model.load_state_dict(state)
    return model.to(device)


@functools.cache
def _start_weights(start: str) -> dict[str, np.ndarray]:
    """Parameter name -> read-only weights of the shipped start ``start`` (read once)."""
    with np.load(STARTS_DIR / f"{start}.npz") as npz:
        weights = {key[len("w:"):]: npz[key] for key in npz.files if key.startswith("w:")}
    for array in weights.values():
        array.flags.writeable = False
    return weights


def forget_cached_starts() -> None:
    """Read the start files again next time (after a new one was written)."""
    _shipped.cache_clear()
    _start_weights.cache_clear()
