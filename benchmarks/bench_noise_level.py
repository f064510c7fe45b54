"""Noise levels on real multi-level images: each fixed setting and ``auto`` against the truth.

For every shared FMD field it makes the "avgN" images (the mean of the field's first N
captures, rounded to 8 bits, as the FMD dataset makes its own) and denoises each with
``fm2s.denoise`` at every ``--settings`` value (``avg1`` .. ``avg16``, ``auto``, or a number
of averaged frames such as ``3``), with the field's preset and otherwise default options, as a
user would. Scores are PSNR/SSIM of the 8-bit output against the field's ground truth; a 3 x 3
median is scored beside. One JSON line per (image, setting) goes to ``--results`` (appended);
``--summary`` prints the table of a results file instead of running.

Usage::

    python benchmarks/bench_noise_level.py --levels 1 2 4 --settings avg1 avg2 avg4 avg8 auto \
        --seed 0 --results benchmarks/results/noise-level.jsonl
    python benchmarks/bench_noise_level.py --summary benchmarks/results/noise-level.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import ndimage

import fm2s
from fm2s.metrics import psnr, ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fmd_data  # noqa: E402
from bench_fmd import warm_up  # noqa: E402

#: Generated camera images: read noise (photo-electrons) and offset (grey levels) of a 16-bit
#: sCMOS-like container.
READ_NOISE, OFFSET = 2.0, 100.0

#: The FMD ground truths are the means of this many captures.
FMD_TRUTH_CAPTURES = 50


def camera_image(gt: np.ndarray, peak: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit camera image generated from a ground truth at ``peak`` photons (Poisson, read
    noise, offset), and its expected value: (noisy, reference)."""
    rng = np.random.default_rng([seed, int(peak)])
    photons = gt.astype(np.float64) / 255.0 * peak
    signal = rng.poisson(photons) + rng.normal(0.0, READ_NOISE, gt.shape) + OFFSET
    return np.clip(np.rint(signal), 0, 65535).astype(np.uint16), photons + OFFSET


def images(args: argparse.Namespace):
    """(label fields, noisy image, reference, data range) of every image to score."""
    for field in args.fields or fmd_data.fields(args.data):
        gt = fmd_data.ground_truth(args.data, field)
        if args.peaks:  # generated from the ground truth: Poisson + read noise + offset
            for peak in args.peaks:
                noisy, reference = camera_image(gt, peak, args.seed)
                yield {"field": field, "peak": peak, "avg": 0}, noisy, reference, peak
        else:
            for n in args.levels:
                noisy, used = fmd_data.averaged_capture(args.data, field, n)
                yield {"field": field, "avg": n, "captures": used}, noisy, gt, 255.0


def run(args: argparse.Namespace) -> int:
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    fields = args.fields or fmd_data.fields(args.data)
    # Start-up (imports, the noise sampler's cache and tables) is not charged to the first image.
    warm_up(sorted({args.preset or fmd_data.preset_for(f) for f in fields}), args.threads)
    with open(args.results, "a") as out:
        for label, noisy, gt, data_range in images(args):
            preset = args.preset or fmd_data.preset_for(label["field"])
            median = ndimage.median_filter(noisy, 3)
            base = {**label, "preset": preset, "seed": args.seed, "threads": args.threads,
                    "psnr_noisy": psnr(gt, noisy, data_range),
                    "psnr_median3": psnr(gt, median, data_range)}
            for setting in args.settings:
                c0, w0 = time.process_time(), time.perf_counter()
                den, meta = fm2s.denoise_with_metadata(
                    noisy, preset=preset, noise_level=setting, seed=args.seed,
                    num_threads=args.threads)
                row = {**base, "setting": setting,
                       "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                       "psnr": psnr(gt, den, data_range),
                       "ssim": ssim(gt, den, data_range=data_range),
                       **{k: v for k, v in meta.items() if k.startswith("fm2s_noise")
                          or k in ("fm2s_k_g", "fm2s_k_p", "fm2s_lam_p", "fm2s_start",
                                   "fm2s_input_share")}}
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{label} {setting:>6}: {row['psnr']:.2f} dB "
                      f"(noisy {row['psnr_noisy']:.2f}, median {row['psnr_median3']:.2f}) "
                      f"{row['cpu_s']:.1f} s CPU", flush=True)
    return 0


def calibrate(args: argparse.Namespace) -> int:
    """Print what the estimator measures at brightness 0.1 on each preset's avg1 images."""
    from fm2s.noise_estimate import estimate_noise
    from fm2s.noise_level import REFERENCE_BRIGHTNESS

    by_preset: dict[str, list[float]] = defaultdict(list)
    for field in args.fields or fmd_data.fields(args.data):
        image, _ = fmd_data.averaged_capture(args.data, field, 1)
        variance = float(estimate_noise(image / 255.0).variance(REFERENCE_BRIGHTNESS))
        by_preset[fmd_data.preset_for(field)].append(variance)
        print(f"{field}: variance {variance:.3g} at brightness {REFERENCE_BRIGHTNESS}")
    for preset, values in by_preset.items():
        print(f"{preset}: geometric mean {np.exp(np.mean(np.log(values))):.3g}")
    return 0


def truth_noise(args: argparse.Namespace) -> int:
    """Print the noise the estimator measures on each ground truth beside what it measures on
    the images generated from it (``--peaks``), both as multiples of the noise that was added,
    and the noise's correlation on those images and on the field's real avgN images
    (``--levels``).

    The truths are means of 50 8-bit captures: they keep fine content of their own (the
    captures' noise divided by 50, rounding, texture). Where that content is as strong as the
    added noise, the estimator counts both, and a result that removes it is scored as a loss.
    Beside the truth's own variance: what 50 averaged captures leave of the preset's single
    capture noise (``REFERENCE_VARIANCE``, taken as proportional to the brightness).
    """
    from fm2s.noise_estimate import estimate_noise
    from fm2s.noise_level import REFERENCE_BRIGHTNESS, REFERENCE_VARIANCE

    for field in args.fields or fmd_data.fields(args.data):
        gt = fmd_data.ground_truth(args.data, field).astype(np.float64)
        truth = estimate_noise(gt / 255.0)
        mu, own = truth.typical, float(truth.variance(truth.typical))
        residual = (REFERENCE_VARIANCE[fmd_data.preset_for(field)] * mu / REFERENCE_BRIGHTNESS
                    / FMD_TRUTH_CAPTURES)
        cells = [f"{field}: truth's own {own:.2e} at {mu:.2f} (correlation "
                 f"{truth.correlation:.2f}; 50 captures leave {residual:.2e})"]
        for peak in args.peaks or [1000, 2000, 3000, 5000]:
            noisy, _ = camera_image(gt, peak, args.seed)
            measured = estimate_noise((noisy.astype(np.float64) - OFFSET) / peak)
            added = mu / peak + (READ_NOISE / peak) ** 2  # Poisson + read noise, same scale
            cells.append(f"{peak:g}: measured {float(measured.variance(mu)) / added:.2f}x, "
                         f"added + truth's {(added + own) / added:.2f}x, correlation "
                         f"{measured.correlation:.2f}")
        captures = [estimate_noise(fmd_data.averaged_capture(args.data, field, n)[0] / 255.0)
                    for n in args.levels]
        cells.append("captures " + " / ".join(f"avg{n}" for n in args.levels) + ": correlation "
                     + " / ".join(f"{e.correlation:.2f}" for e in captures))
        print(" | ".join(cells))
    return 0


def summary(paths: list[Path]) -> int:
    rows = [json.loads(line) for path in paths for line in open(path)]
    table: dict[tuple, dict] = defaultdict(dict)
    settings: list[str] = []
    for r in rows:
        table[(r["field"], r.get("peak") or r["avg"])][r["setting"]] = r
        if r["setting"] not in settings:
            settings.append(r["setting"])
    print("| image | noisy | median 3x3 | " + " | ".join(settings) + " |")
    kind = "peak" if any("peak" in r for r in rows) else "avg"
    print("|---" * (3 + len(settings)) + "|")
    for (field, n), by in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        any_row = next(iter(by.values()))
        cells = [f"{by[s]['psnr']:.2f}" if s in by else "" for s in settings]
        print(f"| {field} {kind}{n:g} | {any_row['psnr_noisy']:.2f} | {any_row['psnr_median3']:.2f} | "
              + " | ".join(cells) + " |")
    for n in sorted({k[1] for k in table}):
        means = []
        for s in settings:
            vals = [by[s]["psnr"] for (f, m), by in table.items() if m == n and s in by]
            cpu = [by[s]["cpu_s"] for (f, m), by in table.items() if m == n and s in by]
            wall = [by[s]["wall_s"] for (f, m), by in table.items() if m == n and s in by]
            means.append(f"{s} {np.mean(vals):.2f} dB, {np.median(cpu):.1f} s CPU, "
                         f"{np.median(wall):.1f} s wall" if vals else "")
        print(f"{kind}{n:g} mean: " + "; ".join(means))
    fixed = [s for s in settings if s.startswith("avg")]
    if "auto" in settings and fixed:
        print("\nauto against the best fixed level, avg1, the input and the 3x3 median (dB):")
        worst: list[float] = []
        for (field, n), by in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if "auto" not in by or not all(s in by for s in fixed):
                continue
            auto = by["auto"]
            best = max(fixed, key=lambda s: by[s]["psnr"])
            worst.append(auto["psnr"] - by[best]["psnr"])
            share = (auto.get("fm2s_input_share") or [0.0])[0]
            versus_avg1 = (f"vs avg1 {auto['psnr'] - by['avg1']['psnr']:+.2f}; "
                           if "avg1" in by else "")
            print(f"  {field} {kind}{n:g}: auto {auto['psnr']:.2f} ({auto.get('fm2s_noise_level_chosen')}"
                  f"{f', input share {share:.2f}' if share else ''}) "
                  f"best {best} {by[best]['psnr']:.2f} ({worst[-1]:+.2f}); {versus_avg1}"
                  f"vs input {auto['psnr'] - auto['psnr_noisy']:+.2f}; "
                  f"vs median {auto['psnr'] - auto['psnr_median3']:+.2f}")
        if worst:
            print(f"  mean vs best {np.mean(worst):+.3f}, worst {min(worst):+.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--fields", nargs="*", help="field names (default: all)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4],
                        help="captures averaged per image (1, 2, 4: the shared fields have four)")
    parser.add_argument("--peaks", type=float, nargs="*",
                        help="instead of the captures: 16-bit images generated from the ground "
                             "truths at these peak photon counts (e.g. 2000 500 200 50 20)")
    parser.add_argument("--preset", help="preset for every image (default: the microscope's, "
                                             "from the file name)")
    parser.add_argument("--settings", nargs="+", default=["avg1", "avg2", "avg4", "avg8", "auto"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "noise-level.jsonl")
    parser.add_argument("--summary", type=Path, nargs="+",
                        help="print the table of results files and stop")
    parser.add_argument("--calibrate", action="store_true",
                        help="print the noise the estimator measures on each preset's avg1 "
                             "images (fm2s.noise_level.REFERENCE_VARIANCE) and stop")
    parser.add_argument("--truth-noise", action="store_true",
                        help="print the noise the estimator measures on each ground truth and on "
                             "the images generated from it at --peaks, and stop")
    args = parser.parse_args(argv)
    if args.calibrate:
        return calibrate(args)
    if args.truth_noise:
        return truth_noise(args)
    return summary(args.summary) if args.summary else run(args)


if __name__ == "__main__":
    raise SystemExit(main())
