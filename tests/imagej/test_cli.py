"""The ``fm2s macro`` and ``fm2s fiji`` subcommands (fm2s.imagej.cli): wiring, messages, exit codes,
and that importing the bridge starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fm2s.imagej import cli as imagej_cli
from tests.imagej.fixtures import REPO
from tests.imagej.test_fiji import GOOD, fake_python
from tests.imagej.test_session import fake_fiji


def test_cli_fiji_install_and_uninstall(tmp_path, capsys):
    from fm2s.cli import main

    root = fake_fiji(tmp_path)
    python, _ = fake_python(tmp_path, GOOD)
    assert main(["fiji", "install", str(root), "--python", str(python)]) == 0
    out = capsys.readouterr().out
    assert out.count("installed:") == 2 and "Edit > Options > Python" in out
    assert "scijava-common 2.100.1 (needs 2.100.0): ok" in out
    assert main(["fiji", "uninstall", str(root)]) == 0
    assert capsys.readouterr().out.count("removed:") == 2
    assert main(["fiji", "uninstall", str(root)]) == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert main(["fiji", "install", str(tmp_path / "nothing")]) == 1
    assert "not a Fiji installation" in capsys.readouterr().err


def test_cli_fiji_install_says_what_is_left_to_do(tmp_path, capsys):
    from fm2s.cli import main

    python, _ = fake_python(tmp_path, {**GOOD, "fm2s": None})
    assert main(["fiji", "install", str(fake_fiji(tmp_path)), "--python", str(python)]) == 1
    assert "to do: fm2s is not installed in Fiji's Python" in capsys.readouterr().err


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


def test_import_starts_nothing():
    code = (
        "import sys, fm2s.imagej, fm2s.imagej.cli, fm2s.imagej.macro_options, fm2s.imagej.fiji;"
        "bad = [m for m in ('jpype', 'imagej', 'scyjava', 'torch') if m in sys.modules];"
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_choose_display_rejects_unknown_mode():
    from fm2s.imagej.batch.display import choose_display

    with pytest.raises(ValueError, match="display mode"):
        choose_display("vnc")


def test_public_names_resolve_lazily():
    import fm2s.imagej as bridge

    for name in bridge.__all__:
        assert getattr(bridge, name) is not None
    with pytest.raises(AttributeError):
        _ = bridge.no_such_name
