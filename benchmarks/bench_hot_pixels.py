"""Hot pixels: a camera image denoised with and without a few isolated pixels at the top of its type.

A generated 16-bit camera image (``fm2s.phantom.noisy_phantom``: a 12-bit range with offset 100)
gets ``--hot`` pixels at ``--value`` at random places. Each setting denoises the image without
them, with them, and with them but not set aside (``fm2s.spikes`` switched off: the range then
ends at the hot pixels, as it did before they were set aside). PSNR against the clean image,
leaving the hot pixels' places out, with the clean image's span as data range.

Usage::

    python benchmarks/bench_hot_pixels.py --hot 4 --value 65535 --settings auto avg1 --seed 0
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import fm2s
import fm2s.spikes
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--hot", type=int, default=4, help="how many hot pixels")
    parser.add_argument("--value", type=int, default=65535, help="their value")
    parser.add_argument("--settings", nargs="+", default=["auto", "avg1"],
                        help="noise levels to run")
    parser.add_argument("--preset", default="confocal")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--image-seed", type=int, default=3)
    args = parser.parse_args(argv)

    clean, noisy = noisy_phantom((args.size, args.size), dtype="uint16", offset=100,
                                 seed=args.image_seed)
    rng = np.random.default_rng(args.image_seed)
    where = rng.integers(0, args.size, (args.hot, 2))
    hot = noisy.copy()
    hot[where[:, 0], where[:, 1]] = args.value
    keep = np.ones(clean.shape, bool)
    keep[where[:, 0], where[:, 1]] = False
    reference = clean.astype(float)[keep]

    def score(image: np.ndarray) -> float:
        return psnr(reference, image.astype(float)[keep], data_range=float(np.ptp(reference)))

    print(f"{args.size} x {args.size} uint16, {args.hot} hot pixel(s) at {args.value}, preset "
          f"{args.preset}, seed {args.seed}; noisy {score(noisy):.2f} dB")
    print("| setting | without hot pixels | with, set aside | with, not set aside |")
    print("|---|---|---|---|")
    for setting in args.settings:
        options = dict(preset=args.preset, seed=args.seed, noise_level=setting)
        plain = fm2s.denoise(noisy, **options)
        aside, meta = fm2s.denoise_with_metadata(hot, **options)
        tiers = fm2s.spikes.MAX_TIERS
        fm2s.spikes.MAX_TIERS = 0  # nothing set aside: the range ends at the hot pixels
        try:
            not_aside = fm2s.denoise(hot, **options)
        finally:
            fm2s.spikes.MAX_TIERS = tiers
        print(f"| {setting} | {score(plain):.2f} | {score(aside):.2f} "
              f"(hot pixels set aside: {meta.get('fm2s_hot_pixels')}) | {score(not_aside):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
