"""Training schedules: the authors' ``reference`` schedule and the crop-based ``fast`` default.

A schedule says how the network is trained, never what it learns: both use the same network,
the same noise model and the same targets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """How one FM2S model is trained.

    Attributes
    ----------
    name : str
        Label recorded in the output metadata.
    stage1_steps : int
        Adam steps mapping the raw image to the median target (structure prior).
    noise_draws : int
        Synthetic noisy images drawn in stage 2.
    steps_per_draw : int
        Adam steps taken on each draw.
    lr : float
        Adam learning rate (start value when ``lr_final`` is set).
    lr_final : float or None
        When set, the learning rate follows a cosine from ``lr`` to ``lr_final`` over stage 2.
    crop : int or None
        Side of the random square crops each step trains on; None trains on whole planes.
    batch : int
        Crops per step (ignored for whole-plane training).
    flips : bool
        Average the prediction over the 8 flips/rotations of the plane at inference (the
        network is not symmetric, so this is a cheap ensemble).
    bf16 : bool
        Run the training convolutions in bfloat16 where the hardware computes bfloat16
        natively (CPUs with AMX or AVX512-BF16, CUDA GPUs that support it); elsewhere train in
        float32. The output reaches the loss at close to float32 precision (see
        :mod:`fm2s.engine.bf16_output`); weights, optimizer and loss stay float32. Inference is
        always float32.
    """

    name: str
    stage1_steps: int
    noise_draws: int
    steps_per_draw: int
    lr: float = 1e-3
    lr_final: float | None = None
    crop: int | None = None
    batch: int = 1
    flips: bool = False
    bf16: bool = False

    @property
    def total_steps(self) -> int:
        """Optimizer steps in all (stage 1 + stage 2)."""
        return self.stage1_steps + self.noise_draws * self.steps_per_draw

    def scaled(self, fraction: float, name: str | None = None) -> Schedule:
        """Return a copy with ``fraction`` of the steps (for warm-started planes)."""
        return dataclasses.replace(
            self,
            name=name or f"{self.name}*{fraction:g}",
            stage1_steps=max(0, round(self.stage1_steps * fraction)),
            noise_draws=max(1, round(self.noise_draws * fraction)),
        )


#: The authors' schedule: 5 raw->target steps, then 450 draws x 5 steps, whole image, Adam 1e-3.
REFERENCE = Schedule("reference", stage1_steps=5, noise_draws=450, steps_per_draw=5, lr=1e-3)

#: The default: random crops, a fresh draw every step, cosine learning rate, flip ensemble,
#: bfloat16 training where the hardware has it. The rate ends at 1e-3, the reference's constant
#: rate: ending lower (2e-4) cost 0.03 dB on average over three seeds (BENCHMARKS.md).
FAST = Schedule(
    "fast", stage1_steps=20, noise_draws=600, steps_per_draw=1,
    lr=4e-3, lr_final=1e-3, crop=96, batch=8, flips=True, bf16=True,
)

#: A short schedule for the demo and tests: seconds on a laptop CPU.
QUICK = Schedule(
    "quick", stage1_steps=10, noise_draws=150, steps_per_draw=1,
    lr=5e-3, lr_final=5e-4, crop=64, batch=8, flips=False, bf16=True,
)

SCHEDULES: dict[str, Schedule] = {s.name: s for s in (FAST, REFERENCE, QUICK)}

#: How the planes of one channel share models (see :mod:`fm2s.engine.pipeline`).
STACK_MODES: tuple[str, ...] = ("auto", "shared", "per_plane", "warm_start")


def resolve_schedule(schedule: str | Schedule) -> Schedule:
    """Return the :class:`Schedule` named ``schedule`` (or ``schedule`` itself)."""
    if isinstance(schedule, Schedule):
        return schedule
    key = str(schedule).strip().lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    return SCHEDULES[key]
