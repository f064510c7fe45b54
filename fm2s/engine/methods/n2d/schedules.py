"""Noise2Detail training schedules: the authors' ``reference``, the crop-based ``fast`` default,
and ``quick`` for tests and demos; ZS-N2N (N2D's stage 1 alone) has its own ``fast``
(:data:`ZSN2N_SCHEDULES`). Torch-free, so options are checked cheaply.

A schedule says how the two networks are trained, never what they learn: every schedule uses
the same networks, losses and stage-2 estimate. Whole-image steps (``crop=None``) score every
pixel of a plane per step, as the authors do; crop steps score ``batch`` random ``crop x crop``
windows (with a 4-pixel rim of context, reflected at the plane's border), an unbiased estimate
of the same loss at a fraction of the cost, because an output pixel of a network only sees a
5 x 5 neighbourhood of its half-resolution input.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ...views import check_views


@dataclass(frozen=True)
class N2DSchedule:
    """How the two Noise2Detail networks are trained (stage 1: ``f``, stage 3: ``g``).

    Attributes
    ----------
    name : str
        Label recorded in the output metadata.
    stage1_steps, stage3_steps : int
        Adam steps of stage 1 (Zero-Shot Noise2Noise, network ``f``) and stage 3 (``g``).
    lr : float
        Adam learning rate at the start of each trained stage.
    lr_halve_every : int or None
        Halve the rate every this many steps of a stage (the authors: 1,000 of 2,000).
    lr_final : float or None
        When set (and ``lr_halve_every`` is None), the rate follows a cosine from ``lr`` to
        ``lr_final`` over each stage. With neither, the rate is constant.
    crop : int or None
        Side of the random square crops a step scores (even, at least 8; rounded down to an
        even number); None trains on whole planes, one plane per step, as the authors do.
    batch : int
        Crops per step (ignored for whole-plane training).
    views : {1, 2, 4, 8}
        Views of the plane the prediction is averaged over at inference
        (:mod:`fm2s.engine.views`; each view costs one pass of the whole pipeline).
    bf16 : bool
        Run the training convolutions in bfloat16 where the hardware computes bfloat16
        natively (CPUs with AVX512-BF16 or AMX, recent CUDA GPUs); elsewhere float32.
        Weights, optimizer and loss stay float32; inference is always float32.
    """

    name: str
    stage1_steps: int
    stage3_steps: int
    lr: float = 1e-3
    lr_halve_every: int | None = None
    lr_final: float | None = None
    crop: int | None = None
    batch: int = 1
    views: int = 1
    bf16: bool = False

    def __post_init__(self) -> None:
        context = f"schedule {self.name!r}: "
        check_views(self.views, context)
        if self.stage1_steps < 0 or self.stage3_steps < 0:
            raise ValueError(f"{context}steps must be >= 0")
        if self.crop is not None and self.crop < 8:
            raise ValueError(f"{context}crop must be at least 8 pixels or None, got {self.crop}")
        if self.batch < 1:
            raise ValueError(f"{context}batch must be >= 1, got {self.batch}")
        if self.lr_halve_every is not None and self.lr_halve_every < 1:
            raise ValueError(f"{context}lr_halve_every must be >= 1 or None")

    @property
    def total_steps(self) -> int:
        """Optimizer steps in all (stage 1 + stage 3)."""
        return self.stage1_steps + self.stage3_steps

    def lr_at(self, step: int, n_steps: int) -> float:
        """Learning rate of step ``step`` (from 0) of a stage of ``n_steps`` steps."""
        if self.lr_halve_every is not None:
            return self.lr * 0.5 ** (step // self.lr_halve_every)
        if self.lr_final is not None:
            t = step / max(1, n_steps - 1)
            return self.lr_final + 0.5 * (self.lr - self.lr_final) * (1.0 + math.cos(math.pi * t))
        return self.lr

    def scaled(self, fraction: float, name: str | None = None) -> N2DSchedule:
        """Return a copy with ``fraction`` of the steps of each stage (for warm-started planes).

        The learning-rate curve is compressed with the stages (``lr_halve_every`` scales too).
        """
        halve = self.lr_halve_every
        return dataclasses.replace(
            self,
            name=name or f"{self.name}*{fraction:g}",
            stage1_steps=max(1, round(self.stage1_steps * fraction)) if self.stage1_steps else 0,
            stage3_steps=max(1, round(self.stage3_steps * fraction)) if self.stage3_steps else 0,
            lr_halve_every=None if halve is None else max(1, round(halve * fraction)),
        )


#: The authors' schedule: whole-image steps, Adam 1e-3 halved every 1,000 steps, 2,000 steps
#: for each of the two trained stages, float32.
REFERENCE = N2DSchedule("reference", stage1_steps=2000, stage3_steps=2000, lr=1e-3,
                        lr_halve_every=1000)

#: The default: random 64 x 64 crops in batches of 8, 800 steps for ``f`` and 200 for ``g``,
#: learning rate 2e-3 falling to 2e-4 on a cosine in each stage, bfloat16 training where the
#: hardware has it. On 256 x 256 crops of the eight FMD images it scored 0.40 dB above
#: ``reference`` at 1/15 of the CPU time, and on a 512 x 512 plane 0.17 dB above at 1/61
#: (30 s of one core; BENCHMARKS.md, section 6). A short stage 3 is not only cheaper: ``g``
#: trained longer (800 or 2,000 steps) scored lower on every FMD image tried, as it learns to
#: put back noise as well as detail.
FAST = N2DSchedule("fast", stage1_steps=800, stage3_steps=200, lr=2e-3, lr_final=2e-4,
                   crop=64, batch=8, bf16=True)

#: A short schedule for the demo and tests: a few seconds on a laptop CPU.
QUICK = N2DSchedule("quick", stage1_steps=150, stage3_steps=50, lr=3e-3, lr_final=3e-4,
                    crop=48, batch=4, bf16=True)

#: ZS-N2N's default (method ``zsn2n``, stage 1 alone): crops as ``fast``, but 2,000 steps on
#: the reference's learning-rate curve. ZS-N2N's output needs a well converged ``f`` (N2D's
#: needs no more than ``fast`` gives it): 800 crop steps scored 0.27 dB below the reference's
#: ZS-N2N on FMD crops, these 2,000 0.13 dB below (BENCHMARKS.md, section 6).
ZSN2N_FAST = N2DSchedule("fast", stage1_steps=2000, stage3_steps=0, lr=1e-3,
                         lr_halve_every=1000, crop=64, batch=8, bf16=True)

#: Named schedules of each method (``reference`` and ``quick`` serve both; ZS-N2N uses only
#: their stage 1).
SCHEDULES: dict[str, N2DSchedule] = {s.name: s for s in (FAST, REFERENCE, QUICK)}
ZSN2N_SCHEDULES: dict[str, N2DSchedule] = {"fast": ZSN2N_FAST, "reference": REFERENCE,
                                           "quick": QUICK}


def named_schedule(schedule: str | N2DSchedule, method: str = "n2d") -> N2DSchedule:
    """Return ``method``'s :class:`N2DSchedule` named ``schedule`` (an instance is returned as
    it is). ``method`` is ``"n2d"`` (:data:`SCHEDULES`) or ``"zsn2n"`` (:data:`ZSN2N_SCHEDULES`).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.
    """
    if isinstance(schedule, N2DSchedule):
        return schedule
    table = {"n2d": SCHEDULES, "zsn2n": ZSN2N_SCHEDULES}[method]
    key = str(schedule).strip().lower()
    if key not in table:
        raise ValueError(f"unknown {method} schedule {schedule!r}; choose one of: {', '.join(table)}")
    return table[key]
