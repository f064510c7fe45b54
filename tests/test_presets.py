"""Presets: the authors' published table, noise-level aliases, overrides and validation errors.

The expected table is typed in here independently from docs/FM2S_SPEC.md, not read from
``fm2s.presets``, so a typo in either place fails a test.
"""

from __future__ import annotations

import pytest

import fm2s
from fm2s.presets import FM2SParams, normalize_noise_level, resolve_params

LEVELS = ("avg1", "avg2", "avg4", "avg8", "avg16")

# preset: (n_chan, stride, median window, {level: (k_g, k_p, lam_p)}) -- from the spec's table.
SPEC_TABLE = {
    "confocal": (2, 75, 3, dict(zip(LEVELS, zip(
        (200, 125, 70, 10, 5), (30, 95, 195, 240, 650), (70, 285, 485, 650, 1400))))),
    "twophoton": (2, 75, 3, dict(zip(LEVELS, zip(
        (175, 150, 90, 20, 15), (30, 85, 300, 185, 850), (60, 300, 480, 600, 3800))))),
    "widefield": (1, 75, 11, dict(zip(LEVELS, zip(
        (220, 220, 60, 20, 1), (45, 100, 650, 600, 1500), (2000, 2500, 3500, 4000, 4800))))),
    "srdtrans": (6, 5, 3, {"avg1": (60, 40, 125)}),
    "base": (6, 5, 3, {"avg1": (60, 40, 125)}),
}

SPEC_CASES = [
    (preset, level, n_chan, stride, w, *factors)
    for preset, (n_chan, stride, w, levels) in SPEC_TABLE.items()
    for level, factors in levels.items()
]


def test_list_presets_matches_spec():
    assert sorted(fm2s.list_presets()) == sorted(SPEC_TABLE)


def test_noise_levels_constant():
    assert tuple(fm2s.NOISE_LEVELS) == LEVELS


@pytest.mark.parametrize(("preset", "level", "n_chan", "stride", "w", "k_g", "k_p", "lam_p"),
                         SPEC_CASES)
def test_every_published_setting_resolves_to_the_spec_values(
    preset, level, n_chan, stride, w, k_g, k_p, lam_p
):
    params = resolve_params(preset, level)
    assert params == FM2SParams(n_chan=n_chan, stride=stride, median_window=w,
                                k_g=k_g, k_p=k_p, lam_p=lam_p)
    assert isinstance(params.n_chan, int)
    assert isinstance(params.stride, int)
    assert isinstance(params.median_window, int)


def test_defaults_are_confocal_avg1():
    assert resolve_params() == resolve_params("confocal", "avg1")


@pytest.mark.parametrize("alias", [1, "1", "avg1", "AVG1", " Avg1 "])
def test_noise_level_aliases_for_avg1(alias):
    assert normalize_noise_level(alias) == "avg1"
    assert resolve_params("confocal", alias) == resolve_params("confocal", "avg1")


@pytest.mark.parametrize(("alias", "level"), [(2, "avg2"), ("4", "avg4"), ("AVG8", "avg8"),
                                               (16, "avg16")])
def test_noise_level_aliases_other_levels(alias, level):
    assert normalize_noise_level(alias) == level
    assert resolve_params("twophoton", alias) == resolve_params("twophoton", level)


@pytest.mark.parametrize("name", ["Confocal", "CONFOCAL", " confocal "])
def test_preset_name_is_case_insensitive(name):
    assert resolve_params(name) == resolve_params("confocal")


@pytest.mark.parametrize(("name", "value"), [
    ("n_chan", 3), ("stride", 40), ("median_window", 5),
    ("k_g", 123.5), ("k_p", 77.0), ("lam_p", 999.0),
])
def test_each_parameter_can_be_overridden(name, value):
    base = resolve_params("confocal", "avg2")
    params = resolve_params("confocal", "avg2", **{name: value})
    assert getattr(params, name) == value
    for other in base.as_dict():
        if other != name:
            assert getattr(params, other) == getattr(base, other)


def test_override_values_are_coerced_from_strings():
    params = resolve_params("widefield", "avg4", n_chan="3", k_g="12.5", stride=20.0)
    assert params.n_chan == 3 and isinstance(params.n_chan, int)
    assert params.stride == 20 and isinstance(params.stride, int)
    assert params.k_g == 12.5


def test_none_override_is_ignored():
    assert resolve_params("confocal", "avg1", k_g=None) == resolve_params("confocal", "avg1")


def test_k_g_zero_is_allowed():
    assert resolve_params(k_g=0).k_g == 0.0


def test_params_as_dict_round_trip():
    params = resolve_params("srdtrans")
    assert FM2SParams(**params.as_dict()) == params
    assert set(params.as_dict()) == {"n_chan", "stride", "median_window", "k_g", "k_p", "lam_p"}


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="unknown preset") as err:
        resolve_params("lightsheet")
    for name in SPEC_TABLE:
        assert name in str(err.value)


@pytest.mark.parametrize("level", ["avg0.5", "avg32", 0, "noisy", "", -1, True])
def test_unknown_noise_level_lists_choices(level):
    with pytest.raises(ValueError, match="noise level") as err:
        resolve_params("confocal", level)
    for name in LEVELS:
        assert name in str(err.value)


@pytest.mark.parametrize("preset", ["srdtrans", "base"])
def test_single_column_presets_reject_other_levels(preset):
    with pytest.raises(ValueError, match="avg1") as err:
        resolve_params(preset, "avg4")
    assert preset in str(err.value)


def test_unknown_parameter_lists_overridable_names():
    with pytest.raises(ValueError, match="unknown FM2S parameter") as err:
        resolve_params("confocal", "avg1", sigma=3)
    for name in ("n_chan", "stride", "median_window", "k_g", "k_p", "lam_p"):
        assert name in str(err.value)


@pytest.mark.parametrize(("name", "value"), [
    ("n_chan", 0), ("n_chan", 65), ("n_chan", 2.5), ("n_chan", "two"),
    ("stride", 0), ("stride", -5),
    ("median_window", 4), ("median_window", 0), ("median_window", -3),
    ("k_g", -1.0), ("k_p", 0), ("k_p", -10), ("lam_p", 0), ("lam_p", "abc"),
])
def test_bad_parameter_values_raise(name, value):
    with pytest.raises(ValueError, match=name):
        resolve_params("confocal", "avg1", **{name: value})


def test_params_are_immutable():
    params = resolve_params()
    with pytest.raises(AttributeError):
        params.k_g = 1.0  # type: ignore[misc]


def test_presets_table_lists_every_setting():
    from fm2s.cli.commands import presets_table

    text = presets_table()
    rows = [line.split() for line in text.split("\n\n")[0].splitlines()[2:]]
    assert len(rows) == len(SPEC_CASES)
    for preset, level, n_chan, stride, w, k_g, k_p, lam_p in SPEC_CASES:
        # every published level of the FMD presets has a shipped start
        start = "yes" if preset in ("confocal", "twophoton", "widefield") else "-"
        assert any(r[:9] == [preset, level, str(n_chan), str(stride), str(w), f"{k_g:g}",
                             f"{k_p:g}", f"{lam_p:g}", start] for r in rows), (preset, level)


@pytest.mark.parametrize(("alias", "level"), [(3, "avg3"), ("avg2.8284", "avg2.83"),
                                               (" AVG12 ", "avg12"), (1.5, "avg1.5"),
                                               ("auto", "auto"), ("AUTO", "auto")])
def test_levels_between_the_columns_and_auto_are_named(alias, level):
    assert normalize_noise_level(alias) == level


@pytest.mark.parametrize("preset", ["confocal", "twophoton", "widefield"])
def test_levels_between_columns_interpolate_each_factor_on_a_log_scale(preset):
    table = SPEC_TABLE[preset][3]
    for lo, hi in zip(LEVELS, LEVELS[1:]):
        n0, n1 = int(lo[3:]), int(hi[3:])
        middle = resolve_params(preset, f"avg{(n0 * n1) ** 0.5}")  # halfway in log2(captures)
        for name, a, b in zip(("k_g", "k_p", "lam_p"), table[lo], table[hi]):
            geometric = (max(a, 1e-3) * max(b, 1e-3)) ** 0.5
            assert getattr(middle, name) == pytest.approx(geometric, rel=0.02), (lo, hi, name)
    # and the published columns come back exactly
    for level, factors in table.items():
        p = resolve_params(preset, level)
        assert (p.k_g, p.k_p, p.lam_p) == factors


def test_auto_is_not_a_column_and_single_column_presets_have_no_in_between_levels():
    with pytest.raises(ValueError, match="measured from the image"):
        resolve_params("confocal", "auto")
    with pytest.raises(ValueError, match="it has: avg1"):
        resolve_params("srdtrans", "avg3")
