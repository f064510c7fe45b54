"""A shipped start is worth training steps: on a phantom it was not trained on, a short training
from the start denoises better than the same training from random weights, and ``fast`` by name
trains from it and says so in the metadata."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import fm2s
from fm2s.engine.schedules import FAST, STARTED_NOISE_DRAWS
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom

pytestmark = pytest.mark.slow


def _denoise(noisy: np.ndarray, schedule, seed: int = 0) -> np.ndarray:
    return fm2s.denoise(noisy.astype(np.float32) / 255.0, preset="confocal", schedule=schedule,
                        seed=seed, intensity_range=(0.0, 1.0))


def test_a_short_training_from_the_start_beats_random_weights():
    # tools/make_starts.py trains on the phantoms of seeds 0-7; this one is new to the starts
    clean, noisy = noisy_phantom((160, 160), seed=11)
    short = dataclasses.replace(FAST, stage1_steps=5, noise_draws=40)
    scores = {}
    for start in ("random", "confocal_avg1"):
        out = _denoise(noisy, dataclasses.replace(short, start=start))
        scores[start] = psnr(clean / 255.0, out, data_range=1.0)
    noisy_score = psnr(clean / 255.0, noisy / 255.0, data_range=1.0)
    assert scores["random"] > noisy_score  # both denoise ...
    assert scores["confocal_avg1"] > scores["random"] + 1.0, scores  # ... the start far better


def test_fast_by_name_trains_from_the_start_and_records_it():
    _, noisy = noisy_phantom((64, 64), seed=12)
    _, meta = fm2s.denoise_with_metadata(noisy, preset="confocal", noise_level="avg1", seed=0)
    assert meta["fm2s_start"] == "confocal_avg1"
    assert meta["fm2s_noise_draws"] == STARTED_NOISE_DRAWS["fast"]["confocal"]
    _, plain = fm2s.denoise_with_metadata(noisy, preset="confocal", noise_level="avg2", seed=0,
                                          schedule="quick")
    assert plain["fm2s_start"] == "random"
