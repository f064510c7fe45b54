"""The compiled noise sampler alone: nanoseconds per Poisson draw, milliseconds per batch of noise.

Two measurements, each the best of ``--repeats`` runs in one process, one thread:

* ``Poisson(mean)`` drawn ``--draws`` times at each of ``--means`` (the sampler's paths: the
  first tables below 64, the anchor tables from 64 to 8,192, rejection above);
* one training batch of FM2S noise ``N(u)`` (8 crops of 96 x 96 from the ground truth
  ``<field>_1`` of each ``--fields``, the preset's channels) at every published level.

Usage::

    python benchmarks/bench_noise_sampler.py
    python benchmarks/bench_noise_sampler.py --means 5 30 100 1000 --fields Confocal_BPAE_B
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fm2s.engine.methods.fm2s import poisson_cpu
from fm2s.engine.methods.fm2s.noise import window_mean_map
from fm2s.presets import NOISE_LEVELS, resolve_params

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fmd_data  # noqa: E402


def best_seconds(run, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``run(seed)`` (after one untimed call)."""
    run(0)
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        run(seed)
        times.append(time.perf_counter() - start)
    return min(times)


def draw_costs(means: list[float], draws: int, repeats: int) -> None:
    for mean in means:
        rates = np.full(draws, mean)
        seconds = best_seconds(lambda seed, rates=rates: poisson_cpu.poisson(rates, seed), repeats)
        print(f"Poisson({mean:g}): {seconds / draws * 1e9:.1f} ns a draw")


def batch_costs(data: Path, fields: list[str], repeats: int) -> None:
    rng = np.random.default_rng(0)
    for field in fields:
        preset = fmd_data.preset_for(field)
        truth = fmd_data.ground_truth(data, field).astype(np.float32) / 255.0
        ys, xs = rng.integers(0, truth.shape[0] - 96, 8), rng.integers(0, truth.shape[1] - 96, 8)
        crops = np.stack([truth[y:y + 96, x:x + 96] for y, x in zip(ys, xs)])[:, None]
        row = []
        for level in NOISE_LEVELS:
            p = resolve_params(preset, level)
            clean = np.ascontiguousarray(np.repeat(crops, p.n_chan, axis=1))
            mean_map = window_mean_map(torch.from_numpy(clean[:, :1]), p.stride).numpy()
            seconds = best_seconds(lambda seed, p=p, clean=clean, mean_map=mean_map:
                                   poisson_cpu.synthesize_noisy(clean, mean_map, p.k_p, p.k_g,
                                                                p.lam_p, seed), repeats)
            row.append(f"{level} {seconds * 1e3:.2f}")
        print(f"{field} ({preset}), ms a batch: " + ", ".join(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--means", type=float, nargs="*",
                        default=[5, 30, 63.9, 64, 100, 300, 1000, 3000, 8191.9, 8192])
    parser.add_argument("--draws", type=int, default=2_000_000)
    parser.add_argument("--fields", nargs="*",
                        default=["Confocal_BPAE_B", "TwoPhoton_BPAE_B", "WideField_BPAE_B"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    args = parser.parse_args(argv)
    if not poisson_cpu.available():
        print("the compiled sampler is not available (numba missing or FM2S_NOISE_SAMPLER=torch)",
              file=sys.stderr)
        return 2
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    draw_costs(args.means, args.draws, max(3, args.repeats // 5))
    batch_costs(args.data, args.fields, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
