"""FMD benchmark of Noise2Detail beside FM2S, ZS-N2N and a 3x3 median filter.

For each shared FMD capture (default: the eight ``_1`` images of ``../shared/data/fmd``), or a
centred ``--crop N`` of it, and each seed, runs:

``fm2s``
    FM2S with its default schedule, ``fm2s.denoise(image, preset=<microscope>, seed=s)``, the
    preset from the file-name prefix (Confocal -> confocal, TwoPhoton -> twophoton,
    WideField -> widefield).
``n2d``
    Noise2Detail, ``fast`` schedule (``--n2d-schedule``).
``n2d-reference``
    Noise2Detail, the authors' schedule (only with ``--reference``: an hour or more of CPU per
    512 x 512 plane).
``zsn2n``
    Zero-Shot Noise2Noise (N2D's stage 1 alone) with the same schedule's stage 1.
``median3``
    A 3 x 3 median filter (reflected edges).

Every method but the median runs through :func:`fm2s.denoise` with its defaults, as a user
calls it (uint8 in and out). Prints PSNR and SSIM (8-bit,
data range 255, ``fm2s.metrics``), CPU and wall seconds per plane, and per-method means; each
(image, method, seed) is written as a JSON line to ``--results`` when given.

Usage::

    python benchmarks/bench_n2d.py --crop 128 --images Confocal_BPAE_B_1 --seeds 0
    python benchmarks/bench_n2d.py --seeds 0 1 2 --results benchmarks/results/n2d.jsonl
    python benchmarks/bench_n2d.py --reference --images WideField_BPAE_G_1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import fmd_data
import numpy as np
from PIL import Image
from scipy import ndimage

Runner = Callable[[np.ndarray, str, int], np.ndarray]


def centre_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The centred ``size x size`` crop (the whole image when None)."""
    if size is None:
        return image
    h, w = image.shape
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top : top + size, left : left + size]


def api_runner(threads: int, **options: object) -> Runner:
    """``fm2s.denoise(image, seed=..., **options)``, as a user calls it (uint8 in and out)."""
    def run(raw: np.ndarray, preset: str, seed: int) -> np.ndarray:
        import fm2s

        if options.get("method", "fm2s") == "fm2s":
            return fm2s.denoise(raw, preset=preset, seed=seed, num_threads=threads, **options)
        return fm2s.denoise(raw, seed=seed, num_threads=threads, **options)

    return run


def median_runner(raw: np.ndarray, preset: str, seed: int) -> np.ndarray:
    """A 3 x 3 median filter."""
    return ndimage.median_filter(raw, size=3, mode="reflect")


def runners(args: argparse.Namespace) -> dict[str, Runner]:
    """The methods to compare, by label."""
    out: dict[str, Runner] = {
        "fm2s": api_runner(args.threads),
        "n2d": api_runner(args.threads, method="n2d", schedule=args.n2d_schedule),
    }
    if args.reference:
        out["n2d-reference"] = api_runner(args.threads, method="n2d", schedule="reference")
    out["zsn2n"] = api_runner(args.threads, method="zsn2n", schedule=args.n2d_schedule)
    out["median3"] = median_runner
    return out


def warm_up(threads: int) -> None:
    """Pay the one-time start-up (imports, compiled caches) before any plane is timed."""
    image = np.random.default_rng(0).poisson(40.0, size=(48, 48)).astype(np.uint8)
    api_runner(threads, method="n2d", schedule="quick")(image, "confocal", 0)
    api_runner(threads)(image, "confocal", 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--images", nargs="+", help="image stems (default: every *_1 capture)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--crop", type=int, default=None, help="centred N x N crop of each image")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--reference", action="store_true",
                        help="also run N2D's reference schedule (slow: an hour or more a plane)")
    parser.add_argument("--n2d-schedule", default="fast",
                        help="N2D and ZS-N2N schedule name (fast, reference, quick)")
    parser.add_argument("--methods", nargs="+", help="only these methods (labels)")
    parser.add_argument("--results", type=Path, help="append one JSON line per run here")
    args = parser.parse_args(argv)

    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    raw_dir, gt_dir = args.data / "raw", args.data / "gt"

    import torch

    from fm2s.metrics import psnr, ssim

    torch.set_num_threads(args.threads)
    stems = args.images or sorted(p.stem for p in raw_dir.glob("*_1.png"))
    methods = runners(args)
    if args.methods:
        methods = {k: v for k, v in methods.items() if k in args.methods}
    warm_up(args.threads)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)

    print(f"{'image':<22} {'method':<14} {'seed':>4} {'PSNR':>7} {'SSIM':>6} {'CPU s':>8} "
          f"{'wall s':>8}", flush=True)
    rows = []
    for stem in stems:
        preset = fmd_data.preset_for(stem)
        raw = centre_crop(np.asarray(Image.open(raw_dir / f"{stem}.png")), args.crop)
        gt = centre_crop(np.asarray(Image.open(gt_dir / f"{stem}.png")), args.crop)
        print(f"{stem:<22} {'noisy':<14} {'':>4} {psnr(gt, raw):7.2f} {ssim(gt, raw):6.3f}")
        for label, run in methods.items():
            for seed in (args.seeds if label != "median3" else args.seeds[:1]):
                c0, t0 = time.process_time(), time.perf_counter()
                out = run(raw, preset, seed)
                cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                rec = {"image": stem, "preset": preset, "crop": args.crop, "method": label,
                       "seed": seed, "psnr": psnr(gt, out), "ssim": ssim(gt, out),
                       "cpu_seconds": cpu, "wall_seconds": wall, "threads": args.threads,
                       "noisy_psnr": psnr(gt, raw)}
                rows.append(rec)
                print(f"{stem:<22} {label:<14} {seed:>4} {rec['psnr']:7.2f} {rec['ssim']:6.3f} "
                      f"{cpu:8.1f} {wall:8.1f}", flush=True)
                if args.results:
                    with args.results.open("a") as fh:
                        fh.write(json.dumps(rec) + "\n")
    print_means(rows)
    return 0


def print_means(rows: list[dict]) -> None:
    """Mean PSNR, SSIM and seconds per method, per microscope and overall."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["preset"], r["method"])].append(r)
        groups[("ALL", r["method"])].append(r)
    print(f"\n{'microscope':<12} {'method':<14} {'runs':>4} {'PSNR':>7} {'SSIM':>6} "
          f"{'CPU s':>8} {'wall s':>8}")
    for (preset, label), sel in sorted(groups.items(), key=lambda kv: (kv[0][0] == "ALL", kv[0])):
        def mean(key: str, sel: list[dict] = sel) -> float:
            return float(np.mean([r[key] for r in sel]))

        print(f"{preset:<12} {label:<14} {len(sel):>4} {mean('psnr'):7.2f} {mean('ssim'):6.3f} "
              f"{mean('cpu_seconds'):8.1f} {mean('wall_seconds'):8.1f}")


if __name__ == "__main__":
    sys.exit(main())
