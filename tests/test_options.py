"""The one option specification (fm2s.options) and every front-end that takes its options from it:
``fm2s.denoise``'s keywords, the ``fm2s denoise`` flags, the macro keys, the ImageJ dialog, the
recorded metadata and the user documentation name the same options with the same defaults."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import fm2s
from fm2s.options import OPTION_NAMES, OPTIONS, OptionError, option, validate_options, value_text

REPO = Path(__file__).resolve().parents[1]


def test_every_option_has_a_name_a_help_and_a_default_that_validates():
    assert len(set(OPTION_NAMES)) == len(OPTIONS)
    defaults = validate_options()
    for opt in OPTIONS:
        assert opt.help and opt.flag.startswith("--")
        value = defaults.values[opt.name]
        assert value == (opt.default if opt.name != "schedule" else "fast")
        if opt.choices:
            assert str(opt.default) in opt.choices()


def test_denoise_keywords_are_the_options_with_their_defaults():
    for function in (fm2s.denoise, fm2s.denoise_with_metadata):
        params = inspect.signature(function).parameters
        assert [p for p in params if p in OPTION_NAMES] == list(OPTION_NAMES)
        for opt in OPTIONS:
            assert params[opt.name].default == opt.default
            assert params[opt.name].kind is inspect.Parameter.KEYWORD_ONLY
    for opt in OPTIONS:  # and its docstring lists them
        assert f"    {opt.name} : default {opt.default!r}" in fm2s.denoise.__doc__


def test_cli_flags_are_the_options():
    from fm2s.cli import build_parser

    parser = build_parser()
    denoise = parser._subparsers._group_actions[0].choices["denoise"]
    actions = {a.dest: a for a in denoise._actions}
    for opt in OPTIONS:
        action = actions[opt.name]
        assert opt.flag in action.option_strings
        assert action.default is None  # not given: the option's default applies
        if opt.default is not None:
            assert f"default {opt.default}" in action.help
        if opt.choices:
            assert ", ".join(opt.choices()) in action.help
    args = parser.parse_args(["denoise", "x.tif", "-o", "out"])
    from fm2s.cli.commands import denoise_options

    assert denoise_options(args) == {}  # nothing given: fm2s's defaults, as everywhere


def test_macro_keys_are_the_options_with_the_same_defaults():
    from fm2s.imagej.macro_options import read_macro_options

    assert read_macro_options("") == validate_options()
    for opt in OPTIONS:
        text = value_text(opt.default)
        assert read_macro_options(f"{opt.name}=[{text}]").values[opt.name] == \
            validate_options().values[opt.name]


def test_dialog_fields_are_the_main_options_with_the_same_defaults_and_choices():
    from fm2s.imagej.dialog import dialog_fields

    main = [o for o in OPTIONS if o.group == "main"]
    assert [f[0] for f in dialog_fields()] == [o.name for o in main]
    for (_, default, choices), opt in zip(dialog_fields(), main):
        assert default == value_text(opt.default)
        assert choices == (opt.choices() if opt.choices else None)


def test_the_record_names_every_option_as_it_ran():
    noisy = np.random.default_rng(0).poisson(40, (32, 32)).astype(np.uint16)
    _, meta = fm2s.denoise_with_metadata(noisy, schedule="quick", seed=1, num_threads=1)
    for opt in OPTIONS:
        if opt.name not in ("seed", "num_threads") and opt.default is None and opt.group != "parameter":
            continue
        assert f"fm2s_{opt.name}" in meta, opt.name
    assert meta["fm2s_schedule"] == "quick" and meta["fm2s_seed"] == 1
    assert meta["fm2s_device"] == "cpu" and meta["fm2s_stack_mode"] == "shared"


def test_the_readme_tables_list_every_option_with_its_default():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for opt in OPTIONS:
        row = re.search(rf"^\| `{opt.name}` \|.*$", readme, re.MULTILINE)
        assert row, f"README has no table row for {opt.name}"
        if opt.default is not None:
            assert value_text(opt.default) in row.group(0), (opt.name, row.group(0))


@pytest.mark.parametrize(("values", "name", "text"), [
    ({"sigma": 2}, "sigma", "overridable FM2S parameters"),
    ({"tile": "big"}, "tile", "tile must be a number of pixels or 'none'"),
    ({"k_g": float("nan")}, "k_g", "finite"),
    ({"bias_sigma": float("inf")}, "bias_sigma", "finite"),
    ({"intensity_range": (0, float("inf"))}, "intensity_range", "two finite numbers"),
    ({"seed": True}, "seed", "whole number"),
    ({"preset": "srdtrans", "noise_level": "avg4"}, "noise_level", "it has: avg1"),
])
def test_a_bad_value_is_refused_naming_its_option(values, name, text):
    with pytest.raises(OptionError) as info:
        validate_options(**values)
    assert info.value.option == name and text in str(info.value)


def test_none_turns_off_what_can_be_off_and_means_default_elsewhere():
    assert validate_options(tile=None).tile is None
    assert validate_options(bias_sigma=None).bias_sigma is None
    assert validate_options(preset=None).preset == option("preset").default
    assert validate_options(seed=None).seed is None


@pytest.mark.parametrize("name", ["seed", "bias_sigma", "tile", "k_g", "preset", "num_threads"])
def test_an_empty_value_is_refused_naming_the_option(name):
    # "seed=" + an empty variable gave a random seed; "bias_sigma=" turned the correction off
    with pytest.raises(OptionError, match=f"{name} has an empty value"):
        validate_options(**{name: " "})


def test_a_tile_too_small_for_noise2detail_is_refused_before_training():
    # tile=17 passed the check and failed after training, saying "got 16" (rounded down)
    with pytest.raises(OptionError, match="tile must be at least 28 pixels with method 'n2d'.*got 27"):
        validate_options(method="n2d", tile=27)
    assert validate_options(method="n2d", tile=28).values["tile"] == 28
    assert validate_options(method="zsn2n", tile=17).values["tile"] == 17


@pytest.mark.parametrize(("name", "meant"), [
    ("noiselevel", "noise_level"), ("noise-level", "noise_level"), ("threads", "num_threads"),
    ("seeds", "seed"), ("kg", "k_g"), ("intensity", "intensity_range"),
])
def test_an_unknown_option_is_refused_naming_the_closest_one(name, meant):
    # the message listed every option, and left finding the misspelled one to the reader
    from fm2s.imagej.macro_options import CommandError, read_macro_options

    with pytest.raises(OptionError, match=rf"unknown option\(s\) {name} \(did you mean {meant}\?\)"):
        validate_options(**{name: "1"})
    with pytest.raises(CommandError, match=rf"did you mean {meant}\?"):
        read_macro_options(f"{name}=1")


@pytest.mark.parametrize(("name", "text"), [
    ("k_g", "0,5"), ("bias_sigma", "2,5"), ("intensity_range", "0,5 100,5"),
    ("noise_level", "avg2,5"),
])
def test_a_decimal_comma_is_refused_saying_how_to_write_the_number(name, text):
    # "0,5", as a German-locale user writes it, was refused without saying what was wrong
    with pytest.raises(OptionError, match=r"point for decimals and no comma \(0\.5, not 0,5\)"):
        validate_options(**{name: text})
    assert validate_options(intensity_range="100,4095").intensity_range == (100.0, 4095.0)


@pytest.mark.parametrize("text", ["4095,100", "100,100"])
def test_a_range_with_a_comma_between_its_numbers_is_not_told_to_drop_the_comma(text):
    # the comma separates intensity_range's numbers ("100,4095" is read); a reversed range was
    # told "no comma (0.5, not 0,5)", which is not what was wrong
    with pytest.raises(OptionError, match="lo < hi") as caught:
        validate_options(intensity_range=text)
    assert "no comma" not in str(caught.value)
