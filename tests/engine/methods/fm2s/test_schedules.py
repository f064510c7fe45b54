"""Training schedules (fm2s.engine.methods.fm2s.schedules): the authors' reference, the named schedules, and their resolution for an image (by name or as an object, the same)."""

from __future__ import annotations

import dataclasses

import pytest

from fm2s.engine.methods.fm2s.schedules import (
    FAST,
    NOISE_DRAWS,
    QUICK,
    RANDOM_START,
    REFERENCE,
    SCHEDULES,
    Schedule,
    resolve_schedule,
)


def test_reference_schedule_is_the_authors():
    assert REFERENCE.stage1_steps == 5
    assert REFERENCE.noise_draws == 450
    assert REFERENCE.steps_per_draw == 5
    assert REFERENCE.total_steps == 2255 == 5 + 450 * 5
    assert REFERENCE.lr == 1e-3
    assert REFERENCE.lr_final is None
    assert REFERENCE.crop is None  # whole planes
    assert REFERENCE.views == 1  # the plane as it is, no averaging over mirror images



def test_named_schedules_registry():
    assert set(SCHEDULES) == {"reference", "fast", "quick"}
    for name, sched in SCHEDULES.items():
        assert sched.name == name
    assert FAST.crop is not None and QUICK.crop is not None
    assert QUICK.total_steps < resolve_schedule(FAST).total_steps < REFERENCE.total_steps



@pytest.mark.parametrize("name", ["reference", "FAST", " Quick "])
def test_resolve_schedule_by_name(name):
    named = SCHEDULES[name.strip().lower()]
    assert resolve_schedule(name) == resolve_schedule(named)
    if named.noise_draws is not None:  # nothing left to the image: the schedule itself
        assert resolve_schedule(name) is named



def test_resolve_schedule_passes_instances_through():
    custom = Schedule("mine", 1, 2, 3)
    assert resolve_schedule(custom) is custom
    tuned = dataclasses.replace(FAST, noise_draws=123, start=RANDOM_START)  # taken literally
    assert resolve_schedule(tuned, "confocal") is tuned



@pytest.mark.parametrize("preset", [None, "confocal", "twophoton", "widefield", "base"])
def test_a_schedule_by_name_or_as_an_object_trains_the_same(preset):
    assert resolve_schedule("fast", preset, "a_start") == resolve_schedule(FAST, preset, "a_start")



def test_leaving_the_draws_to_a_schedule_without_a_table_is_refused():
    with pytest.raises(ValueError, match="give a number of draws"):
        resolve_schedule(Schedule("mine", 1, None, 1))



@pytest.mark.parametrize(("preset", "draws"), [("confocal", 900), ("twophoton", 300), ("widefield", 300)])
def test_fast_trains_as_long_as_the_presets_microscope_needs(preset, draws):
    sched = resolve_schedule("fast", preset)
    assert sched.noise_draws == draws and sched.start == RANDOM_START
    # nothing else differs
    assert dataclasses.replace(sched, noise_draws=FAST.noise_draws, start=FAST.start) == FAST



@pytest.mark.parametrize("preset", [None, "base", "srdtrans"])
def test_presets_without_their_own_draws_get_the_schedules(preset):
    assert resolve_schedule("fast", preset).noise_draws == NOISE_DRAWS["fast"]["*"] == 700
    assert resolve_schedule("reference", "confocal") is REFERENCE  # the authors' 450 for all



@pytest.mark.parametrize("bad", ["slow", "", "ref", 5])
def test_resolve_schedule_unknown_lists_choices(bad):
    with pytest.raises(ValueError, match="unknown schedule") as err:
        resolve_schedule(bad)
    for name in ("reference", "fast", "quick"):
        assert name in str(err.value)



def test_total_steps_formula():
    assert Schedule("s", 3, 7, 4).total_steps == 31
    assert Schedule("s", 0, 1, 1).total_steps == 1



def test_scaled_keeps_everything_but_the_step_counts():
    scaled = REFERENCE.scaled(0.2)
    assert scaled.stage1_steps == 1
    assert scaled.noise_draws == 90
    assert scaled.total_steps == 1 + 90 * 5
    assert scaled.name == "reference*0.2"
    for field in ("steps_per_draw", "lr", "lr_final", "crop", "batch", "views"):
        assert getattr(scaled, field) == getattr(REFERENCE, field)
    assert REFERENCE.total_steps == 2255  # the original is untouched (frozen)



def test_scaled_keeps_at_least_one_draw_and_custom_name():
    fast = resolve_schedule(FAST, "confocal")
    tiny = fast.scaled(0.0, name="warm")
    assert tiny.name == "warm"
    assert tiny.stage1_steps == 0
    assert tiny.noise_draws == 1
    assert fast.scaled(1.0) == dataclasses.replace(fast, name="fast*1")
    with pytest.raises(ValueError, match="resolve it for an image first"):
        FAST.scaled(0.5)



@pytest.mark.parametrize("views", [0, 3, True])
def test_a_schedule_with_an_unknown_view_count_is_refused(views):
    with pytest.raises(ValueError, match=r"schedule 'mine': views must be one of \[1, 2, 4, 8\]"):
        Schedule("mine", stage1_steps=1, noise_draws=1, steps_per_draw=1, views=views)



def test_each_view_count_names_that_many_distinct_transforms():
    from fm2s.engine.views import VIEW_TRANSFORMS

    assert sorted(VIEW_TRANSFORMS) == [1, 2, 4, 8]
    assert all(len(set(VIEW_TRANSFORMS[n])) == n for n in VIEW_TRANSFORMS)



def test_schedule_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REFERENCE.noise_draws = 1  # type: ignore[misc]

