"""Making starts: FM2S networks pretrained on generated phantoms (offline; ``tools/make_starts.py``).

Denoising never calls this. See :mod:`fm2s.engine.methods.fm2s.starts` for what starts are and
how they are found and loaded.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .engine.methods.fm2s.model import FM2SNet
from .engine.methods.fm2s.schedules import FAST, RANDOM_START
from .engine.methods.fm2s.starts import forget_cached_starts
from .engine.methods.fm2s.train import train_model, training_data
from .io.files import atomic_write
from .phantom import noisy_phantom
from .presets import FM2SParams, averaged_captures, resolve_params

#: Photons per grey level and read noise of an ``avg1`` start's phantoms
#: (:func:`fm2s.phantom.noisy_phantom`'s defaults).
_PHANTOM_NOISE = (0.1, 6.0)


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
    The phantoms are as noisy as the level says: an ``avgN`` start's phantoms collect N times
    the photons of an ``avg1`` start's and have 1/sqrt(N) of its read noise.

    Returns
    -------
    (FM2SNet, FM2SParams, dict)
        The trained network (CPU), the parameters it fits and the recipe (for the file).
    """
    params = resolve_params(preset, noise_level)
    captures = averaged_captures(noise_level)
    photons, read = _PHANTOM_NOISE
    planes = np.stack([
        noisy_phantom((size, size), seed=seed + i, photons_per_unit=photons * captures,
                      read_sigma=read / np.sqrt(captures))[1].astype(np.float32) / 255.0
        for i in range(phantoms)
    ])
    data = training_data(planes, params, torch.device("cpu"))
    schedule = dataclasses.replace(FAST, name="start", noise_draws=noise_draws,
                                   start=RANDOM_START)
    generator = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator().manual_seed(seed + 1)
    model = train_model(data, params, schedule, cpu_generator=generator,
                        device_generator=noise_generator)
    recipe = {"phantoms": phantoms, "size": size, "photons_per_unit": photons * captures,
              "read_sigma": read / float(np.sqrt(captures)), "noise_draws": noise_draws, "seed": seed,
              "preset": preset, "noise_level": noise_level, "schedule": dataclasses.asdict(schedule)}
    return model, params, recipe


def save_start(path: Path, model: FM2SNet, params: FM2SParams, recipe: dict[str, Any]) -> None:
    """Write ``model``'s weights, the ``params`` it was trained with and its ``recipe`` to ``path``.

    Refuses to overwrite an existing file (remove it first to remake a start).
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; remove it first to make this start again")
    arrays = {f"w:{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, params=json.dumps(params.as_dict()), recipe=json.dumps(recipe), **arrays)

    atomic_write(path, write)
    forget_cached_starts()
