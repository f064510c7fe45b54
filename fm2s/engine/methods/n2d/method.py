"""Noise2Detail and Zero-Shot Noise2Noise behind the engine's
:class:`~fm2s.engine.pipeline.Method` interface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ...infer import predict_plane
from .model import (
    NET_RADIUS,
    PIPELINE_RADIUS,
    N2DModel,
    N2DNet,
    build_net,
    n2d_output,
    residual_denoise,
)
from .schedules import FAST, ZSN2N_FAST, N2DSchedule
from .train import N2DData, aligned_tile, structure_planes, train_stage

#: Channels of the networks: Noise2Detail denoises one grey-level plane at a time.
N_CHAN = 1


def _counter(total: int, on_step: Callable[[int, int], None] | None) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(done, total)

    return step


class _PairLossMethod:
    """What Noise2Detail and ZS-N2N share: a :class:`N2DSchedule`, training data, crops."""

    schedule: N2DSchedule

    @property
    def crop_training(self) -> bool:
        """True when one model can train on crops from many planes (``stack_mode="shared"``)."""
        return self.schedule.crop is not None

    def prepare(self, planes: np.ndarray, device: torch.device) -> N2DData:
        """``(N, H, W)`` float32 planes in [0, 1] as training data on ``device``."""
        return N2DData.from_planes(planes, device)

    def _schedule(self, fraction: float) -> N2DSchedule:
        return self.schedule if fraction == 1.0 else self.schedule.scaled(fraction)


def smallest_plane() -> int:
    """The smallest plane side Noise2Detail accepts: each plane is padded by the pipeline's
    receptive radius (12 pixels, by reflection), which must be less than its side."""
    return PIPELINE_RADIUS + 1


def smallest_tile() -> int:
    """The smallest ``tile`` Noise2Detail accepts: its tiles, rounded down to a multiple of 4
    pixels, must be larger than twice the pipeline's receptive radius (12 pixels)."""
    return (2 * PIPELINE_RADIUS) // 4 * 4 + 4


@dataclass(frozen=True)
class N2DMethod(_PairLossMethod):
    """Noise2Detail (three stages; the model holds the two networks ``f`` and ``g``).

    Attributes
    ----------
    schedule : N2DSchedule
        How the networks are trained (:mod:`.schedules`: ``fast``, the default, ``reference``,
        ``quick``).
    """

    schedule: N2DSchedule = FAST
    name = "n2d"

    def training_steps(self, fraction: float = 1.0) -> int:
        """Optimizer steps of one training (``fraction`` of the schedule for warm starts)."""
        return self._schedule(fraction).total_steps

    def train(
        self,
        data: N2DData,
        model: N2DModel | None,
        *,
        fraction: float,
        cpu_generator: torch.Generator,
        device_generator: torch.Generator,
        on_step: Callable[[int, int], None] | None,
    ) -> N2DModel:
        """Train ``model``'s networks further, or fresh ones when it is None.

        Stage 1 trains ``f`` on the planes, stage 2 computes ``y_hat`` of every plane with it,
        stage 3 trains ``g``. Fresh weights and crop positions come from ``cpu_generator``
        (``device_generator`` is unused: nothing random is drawn on the device).
        """
        schedule = self._schedule(fraction)
        step = _counter(schedule.total_steps, on_step)
        x = data.planes
        device = x.device
        f = model.f if model is not None else build_net(N_CHAN, cpu_generator, device)
        f = train_stage(f, x, x, schedule, schedule.stage1_steps, residual=True,
                        generator=cpu_generator, on_step=step)
        g = model.g if model is not None else build_net(N_CHAN, cpu_generator, device)
        with torch.inference_mode():
            y_hat = structure_planes(f, x)
        g = train_stage(g, y_hat.clone(), x, schedule, schedule.stage3_steps, residual=False,
                        generator=cpu_generator, on_step=step)
        return N2DModel(f, g)

    def predict(self, model: N2DModel, plane: torch.Tensor, tile: int | None) -> torch.Tensor:
        """Denoise one ``(H, W)`` plane in [0, 1]: ``clamp(g(y_hat), 0, 1)``.

        Tiles (rounded down to a multiple of 4 pixels) overlap by the pipeline's receptive
        radius, 12 pixels, so tiled and untiled inference give the same pixels.
        """
        def forward(x: torch.Tensor) -> torch.Tensor:
            return n2d_output(model, x[None, None])[0, 0]

        return predict_plane(forward, plane, radius=PIPELINE_RADIUS, tile=aligned_tile(tile),
                             views=self.schedule.views)

    def network(self) -> N2DModel:
        """An untrained pair of networks (torch's global random state untouched)."""
        with torch.random.fork_rng(devices=[]):
            return N2DModel(N2DNet(N_CHAN), N2DNet(N_CHAN))


@dataclass(frozen=True)
class ZSN2NMethod(_PairLossMethod):
    """Zero-Shot Noise2Noise (Mansour and Heckel, CVPR 2023): stage 1 of Noise2Detail alone.

    The model is the one network ``f``; the output is ``clamp(x - f(x), 0, 1)``. Only the
    schedule's stage-1 fields are used (``stage3_steps`` is ignored), so the same seed and
    schedule give the ``f`` that :class:`N2DMethod` trains first.

    Attributes
    ----------
    schedule : N2DSchedule
        How ``f`` is trained (default :data:`.schedules.ZSN2N_FAST`).
    """

    schedule: N2DSchedule = ZSN2N_FAST
    name = "zsn2n"

    def training_steps(self, fraction: float = 1.0) -> int:
        """Optimizer steps of one training (``fraction`` of the schedule for warm starts)."""
        return self._schedule(fraction).stage1_steps

    def train(
        self,
        data: N2DData,
        model: N2DNet | None,
        *,
        fraction: float,
        cpu_generator: torch.Generator,
        device_generator: torch.Generator,
        on_step: Callable[[int, int], None] | None,
    ) -> N2DNet:
        """Train ``model`` further, or a fresh network (weights from ``cpu_generator``)."""
        schedule = self._schedule(fraction)
        x = data.planes
        f = model if model is not None else build_net(N_CHAN, cpu_generator, x.device)
        return train_stage(f, x, x, schedule, schedule.stage1_steps, residual=True,
                           generator=cpu_generator,
                           on_step=_counter(schedule.stage1_steps, on_step))

    def predict(self, model: N2DNet, plane: torch.Tensor, tile: int | None) -> torch.Tensor:
        """Denoise one ``(H, W)`` plane in [0, 1]: ``clamp(x - f(x), 0, 1)``."""
        def forward(x: torch.Tensor) -> torch.Tensor:
            return residual_denoise(model, x[None, None])[0, 0]

        return predict_plane(forward, plane, radius=NET_RADIUS, tile=tile,
                             views=self.schedule.views)

    def network(self) -> N2DNet:
        """An untrained network (torch's global random state untouched)."""
        with torch.random.fork_rng(devices=[]):
            return N2DNet(N_CHAN)
