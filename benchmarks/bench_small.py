"""Small images: `fast` with its crops per step scaled to the image's area, against 8 crops.

Denoises the central ``--size`` x ``--size`` crop of each shared FMD single capture with
``fast`` (``noise_level="avg1"``, the field's preset) training on ``--crops`` crops per step
(``Schedule.batch`` is set so that ``batch_for`` gives exactly that many at this size) and
``--fractions`` of the noise draws ``fast`` takes for a 512 x 512 plane, for each seed, and
prints one JSON line per image: PSNR against the ground truth's crop and CPU seconds (one
torch thread) for every crops-per-step value, fraction and seed; with ``--reference``, also
the ``reference`` schedule (seed 0).

Usage::

    python benchmarks/bench_small.py --size 256 --crops 8 2 --seeds 0 1
    python benchmarks/bench_small.py --size 128 --crops 2 --fractions 1 0.5 0.25 --reference
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import fm2s
from fm2s.engine.methods.fm2s.schedules import (
    FAST,
    FULL_BATCH_PIXELS,
    STARTED_NOISE_DRAWS,
    Schedule,
)
from fm2s.metrics import psnr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fmd_data  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crops", type=int, nargs="+", default=[8, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0],
                        help="fractions of fast's noise draws for a 512 x 512 plane")
    parser.add_argument("--reference", action="store_true",
                        help="also run the reference schedule (seed 0)")
    parser.add_argument("--results", type=Path, help="also append the JSON lines here")
    args = parser.parse_args(argv)
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    pixels = args.size * args.size
    for field in fmd_data.fields(args.data):
        image, _ = fmd_data.averaged_capture(args.data, field, 1)
        gt = fmd_data.ground_truth(args.data, field)
        top = (image.shape[0] - args.size) // 2
        window = (slice(top, top + args.size), slice(top, top + args.size))
        row: dict = {"field": field, "size": args.size}
        preset = fmd_data.preset_for(field)
        crop, truth = image[window], gt[window]

        def score(label: str, schedule: Schedule | str, seed: int, row: dict = row,
                  crop=crop, truth=truth, preset: str = preset) -> None:
            c0 = time.process_time()
            out = fm2s.denoise(crop, preset=preset, noise_level="avg1", schedule=schedule,
                               seed=seed, num_threads=1)
            row[label] = psnr(truth, out)
            row[f"{label}_cpu"] = time.process_time() - c0

        for crops in args.crops:
            batch = max(crops, math.ceil(crops * FULL_BATCH_PIXELS / pixels))
            schedule = dataclasses.replace(FAST, batch=batch)
            assert schedule.batch_for(pixels) == crops, (crops, batch)
            for fraction in args.fractions:
                draws = max(1, round(STARTED_NOISE_DRAWS["fast"][preset] * fraction))
                sized = schedule if fraction == 1 else dataclasses.replace(
                    schedule, noise_draws=draws)
                tag = "" if fraction == 1 else f"_draws{draws}"
                for seed in args.seeds:
                    score(f"crops{crops}{tag}_seed{seed}", sized, seed)
        if args.reference:
            score("reference_seed0", "reference", 0)
        line = json.dumps(row)
        print(line, flush=True)
        if args.results:
            with open(args.results, "a") as fh:
                fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
