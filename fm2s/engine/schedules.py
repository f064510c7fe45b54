"""Training schedules: the authors' ``reference`` schedule and the crop-based ``fast`` default.

A schedule says how the network is trained, never what it learns: both use the same network,
the same noise model and the same targets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .starts import RANDOM_START

#: The dihedral transforms (indices of :func:`fm2s.engine.infer._dihedral`) that inference
#: averages for each number of views: the plane itself; with its left-right mirror image; its
#: four rotations; all eight flips and rotations. Kept here, free of torch, so schedules (and
#: the ImageJ option parser that imports them) check view counts without loading torch.
VIEW_TRANSFORMS: dict[int, tuple[int, ...]] = {1: (0,), 2: (0, 4), 4: (0, 1, 2, 3), 8: tuple(range(8))}


def check_views(views: int, context: str = "") -> int:
    """Return ``views`` if it is a number of views inference can average over, else raise.

    ``context`` prefixes the error message (e.g. ``"schedule 'fast': "``).
    """
    if isinstance(views, bool) or views not in VIEW_TRANSFORMS:
        raise ValueError(f"{context}views must be one of {sorted(VIEW_TRANSFORMS)}, got {views!r}")
    return views


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
    views : {1, 2, 4, 8}
        Views of the plane the prediction is averaged over at inference: 1 the plane as it
        is, 2 with its left-right mirror image, 4 its rotations, 8 all flips and rotations
        (the network is not symmetric, so this is a small ensemble; each view costs one
        inference pass).
    bf16 : bool
        Run the training convolutions in bfloat16 where the hardware computes bfloat16
        natively (CPUs with AMX or AVX512-BF16, CUDA GPUs that support it); elsewhere train in
        float32. The output reaches the loss at close to float32 precision (see
        :mod:`fm2s.engine.bf16_output`); weights, optimizer and loss stay float32. Inference is
        always float32.
    start : str
        Where training starts: ``"random"`` (fresh random weights, as the authors do) or the
        name of a shipped start, a network pretrained on generated phantoms with the same
        parameters (see :mod:`fm2s.engine.starts`).
    """

    name: str
    stage1_steps: int
    noise_draws: int
    steps_per_draw: int
    lr: float = 1e-3
    lr_final: float | None = None
    crop: int | None = None
    batch: int = 1
    views: int = 1
    bf16: bool = False
    start: str = RANDOM_START

    def __post_init__(self) -> None:
        check_views(self.views, f"schedule {self.name!r}: ")
        if not isinstance(self.start, str) or not self.start:
            raise ValueError(f"schedule {self.name!r}: start must be 'random' or the name of a "
                             f"shipped start, got {self.start!r}")

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

#: The default: random crops, a fresh draw every step, cosine learning rate, the prediction
#: averaged with that of the mirror image, bfloat16 training where the hardware has it. The rate
#: ends at 1e-3, the reference's constant rate: ending lower (2e-4) cost 0.03 dB on average over
#: three seeds. Two views beat all eight by 0.02 dB over three seeds (eight blur fine filaments)
#: at a quarter of the inference time; 700 draws instead of 600 gain 0.03 dB on average and
#: 0.1 dB on the confocal images for 17 % more CPU time (BENCHMARKS.md). By name, ``fast``
#: takes the preset's number of draws from :data:`PRESET_NOISE_DRAWS` (700 where none is set).
FAST = Schedule(
    "fast", stage1_steps=20, noise_draws=700, steps_per_draw=1,
    lr=4e-3, lr_final=1e-3, crop=96, batch=8, views=2, bf16=True,
)

#: A short schedule for the demo and tests: seconds on a laptop CPU.
QUICK = Schedule(
    "quick", stage1_steps=10, noise_draws=150, steps_per_draw=1,
    lr=5e-3, lr_final=5e-4, crop=64, batch=8, views=1, bf16=True,
)

SCHEDULES: dict[str, Schedule] = {s.name: s for s in (FAST, REFERENCE, QUICK)}

#: Noise draws of a named schedule for images of a preset's microscope, where they differ from
#: the schedule's own. The draws a model needs grow with the image's signal-to-noise ratio:
#: on the FMD images (BENCHMARKS.md) the confocal ones, the least noisy, still gained 0.06 dB
#: from 700 to 900 draws (three seeds), while the two-photon and wide-field images scored the
#: same at 500, 400 and 300 draws (five seeds: -0.023, -0.022, -0.024 dB against the
#: reference) and fell off at 200 (-0.142 dB, single images -0.7 dB): 300 keeps 1.5x that.
PRESET_NOISE_DRAWS: dict[str, dict[str, int]] = {
    "fast": {"confocal": 900, "twophoton": 300, "widefield": 300},
}

#: Noise draws of a named schedule when training starts from a shipped start (a network
#: pretrained on generated phantoms with the image's parameters, :mod:`fm2s.engine.starts`)
#: instead of random weights. On the FMD images (five seeds, BENCHMARKS.md session 10) a
#: start with these draws scored -0.08 / +0.06 / +0.02 dB against the reference (confocal /
#: two-photon / wide-field), where random weights with 900 / 300 / 300 draws scored
#: -0.23 / -0.02 / -0.00.
STARTED_NOISE_DRAWS: dict[str, dict[str, int]] = {
    "fast": {"confocal": 450, "twophoton": 200, "widefield": 200},
}

#: How the planes of one channel share models (see :mod:`fm2s.engine.pipeline`).
STACK_MODES: tuple[str, ...] = ("auto", "shared", "per_plane", "warm_start")


def resolve_schedule(
    schedule: str | Schedule, preset: str | None = None, start: str | None = None
) -> Schedule:
    """Return the :class:`Schedule` named ``schedule`` for images of ``preset``'s microscope.

    A name gives the named schedule with the preset's number of noise draws where
    :data:`PRESET_NOISE_DRAWS` sets one (``preset`` is a canonical preset name). ``start`` is
    the shipped start that fits the image's parameters, if any
    (:func:`fm2s.engine.starts.find_start`): where :data:`STARTED_NOISE_DRAWS` sets draws for
    the schedule and preset, training begins from it with those draws. A :class:`Schedule`
    instance is returned as it is.
    """
    if isinstance(schedule, Schedule):
        return schedule
    key = str(schedule).strip().lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    started = STARTED_NOISE_DRAWS.get(key, {}).get(preset or "")
    if start is not None and start != RANDOM_START and started is not None:
        return dataclasses.replace(SCHEDULES[key], noise_draws=started, start=start)
    draws = PRESET_NOISE_DRAWS.get(key, {}).get(preset or "")
    if draws is None:
        return SCHEDULES[key]
    return dataclasses.replace(SCHEDULES[key], noise_draws=draws)
