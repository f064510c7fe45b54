"""Stack modes on a (4, 64, 64) stack: shared, per_plane, warm_start and auto resolution."""

from __future__ import annotations

import numpy as np
import pytest

import fm2s
from fm2s.engine.methods.fm2s.schedules import FAST, QUICK, REFERENCE, Schedule
from fm2s.engine.plan import STACK_MODES, WARM_FRACTION

STACK = Schedule("stack", stage1_steps=2, noise_draws=8, steps_per_draw=1,
                 lr=5e-3, crop=32, batch=2)
MODES = ("shared", "per_plane", "warm_start")


def resolve_stack_mode(mode: str, schedule: Schedule, n_planes: int) -> str:
    from fm2s.engine.plan import resolve_stack_mode as resolve

    return resolve(mode, schedule.crop is not None, schedule.name, n_planes)


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.poisson(60, (64, 64))
    planes = [np.clip(base + rng.poisson(20, (64, 64)) * (i + 1) // 2, 0, 255) for i in range(4)]
    return np.stack(planes).astype(np.uint8)


@pytest.fixture(scope="module")
def results(stack) -> dict[str, tuple[np.ndarray, dict, list]]:
    out = {}
    for mode in MODES:
        events: list = []
        image, meta = fm2s.denoise_with_metadata(stack, schedule=STACK, stack_mode=mode, seed=0,
                                                 progress=events.append)
        out[mode] = (image, meta, events)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_mode_runs_and_keeps_shape(results, stack, mode):
    image, meta, _ = results[mode]
    assert image.shape == stack.shape and image.dtype == stack.dtype
    assert meta["fm2s_stack_mode"] == mode
    for i in range(4):
        assert not np.array_equal(image[i], stack[i])


def test_modes_give_distinct_outputs(results):
    for i, a in enumerate(MODES):
        for b in MODES[:i]:
            assert not np.array_equal(results[a][0], results[b][0]), (a, b)


def test_per_plane_first_plane_equals_single_plane_run(results, stack):
    # noise_level="auto" measures one level per channel, over the stack's planes: the plane
    # alone at that level
    (level,) = results["per_plane"][1]["fm2s_noise_level_chosen"]
    alone = fm2s.denoise(stack[0], schedule=STACK, stack_mode="per_plane", seed=0,
                         noise_level=level)
    np.testing.assert_array_equal(results["per_plane"][0][0], alone)


def test_warm_start_first_plane_gets_the_full_schedule(results):
    np.testing.assert_array_equal(results["warm_start"][0][0], results["per_plane"][0][0])
    assert not np.array_equal(results["warm_start"][0][1:], results["per_plane"][0][1:])


def test_shared_model_differs_from_per_plane_model(results):
    assert not np.array_equal(results["shared"][0][0], results["per_plane"][0][0])


@pytest.mark.parametrize(("mode", "expected"), [
    ("shared", STACK.total_steps),
    ("per_plane", 4 * STACK.total_steps),
    ("warm_start", STACK.total_steps + 3 * STACK.scaled(WARM_FRACTION).total_steps),
])
def test_number_of_training_steps_per_mode(results, mode, expected):
    events = results[mode][2]
    assert sum(e.phase == "train" for e in events) == expected
    assert sum(e.phase == "denoise" for e in events) == 4
    assert events[-1].fraction == 1.0
    assert all(a.fraction <= b.fraction for a, b in zip(events, events[1:]))


def test_warm_start_is_cheaper_than_per_plane():
    assert STACK.scaled(WARM_FRACTION).total_steps < STACK.total_steps


@pytest.mark.parametrize(("schedule", "expected"), [
    (QUICK, "shared"), (FAST, "shared"), (REFERENCE, "per_plane"),
    (Schedule("plane", 1, 1, 1), "per_plane"), (Schedule("crop", 1, 1, 1, crop=32), "shared"),
])
def test_auto_resolves_by_schedule_kind(schedule, expected):
    assert resolve_stack_mode("auto", schedule, 4) == expected
    assert resolve_stack_mode(" AUTO ", schedule, 1) == expected


@pytest.mark.parametrize(("given", "expected"), [("per-plane", "per_plane"),
                                                  ("Warm_Start", "warm_start"),
                                                  ("SHARED", "shared")])
def test_stack_mode_spelling_is_normalised(given, expected):
    assert resolve_stack_mode(given, QUICK, 4) == expected


def test_unknown_stack_mode_lists_choices():
    with pytest.raises(ValueError, match="unknown stack_mode") as err:
        resolve_stack_mode("batch", QUICK, 4)
    for mode in STACK_MODES:
        assert mode in str(err.value)


def test_shared_with_whole_plane_schedule_only_on_stacks():
    with pytest.raises(ValueError, match="whole planes"):
        resolve_stack_mode("shared", REFERENCE, 2)
    assert resolve_stack_mode("shared", REFERENCE, 1) == "shared"


def test_auto_in_the_api_records_the_resolved_mode(stack):
    plane_schedule = Schedule("plane", stage1_steps=1, noise_draws=1, steps_per_draw=1)
    _, meta = fm2s.denoise_with_metadata(stack[:2], schedule=plane_schedule, seed=0)
    assert meta["fm2s_stack_mode"] == "per_plane"
    _, meta = fm2s.denoise_with_metadata(stack[:2], schedule=STACK, seed=0)
    assert meta["fm2s_stack_mode"] == "shared"


def test_predict_puts_back_the_share_of_the_input_it_is_given():
    import torch

    from fm2s.engine.methods.fm2s.method import FM2SMethod
    from fm2s.engine.pipeline import predict
    from fm2s.presets import resolve_params

    method = FM2SMethod(resolve_params("confocal", "avg1"), QUICK)
    model = method.network().eval()
    plane = np.random.default_rng(0).random((48, 48), dtype=np.float32)
    cpu = torch.device("cpu")
    alone = predict(method, model, plane, device=cpu, tile=None)
    quarter = predict(method, model, plane, device=cpu, tile=None, input_share=0.25)
    np.testing.assert_allclose(quarter, 0.75 * alone + 0.25 * plane, atol=1e-6)
    assert np.abs(quarter - alone).max() > 0.01
    np.testing.assert_array_equal(
        predict(method, model, plane, device=cpu, tile=None, input_share=1.0), plane)
