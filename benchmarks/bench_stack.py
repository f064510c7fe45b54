"""Stack benchmark: a 100-frame 512 x 512 16-bit time-lapse, shared vs warm-start vs per-plane.

Generates a drifting phantom (``fm2s.phantom.moving_phantom``: 12-bit camera, offset 100,
Poisson-Gaussian noise), denoises it with each stack mode and prints seconds and PSNR against
the clean phantom (data range = clean max - min). Per-plane and warm-start modes train per
frame, so they can be run on the first ``--subset-frames`` frames only; their whole-stack time
is then extrapolated linearly, and the printout says so.

Usage::

    python benchmarks/bench_stack.py --frames 100 --size 512
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import fm2s
from fm2s.metrics import psnr
from fm2s.phantom import moving_phantom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--modes", nargs="+", default=["shared", "warm_start", "per_plane"])
    parser.add_argument("--subset-frames", type=int, default=None,
                        help="run per_plane and warm_start on the first N frames only and "
                             "extrapolate the time")
    parser.add_argument("--schedule", default="fast")
    parser.add_argument("--preset", default="confocal")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (and training seed)")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="training seed, when it should differ from the phantom's")
    args = parser.parse_args(argv)
    train_seed = args.seed if args.train_seed is None else args.train_seed

    t0 = time.perf_counter()
    clean, noisy = moving_phantom(args.frames, (args.size, args.size), seed=args.seed)
    print(f"phantom: {noisy.shape} {noisy.dtype}, values {noisy.min()}..{noisy.max()}, "
          f"generated in {time.perf_counter() - t0:.1f} s")
    data_range = float(clean.max()) - float(clean.min())

    def stack_psnr(stack: np.ndarray, n: int) -> float:
        return float(np.mean([psnr(clean[i], stack[i], data_range) for i in range(n)]))

    print(f"{'mode':<11} {'frames':>6} {'seconds':>8} {'s/frame':>8} {'100-frame s':>11} "
          f"{'PSNR':>7} {'noisy':>7}")
    for mode in args.modes:
        n = args.frames
        if mode in ("per_plane", "warm_start") and args.subset_frames:
            n = min(n, args.subset_frames)
        t0 = time.perf_counter()
        out = fm2s.denoise(noisy[:n], preset=args.preset, schedule=args.schedule,
                           stack_mode=mode, seed=train_seed)
        seconds = time.perf_counter() - t0
        note = "" if n == args.frames else f"  (first {n} frames; time extrapolated)"
        print(f"{mode:<11} {n:>6} {seconds:8.1f} {seconds / n:8.2f} "
              f"{seconds / n * args.frames:11.1f} {stack_psnr(out, n):7.2f} "
              f"{stack_psnr(noisy, n):7.2f}{note}", flush=True)
    return 0


if __name__ == "__main__":
    from fm2s.engine.runtime import own_process

    own_process()  # a process fm2s owns: see fm2s.engine.runtime
    sys.exit(main())
