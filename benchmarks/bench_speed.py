"""Speed as a new user meets it: one ``fm2s.denoise`` call per fresh process, side by side.

For each size (central crops of the shared FMD single captures, 512 x 512 = the whole image)
and each image, runs ``fm2s.denoise(image, preset=<the microscope's>)`` with every other
setting at its default (``schedule="fast"``, one child process per seed) and with
``schedule="reference"`` (the authors' training; seed 0), each in a fresh Python process that
imports fm2s and calls it once, so the first call's start-up is counted. Each child reports
the CPU time (all threads) and wall time of its call and of its whole life (interpreter,
imports, reading the input, the call); the parent scores the output (PSNR against the ground
truth's crop, data range 255) and prints one JSON line per run, then per size and microscope:
the PSNR of ``fast`` (mean over seeds) minus that of ``reference``, its standard error over
seeds, and the ratios of the call's CPU and wall time.

Usage::

    python benchmarks/bench_speed.py --sizes 512 256 128 --seeds 0 1 2 \\
        --results benchmarks/results/speed.jsonl

``--reuse`` takes runs already in ``--results`` (same image, size, schedule and seed) instead
of running them again: the reference runs take about 3 minutes per 512 x 512 image here.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fmd_data  # noqa: E402

from fm2s.metrics import psnr  # noqa: E402

#: The child: times its own life and one call of fm2s.denoise.
_CHILD = """
import json, resource, sys, time
w0, c0 = time.perf_counter(), time.process_time()
job = json.loads(sys.argv[1])
import numpy as np
import fm2s
image = np.load(job["input"])
w1, c1 = time.perf_counter(), time.process_time()
out = fm2s.denoise(image, preset=job["preset"], schedule=job["schedule"], seed=job["seed"])
w2, c2 = time.perf_counter(), time.process_time()
np.save(job["output"], out)
print(json.dumps({"call_wall": w2 - w1, "call_cpu": c2 - c1,
                  "process_wall": time.perf_counter() - w0, "process_cpu": time.process_time() - c0}))
"""


def run_child(image: np.ndarray, preset: str, schedule: str, seed: int, tmp: Path) -> dict:
    """Denoise ``image`` in a fresh process; return its times and its output."""
    src, dst = tmp / "input.npy", tmp / "output.npy"
    np.save(src, image)
    job = {"input": str(src), "output": str(dst), "preset": preset, "schedule": schedule,
           "seed": seed}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the child process failed:\n{done.stderr}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    times["output"] = np.load(dst)
    return times


def central(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` crop."""
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def summarize(rows: list[dict]) -> list[str]:
    """Per size and microscope: dPSNR (fast - reference), its standard error, time ratios."""
    lines = [f"{'size':>5} {'microscope':<10} {'images':>6} {'fast dB':>8} {'ref dB':>7} "
             f"{'dPSNR':>7} {'s.e.':>5} {'fast CPU s':>10} {'ref CPU s':>9} {'CPU x':>6} "
             f"{'wall x':>6}"]
    for size in sorted({r["size"] for r in rows}, reverse=True):
        for microscope in ("Confocal", "TwoPhoton", "WideField"):
            mine = [r for r in rows if r["size"] == size and r["field"].startswith(microscope)]
            refs = {r["field"]: r for r in mine if r["schedule"] == "reference"}
            fast = [r for r in mine if r["schedule"] == "fast" and r["field"] in refs]
            if not fast:
                continue
            seeds = sorted({r["seed"] for r in fast})
            # the microscope's mean dPSNR for each seed; the spread of those is the error
            per_seed = []
            for seed in seeds:
                runs = [r for r in fast if r["seed"] == seed]
                per_seed.append(statistics.mean(r["psnr"] - refs[r["field"]]["psnr"]
                                                for r in runs))
            d = statistics.mean(per_seed)
            se = statistics.stdev(per_seed) / math.sqrt(len(per_seed)) if len(per_seed) > 1 else 0
            cpu_fast = statistics.mean(r["call_cpu"] for r in fast)
            wall_fast = statistics.mean(r["call_wall"] for r in fast)
            cpu_ref = statistics.mean(r["call_cpu"] for r in refs.values())
            wall_ref = statistics.mean(r["call_wall"] for r in refs.values())
            lines.append(
                f"{size:>5} {microscope:<10} {len(refs):>6} "
                f"{statistics.mean(r['psnr'] for r in fast):8.2f} "
                f"{statistics.mean(r['psnr'] for r in refs.values()):7.2f} {d:+7.3f} {se:5.3f} "
                f"{cpu_fast:10.2f} {cpu_ref:9.1f} {cpu_ref / cpu_fast:6.1f} "
                f"{wall_ref / wall_fast:6.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 256, 128])
    parser.add_argument("--images", nargs="+",
                        default=["Confocal_BPAE_B", "TwoPhoton_BPAE_B", "WideField_BPAE_B"],
                        help="fields (their capture _1 is used)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--results", type=Path, help="append the JSON lines here")
    parser.add_argument("--reuse", action="store_true",
                        help="take runs already in --results instead of running them again")
    parser.add_argument("--summary", action="store_true",
                        help="only print the summary of --results")
    args = parser.parse_args(argv)
    old: list[dict] = []
    if args.results and args.results.exists() and (args.reuse or args.summary):
        old = [json.loads(line) for line in args.results.read_text().splitlines() if line]
    if args.summary:
        print("\n".join(summarize(old)))
        return 0
    if problem := fmd_data.missing(args.data):
        print(problem, file=sys.stderr)
        return 2
    done = {(r["field"], r["size"], r["schedule"], r["seed"]): r for r in old}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for field in args.images:
                image, _ = fmd_data.averaged_capture(args.data, field, 1)
                truth = central(fmd_data.ground_truth(args.data, field), size)
                noisy = central(image, size)
                preset = fmd_data.preset_for(field)
                runs = [("fast", seed) for seed in args.seeds] + [("reference", 0)]
                for schedule, seed in runs:
                    key = (field, size, schedule, seed)
                    if key in done:
                        rows.append(done[key])
                        continue
                    times = run_child(noisy, preset, schedule, seed, Path(tmp))
                    row = {"field": field, "size": size, "schedule": schedule, "seed": seed,
                           "psnr": psnr(truth, times.pop("output")), **times}
                    rows.append(row)
                    line = json.dumps(row)
                    print(line, flush=True)
                    if args.results:
                        with open(args.results, "a") as fh:
                            fh.write(line + "\n")
    print("\n".join(summarize(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
