"""Training one FM2S model on one or more planes (stage 1 + stage 2 of the algorithm)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ....presets import FM2SParams
from ...adam import Adam
from ...prefetch import prefetch
from ...runtime import cpu_threads, native_bf16, reuse_freed_memory
from .bf16_output import conv_from_reference
from .model import RECEPTIVE_RADIUS, FM2SNet, build_model, pad_plane
from .noise import synthesize_noisy, window_mean_map
from .schedules import Schedule

StepCallback = Callable[[int, int], None]


@dataclass
class TrainingData:
    """Planes prepared for training, kept on the training device.

    Attributes
    ----------
    raw : torch.Tensor
        ``(N, 1, H, W)`` noisy planes in [0, 1].
    target : torch.Tensor
        ``(N, 1, H, W)`` median-filtered planes (the training target ``u``).
    mean_map : torch.Tensor
        ``(N, 1, H, W)`` window brightness of ``target`` (see :func:`window_mean_map`).

    All three are reflect-padded by ``RECEPTIVE_RADIUS`` on every side.
    """

    raw: torch.Tensor
    target: torch.Tensor
    mean_map: torch.Tensor

    @classmethod
    def from_planes(
        cls, raw: torch.Tensor, target: torch.Tensor, stride: int
    ) -> TrainingData:
        """Build from ``(N, H, W)`` raw and target planes on the training device.

        The planes are stored reflect-padded by the receptive radius (see
        :func:`fm2s.engine.model.pad_plane`), as inference sees them, so border pixels are
        trained with the same kind of neighbourhood as interior ones.
        """
        raw4, target4 = raw[:, None], target[:, None]
        mean_map = window_mean_map(target4, stride)
        return cls(pad_plane(raw4), pad_plane(target4), pad_plane(mean_map))


def median_target(plane: np.ndarray, window: int) -> np.ndarray:
    """The training target ``u``: a ``window x window`` median filter (edges replicated)."""
    return ndimage.median_filter(plane, size=window, mode="nearest")


def training_data(planes: np.ndarray, params: FM2SParams, device: torch.device) -> TrainingData:
    """Return ``(N, H, W)`` planes in [0, 1] and their median targets as training data on ``device``."""
    target = np.stack([median_target(p, params.median_window) for p in planes])
    return TrainingData.from_planes(to_device(planes, device), to_device(target, device),
                                    params.stride)


def to_device(arr: np.ndarray, device: torch.device) -> torch.Tensor:
    """``arr`` as a float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(device)


def train_model(
    data: TrainingData,
    params: FM2SParams,
    schedule: Schedule,
    *,
    cpu_generator: torch.Generator,
    device_generator: torch.Generator,
    model: FM2SNet | None = None,
    on_step: StepCallback | None = None,
) -> FM2SNet:
    """Train (or continue training) an FM2S network on ``data``.

    Parameters
    ----------
    data : TrainingData
        Planes on the training device. With ``schedule.crop`` set, each step trains on
        ``schedule.batch`` random crops drawn from all planes; otherwise on whole planes
        (one plane per step, cycling).
    params : FM2SParams
        Network width (``n_chan``) and noise factors.
    schedule : Schedule
        Steps, learning rate and crop policy.
    cpu_generator, device_generator : torch.Generator
        Drive initialisation/crop positions and noise draws respectively.
    model : FM2SNet, optional
        Start from this model (warm start) instead of a fresh one. Trained in place.
    on_step : callable, optional
        Called as ``on_step(done, total)`` after every optimizer step.

    Returns
    -------
    FM2SNet
        The trained network, in eval mode.
    """
    device = data.raw.device
    if model is None:
        model = build_model(params.n_chan, cpu_generator, device)
    # NHWC is 1.5-2x faster for these small convolutions on batches of crops (oneDNN, CPU).
    model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = Adam(model.parameters(), lr=schedule.lr, betas=(0.9, 0.999))
    sampler = _BatchSampler(data, schedule, params.n_chan, cpu_generator)
    total, done = schedule.total_steps, 0

    m = RECEPTIVE_RADIUS
    use_bf16 = trains_in_bf16(schedule, device)

    def step(inputs: torch.Tensor, target: torch.Tensor) -> None:
        nonlocal done
        optimizer.zero_grad()
        # Batches carry a RECEPTIVE_RADIUS rim of context (image or its reflection) that is
        # not scored: every scored pixel sees the same kind of neighbourhood as at inference.
        # Unpadded ("valid") convolutions compute the scored pixels only.
        scored = target[..., m:-m, m:-m]
        if use_bf16:
            # bfloat16 convolutions; the output layer computes its difference from the target
            # in bfloat16 and adds the target back in float32, so the loss sees the output at
            # close to float32 precision (a plain bfloat16 output layer rounds it by several
            # grey levels of a 12-bit image; a float32 one cost 40 % of the step).
            with torch.autocast(device.type, dtype=torch.bfloat16):
                hidden = model.hidden(inputs, valid=True)
            output = conv_from_reference(model.conv3, hidden, scored, valid=True)
        else:
            output = model(inputs, valid=True)
        F.mse_loss(output, scored).backward()
        optimizer.step()
        done += 1
        if on_step is not None:
            on_step(done, total)

    batches = _batches(sampler, schedule, params, device_generator)
    cpu_setup = contextlib.ExitStack()
    if device.type == "cpu":
        cpu_setup.enter_context(reuse_freed_memory())  # tuned in processes fm2s owns
        # One core draws the next batches' noise (the Poisson samplers run on one core)
        # while the others train on the current batch. Closed on the way out, so the thread
        # stops even when a step raises (a traceback would otherwise keep it alive).
        batches = cpu_setup.enter_context(contextlib.closing(prefetch(batches, depth=4)))
        cpu_setup.enter_context(cpu_threads(max(1, torch.get_num_threads() - 1)))
    with cpu_setup:
        for lr, inputs, target in batches:
            if lr is not None:
                optimizer.lr = lr
            step(inputs, target)
    model.eval()
    return model


def trains_in_bf16(schedule: Schedule, device: torch.device) -> bool:
    """True when ``schedule`` asks for bfloat16 training and ``device`` computes it natively."""
    return schedule.bf16 and native_bf16(device)


def _batches(
    sampler: _BatchSampler,
    schedule: Schedule,
    params: FM2SParams,
    generator: torch.Generator,
) -> Iterator[tuple[float | None, torch.Tensor, torch.Tensor]]:
    """Yield ``(learning rate or None, inputs, target)`` for every step of the schedule.

    Stage 1 maps the raw image to the target; stage 2 maps fresh synthetic noisy images
    (one draw per ``steps_per_draw`` steps) to it, with the cosine learning rate if set.
    """
    nhwc = torch.channels_last
    for _ in range(schedule.stage1_steps):
        raw, target, _ = sampler.draw()
        yield None, raw.contiguous(memory_format=nhwc), target
    for draw in range(schedule.draws):
        lr = None
        if schedule.lr_final is not None:
            lr = _cosine(schedule.lr, schedule.lr_final, draw, schedule.draws)
        _, target, mean_map = sampler.draw()
        with torch.no_grad():
            noisy = synthesize_noisy(target, mean_map, params, generator)
            noisy = noisy.contiguous(memory_format=nhwc)
        for _ in range(schedule.steps_per_draw):
            yield lr, noisy, target


class _BatchSampler:
    """Draws training batches: whole planes (cycling) or random crops across planes."""

    def __init__(
        self, data: TrainingData, schedule: Schedule, n_chan: int, generator: torch.Generator
    ) -> None:
        self.data, self.n_chan, self.generator = data, n_chan, generator
        n, _, h, w = data.raw.shape  # padded sizes
        self.n_planes, self.h, self.w = n, h, w
        crop = schedule.crop
        self.crop = None if crop is None or (crop >= h and crop >= w) else crop
        if self.crop is not None and self.crop <= 2 * RECEPTIVE_RADIUS:
            raise ValueError(
                f"schedule {schedule.name!r}: crop must be larger than {2 * RECEPTIVE_RADIUS} "
                f"pixels (the loss ignores a {RECEPTIVE_RADIUS}-pixel rim), got {crop}"
            )
        # the planes' own size, without the padding for the receptive field
        rim = 2 * RECEPTIVE_RADIUS
        self.batch = schedule.batch_for(n * max(1, h - rim) * max(1, w - rim))
        self.next_plane = 0

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return amplified (raw, target) and the matching mean map, each ``(B, C, h, w)``."""
        d = self.data
        if self.crop is None:
            i = self.next_plane
            self.next_plane = (i + 1) % self.n_planes
            sl = slice(i, i + 1)
            raw, target, mean_map = d.raw[sl], d.target[sl], d.mean_map[sl]
        else:
            ch, cw = min(self.crop, self.h), min(self.crop, self.w)
            g = self.generator
            planes = torch.randint(0, self.n_planes, (self.batch,), generator=g).tolist()
            tops = torch.randint(0, self.h - ch + 1, (self.batch,), generator=g).tolist()
            lefts = torch.randint(0, self.w - cw + 1, (self.batch,), generator=g).tolist()
            pick = [(p, slice(t, t + ch), slice(le, le + cw)) for p, t, le in zip(planes, tops, lefts)]
            raw = torch.stack([d.raw[p, :, r, c] for p, r, c in pick])
            target = torch.stack([d.target[p, :, r, c] for p, r, c in pick])
            mean_map = torch.stack([d.mean_map[p, :, r, c] for p, r, c in pick])
        expand = (-1, self.n_chan, -1, -1)
        return raw.expand(expand).contiguous(), target.expand(expand).contiguous(), mean_map


def _cosine(start: float, end: float, i: int, n: int) -> float:
    t = i / max(1, n - 1)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * t))

