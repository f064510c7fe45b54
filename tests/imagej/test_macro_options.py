"""The options of "FM2S Denoise" as macros pass them (fm2s.imagej.macro_options): ImageJ's option
strings read as ``ij.Macro.getValue`` reads them, only the keys given used, errors named."""

from __future__ import annotations

import pytest

from fm2s.engine.methods.fm2s.schedules import SCHEDULES
from fm2s.imagej.macro_options import CommandError, parse_macro_options, read_macro_options
from fm2s.options import OPTION_NAMES, validate_options
from fm2s.presets import PARAMETER_NAMES, list_presets


def test_parse_macro_options_like_imagej():
    opts = parse_macro_options("preset=confocal noise_level=avg1 seed=[0] title=[a b  c] flag ")
    assert opts == {
        "preset": "confocal",
        "noise_level": "avg1",
        "seed": "0",
        "title": "a b  c",
        "flag": "true",
    }
    assert parse_macro_options(None) == {}
    assert parse_macro_options("   ") == {}
    assert parse_macro_options("Preset=Confocal") == {"preset": "Confocal"}


@pytest.mark.parametrize("text", ["preset=[confocal", "seed=1 seed=2"])
def test_parse_macro_options_rejects_malformed(text):
    with pytest.raises(ValueError):
        parse_macro_options(text)


def test_only_the_keys_given_are_used_and_the_rest_are_the_defaults():
    assert read_macro_options(None) == validate_options()
    assert read_macro_options("") == validate_options()
    opts = read_macro_options(
        "preset=TwoPhoton noise_level=4 seed=7 device=cpu schedule=quick num_threads=1 k_g=12")
    assert (opts.preset, opts.noise_level, opts.seed, opts.device) == ("twophoton", "avg4", 7, "cpu")
    assert opts.schedule.name == "quick" and opts.num_threads == 1
    assert opts.k_g == 12.0 and opts.params.k_g == 12.0
    assert opts.given == {"preset", "noise_level", "seed", "device", "schedule", "num_threads", "k_g"}
    assert read_macro_options("seed=-1").seed is None  # the dialog's "random"
    assert read_macro_options("seed=none").seed is None
    assert read_macro_options("tile=none").tile is None  # none is a value here: no tiling


def test_macro_string_round_trip():
    opts = read_macro_options("preset=widefield noise_level=avg2 seed=3 schedule=quick stride=50 "
                              "intensity_range=[100 4095]")
    assert read_macro_options(opts.macro_string()) == opts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preset=nope", "choose one of: " + ", ".join(list_presets())),
        ("noise_level=avg32", "avg1, avg2, avg4, avg8, avg16"),
        ("preset=srdtrans noise_level=avg4", "it has: avg1"),
        ("seed=abc", "seed must be a whole number"),
        ("device=tpu", "unknown device 'tpu'"),
        ("schedule=slow", ", ".join(SCHEDULES)),
        ("stack_mode=odd", "stack_mode"),
        ("k_g=-3", "k_g must be >= 0"),
        ("k_g=nan", "k_g must be a finite number"),
        ("median_window=4", "odd"),
        ("colour=red", "valid options are: " + ", ".join(OPTION_NAMES)),
        ("num_threads=0", "num_threads must be at least 1"),
        ("intensity_range=[0 inf]", "intensity_range must be two finite numbers"),
    ],
)
def test_errors_name_the_problem(text, expected):
    with pytest.raises(CommandError) as info:
        read_macro_options(text)
    assert str(info.value).startswith("FM2S Denoise: ") and expected in str(info.value)


def test_every_option_and_parameter_is_a_macro_key():
    assert set(PARAMETER_NAMES) <= set(OPTION_NAMES)
    for name in OPTION_NAMES:
        assert name in read_macro_options(f"{name}={_a_value(name)}").given


def _a_value(name: str) -> str:
    return {"method": "fm2s", "preset": "base", "noise_level": "avg1", "schedule": "quick",
            "stack_mode": "shared", "seed": "3", "device": "cpu", "num_threads": "2",
            "tile": "512", "bias_sigma": "8", "intensity_range": "[0 255]", "n_chan": "2",
            "stride": "60", "median_window": "5", "k_g": "10", "k_p": "10",
            "lam_p": "100"}[name]


def test_an_empty_macro_value_is_an_error_naming_the_key():
    # a macro built as "seed=" + s with an empty s ran with a random seed
    with pytest.raises(CommandError, match="seed has an empty value"):
        read_macro_options("schedule=quick seed=")
    with pytest.raises(CommandError, match="bias_sigma has an empty value"):
        read_macro_options("bias_sigma=[]")
