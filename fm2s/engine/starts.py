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
made by ``tools/make_starts.py`` (:func:`train_start`). A start is only used for exactly the
parameters it was trained with: with any other parameters (another noise level, an
overridden factor) training starts from random weights.

The look-up functions use numpy only (no torch), so schedules can be resolved cheaply.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..presets import FM2SParams

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import FM2SNet

#: Folder of the shipped starts.
STARTS_DIR = Path(__file__).resolve().parent / "start_weights"

#: The value of ``Schedule.start`` for training from random weights.
RANDOM_START = "random"


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


def save_start(path: Path, model: FM2SNet, params: FM2SParams, recipe: dict[str, Any]) -> None:
    """Write ``model``'s weights, the ``params`` it was trained with and its ``recipe`` to ``path``.

    Refuses to overwrite an existing file (remove it first to remake a start).
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; remove it first to make this start again")
    arrays = {f"w:{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    np.savez(path, params=json.dumps(params.as_dict()), recipe=json.dumps(recipe), **arrays)
    _shipped.cache_clear()


def train_start(
    preset: str,
    noise_level: str = "avg1",
    *,
    phantoms: int = 8,
    size: int = 512,
    noise_draws: int = 3600,
    seed: int = 0,
) -> tuple[FM2SNet, FM2SParams, dict[str, Any]]:
    """Train a start for ``preset`` at ``noise_level`` on generated phantoms.

    The network is trained as ``fast`` trains one on an image (random crops, the preset's
    noise model, median targets), from random weights, on ``phantoms`` noisy 8-bit phantoms of
    ``size`` x ``size`` pixels (:func:`fm2s.phantom.noisy_phantom`) for ``noise_draws`` draws.

    Returns
    -------
    (FM2SNet, FM2SParams, dict)
        The trained network (CPU), the parameters it fits and the recipe (for the file).
    """
    import dataclasses

    import torch

    from ..phantom import noisy_phantom
    from ..presets import resolve_params
    from .pipeline import training_data
    from .schedules import FAST
    from .train import train_model

    params = resolve_params(preset, noise_level)
    planes = np.stack([
        noisy_phantom((size, size), seed=seed + i)[1].astype(np.float32) / 255.0
        for i in range(phantoms)
    ])
    data = training_data(planes, params, torch.device("cpu"))
    schedule = dataclasses.replace(FAST, name="start", noise_draws=noise_draws,
                                   start=RANDOM_START)
    generator = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator().manual_seed(seed + 1)
    model = train_model(data, params, schedule, cpu_generator=generator,
                        device_generator=noise_generator)
    recipe = {"phantoms": phantoms, "size": size, "noise_draws": noise_draws, "seed": seed,
              "preset": preset, "noise_level": noise_level, "schedule": dataclasses.asdict(schedule)}
    return model, params, recipe
