"""FMD benchmark: PSNR/SSIM and seconds per image for noisy, median target and FM2S schedules.

Runs on a folder with ``raw/`` and ``gt/`` PNG pairs (default ``../shared/data/fmd``), picks the
preset from the file-name prefix (Confocal_, TwoPhoton_, WideField_) and prints, per image and
per microscope, PSNR/SSIM on 8-bit data (data range 255) for the noisy input, the median target
and each requested schedule: "float" is the network's output before rounding, "round" the
8-bit result, "raw net" the output without the intensity-bias correction (the authors'
post-processing, before their int truncation), "trunc" that output truncated as the authors do.
Every schedule runs at ``noise_level="avg1"``, the authors' setting for these single captures
(``bench_noise_level.py`` measures ``auto``).

Every (image, schedule) result is stored in ``--results`` (JSON lines), with the float outputs
as .npy beside it, so a long reference run can be resumed with ``--reuse``.

Usage::

    python benchmarks/bench_fmd.py --schedules fast reference --seed 0
    python benchmarks/bench_fmd.py --schedules fast reference --seeds 0 1 2 --baseline-seeds 0 1 --reuse

With several seeds, the comparison averages each image over its seeds (the baseline's too) and
also prints the mean difference seed by seed (one seed can be 0.1 dB off the average on these
images).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import fmd_data
import numpy as np
from PIL import Image
from scipy import ndimage

import fm2s
from fm2s.options import DEFAULT_BIAS_SIGMA

HERE = Path(__file__).resolve().parent


def psnr(gt: np.ndarray, x: np.ndarray) -> float:
    """PSNR in dB with data range 255."""
    mse = np.mean((gt.astype(np.float64) - x.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def ssim(gt: np.ndarray, x: np.ndarray) -> float:
    """SSIM with data range 255 (scikit-image defaults)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(gt.astype(np.float64), x.astype(np.float64), data_range=255))


def bias_correct(noisy01: np.ndarray, out01: np.ndarray, sigma: float) -> np.ndarray:
    """Apply fm2s's intensity-bias correction to a saved network output (unit scale)."""
    import torch

    from fm2s.engine.bias import restore_local_mean

    return restore_local_mean(torch.from_numpy(noisy01), torch.from_numpy(out01), sigma).numpy()


def warm_up(presets: list[str], threads: int | None) -> tuple[float, float]:
    """Pay the process's one-time start-up before any plane is timed; return its wall/CPU seconds.

    The first denoising call of a process imports the engine's modules (torch, numba),
    loads the compiled noise sampler from numba's cache and builds its tables. A batch of
    planes pays that once, so it is not part of the time per plane; without a warm-up it was
    charged to whichever plane ran first (about 3 s of CPU on the project machine). Each
    preset's parameters are run on a small generated image, with a few steps of a crop
    schedule in bfloat16 (as ``fast`` trains) and of a whole-plane one in float32 (as
    ``reference`` does).
    """
    from fm2s.engine.methods.fm2s.schedules import Schedule

    tiny = [Schedule("warm-up-crops", stage1_steps=1, noise_draws=2, steps_per_draw=1, crop=32,
                     batch=2, views=2, bf16=True),
            Schedule("warm-up-planes", stage1_steps=1, noise_draws=1, steps_per_draw=1)]
    image = np.random.default_rng(0).poisson(40.0, size=(48, 48)).astype(np.float32) / 255.0
    t0, c0 = time.perf_counter(), time.process_time()
    for preset in presets:
        for schedule in tiny:
            fm2s.denoise(image, preset=preset, noise_level="avg1", schedule=schedule, seed=0,
                         num_threads=threads,
                         intensity_range=(0.0, 1.0), bias_sigma=None)
    return time.perf_counter() - t0, time.process_time() - c0


def run_one(raw: np.ndarray, preset: str, schedule: str, seed: int, out_dir: Path, stem: str,
            threads: int | None) -> dict:
    """Denoise one image with ``schedule``; return wall/CPU seconds and the float output's path."""
    import torch

    unit = raw.astype(np.float32) / 255.0
    t0, c0 = time.perf_counter(), time.process_time()
    out01 = fm2s.denoise(unit, preset=preset, noise_level="avg1", schedule=schedule, seed=seed,
                         num_threads=threads,
                         intensity_range=(0.0, 1.0), bias_sigma=None)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    path = out_dir / f"{stem}_{schedule}_seed{seed}_{int(time.time())}.npy"  # never overwrite
    np.save(path, out01.astype(np.float32))
    return {"seconds": seconds, "cpu_seconds": cpu,
            "threads": threads or torch.get_num_threads(), "output": str(path)}


def score(gt: np.ndarray, raw: np.ndarray, out01: np.ndarray, sigma: float) -> dict:
    """PSNR/SSIM of a network output with and without the bias correction."""
    net = out01.astype(np.float64) * 255.0
    corrected = bias_correct(raw.astype(np.float32) / 255.0, out01.astype(np.float32), sigma) * 255.0
    rounded = np.clip(np.rint(corrected), 0, 255)
    return {
        "psnr_float": psnr(gt, corrected), "psnr_round": psnr(gt, rounded),
        "ssim_round": ssim(gt, rounded),
        "psnr_net_float": psnr(gt, net), "psnr_net_trunc": psnr(gt, np.floor(net)),
        "ssim_net_trunc": ssim(gt, np.floor(net)),
        "bias_net": float(np.mean(net - gt)), "bias_round": float(np.mean(rounded - gt)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--schedules", nargs="+", default=["fast", "reference"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", help="several seeds (overrides --seed)")
    parser.add_argument("--baseline-seed", "--baseline-seeds", dest="baseline_seeds", type=int,
                        nargs="+", default=None,
                        help="run the last schedule (the baseline) with these seeds only")
    parser.add_argument("--images", nargs="*", help="image stems (default: capture _1 of every field)")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "fmd.jsonl")
    parser.add_argument("--reuse", action="store_true", help="skip (image, schedule, seed) already in --results")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per run (default: torch's, one per core)")
    parser.add_argument("--bias-sigma", type=float, default=DEFAULT_BIAS_SIGMA)
    args = parser.parse_args(argv)

    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    raw_dir, gt_dir = args.data / "raw", args.data / "gt"
    stems = args.images or sorted(p.stem for p in raw_dir.glob("*_1.png"))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    done: dict[tuple, dict] = {}
    if args.reuse and args.results.exists():
        for line in args.results.read_text().splitlines():
            rec = json.loads(line)
            done[(rec["image"], rec["schedule"], rec["seed"])] = rec

    seeds = args.seeds or [args.seed]
    runs = [(schedule, seed) for schedule in args.schedules for seed in seeds]
    if args.baseline_seeds is not None:
        baseline = args.schedules[-1]
        runs = [r for r in runs if r[0] != baseline] + [(baseline, s) for s in args.baseline_seeds]
    rows = []
    to_run = [s for s in stems for schedule, seed in runs if (s, schedule, seed) not in done]
    if to_run:
        wall, cpu = warm_up(sorted({fmd_data.preset_for(s) for s in to_run}), args.threads)
        print(f"start-up before the first timed plane (imports, compiled-code cache): "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU; not counted in the time per plane",
              file=sys.stderr, flush=True)
    for stem in stems:
        preset = fmd_data.preset_for(stem)
        raw = np.asarray(Image.open(raw_dir / f"{stem}.png"))
        gt = np.asarray(Image.open(gt_dir / f"{stem}.png"))
        median = ndimage.median_filter(raw, size=fm2s.resolve_params(preset).median_window, mode="nearest")
        base = {"image": stem, "preset": preset,
                "noisy": (psnr(gt, raw), ssim(gt, raw)), "median": (psnr(gt, median), ssim(gt, median))}
        for schedule, seed in runs:
            key = (stem, schedule, seed)
            rec = done.get(key)
            if rec is None:
                print(f"  {stem}: {schedule} seed {seed} ...", file=sys.stderr, flush=True)
                rec = {"image": stem, "schedule": schedule, "seed": seed,
                       **run_one(raw, preset, schedule, seed, args.results.parent, stem,
                                  args.threads)}
                with args.results.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            out01 = np.load(rec["output"])
            rows.append({**base, "schedule": schedule, "seed": seed, "seconds": rec["seconds"],
                         "cpu_seconds": rec.get("cpu_seconds"), "threads": rec.get("threads"),
                         **score(gt, raw, out01, args.bias_sigma)})
    print_table(rows, args.schedules)
    return 0


def print_table(rows: list[dict], schedules: list[str]) -> None:
    """Print per-image rows and per-microscope means."""
    several = len({r["seed"] for r in rows}) > 1
    head = (f"{'image':<22} {'schedule':<13} {'noisy':>13} {'median':>13} {'fm2s round':>13} "
            f"{'fm2s float':>10} {'net trunc':>9} {'net float':>9} {'bias':>6} {'s/img':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        label = f"{r['schedule']} s{r['seed']}" if several else r["schedule"]
        print(f"{r['image']:<22} {label:<13} {r['noisy'][0]:6.2f}/{r['noisy'][1]:.3f} "
              f"{r['median'][0]:6.2f}/{r['median'][1]:.3f} {r['psnr_round']:6.2f}/{r['ssim_round']:.3f} "
              f"{r['psnr_float']:10.2f} {r['psnr_net_trunc']:9.2f} {r['psnr_net_float']:9.2f} "
              f"{r['bias_round']:+6.2f} {r['seconds']:7.1f}")
    print()
    print(f"{'microscope':<12} {'schedule':<10} {'n':>2} {'noisy':>7} {'median':>7} {'round':>7} "
          f"{'float':>7} {'ssim':>6} {'trunc':>7} {'s/img':>7}")
    groups = sorted({(r["preset"], r["schedule"]) for r in rows}) + [("ALL", s) for s in schedules]
    for preset, schedule in groups:
        sel = [r for r in rows if r["schedule"] == schedule and preset in (r["preset"], "ALL")]
        if not sel:
            continue

        def mean(key: str, sel: list[dict] = sel) -> float:
            return float(np.mean([r[key][0] if isinstance(r[key], tuple) else r[key] for r in sel]))

        print(f"{preset:<12} {schedule:<10} {len(sel):>2} {mean('noisy'):7.2f} {mean('median'):7.2f} "
              f"{mean('psnr_round'):7.2f} {mean('psnr_float'):7.2f} {mean('ssim_round'):6.3f} "
              f"{mean('psnr_net_trunc'):7.2f} {mean('seconds'):7.1f}")
    if len(schedules) > 1:
        for s in schedules[:-1]:
            print_comparison(rows, s, schedules[-1])


def print_comparison(rows: list[dict], schedule: str, baseline: str) -> None:
    """Print ``schedule`` against ``baseline`` per microscope and check the issue's targets.

    PSNR (rounded output) is compared on the images both ran. Speed compares mean seconds per
    image of runs made with the same number of torch threads (runs with other thread counts,
    e.g. a baseline made on one core while the other was busy, are not timed against it).
    """
    cur, base = _by_image(rows, schedule), _by_image(rows, baseline)
    images = sorted(set(cur) & set(base))
    if not images:
        return
    threads = Counter(cur[i]["threads"] for i in images).most_common(1)[0][0]
    base_seeds = sorted({r["seed"] for r in rows if r["schedule"] == baseline})
    print(f"\n{schedule} vs {baseline} (PSNR averaged over seeds {base_seeds} of {baseline}; "
          f"speed from runs with {threads} torch thread(s))")
    print(f"{'microscope':<12} {'n':>2} {schedule:>9} {baseline:>9} {'dPSNR':>7} "
          f"{'s/img':>7} {'s/img':>7} {'n timed':>7} {'speed-up':>8}")

    def timed(recs: dict[str, dict], sel: list[str], key: str) -> list:
        """``key`` of the images in ``sel`` that both schedules ran with ``threads`` threads.

        Same images on both sides: the baseline's timed runs are few (a reference run takes
        minutes) and images differ in time per plane.
        """
        both = [i for i in sel if cur[i]["threads"] == threads == base[i]["threads"]]
        return [recs[i][key] for i in both]

    deltas, ratios = {}, {}
    for preset in sorted({cur[i]["preset"] for i in images}) + ["ALL"]:
        sel = [i for i in images if preset in (cur[i]["preset"], "ALL")]
        a = float(np.mean([cur[i]["psnr_round"] for i in sel]))
        b = float(np.mean([base[i]["psnr_round"] for i in sel]))
        ta, tb = timed(cur, sel, "seconds"), timed(base, sel, "seconds")
        ratio = float(np.mean(tb) / np.mean(ta)) if ta and tb else float("nan")
        deltas[preset], ratios[preset] = a - b, ratio
        print(f"{preset:<12} {len(sel):>2} {a:9.2f} {b:9.2f} {a - b:+7.2f} "
              f"{np.mean(ta) if ta else float('nan'):7.1f} {np.mean(tb) if tb else float('nan'):7.1f} "
              f"{len(tb):>7} {ratio:7.1f}x")
    ca, cb = timed(cur, images, "cpu_seconds"), timed(base, images, "cpu_seconds")
    cpu_ratio = float("nan")
    if all(v is not None for v in ca + cb) and ca and cb:
        cpu_ratio = float(np.mean(cb) / np.mean(ca))
        print(f"CPU seconds per image (all threads): {schedule} {np.mean(ca):.1f}, {baseline} "
              f"{np.mean(cb):.1f} ({cpu_ratio:.1f}x)")
    seeds = sorted({r["seed"] for r in rows if r["schedule"] == schedule})
    if len(seeds) > 1:
        per_seed, diffs = [], []
        for seed in seeds:
            own = {r["image"]: r["psnr_round"] for r in rows
                   if r["schedule"] == schedule and r["seed"] == seed and r["image"] in base}
            diff = float(np.mean([own[i] - base[i]["psnr_round"] for i in own]))
            diffs.append(diff)
            per_seed.append(f"seed {seed} {diff:+.3f} ({len(own)} images)")
        print(f"mean dPSNR seed by seed: {', '.join(per_seed)}")
        # How far the mean could move with other seeds: the spread of the per-seed means only
        # (the baseline's own seed-to-seed spread comes on top of it).
        error = float(np.std(diffs, ddof=1) / np.sqrt(len(diffs)))
        print(f"standard error of the mean dPSNR over {len(diffs)} seeds: {error:.3f} dB "
              f"(not counting the spread of {baseline}'s seeds)")
    worst = min(v for k, v in deltas.items() if k != "ALL")
    print(f"targets: mean dPSNR {deltas['ALL']:+.3f} dB (>= -0.10: {deltas['ALL'] >= -0.1}), "
          f"worst microscope {worst:+.3f} dB (>= -0.30: {worst >= -0.3}), "
          f"CPU-time speed-up {cpu_ratio:.1f}x (>= 20: {cpu_ratio >= 20}; wall time "
          f"{ratios['ALL']:.1f}x)")


def _by_image(rows: list[dict], schedule: str) -> dict[str, dict]:
    """One record per image for ``schedule``: PSNR and timings averaged over its seeds."""
    out: dict[str, dict] = {}
    for image in sorted({r["image"] for r in rows if r["schedule"] == schedule}):
        runs = [r for r in rows if r["schedule"] == schedule and r["image"] == image]
        threads = Counter(r["threads"] for r in runs).most_common(1)[0][0]
        timed = [r for r in runs if r["threads"] == threads]
        cpu = [r["cpu_seconds"] for r in timed]
        out[image] = {
            "preset": runs[0]["preset"], "threads": threads,
            "psnr_round": float(np.mean([r["psnr_round"] for r in runs])),
            "seconds": float(np.mean([r["seconds"] for r in timed])),
            "cpu_seconds": None if None in cpu else float(np.mean(cpu)),
        }
    return out


if __name__ == "__main__":
    from fm2s.engine.runtime import own_process

    own_process()  # a process fm2s owns: see fm2s.engine.runtime
    sys.exit(main())
