"""Make the starting networks that ``fast`` trains from
(``fm2s/engine/methods/fm2s/start_weights/*.npz``).

Each start is an FM2S network trained, as ``fast`` trains one on an image, on generated noisy
phantoms (``fm2s.phantom.noisy_phantom``; no real data) with one preset's parameters at one
noise level. See ``fm2s.engine.methods.fm2s.starts`` for what they are for, and BENCHMARKS.md for what they
change.

Usage::

    python tools/make_starts.py confocal:avg1
    python tools/make_starts.py confocal:avg1 --phantoms 8 --draws 3600 --seed 0

Existing files are never overwritten: remove one to make it again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fm2s.engine.methods.fm2s.starts import STARTS_DIR
from fm2s.make_starts import save_start, train_start
from fm2s.presets import canonical_preset, normalize_noise_level


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("starts", nargs="+", metavar="PRESET:LEVEL",
                        help="e.g. confocal:avg1 (the level defaults to avg1)")
    parser.add_argument("--phantoms", type=int, default=8, help="phantoms trained on (default 8)")
    parser.add_argument("--size", type=int, default=512, help="phantom side in pixels (default 512)")
    parser.add_argument("--draws", type=int, default=3600, help="noise draws (default 3600)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=STARTS_DIR, help="folder (default: the package's)")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    for spec in args.starts:
        preset, _, level = spec.partition(":")
        preset, level = canonical_preset(preset), normalize_noise_level(level or "avg1")
        path = args.out / f"{preset}_{level}.npz"
        if path.exists():
            print(f"{path} exists; remove it first to make it again", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        model, params, recipe = train_start(preset, level, phantoms=args.phantoms, size=args.size,
                                            noise_draws=args.draws, seed=args.seed)
        save_start(path, model, params, recipe)
        print(f"{path}: {args.phantoms} phantoms of {args.size} px, {args.draws} draws, "
              f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
