"""Denoise a stack of 2-D planes that share one noise model: the engine's single entry point.

Stack modes (see :data:`STACK_MODES`):

``shared``
    One network is trained on random crops from (up to ``MAX_SHARED_PLANES`` evenly spaced)
    planes of the stack, then applied to every plane. Fastest; right for time-lapses and
    z-stacks of one channel, whose noise is the same from plane to plane.
``per_plane``
    A fresh network for every plane, as the authors' code does for one image.
``warm_start``
    The first plane gets the full schedule; every next plane starts from the previous plane's
    network and trains for ``WARM_FRACTION`` of the steps.

A "fresh" network is the schedule's start: random weights, or a copy of the shipped network
pretrained on phantoms that ``Schedule.start`` names (:mod:`fm2s.engine.starts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..presets import FM2SParams
from .bias import restore_local_mean
from .infer import predict_plane
from .schedules import STACK_MODES, Schedule
from .starts import RANDOM_START, load_start
from .train import TrainingData, train_model

MAX_SHARED_PLANES = 32
WARM_FRACTION = 0.25


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report.

    Attributes
    ----------
    phase : str
        ``"train"`` (an optimizer step) or ``"denoise"`` (a plane finished).
    step, n_steps : int
        Optimizer step within the current model's training.
    plane, n_planes : int
        Planes finished so far in the current stack, and planes in it.
    fraction : float
        Overall progress of this stack in [0, 1].
    """

    phase: str
    step: int
    n_steps: int
    plane: int
    n_planes: int
    fraction: float


ProgressCallback = Callable[[ProgressEvent], None]


def resolve_stack_mode(stack_mode: str, schedule: Schedule, n_planes: int) -> str:
    """Validate ``stack_mode`` and turn ``"auto"`` into a concrete mode.

    ``auto`` is ``shared`` for crop-based schedules and ``per_plane`` for whole-plane ones
    (the reference schedule trains one model per image, as the authors do).
    """
    mode = str(stack_mode).strip().lower().replace("-", "_")
    if mode not in STACK_MODES:
        raise ValueError(f"unknown stack_mode {stack_mode!r}; choose one of: {', '.join(STACK_MODES)}")
    if mode == "auto":
        return "shared" if schedule.crop is not None else "per_plane"
    if mode == "shared" and schedule.crop is None and n_planes > 1:
        raise ValueError(
            f"schedule {schedule.name!r} trains on whole planes, one model per plane; "
            "use stack_mode='per_plane' or 'warm_start' with it, or a crop-based schedule "
            "such as 'fast' for stack_mode='shared'"
        )
    return mode


def median_target(plane: np.ndarray, window: int) -> np.ndarray:
    """The training target ``u``: a ``window x window`` median filter (edges replicated)."""
    return ndimage.median_filter(plane, size=window, mode="nearest")


def training_data(planes: np.ndarray, params: FM2SParams, device: torch.device) -> TrainingData:
    """Return ``(N, H, W)`` planes in [0, 1] and their median targets as training data on ``device``."""
    target = np.stack([median_target(p, params.median_window) for p in planes])
    return TrainingData.from_planes(_to_device(planes, device), _to_device(target, device),
                                    params.stride)


def _to_device(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(device)


def denoise_stack(
    planes: np.ndarray,
    params: FM2SParams,
    schedule: Schedule,
    *,
    stack_mode: str,
    device: torch.device,
    cpu_generator: torch.Generator,
    device_generator: torch.Generator,
    tile: int | None,
    bias_sigma: float | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Denoise ``(N, H, W)`` float32 planes in [0, 1]; returns float32 planes in [0, 1].

    ``stack_mode`` must already be resolved (see :func:`resolve_stack_mode`). With
    ``bias_sigma`` the output's local mean is put back on the input's
    (:func:`fm2s.engine.bias.restore_local_mean`).
    """
    n = planes.shape[0]
    train_units = schedule.total_steps * (1 if stack_mode == "shared" else n)
    if stack_mode == "warm_start" and n > 1:
        train_units = schedule.total_steps + (n - 1) * schedule.scaled(WARM_FRACTION).total_steps
    plane_units = max(1, train_units // (10 * n))  # a plane's inference, in training-step units
    total = train_units + n * plane_units
    state = {"units": 0, "planes": 0}

    def report(phase: str, step: int, n_steps: int) -> None:
        if progress is not None:
            progress(ProgressEvent(phase, step, n_steps, state["planes"], n,
                                   min(1.0, state["units"] / total)))

    def on_step(done: int, n_steps: int) -> None:
        state["units"] += 1
        report("train", done, n_steps)

    def prepare(indices: list[int]) -> TrainingData:
        return training_data(planes[indices], params, device)

    def infer(model: torch.nn.Module, i: int) -> np.ndarray:
        noisy = _to_device(planes[i], device)
        result = predict_plane(model, noisy, params.n_chan, tile=tile, views=schedule.views)
        if bias_sigma:
            result = restore_local_mean(noisy, result, bias_sigma)
        result = result.cpu().numpy()
        state["units"] += plane_units
        state["planes"] += 1
        report("denoise", 0, 0)
        return result

    def starting_model() -> torch.nn.Module | None:
        """The shipped start the schedule names (a fresh copy), or None for random weights."""
        if schedule.start == RANDOM_START:
            return None
        return load_start(schedule.start, params.n_chan, device)

    out = np.empty(planes.shape, dtype=np.float32)
    if stack_mode == "shared":
        chosen = np.unique(np.linspace(0, n - 1, min(n, MAX_SHARED_PLANES)).round().astype(int))
        model = train_model(prepare(chosen.tolist()), params, schedule, cpu_generator=cpu_generator,
                            device_generator=device_generator, model=starting_model(),
                            on_step=on_step)
        for i in range(n):
            out[i] = infer(model, i)
        return out

    model = None
    for i in range(n):
        plane_schedule = schedule
        if stack_mode == "warm_start" and model is not None:
            plane_schedule = schedule.scaled(WARM_FRACTION)
        else:
            model = starting_model()
        model = train_model(prepare([i]), params, plane_schedule, cpu_generator=cpu_generator,
                            device_generator=device_generator, model=model, on_step=on_step)
        out[i] = infer(model, i)
    return out
