"""Shipped starting networks: which parameters they fit, how schedules pick them, loading and
saving them, and the refusal of a start that does not fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import fm2s
from fm2s.engine.methods.fm2s.model import build_model
from fm2s.engine.methods.fm2s.schedules import (
    FAST,
    NOISE_DRAWS,
    RANDOM_START,
    STARTED_NOISE_DRAWS,
    resolve_schedule,
)
from fm2s.engine.methods.fm2s.starts import (
    _shipped,
    available_starts,
    check_start,
    find_start,
    load_start,
)
from fm2s.make_starts import save_start
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom
from fm2s.presets import NOISE_LEVELS, resolve_params

CPU = torch.device("cpu")
SHIPPED = {"confocal": "confocal_avg1", "twophoton": "twophoton_avg1", "widefield": "widefield_avg1"}


@pytest.mark.parametrize("preset", sorted(SHIPPED))
@pytest.mark.parametrize("level", NOISE_LEVELS)
def test_every_published_level_ships_a_start(preset, level):
    params = resolve_params(preset, level)
    name = f"{preset}_{level}"
    assert available_starts()[name] == params
    assert find_start(params) == name


@pytest.mark.parametrize("preset", ["srdtrans", "base"])
def test_srdtrans_and_base_train_from_random_weights(preset):
    # a start made for them scored 0.2-1.7 dB below random weights (BENCHMARKS.md)
    assert find_start(resolve_params(preset), preset) is None
    assert resolve_schedule("fast", preset, None).start == RANDOM_START


@pytest.mark.parametrize(("level", "nearest"), [
    ("avg3", "confocal_avg4"),  # factors within 1.36x of avg4's, 1.52x of avg2's
    ("avg1.2", "confocal_avg1"),
    ("avg12", "confocal_avg16"),
])
def test_levels_between_columns_start_from_the_nearest_start_of_their_preset(level, nearest):
    params = resolve_params("confocal", level)
    assert find_start(params) is None  # no start has exactly these
    assert find_start(params, "confocal") == nearest


@pytest.mark.parametrize(("params", "preset"), [
    (resolve_params("confocal", "avg1", k_p=300), "confocal"),  # 10x the nearest start's k_p
    (resolve_params("widefield", "avg1", median_window=5), "widefield"),  # another network
    (resolve_params("confocal", "avg1", k_p=31), None),  # no preset named: exact only
])
def test_no_start_for_parameters_far_from_every_start(params, preset):
    assert find_start(params, preset) is None


@pytest.mark.parametrize("preset", sorted(SHIPPED))
def test_fast_starts_from_the_shipped_network_with_its_own_draws(preset):
    started = resolve_schedule("fast", preset, SHIPPED[preset])
    assert started.start == SHIPPED[preset]
    assert started.noise_draws == STARTED_NOISE_DRAWS["fast"][preset]
    assert started.noise_draws < NOISE_DRAWS["fast"][preset]
    # nothing else differs from the named schedule
    assert dataclasses.replace(started, noise_draws=FAST.noise_draws, start=FAST.start) == FAST


@pytest.mark.parametrize("preset", sorted(SHIPPED))
def test_without_a_start_fast_trains_from_random_weights_for_longer(preset):
    plain = resolve_schedule("fast", preset, None)
    assert plain.start == RANDOM_START
    assert plain.noise_draws == NOISE_DRAWS["fast"][preset]
    # the same from the object with random weights asked for: the draws random weights need
    random = resolve_schedule(dataclasses.replace(FAST, start=RANDOM_START), preset,
                              SHIPPED[preset])
    assert random == plain


def test_other_schedules_never_pick_a_start():
    assert resolve_schedule("reference", "confocal", "confocal_avg1").start == RANDOM_START
    assert resolve_schedule("quick", "confocal", "confocal_avg1").start == RANDOM_START


def test_check_start_refuses_unknown_and_mismatched_starts():
    confocal = resolve_params("confocal")
    assert check_start(RANDOM_START, confocal) == RANDOM_START
    assert check_start("confocal_avg1", confocal) == "confocal_avg1"
    with pytest.raises(ValueError, match="unknown start 'nope'; choose one of: random, ") as err:
        check_start("nope", confocal)
    assert "confocal_avg1" in str(err.value)
    # another level or microscope with the same network: a valid start
    assert check_start("twophoton_avg4", confocal) == "twophoton_avg4"
    with pytest.raises(ValueError, match="use start='random' with these parameters"):
        check_start("confocal_avg1", resolve_params("widefield"))


def test_denoise_refuses_a_schedule_whose_start_does_not_fit():
    import fm2s

    wrong = dataclasses.replace(FAST, start="widefield_avg1")
    with pytest.raises(ValueError, match="the start 'widefield_avg1' is a network for n_chan=1"):
        fm2s.denoise(np.zeros((32, 32), np.float32), preset="confocal", schedule=wrong)


@pytest.mark.parametrize(("preset", "name"), SHIPPED.items())
def test_load_start_gives_a_fresh_network_with_the_stored_weights(preset, name):
    n_chan = resolve_params(preset).n_chan
    first = load_start(name, n_chan, CPU)
    second = load_start(name, n_chan, CPU)
    with torch.no_grad():
        first.conv1.weight.add_(1.0)  # training one copy must not touch the next
    from fm2s.engine.methods.fm2s.starts import STARTS_DIR

    with np.load(STARTS_DIR / f"{name}.npz") as npz:
        np.testing.assert_array_equal(second.conv1.weight.detach().numpy(), npz["w:conv1.weight"])
        np.testing.assert_array_equal(second.conv3.bias.detach().numpy(), npz["w:conv3.bias"])
    assert not torch.equal(first.conv1.weight, second.conv1.weight)
    assert second.conv1.in_channels == n_chan


def test_save_start_round_trips_and_never_overwrites(tmp_path):
    params = resolve_params("confocal", "avg4")
    model = build_model(params.n_chan, torch.Generator().manual_seed(3), CPU)
    path = tmp_path / "confocal_avg4.npz"
    save_start(path, model, params, {"made": "in a test"})
    assert _shipped(tmp_path) == {"confocal_avg4": params}
    with np.load(path) as npz:
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(npz[f"w:{key}"], value.numpy())
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="remove it first"):
        save_start(path, build_model(params.n_chan, torch.Generator().manual_seed(4), CPU),
                   params, {})
    assert path.read_bytes() == before


def test_a_schedule_needs_a_start_name():
    with pytest.raises(ValueError, match="start must be 'random', 'auto' or the name of a shipped start"):
        dataclasses.replace(FAST, start="")


def _denoise(noisy: np.ndarray, schedule, seed: int = 0) -> np.ndarray:
    return fm2s.denoise(noisy.astype(np.float32) / 255.0, preset="confocal", schedule=schedule,
                        seed=seed, intensity_range=(0.0, 1.0))


@pytest.mark.slow
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


@pytest.mark.slow
def test_fast_by_name_trains_from_the_start_and_records_it():
    _, noisy = noisy_phantom((64, 64), seed=12)
    _, meta = fm2s.denoise_with_metadata(noisy, preset="confocal", noise_level="avg1", seed=0)
    assert meta["fm2s_start"] == "confocal_avg1"
    assert meta["fm2s_noise_draws"] == STARTED_NOISE_DRAWS["fast"]["confocal"]
    _, plain = fm2s.denoise_with_metadata(noisy, preset="confocal", noise_level="avg2", seed=0,
                                          schedule="quick")
    assert plain["fm2s_start"] == "random"
