"""Fit ``noise_level="auto"``'s mapping from measured noise to level, and check it on held-out fields.

``fm2s.noise_level`` turns the captures an image's noise is worth (``measured``) into a level:
``log2(level) = clip(slope * log2(measured / knee), 0, 4)``, with ``(slope, knee)`` per preset
(``LEVEL_MAPPING``) and ``measured`` relative to the preset's ``REFERENCE_VARIANCE``. This script
reads the results of ``bench_noise_level.py`` (every fixed column, and ``auto`` for each image's
measured noise) and, without training anything:

- ``--fit``: for each preset, the ``(slope, knee)`` on a grid with the smallest worst-case loss
  against each image's best column (ties: the larger mean), the PSNR at an in-between level
  interpolated linearly in ``log2(level)`` between the columns around it. This is how the
  shipped pairs were chosen.
- without ``--fit`` (the default: leave one field out): the same fit, and the reference
  variance, made on all fields of the preset but one, then scored on the one left out; once
  per field. This says what to expect on fields the mapping never saw.

The interpolation is an estimate: the PSNR between columns is not measured, and it leaves out
the share of the input that ``auto`` puts back from ``avg2`` up.

Usage::

    python benchmarks/fit_noise_level.py \
        --fixed benchmarks/results/noise-level-fixed.jsonl \
        --auto benchmarks/results/noise-level-auto.jsonl [--fit]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fm2s.noise_level import LEVEL_MAPPING, REFERENCE_VARIANCE

HERE = Path(__file__).resolve().parent
COLUMNS = (1, 2, 4, 8, 16)
SLOPES = np.round(np.arange(0.5, 2.501, 0.05), 3)
KNEES = np.round(np.arange(0.4, 2.001, 0.025), 3)


class Image(NamedTuple):
    field: str
    captures: int
    preset: str
    measured: float  # captures the noise is worth, with the shipped reference variance
    by_column: tuple[float, ...]  # PSNR at avg1 .. avg16

    @property
    def best(self) -> float:
        return max(self.by_column)

    def loss(self, level: float) -> float:
        """PSNR at ``level`` (interpolated) minus the best column's."""
        psnr = np.interp(math.log2(level), range(len(COLUMNS)), self.by_column)
        return float(psnr) - self.best


def load(fixed: Path, auto: Path) -> list[Image]:
    columns: dict[tuple, dict[str, float]] = defaultdict(dict)
    for line in open(fixed):
        r = json.loads(line)
        columns[(r["field"], r["avg"])][r["setting"]] = r["psnr"]
    images = []
    for line in open(auto):
        r = json.loads(line)
        by = columns.get((r["field"], r["avg"]), {})
        if r["setting"] != "auto" or not all(f"avg{c}" in by for c in COLUMNS):
            continue
        images.append(Image(r["field"], r["avg"], r["preset"], r["fm2s_noise_captures"][0],
                            tuple(by[f"avg{c}"] for c in COLUMNS)))
    return images


def level(measured: float, slope: float, knee: float) -> float:
    return 2.0 ** min(max(slope * math.log2(measured / knee), 0.0), math.log2(COLUMNS[-1]))


def losses(images: list[Image], slope: float, knee: float, scale: float = 1.0) -> list[float]:
    """Each image's loss against its best column; ``scale`` multiplies ``measured`` (another
    reference variance)."""
    return [im.loss(level(im.measured * scale, slope, knee)) for im in images]


def fit(images: list[Image], scale: float = 1.0) -> tuple[float, float]:
    """The grid's (slope, knee) with the smallest worst-case loss; ties: the larger mean."""
    def score(pair: tuple[float, float]) -> tuple[float, float]:
        ls = losses(images, *pair, scale)
        return round(min(ls), 3), float(np.mean(ls))
    return max(((float(s), float(k)) for s in SLOPES for k in KNEES), key=score)


def reference_scale(images: list[Image], preset: str) -> float:
    """How much the reference variance of these fields' single captures (geometric mean)
    differs from the shipped one: the factor on ``measured``."""
    variances = [REFERENCE_VARIANCE[preset] / im.measured for im in images if im.captures == 1]
    return math.exp(float(np.mean(np.log(variances)))) / REFERENCE_VARIANCE[preset]


def report(images: list[Image], refit: bool) -> None:
    by_preset: dict[str, list[Image]] = defaultdict(list)
    for im in images:
        by_preset[im.preset].append(im)
    held_out_all: list[float] = []
    for preset, group in by_preset.items():
        shipped = LEVEL_MAPPING[preset]
        ls = losses(group, *shipped)
        print(f"{preset}: shipped (slope, knee) {shipped}: worst {min(ls):+.2f}, "
              f"mean {np.mean(ls):+.3f} dB against the best column, {len(group)} images")
        if refit:
            pair = fit(group)
            ls = losses(group, *pair)
            print(f"  fitted on all {len(group)}: {pair}: worst {min(ls):+.2f}, "
                  f"mean {np.mean(ls):+.3f}")
            continue
        for field in sorted({im.field for im in group}):
            train = [im for im in group if im.field != field]
            test = sorted((im for im in group if im.field == field), key=lambda im: im.captures)
            scale = reference_scale(train, preset)
            pair = fit(train, scale)
            held = losses(test, *pair, scale)
            held_out_all += held
            print(f"  {field} left out: fitted {pair}, reference x{scale:.2f}; on it, "
                  + " / ".join(f"avg{im.captures} {x:+.2f}" for im, x in zip(test, held))
                  + " (shipped: " + " / ".join(f"{x:+.2f}" for x in losses(test, *shipped)) + ")")
    if held_out_all:
        held = np.array(held_out_all)
        print(f"held out, all presets: worst {held.min():+.2f}, mean {held.mean():+.3f} dB; "
              f"{int((held < -0.2).sum())} of {held.size} images more than 0.2 dB below the best")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed", type=Path, default=HERE / "results" / "noise-level-fixed.jsonl")
    parser.add_argument("--auto", type=Path, default=HERE / "results" / "noise-level-auto.jsonl")
    parser.add_argument("--fit", action="store_true",
                        help="fit each preset on all its images instead of leaving one field out")
    args = parser.parse_args(argv)
    missing = [str(p) for p in (args.fixed, args.auto) if not p.exists()]
    if missing:
        print(f"no results file {', '.join(missing)}: make them first with "
              "benchmarks/bench_noise_level.py (BENCHMARKS.md, section 7, gives the commands)",
              file=sys.stderr)
        return 1
    images = load(args.fixed, args.auto)
    if not images:
        print("no image has every fixed column and auto in these results", file=sys.stderr)
        return 1
    report(images, args.fit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
