"""The GPU path end to end: agreement with the CPU, host round trips, time per plane and stack.

One script to run on a machine with a CUDA GPU (a few minutes). It prints, and appends as
JSON lines to ``--results``:

1. **agreement**: ``fm2s.denoise`` with default settings and seed 0 on the device and on the
   CPU, on a generated 512 x 512 phantom and, where ``../shared/data/fmd`` is present, on the
   ``_B_1`` image of each microscope: PSNR of each and the mean and largest difference between
   the two outputs in grey levels. The two differ by their random streams (the CPU draws its
   noise with the compiled sampler, the GPU with ``torch.poisson``) and bfloat16 kernels, so
   the check is on quality (``|dPSNR| <= --tolerance`` dB), not on pixels.
2. **host round trips**: one ``fast`` training on the device under
   ``torch.cuda.set_sync_debug_mode("warn")``; every operation that waits for the GPU from the
   host inside the training loop is counted and the first ones are printed (the target is none).
3. **time**: a 512 x 512 plane with ``fast`` (after a warm-up call; target <= 0.3 s) and a
   100-frame 512 x 512 16-bit stack in ``shared`` mode, wall seconds, with the GPU's name.

``--device cpu`` runs the same code on the CPU (no round-trip check), to try the script out.

Usage::

    python benchmarks/bench_gpu.py --results benchmarks/results/gpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import fm2s
from fm2s.metrics import psnr
from fm2s.phantom import moving_phantom, noisy_phantom

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fmd_data  # noqa: E402


def emit(record: dict, results: Path | None) -> None:
    """Print one JSON line and append it to ``results``."""
    line = json.dumps(record)
    print(line, flush=True)
    if results is not None:
        with open(results, "a") as fh:
            fh.write(line + "\n")


def test_images(data: Path) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, preset, noisy, clean): a generated phantom, and the shared ``_B_1`` images."""
    clean, noisy = noisy_phantom((512, 512), seed=0)
    images = [("phantom", "confocal", noisy, clean)]
    if fmd_data.missing(data) is None:
        for field in ("Confocal_BPAE_B", "TwoPhoton_BPAE_B", "WideField_BPAE_B"):
            image, _ = fmd_data.averaged_capture(data, field, 1)
            images.append((field, fmd_data.preset_for(field), image,
                           fmd_data.ground_truth(data, field)))
    return images


def agreement(device: str, data: Path, tolerance: float) -> list[dict]:
    """Default settings, seed 0, on ``device`` and on the CPU: PSNR of each, differences."""
    rows = []
    for name, preset, noisy, clean in test_images(data):
        outputs = {d: fm2s.denoise(noisy, preset=preset, seed=0, device=d)
                   for d in (device, "cpu")}
        diff = np.abs(outputs[device].astype(np.float64) - outputs["cpu"].astype(np.float64))
        scores = {d: psnr(clean, out) for d, out in outputs.items()}
        rows.append({"check": "agreement", "image": name, "preset": preset,
                     "psnr_device": scores[device], "psnr_cpu": scores["cpu"],
                     "dpsnr": scores[device] - scores["cpu"],
                     "mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max()),
                     "ok": abs(scores[device] - scores["cpu"]) <= tolerance})
    return rows


def round_trips(device: str) -> dict:
    """Host round trips inside one ``fast`` training on ``device`` (CUDA only)."""
    from fm2s.engine.methods.fm2s.schedules import resolve_schedule
    from fm2s.engine.methods.fm2s.starts import find_start, load_start
    from fm2s.engine.methods.fm2s.train import train_model, training_data
    from fm2s.engine.runtime import make_generators
    from fm2s.presets import resolve_params

    dev = torch.device(device)
    params = resolve_params("confocal", "avg1")
    schedule = resolve_schedule("fast", "confocal", find_start(params, "confocal"))
    _, noisy = noisy_phantom((512, 512), seed=1)
    data = training_data((noisy.astype(np.float32) / 255.0)[None], params, dev)
    cpu_gen, dev_gen = make_generators(0, dev)
    model = load_start(schedule.start, params.n_chan, dev)
    if dev.type != "cuda":
        return {"check": "round_trips", "device": device, "skipped": "CUDA only"}
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train_model(data, params, schedule, cpu_generator=cpu_gen,
                        device_generator=dev_gen, model=model)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message).lower()]
    return {"check": "round_trips", "device": device, "steps": schedule.total_steps,
            "synchronizing_operations": len(syncs), "first": syncs[:5], "ok": not syncs}


def timing(device: str) -> list[dict]:
    """Wall seconds of a 512 x 512 plane (after a warm-up) and of a 100-frame stack."""
    _, noisy = noisy_phantom((512, 512), seed=2)
    fm2s.denoise(noisy, preset="confocal", seed=0, device=device)  # warm-up
    t0 = time.perf_counter()
    fm2s.denoise(noisy, preset="confocal", seed=1, device=device)
    plane = time.perf_counter() - t0
    clean, stack = moving_phantom(100, (512, 512), seed=0)
    t0 = time.perf_counter()
    out = fm2s.denoise(stack, preset="confocal", seed=0, device=device, stack_mode="shared")
    seconds = time.perf_counter() - t0
    data_range = float(clean.max()) - float(clean.min())
    stack_psnr = float(np.mean([psnr(clean[i], out[i], data_range) for i in range(len(out))]))
    return [{"check": "plane_512", "device": device, "seconds": plane, "ok": plane <= 0.3},
            {"check": "stack_100x512", "device": device, "seconds": seconds,
             "psnr": stack_psnr}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu")
    parser.add_argument("--data", type=Path, default=fmd_data.DATA)
    parser.add_argument("--tolerance", type=float, default=0.2,
                        help="largest |dPSNR| between the device and the CPU, dB")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["agreement", "round_trips", "timing"])
    parser.add_argument("--results", type=Path, help="append the JSON lines here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here (torch.cuda.is_available() is False); run this on a GPU "
              "machine, or try the script out with --device cpu", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    emit({"check": "machine", "device": args.device, "name": name,
          "torch": torch.__version__, "fm2s": fm2s.__version__}, args.results)
    rows: list[dict] = []
    if "agreement" not in args.skip:
        rows += agreement(args.device, args.data, args.tolerance)
    if "round_trips" not in args.skip:
        rows.append(round_trips(args.device))
    if "timing" not in args.skip:
        rows += timing(args.device)
    for row in rows:
        emit(row, args.results)
    return 0 if all(row.get("ok", True) for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
