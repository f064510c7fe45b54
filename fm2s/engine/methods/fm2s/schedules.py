"""FM2S training schedules: the authors' ``reference`` schedule and the crop-based ``fast`` default.

A schedule says how the network is trained, never what it learns: both use the same network,
the same noise model and the same targets. Torch-free, so options are checked cheaply.

Two fields may be left to the image: ``noise_draws=None`` takes the number of noise draws
that the preset's microscope needs (:data:`NOISE_DRAWS`), and ``start="auto"`` starts from
the shipped network pretrained for the image's parameters where the schedule has draws for one
(:data:`STARTED_NOISE_DRAWS`, :mod:`.starts`), else from random weights.
:func:`resolve_schedule` fills them in, the same way for a name and for a :class:`Schedule`
object, so ``schedule="fast"`` and ``schedule=FAST`` train identically, and
``dataclasses.replace(FAST, start="random")`` trains from random weights for as long as
random weights need.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...views import check_views

#: Training planes of this many pixels (one 512 x 512 plane, the FMD images' size) or more
#: train on a schedule's whole ``batch`` of crops per step; fewer pixels on fewer crops. On
#: 256 x 256 and 128 x 128 crops of the FMD images, 2 crops per step scored within 0.04 dB of
#: 8 on average at a quarter of the CPU time (BENCHMARKS.md, "Small images").
FULL_BATCH_PIXELS = 512 * 512
#: Fewest crops per step.
MIN_BATCH = 2

#: ``Schedule.start`` for training from random weights.
RANDOM_START = "random"
#: ``Schedule.start`` for "the shipped start that fits the image's parameters, if any".
AUTO_START = "auto"


@dataclass(frozen=True)
class Schedule:
    """How one FM2S model is trained.

    Attributes
    ----------
    name : str
        Label recorded in the output metadata.
    stage1_steps : int
        Adam steps mapping the raw image to the median target (structure prior).
    noise_draws : int or None
        Synthetic noisy images drawn in stage 2; None: as many as the image's microscope
        needs (:data:`NOISE_DRAWS` for this schedule's name).
    steps_per_draw : int
        Adam steps taken on each draw.
    lr : float
        Adam learning rate (start value when ``lr_final`` is set).
    lr_final : float or None
        When set, the learning rate follows a cosine from ``lr`` to ``lr_final`` over stage 2.
    crop : int or None
        Side of the random square crops each step trains on; None trains on whole planes.
    batch : int
        Crops per step for :data:`FULL_BATCH_PIXELS` (one 512 x 512 plane) or more of training
        planes; smaller images train on proportionally fewer, down to :data:`MIN_BATCH`
        (:meth:`batch_for`). Ignored for whole-plane training.
    views : {1, 2, 4, 8}
        Views of the plane the prediction is averaged over at inference
        (:mod:`fm2s.engine.views`; each view costs one inference pass).
    bf16 : bool
        Run the training convolutions in bfloat16 where the hardware computes bfloat16
        natively (CPUs with AMX or AVX512-BF16, CUDA GPUs that support it); elsewhere train in
        float32. The output reaches the loss at close to float32 precision (see
        :mod:`.bf16_output`); weights, optimizer and loss stay float32. Inference is always
        float32.
    start : str
        Where training starts: ``"random"`` (fresh random weights, as the authors do),
        ``"auto"`` (the shipped start that fits the image's parameters where this schedule
        has draws for one, else random weights) or the name of a shipped start.
    """

    name: str
    stage1_steps: int
    noise_draws: int | None
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
            raise ValueError(f"schedule {self.name!r}: start must be 'random', 'auto' or the "
                             f"name of a shipped start, got {self.start!r}")

    def batch_for(self, pixels: int) -> int:
        """Crops per step for training planes of ``pixels`` pixels in all: the cost of a step
        follows the amount of image there is (a 256 x 256 plane trains on a quarter of the
        crops of a 512 x 512 one), down to :data:`MIN_BATCH`, never above ``batch``."""
        scaled = round(self.batch * pixels / FULL_BATCH_PIXELS)
        return max(min(self.batch, MIN_BATCH), min(self.batch, scaled))

    @property
    def draws(self) -> int:
        """``noise_draws`` of a resolved schedule (:func:`resolve_schedule`)."""
        if self.noise_draws is None:
            raise ValueError(f"schedule {self.name!r} has no number of noise draws yet; "
                             "resolve it for an image first (resolve_schedule)")
        return self.noise_draws

    @property
    def total_steps(self) -> int:
        """Optimizer steps in all (stage 1 + stage 2) of a resolved schedule."""
        return self.stage1_steps + self.draws * self.steps_per_draw

    def scaled(self, fraction: float, name: str | None = None) -> Schedule:
        """Return a copy of this resolved schedule with ``fraction`` of the steps (for
        warm-started planes)."""
        return dataclasses.replace(
            self,
            name=name or f"{self.name}*{fraction:g}",
            stage1_steps=max(0, round(self.stage1_steps * fraction)),
            noise_draws=max(1, round(self.draws * fraction)),
        )


#: The authors' schedule: 5 raw->target steps, then 450 draws x 5 steps, whole image, Adam 1e-3.
REFERENCE = Schedule("reference", stage1_steps=5, noise_draws=450, steps_per_draw=5, lr=1e-3)

#: The default: random crops, a fresh draw every step, cosine learning rate, the prediction
#: averaged with that of the mirror image, bfloat16 training where the hardware has it, the
#: number of draws the microscope needs and the shipped start where one fits. The rate ends at
#: 1e-3, the reference's constant rate: ending lower (2e-4) cost 0.03 dB on average over three
#: seeds. Two views beat all eight by 0.02 dB over three seeds (eight blur fine filaments) at a
#: quarter of the inference time (BENCHMARKS.md).
FAST = Schedule(
    "fast", stage1_steps=20, noise_draws=None, steps_per_draw=1,
    lr=4e-3, lr_final=1e-3, crop=96, batch=8, views=2, bf16=True, start=AUTO_START,
)

#: A short schedule for the demo and tests: seconds on a laptop CPU.
QUICK = Schedule(
    "quick", stage1_steps=10, noise_draws=150, steps_per_draw=1,
    lr=5e-3, lr_final=5e-4, crop=64, batch=8, views=1, bf16=True,
)

SCHEDULES: dict[str, Schedule] = {s.name: s for s in (FAST, REFERENCE, QUICK)}

#: Noise draws from random weights, by schedule name and preset (``"*"``: any other preset).
#: The draws a model needs grow with the image's signal-to-noise ratio: on the FMD images
#: (BENCHMARKS.md) the confocal ones, the least noisy, still gained 0.06 dB from 700 to 900
#: draws (three seeds), while the two-photon and wide-field images scored the same at 500, 400
#: and 300 draws (five seeds: -0.023, -0.022, -0.024 dB against the reference) and fell off at
#: 200 (-0.142 dB, single images -0.7 dB): 300 keeps 1.5x that.
NOISE_DRAWS: dict[str, dict[str, int]] = {
    "fast": {"confocal": 900, "twophoton": 300, "widefield": 300, "*": 700},
}

#: Noise draws when training starts from a shipped start (a network pretrained on generated
#: phantoms with the image's parameters, :mod:`.starts`): only these schedules and presets use
#: starts. On the FMD images (five seeds, BENCHMARKS.md) a start with these draws scored
#: -0.08 / +0.06 / +0.02 dB against the reference (confocal / two-photon / wide-field), where
#: random weights with 900 / 300 / 300 draws scored -0.23 / -0.02 / -0.00.
STARTED_NOISE_DRAWS: dict[str, dict[str, int]] = {
    "fast": {"confocal": 450, "twophoton": 200, "widefield": 200},
}


def named_schedule(schedule: str | Schedule) -> Schedule:
    """Return the :class:`Schedule` named ``schedule`` (an instance is returned as it is).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.
    """
    if isinstance(schedule, Schedule):
        return schedule
    key = str(schedule).strip().lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    return SCHEDULES[key]


def resolve_schedule(
    schedule: str | Schedule, preset: str | None = None, start: str | None = None
) -> Schedule:
    """Return the schedule that will train an image of ``preset``'s microscope.

    Parameters
    ----------
    schedule : str or Schedule
        A name or a :class:`Schedule`; both are resolved the same way.
    preset : str, optional
        Canonical preset name of the image.
    start : str, optional
        The shipped start that fits the image's parameters, if any
        (:func:`.starts.find_start`).

    Returns
    -------
    Schedule
        With a concrete ``noise_draws`` and ``start``: ``start="auto"`` becomes ``start`` where
        :data:`STARTED_NOISE_DRAWS` has draws for the schedule and preset, else ``"random"``;
        ``noise_draws=None`` becomes the draws for that start (:data:`STARTED_NOISE_DRAWS`) or
        for random weights (:data:`NOISE_DRAWS`). Given values are kept as they are.

    Raises
    ------
    ValueError
        For an unknown name, or ``noise_draws=None`` in a schedule whose name has no draws.
    """
    chosen = named_schedule(schedule)
    started = STARTED_NOISE_DRAWS.get(chosen.name, {}).get(preset or "")
    begin = chosen.start
    if begin == AUTO_START:
        begin = start if start is not None and started is not None else RANDOM_START
    draws = chosen.noise_draws
    if draws is None:
        table = NOISE_DRAWS.get(chosen.name)
        if begin != RANDOM_START and started is not None:
            draws = started
        elif table is not None:
            draws = table.get(preset or "", table["*"])
        else:
            raise ValueError(
                f"schedule {chosen.name!r}: noise_draws=None takes the draws of a named schedule "
                f"({', '.join(NOISE_DRAWS)}); give a number of draws"
            )
    if (draws, begin) == (chosen.noise_draws, chosen.start):
        return chosen
    return dataclasses.replace(chosen, noise_draws=draws, start=begin)
