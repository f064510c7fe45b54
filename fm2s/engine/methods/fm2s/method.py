"""FM2S behind the engine's :class:`~fm2s.engine.pipeline.Method` interface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ....presets import FM2SParams
from .model import FM2SNet, predict_plane
from .schedules import RANDOM_START, Schedule
from .starts import load_start
from .train import TrainingData, train_model, training_data


@dataclass(frozen=True)
class FM2SMethod:
    """FM2S with one preset's parameters and a resolved schedule.

    Attributes
    ----------
    params : FM2SParams
        Network width and noise model.
    schedule : Schedule
        Resolved (:func:`.schedules.resolve_schedule`): concrete draws and start.
    """

    params: FM2SParams
    schedule: Schedule
    name = "fm2s"

    @property
    def crop_training(self) -> bool:
        """True when one model can train on crops from many planes (``stack_mode="shared"``)."""
        return self.schedule.crop is not None

    def training_steps(self, fraction: float = 1.0) -> int:
        """Optimizer steps of one training (``fraction`` of the schedule for warm starts)."""
        return self._schedule(fraction).total_steps

    def prepare(self, planes: np.ndarray, device: torch.device) -> TrainingData:
        """Training data (raw planes, median targets, brightness maps) on ``device``."""
        return training_data(planes, self.params, device)

    def train(
        self,
        data: TrainingData,
        model: FM2SNet | None,
        *,
        fraction: float,
        cpu_generator: torch.Generator,
        device_generator: torch.Generator,
        on_step: Callable[[int, int], None] | None,
    ) -> FM2SNet:
        """Train ``model`` further, or a fresh one (the schedule's start) when it is None."""
        if model is None and self.schedule.start != RANDOM_START:
            model = load_start(self.schedule.start, self.params.n_chan, data.raw.device)
        return train_model(data, self.params, self._schedule(fraction),
                           cpu_generator=cpu_generator, device_generator=device_generator,
                           model=model, on_step=on_step)

    def predict(self, model: FM2SNet, plane: torch.Tensor, tile: int | None) -> torch.Tensor:
        """Denoise one ``(H, W)`` plane in [0, 1]."""
        return predict_plane(model, plane, self.params.n_chan, tile=tile,
                             views=self.schedule.views)

    def network(self) -> FM2SNet:
        """An untrained network of these parameters (torch's global random state untouched)."""
        with torch.random.fork_rng(devices=[]):
            return FM2SNet(self.params.n_chan)

    def _schedule(self, fraction: float) -> Schedule:
        return self.schedule if fraction == 1.0 else self.schedule.scaled(fraction)
