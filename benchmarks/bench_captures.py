"""Starts on other captures: ``fast`` from its start against ``fast`` from random weights.

Captures ``_2``, ``_3``, ``_4`` of the shared FMD fields are other noise realizations than the
``_1`` images the schedules were tuned on, and have no ``reference`` runs (minutes each). This
compares, on each of them, ``fast`` as shipped (the preset's start, fewer draws) with ``fast``
from random weights at the draws random weights need (``NOISE_DRAWS``), both scored as
``bench_fmd.py`` scores (bias-corrected, rounded, PSNR on 8-bit data). Prints one JSON line per
image and the mean differences.

Usage::

    python benchmarks/bench_captures.py [--seed 0] [--data ../shared/data/fmd]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import fm2s
from fm2s.engine.methods.fm2s.schedules import FAST, RANDOM_START

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_fmd  # noqa: E402
import fmd_data  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    raw_dir = args.data / "raw"
    stems = sorted(p.stem for p in raw_dir.glob("*.png") if not p.stem.endswith("_1"))
    rows = []
    for stem in stems:
        preset = fmd_data.preset_for(stem)
        raw = np.asarray(Image.open(raw_dir / f"{stem}.png"))
        gt = np.asarray(Image.open(args.data / "gt" / f"{stem}.png"))
        random_weights = dataclasses.replace(FAST, start=RANDOM_START)  # and random's draws
        row: dict = {"image": stem}
        for label, schedule in (("start", "fast"), ("random", random_weights)):
            c0 = time.process_time()
            out, meta = fm2s.denoise_with_metadata(
                raw.astype(np.float32) / 255.0, preset=preset, noise_level="avg1",
                schedule=schedule, seed=args.seed,
                intensity_range=(0.0, 1.0), bias_sigma=None)
            row[label] = bench_fmd.score(gt, raw, out, bench_fmd.DEFAULT_BIAS_SIGMA)["psnr_round"]
            row[f"{label}_cpu"] = time.process_time() - c0
            row[f"{label}_start"] = meta["fm2s_start"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    for prefix in ("Confocal", "TwoPhoton", "WideField", ""):
        diff = np.array([r["start"] - r["random"] for r in rows if r["image"].startswith(prefix)])
        if diff.size:
            se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else float("nan")
            print(f"{prefix or 'ALL':<10} start - random weights: mean {diff.mean():+.3f} dB "
                  f"(standard error {se:.3f}), worst {diff.min():+.3f}, {diff.size} images")
    print(f"CPU s per plane: start {np.mean([r['start_cpu'] for r in rows]):.1f}, "
          f"random weights {np.mean([r['random_cpu'] for r in rows]):.1f}")
    return 0


if __name__ == "__main__":
    from fm2s.engine.runtime import own_process

    own_process()  # a process fm2s owns: see fm2s.engine.runtime
    raise SystemExit(main())
