"""Unit tests of the ImageJ bridge that need no JVM: option parsing/validation, the Fiji
script (header, shipped file, installer), command-line wiring, lazy imports, ImageJ discovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fm2s.imagej import cli as imagej_cli
from fm2s.imagej import jvm
from fm2s.imagej.fiji_script import parse_script_header, render_script
from fm2s.imagej.options import (
    SCHEDULES,
    VALID_KEYS,
    CommandOptions,
    parse_macro_options,
    validate_options,
)
from fm2s.presets import NOISE_LEVELS, PARAMETER_NAMES, list_presets

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SCRIPT = REPO / "fiji_scripts" / "Plugins" / "FM2S" / "FM2S_Denoise.py"


# ---------------------------------------------------------------------------------- options


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


def test_validate_defaults_and_values():
    assert validate_options(None) == CommandOptions()
    opts = validate_options(
        "preset=TwoPhoton noise_level=4 seed=7 device=cpu schedule=quick num_threads=1 k_g=12"
    )
    assert (opts.preset, opts.noise_level, opts.seed, opts.device) == ("twophoton", "avg4", 7, "cpu")
    assert opts.schedule == "quick" and opts.num_threads == 1
    assert opts.overrides == {"k_g": 12.0}
    kwargs = opts.denoise_kwargs()
    assert kwargs["k_g"] == 12.0 and kwargs["schedule"] == "quick"
    assert validate_options({"seed": -1}).seed is None  # the Fiji dialog's "random"
    assert validate_options({"seed": "none"}).seed is None


def test_macro_options_round_trip():
    opts = validate_options("preset=widefield noise_level=avg2 seed=3 schedule=quick stride=50")
    assert validate_options(opts.macro_options()) == opts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preset=nope", "choose one of: " + ", ".join(list_presets())),
        ("noise_level=avg3", "avg1, avg2, avg4, avg8, avg16"),
        ("noise_level=auto", "avg1"),
        ("preset=srdtrans noise_level=avg4", "it has: avg1"),
        ("seed=abc", "seed must be a whole number"),
        ("device=tpu", "unknown device 'tpu'"),
        ("schedule=slow", ", ".join(SCHEDULES)),
        ("stack_mode=odd", "stack_mode"),
        ("k_g=-3", "k_g must be >= 0"),
        ("median_window=4", "odd"),
        ("colour=red", "valid options are: " + ", ".join(VALID_KEYS)),
        ("num_threads=0", "num_threads must be at least 1"),
    ],
)
def test_validate_errors_name_the_problem(text, expected):
    with pytest.raises(ValueError) as info:
        validate_options(text)
    assert expected in str(info.value)


def test_valid_keys_cover_core_parameters():
    assert set(PARAMETER_NAMES) <= set(VALID_KEYS)


# ------------------------------------------------------------------------------ Fiji script


def test_shipped_script_is_the_rendered_one():
    assert SHIPPED_SCRIPT.read_text(encoding="utf-8") == render_script(), (
        "fiji_scripts/Plugins/FM2S/FM2S_Denoise.py is out of date; regenerate it with "
        "fm2s.imagej.fiji_script.render_script()"
    )
    # the underscore makes it a menu command ("FM2S Denoise") that macros can run()
    assert SHIPPED_SCRIPT.name == "FM2S_Denoise.py"


def test_script_header_matches_presets():
    params = parse_script_header(SHIPPED_SCRIPT.read_text(encoding="utf-8"))
    assert params["imp"]["type"] == "ImagePlus"
    assert params["result"] == {"type": "ImagePlus", "output": True}
    assert params["preset"]["choices"] == list_presets()
    assert params["preset"]["value"] == "confocal"
    assert params["noise_level"]["choices"] == list(NOISE_LEVELS)
    assert params["schedule"]["choices"] == list(SCHEDULES)
    assert params["seed"]["type"] == "Integer"
    inputs = {name for name, p in params.items() if not p["output"] and name != "imp"}
    assert inputs <= set(VALID_KEYS), "script parameter names are the macro option keys"


def test_script_header_rejects_jython_header():
    with pytest.raises(ValueError, match="first line"):
        parse_script_header("#@ ImagePlus imp\nprint(1)\n")


def _fake_fiji(tmp_path: Path) -> Path:
    root = tmp_path / "Fiji.app"
    (root / "jars").mkdir(parents=True)
    return root


def test_install_fiji_script(tmp_path):
    root = _fake_fiji(tmp_path)
    target, status = imagej_cli.install_fiji_script(root)
    assert status == "installed"
    assert target == root / "scripts" / "Plugins" / "FM2S" / "FM2S_Denoise.py"
    assert target.read_text(encoding="utf-8") == render_script()
    assert imagej_cli.install_fiji_script(root)[1] == "unchanged"
    target.write_text("# edited\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="--force"):
        imagej_cli.install_fiji_script(root)
    assert target.read_text(encoding="utf-8") == "# edited\n"  # never overwritten silently
    assert imagej_cli.install_fiji_script(root, force=True)[1] == "updated"
    assert not list(target.parent.glob("*.part"))


def test_install_rejects_non_fiji_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Fiji installation"):
        imagej_cli.install_fiji_script(tmp_path)


def test_cli_fiji_install_prints_next_steps(tmp_path, capsys):
    from fm2s.cli import main

    root = _fake_fiji(tmp_path)
    assert main(["fiji", "install", str(root)]) == 0
    out = capsys.readouterr().out
    assert "installed:" in out and "Edit > Options > Python" in out and "environment.yml" in out
    assert main(["fiji", "install", str(tmp_path / "nothing")]) == 1


def test_cli_macro_arguments():
    from fm2s.cli import build_parser

    args = build_parser().parse_args(
        ["macro", "m.ijm", "--arg", "input=a output=b", "--ij-jar", "ij.jar", "--display", "xvfb"]
    )
    assert (args.macro, args.arg, args.ij_jar, args.fiji, args.display) == (
        "m.ijm", "input=a output=b", "ij.jar", None, "xvfb"
    )
    assert args.func is imagej_cli.macro_command


def test_cli_macro_missing_file_exits_2(tmp_path, capsys):
    from fm2s.cli import main

    assert main(["macro", str(tmp_path / "missing.ijm")]) == 2
    assert "no macro file" in capsys.readouterr().err


# ------------------------------------------------------------------------- lazy & discovery


def test_import_starts_nothing():
    code = (
        "import sys, fm2s.imagej, fm2s.imagej.cli, fm2s.imagej.options;"
        "bad = [m for m in ('jpype', 'imagej', 'scyjava', 'torch') if m in sys.modules];"
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_find_ij_jar_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(jvm.ENV_IJ_JAR, raising=False)
    jar = tmp_path / "ij.jar"
    jar.write_bytes(b"")
    assert jvm.find_ij_jar(jar) == jar
    monkeypatch.setenv(jvm.ENV_IJ_JAR, str(jar))
    assert jvm.find_ij_jar() == jar
    monkeypatch.setenv(jvm.ENV_IJ_JAR, str(tmp_path / "missing.jar"))
    with pytest.raises(jvm.ImageJNotFoundError, match="FM2S_IJ_JAR: no ImageJ jar"):
        jvm.find_ij_jar()
    monkeypatch.delenv(jvm.ENV_IJ_JAR)
    monkeypatch.setattr(jvm, "DEBIAN_IJ_JAR", tmp_path / "none.jar")
    assert jvm.find_ij_jar() is None


def test_find_fiji_rejects_non_fiji(tmp_path, monkeypatch):
    monkeypatch.delenv(jvm.ENV_FIJI, raising=False)
    assert jvm.find_fiji() is None
    with pytest.raises(jvm.ImageJNotFoundError, match="not a Fiji installation"):
        jvm.find_fiji(tmp_path)
    assert jvm.find_fiji(_fake_fiji(tmp_path)) == tmp_path / "Fiji.app"


def test_no_imagej_anywhere_is_a_clear_error(tmp_path):
    code = (
        "from pathlib import Path; from fm2s.imagej import jvm;"
        f"jvm.DEBIAN_IJ_JAR = Path({str(tmp_path / 'none.jar')!r});"
        "\ntry:\n    jvm.start_imagej()\n"
        "except jvm.ImageJNotFoundError as e:\n    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (jvm.ENV_IJ_JAR, jvm.ENV_FIJI)}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert "no ImageJ found" in out.stdout and "--ij-jar" in out.stdout, out.stderr


@pytest.mark.skipif(not jvm.DEBIAN_IJ_JAR.is_file(), reason="Debian's ij.jar is not installed")
def test_headless_command_table_from_jar():
    table = jvm.headless_command_table(jvm.DEBIAN_IJ_JAR)
    assert table["Gaussian Blur..."] == "ij.plugin.filter.GaussianBlur"
    assert table["Open..."] == 'ij.plugin.Commands("open")'
    assert table["Measure"] == "ij.plugin.filter.Analyzer"
    assert len(table) > 300


def test_choose_display_rejects_unknown_mode():
    from fm2s.imagej.macro import choose_display

    with pytest.raises(ValueError, match="display mode"):
        choose_display("vnc")


def test_public_names_resolve_lazily():
    import fm2s.imagej as bridge

    for name in bridge.__all__:
        assert getattr(bridge, name) is not None
    with pytest.raises(AttributeError):
        _ = bridge.no_such_name


# --- the headless guard's filter of HeadlessException traces (no JVM needed) ---------------

_TRACE = (
    "java.awt.HeadlessException\n"
    "\tat java.desktop/java.awt.GraphicsEnvironment.checkHeadless(GraphicsEnvironment.java:164)\n"
    "\tat ij.gui.GenericDialog.<init>(GenericDialog.java:106)\n"
    "\t... 12 more\n"
    "Caused by: java.lang.Error: x\n"
    "\tat ij.plugin.Duplicator.run(Duplicator.java:69)\n"
    "\n"
)


def test_headless_traces_are_dropped_even_across_drains(monkeypatch):
    from fm2s.imagej.macro import HeadlessGuard

    monkeypatch.delenv("FM2S_JAVA_TRACES", raising=False)
    guard = HeadlessGuard()
    before, cut = "FM2S: training a.tif\n", _TRACE.index("\tat ij.gui")
    first = guard._without_headless_traces(before + _TRACE[:cut], "out")
    second = guard._without_headless_traces(_TRACE[cut:] + "next log line\n", "out")
    assert first == before
    assert second == "next log line\n"


def test_other_java_output_and_traces_pass_unchanged(monkeypatch):
    from fm2s.imagej.macro import HeadlessGuard

    monkeypatch.delenv("FM2S_JAVA_TRACES", raising=False)
    guard = HeadlessGuard()
    other = "java.lang.NullPointerException\n\tat ij.IJ.run(IJ.java:319)\n\nplain line\n"
    assert guard._without_headless_traces(other, "err") == other
    # a HeadlessException on one stream does not hide the other stream's lines
    guard._without_headless_traces(_TRACE[:40], "out")
    assert guard._without_headless_traces("\tat x.y(Z.java:1)\n", "err") == "\tat x.y(Z.java:1)\n"
