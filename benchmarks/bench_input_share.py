"""The input's share (``fm2s_input_share``): SURE's share against FM2S alone and the best share.

For each image the level ``noise_level="auto"`` chooses is trained once (``fast``, the seed
given); then FM2S's result alone, the result with the share Stein's unbiased risk estimate
picks (:func:`fm2s.engine.pipeline.measure_input_share`, measured whatever the level and
preset, so that where ``auto`` does not use it can be seen too) and with the best share (known
from the ground truth) are scored against the truth. One JSON line per image goes to
``--results``; ``--summary`` prints the comparison by level (below ``avg2`` or not) and preset.

Images (``--sets``): ``fmd`` the means of a field's first 1, 2 and 4 captures; ``heldout``
its captures 2 and 3 alone and the mean of captures 3 and 4; ``generated`` 16-bit images made
from the ground truths at ``--peaks`` photons (Poisson, read noise 2, offset 100; noise seed
``--seed``; the wide-field fields with the ``confocal`` preset, as this noise is white).

Usage::

    python benchmarks/bench_input_share.py --sets fmd heldout --seed 0 \\
        --results benchmarks/results/input-share.jsonl
    python benchmarks/bench_input_share.py --sets generated --peaks 500 200 50 20 --seed 0 \\
        --results benchmarks/results/input-share.jsonl
    python benchmarks/bench_input_share.py --summary benchmarks/results/input-share.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fm2s.engine.methods.fm2s.method import FM2SMethod
from fm2s.engine.pipeline import measure_input_share, predict, train_on
from fm2s.engine.runtime import make_generators
from fm2s.intensity import intensity_map_for
from fm2s.metrics import psnr
from fm2s.noise_level import choose_level
from fm2s.options import DEFAULT_BIAS_SIGMA, fm2s_setting, validate_options

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fmd_data  # noqa: E402
from bench_noise_level import camera_image  # noqa: E402


def _capture(data: Path, field: str, k: int) -> np.ndarray:
    return np.asarray(Image.open(data / "raw" / f"{field}_{k}.png"), dtype=np.float64)


def images(args: argparse.Namespace):
    """(set, field, label, noisy image, reference, data range, preset) of every image."""
    for field in args.fields or fmd_data.fields(args.data):
        gt = fmd_data.ground_truth(args.data, field).astype(np.float64)
        preset = fmd_data.preset_for(field)
        if "fmd" in args.sets:
            for n in (1, 2, 4):
                noisy, _ = fmd_data.averaged_capture(args.data, field, n)
                yield "fmd", field, f"avg{n}", noisy, gt, 255.0, preset
        if "heldout" in args.sets:
            for k in (2, 3):
                yield "heldout", field, f"capture {k}", \
                    _capture(args.data, field, k).astype(np.uint8), gt, 255.0, preset
            pair = np.mean([_capture(args.data, field, k) for k in (3, 4)], axis=0)
            yield "heldout", field, "avg2 (captures 3, 4)", \
                np.clip(np.rint(pair), 0, 255).astype(np.uint8), gt, 255.0, preset
        if "generated" in args.sets:
            for peak in args.peaks:
                noisy, reference = camera_image(gt, peak, args.seed)
                yield "generated", field, f"{peak:g} photons", noisy, reference, float(peak), \
                    "confocal" if preset == "widefield" else preset


def run(args: argparse.Namespace) -> int:
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    with open(args.results, "a") as out:
        for kind, field, label, noisy, reference, data_range, preset in images(args):
            imap = intensity_map_for(noisy)
            unit = imap.to_unit(noisy)
            choice = choose_level(unit, preset)
            method = FM2SMethod(*fm2s_setting(validate_options(preset=preset).values,
                                              choice.level))
            cpu_gen, dev_gen = make_generators(args.seed, cpu)
            model = train_on(unit[None], [0], method, None, device=cpu,
                             cpu_generator=cpu_gen, device_generator=dev_gen)
            share = measure_input_share(method, model, unit[None], 0, choice.estimate,
                                        device=cpu, tile=None, bias_sigma=DEFAULT_BIAS_SIGMA)
            alone = predict(method, model, unit, device=cpu, tile=None,
                            bias_sigma=DEFAULT_BIAS_SIGMA).astype(np.float64)
            residual = unit - alone
            truth = (reference - imap.lo) / (imap.hi - imap.lo)
            best = float(np.clip(np.sum(residual * (truth - alone)) / np.sum(residual**2), 0, 1))

            scale, lo = imap.hi - imap.lo, imap.lo
            scores = {name: psnr(reference, (alone + s * residual) * scale + lo, data_range)
                      for name, s in (("alone", 0.0), ("share", share), ("best", best))}
            row = {"set": kind, "field": field, "image": label, "preset": preset,
                   "seed": args.seed, "level": choice.level,
                   "captures": choice.captures, "used_by_auto": choice.keeps_input,
                   "share": share, "best_share": best,
                   "psnr_noisy": psnr(reference, noisy, data_range),
                   **{f"psnr_{name}": value for name, value in scores.items()}}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"{kind} {field} {label}: {choice.level} share {share:.2f} (best {best:.2f}): "
                  f"{row['psnr_share'] - row['psnr_alone']:+.2f} dB", flush=True)
    return 0


def summary(paths: list[Path]) -> int:
    rows = [json.loads(line) for path in paths for line in open(path)]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        scanning = "widefield" if r["preset"] == "widefield" else "confocal, twophoton"
        groups[(r["set"], scanning, "avg2 and up" if r["captures"] >= 2 else "below avg2")].append(r)
    print("| images | presets | levels | n | share - alone: mean, worst, best | best share - alone: mean |")
    print("|---|---|---|---|---|---|")
    for (kind, presets, levels), rs in sorted(groups.items()):
        gain = [r["psnr_share"] - r["psnr_alone"] for r in rs]
        best = [r["psnr_best"] - r["psnr_alone"] for r in rs]
        print(f"| {kind} | {presets} | {levels} | {len(rs)} | {np.mean(gain):+.3f}, "
              f"{min(gain):+.2f}, {max(gain):+.2f} | {np.mean(best):+.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--fields", nargs="*", help="field names (default: all)")
    parser.add_argument("--sets", nargs="+", choices=("fmd", "heldout", "generated"),
                        default=["fmd"])
    parser.add_argument("--peaks", type=float, nargs="*", default=[500, 200, 50, 20])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "input-share.jsonl")
    parser.add_argument("--summary", type=Path, nargs="+",
                        help="print the table of results files and stop")
    args = parser.parse_args(argv)
    return summary(args.summary) if args.summary else run(args)


if __name__ == "__main__":
    raise SystemExit(main())
