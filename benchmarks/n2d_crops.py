"""Noise2Detail schedule research on crops of the FMD images: PSNR of every stage, CPU seconds.

Trains N2D with one schedule (a named one, changed with ``--set field=value``) on square crops
of the shared FMD captures and scores, against the ground truth (8-bit, data range 255, float
output x 255): the final output, that output with the engine's bias correction
(``restore_local_mean``, ``--bias-sigma``), stage 1 alone (ZS-N2N, ``x - f(x)``) and stage 2's
``y_hat``. CPU seconds (``time.process_time``) of training and of inference of the final
output are recorded separately. One JSON line per (image, seed) goes to ``--results``.

Usage::

    python benchmarks/n2d_crops.py --schedule reference --crop 128 --seeds 0 --label ref128
    python benchmarks/n2d_crops.py --schedule fast --set stage1_steps=400 --set crop=48 \\
        --crop 128 --seeds 0 1 --label fast-400
    python benchmarks/n2d_crops.py --summary benchmarks/results/n2d_crops.jsonl

The crop is taken at ``--at`` (row col, default the image centre); its rows and columns are
the same for every image. Run with one torch thread (``--threads``, default 1) on a shared
machine: timings are then comparable between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import fmd_data
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGES = ["Confocal_BPAE_B_1", "Confocal_BPAE_G_1", "TwoPhoton_BPAE_B_1", "WideField_BPAE_G_1"]


def psnr(gt: np.ndarray, x: np.ndarray) -> float:
    """PSNR in dB, data range 255."""
    mse = np.mean((gt.astype(np.float64) - x.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def parse_value(text: str) -> object:
    """``--set`` value: JSON (numbers, true/false, null) or a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def crop_of(image: np.ndarray, size: int | None, at: list[int] | None) -> np.ndarray:
    """The ``size x size`` crop at ``at`` (top, left), by default centred."""
    if size is None:
        return image
    h, w = image.shape
    top, left = at if at else ((h - size) // 2, (w - size) // 2)
    return image[top : top + size, left : left + size]


def run(args: argparse.Namespace) -> None:
    import torch

    from fm2s.engine.bias import restore_local_mean
    from fm2s.engine.methods.n2d.method import N2DMethod
    from fm2s.engine.methods.n2d.model import residual_denoise
    from fm2s.engine.methods.n2d.schedules import named_schedule
    from fm2s.engine.methods.n2d.train import structure_planes
    from fm2s.engine.runtime import make_generators

    torch.set_num_threads(args.threads)
    changes = dict(item.split("=", 1) for item in args.set)
    schedule = dataclasses.replace(named_schedule(args.schedule),
                                   **{k: parse_value(v) for k, v in changes.items()})
    method = N2DMethod(schedule)
    device = torch.device("cpu")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for stem in args.images:
        raw = crop_of(np.asarray(Image.open(args.data / "raw" / f"{stem}.png")), args.crop, args.at)
        gt = crop_of(np.asarray(Image.open(args.data / "gt" / f"{stem}.png")), args.crop, args.at)
        unit = raw.astype(np.float32) / 255.0
        for seed in args.seeds:
            cpu_gen, dev_gen = make_generators(seed, device)
            c0 = time.process_time()
            model = method.train(method.prepare(unit[None], device), None, fraction=1.0,
                                 cpu_generator=cpu_gen, device_generator=dev_gen, on_step=None)
            c1 = time.process_time()
            plane = torch.from_numpy(unit)
            out = method.predict(model, plane, tile=None)
            c2 = time.process_time()
            corrected = restore_local_mean(plane, out, args.bias_sigma)
            with torch.inference_mode():
                y1 = residual_denoise(model.f, plane[None, None])[0, 0]
                y_hat = structure_planes(model.f, plane[None, None])[0, 0]
            rec = {
                "label": args.label, "image": stem, "crop": args.crop, "at": args.at,
                "seed": seed, "schedule": dataclasses.asdict(schedule),
                "noisy": psnr(gt, raw),
                "n2d": psnr(gt, out.numpy() * 255.0),
                "n2d_bias": psnr(gt, corrected.numpy() * 255.0),
                "zsn2n": psnr(gt, y1.numpy() * 255.0),
                "y_hat": psnr(gt, y_hat.numpy() * 255.0),
                "train_cpu": c1 - c0, "predict_cpu": c2 - c1, "threads": args.threads,
            }
            with args.results.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(f"{args.label:<16} {stem:<20} seed {seed}: n2d {rec['n2d']:.2f} "
                  f"(+bias {rec['n2d_bias']:.2f}) zsn2n {rec['zsn2n']:.2f} y_hat {rec['y_hat']:.2f}"
                  f" noisy {rec['noisy']:.2f}; CPU train {rec['train_cpu']:.1f} s, predict "
                  f"{rec['predict_cpu']:.2f} s", flush=True)


def summary(path: Path, labels: list[str] | None, baseline: str) -> None:
    """Mean PSNRs and CPU seconds per (label, crop), and differences from ``baseline``.

    Each image's PSNR is first averaged over its seeds; a label's means (and its difference
    from the baseline, ``d n2d`` and ``d zsn2n``) are over the images that both it and the
    baseline ran at that crop size.
    """
    runs: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if labels and rec["label"] not in (*labels, baseline):
            continue
        runs[(rec["label"], rec["crop"])][rec["image"]].append(rec)

    def per_image(recs: list[dict], key: str) -> float:
        return float(np.mean([r[key] for r in recs]))

    keys = ("n2d", "n2d_bias", "zsn2n", "y_hat", "train_cpu", "predict_cpu")
    print(f"{'label':<18} {'crop':>5} {'img':>3} {'runs':>4} {'n2d':>7} {'+bias':>7} {'zsn2n':>7} "
          f"{'y_hat':>7} {'train s':>8} {'pred s':>7} {'d n2d':>7} {'d zsn2n':>7}")
    for (label, crop), images in runs.items():
        base = runs.get((baseline, crop), {})
        shared = sorted(set(images) & set(base)) or sorted(images)
        means = {k: float(np.mean([per_image(images[i], k) for i in shared])) for k in keys}
        deltas = ["", ""]
        if base and set(shared) <= set(base):
            deltas = [f"{means[k] - np.mean([per_image(base[i], k) for i in shared]):+7.2f}"
                      for k in ("n2d", "zsn2n")]
        n_runs = sum(len(images[i]) for i in shared)
        print(f"{label:<18} {crop!s:>5} {len(shared):>3} {n_runs:>4} {means['n2d']:7.2f} "
              f"{means['n2d_bias']:7.2f} {means['zsn2n']:7.2f} {means['y_hat']:7.2f} "
              f"{means['train_cpu']:8.1f} {means['predict_cpu']:7.2f} {deltas[0]:>7} {deltas[1]:>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--images", nargs="+", default=DEFAULT_IMAGES)
    parser.add_argument("--crop", type=int, default=128, help="crop side (0: whole image)")
    parser.add_argument("--at", type=int, nargs=2, help="crop top-left row and column")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--schedule", default="fast")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--label", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bias-sigma", type=float, default=16.0)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "n2d_crops.jsonl")
    parser.add_argument("--summary", type=Path, help="print the means of a results file and exit")
    parser.add_argument("--labels", nargs="*", help="with --summary: only these labels")
    parser.add_argument("--baseline", default="ref", help="with --summary: label to compare with")
    args = parser.parse_args(argv)
    if args.summary:
        summary(args.summary, args.labels, args.baseline)
        return 0
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    args.crop = args.crop or None
    args.label = args.label or args.schedule
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
