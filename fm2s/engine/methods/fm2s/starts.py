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
made by ``tools/make_starts.py`` (:mod:`fm2s.make_starts`), one per published noise level of
each preset. Training picks the start trained with exactly the image's parameters, or, for
settings between the published columns (``noise_level="avg3"``, ``"auto"``) and nearby
overridden factors, the start of the same preset and network whose noise factors are nearest
(each within :data:`NEAR` times). Where none is that near, or the network differs (another
``n_chan``, ``stride`` or ``median_window``), training starts from random weights.

The look-up functions use numpy only (no torch), so schedules can be resolved cheaply.
"""

from __future__ import annotations

import functools
import json
import math
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


#: A start serves parameters whose noise factors are each within this factor of its own.
NEAR = 2.5


def _same_network(a: FM2SParams, b: FM2SParams) -> bool:
    return (a.n_chan, a.stride, a.median_window) == (b.n_chan, b.stride, b.median_window)


def _distance(a: FM2SParams, b: FM2SParams) -> float:
    """Largest ratio between the noise factors of ``a`` and ``b``, as a log."""
    return max(abs(math.log(max(x, 1e-3) / max(y, 1e-3)))
               for x, y in ((a.k_g, b.k_g), (a.k_p, b.k_p), (a.lam_p, b.lam_p)))


def find_start(params: FM2SParams, preset: str | None = None) -> str | None:
    """Name of the shipped start for ``params``, or None if there is none.

    The start trained with exactly ``params``; else, when ``preset`` is given, that preset's
    start with the same network whose noise factors are nearest to ``params``' (each within
    :data:`NEAR` times).
    """
    shipped = _shipped()
    for name, fitted in shipped.items():
        if fitted == params:
            return name
    if preset is None:
        return None
    near = [(_distance(fitted, params), name) for name, fitted in shipped.items()
            if name.rsplit("_", 1)[0] == preset and _same_network(fitted, params)]
    near = [(d, name) for d, name in near if d <= math.log(NEAR)]
    return min(near)[1] if near else None


def check_start(start: str, params: FM2SParams) -> str:
    """Return ``start`` if training can begin from it with ``params``; raise ValueError if not.

    ``start`` is ``"random"`` or the name of a shipped start with the same network (``n_chan``,
    ``stride``, ``median_window``) as ``params``; its noise factors may differ.
    """
    if start == RANDOM_START:
        return start
    shipped = _shipped()
    if start not in shipped:
        names = ", ".join([RANDOM_START, *shipped]) or RANDOM_START
        raise ValueError(f"unknown start {start!r}; choose one of: {names}")
    if not _same_network(shipped[start], params):
        fitted = shipped[start]
        raise ValueError(
            f"the start {start!r} is a network for n_chan={fitted.n_chan}, stride="
            f"{fitted.stride}, median_window={fitted.median_window}, not for n_chan="
            f"{params.n_chan}, stride={params.stride}, median_window={params.median_window}; "
            "use start='random' with these parameters (or a start of their preset)"
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
