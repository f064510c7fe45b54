"""Large-plane benchmark: peak memory of ``fm2s denoise`` on a 4096 x 4096 16-bit plane,
and tiled vs untiled inference agreement on a plane that fits both ways.

The plane (a phantom with Poisson-Gaussian noise) is written to a temporary TIFF and denoised
by the real command line in a child process, whose peak resident memory (ru_maxrss) is
reported, so the figure covers everything the user runs: imports, file reading, training on
crops, tiled inference and writing.

Usage::

    python benchmarks/bench_large.py --size 4096
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from fm2s.engine.methods.fm2s.model import build_model, predict_plane
from fm2s.phantom import add_poisson_gaussian, fluorescence_phantom


def agreement(size: int = 1024, tile: int = 256) -> float:
    """Max |tiled - untiled| of one trained-shape model on a ``size`` plane (all 8 views)."""
    model = build_model(2, torch.Generator().manual_seed(0), torch.device("cpu"))
    plane = torch.rand(size, size, generator=torch.Generator().manual_seed(1))
    whole = predict_plane(model, plane, 2, tile=None, views=8)
    tiled = predict_plane(model, plane, 2, tile=tile, views=8)
    return float((whole - tiled).abs().max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--schedule", default="fast")
    parser.add_argument("--tile", default="1024")
    args = parser.parse_args(argv)

    diff = agreement()
    print(f"tiled (256) vs untiled inference, 1024 x 1024, all 8 views: max |diff| = {diff:.2e}")

    rng = np.random.default_rng(0)
    # Build the big plane from a tiled 1024 phantom to keep generation cheap.
    base = fluorescence_phantom((1024, 1024), seed=0)
    reps = -(-args.size // 1024)
    clean = np.tile(base, (reps, reps))[: args.size, : args.size]
    noisy = add_poisson_gaussian(clean * 3900, 0.05, 8.0, 100.0, rng, dtype=np.uint16, max_value=4095)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "large.tif"
        tifffile.imwrite(src, noisy, imagej=True)
        cmd = [sys.executable, "-m", "fm2s.cli", "denoise", str(src), "-o", str(Path(tmp) / "out"),
               "--schedule", args.schedule, "--seed", "0", "--tile", args.tile, "--no-progress"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = tifffile.imread(Path(tmp) / "out" / "large_fm2s.tif")
    print(f"{args.size} x {args.size} uint16, schedule {args.schedule}, tile {args.tile}: "
          f"{seconds:.1f} s, peak RSS of the fm2s process {peak_kib / 1024**2:.2f} GiB, "
          f"output {out.dtype} {out.shape}")
    return 0


if __name__ == "__main__":
    from fm2s.engine.runtime import own_process

    own_process()  # a process fm2s owns: see fm2s.engine.runtime
    sys.exit(main())
