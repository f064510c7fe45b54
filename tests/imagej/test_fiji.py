"""``fm2s fiji install|uninstall`` (fm2s.imagej.fiji): checks the Fiji, writes the menu script and
the start-up hook into Fiji's Python, records them, and removes exactly what it wrote."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fm2s.imagej import fiji
from tests.imagej.fixtures import REPO
from tests.imagej.test_session import fake_fiji


def fake_python(tmp_path: Path, packages: dict[str, str | None]) -> tuple[Path, Path]:
    """An executable that answers fm2s's probe as Fiji's Python would; returns it and its
    site-packages folder."""
    site = tmp_path / "env" / "lib" / "site-packages"
    site.mkdir(parents=True)
    exe = tmp_path / "env" / "bin" / "python"
    exe.parent.mkdir()
    answer = json.dumps({"site": str(site), "packages": packages})
    exe.write_text(f"#!/bin/sh\necho '{answer}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, site


GOOD = {"fm2s": "0.2.0", "pyimagej": "1.8.0", "scyjava": "1.12.5", "jpype1": "1.7.1"}


def test_install_writes_the_script_and_the_hook_and_is_idempotent(tmp_path):
    root = fake_fiji(tmp_path)
    python, site = fake_python(tmp_path, GOOD)
    report = fiji.install(root, python=python)
    script, hook = root / fiji.SCRIPT_RELPATH, site / fiji.HOOK_NAME
    assert report.problems == [] and sorted(report.written) == sorted([script, hook])
    assert script.read_text() == fiji.MENU_SCRIPT
    assert "import fm2s.imagej.fiji_startup" in hook.read_text()
    assert all(f.ok for f in report.findings)
    again = fiji.install(root, python=python)
    assert again.written == [] and sorted(again.unchanged) == sorted([script, hook])


def test_fijis_own_python_is_found_from_its_configuration(tmp_path):
    root = fake_fiji(tmp_path)
    python, site = fake_python(tmp_path, GOOD)
    (root / "config" / "jaunch").mkdir(parents=True)
    (root / "config" / "jaunch" / "fiji.cfg").write_text(f"launch-mode=PYTHON\npython-dir={python.parent.parent}\n")
    assert fiji.find_fiji_python(root) == python
    report = fiji.install(root)
    assert report.python == python and (site / fiji.HOOK_NAME).exists()


def test_what_stands_in_the_way_is_reported_with_the_fix(tmp_path):
    root = fake_fiji(tmp_path, jars=("ij-1.54f", "imagej-legacy-2.0.0", "scijava-common-2.99.0"))
    python, _ = fake_python(tmp_path, {**GOOD, "fm2s": None, "pyimagej": "1.5.0"})
    problems = fiji.install(root, python=python).problems
    assert "scijava-common: version 2.99.0 found, fm2s needs 2.100.0 or newer (update Fiji: Help > Update...)" in problems
    assert "scripting-python: not found, fm2s needs 0.4.2 or newer (update Fiji: Help > Update...)" in problems
    assert any(p.startswith("pyimagej: version 1.5.0 found") for p in problems)
    assert any("fm2s is not installed in Fiji's Python" in p and f"{python} -m pip install" in p
               for p in problems)
    no_python = fiji.install(fake_fiji(tmp_path / "other")).problems
    assert any("Fiji's Python environment was not found" in p for p in no_python)


def test_install_never_replaces_a_file_it_did_not_write(tmp_path):
    root = fake_fiji(tmp_path)
    python, _ = fake_python(tmp_path, GOOD)
    script = root / fiji.SCRIPT_RELPATH
    script.parent.mkdir(parents=True)
    script.write_text("# someone else's script\n")
    with pytest.raises(fiji.FijiInstallError, match="was not written by fm2s"):
        fiji.install(root, python=python)
    assert script.read_text() == "# someone else's script\n"
    fiji.install(root, python=python, force=True)
    assert script.read_text() == fiji.MENU_SCRIPT


def test_install_refuses_a_folder_that_is_not_fiji(tmp_path):
    with pytest.raises(fiji.FijiInstallError, match="not a Fiji installation"):
        fiji.install(tmp_path)


def test_uninstall_removes_exactly_what_install_wrote(tmp_path):
    root = fake_fiji(tmp_path)
    python, site = fake_python(tmp_path, GOOD)
    fiji.install(root, python=python)
    script, hook = root / fiji.SCRIPT_RELPATH, site / fiji.HOOK_NAME
    (script.parent / "My_Other_Script.py").write_text("# mine\n")
    hook.write_text(hook.read_text() + "# edited by hand\n")
    removed, kept = fiji.uninstall(root)
    assert removed == [script] and kept == [hook]
    assert (script.parent / "My_Other_Script.py").exists() and hook.exists()
    hook.unlink()
    assert fiji.uninstall(root) == ([], [])
    (script.parent / "My_Other_Script.py").unlink()
    fiji.install(root, python=python)
    fiji.uninstall(root)
    assert not script.parent.exists() and not hook.exists()
    assert fiji.uninstall(root) == ([], [])


def test_the_start_up_hook_asks_pyimagej_to_register_the_command(tmp_path):
    """The .pth line, processed as Python processes site-packages: pyimagej gets the callback
    that registers "FM2S Denoise" once ImageJ is up."""
    import os
    import subprocess
    import sys

    (tmp_path / fiji.HOOK_NAME).write_text(fiji.HOOK_TEXT)
    code = (f"import site; site.addsitedir({str(tmp_path)!r});"
            "import imagej, fm2s.imagej.fiji_startup as hook;"
            "print(hook.on_imagej_start in imagej._init_callbacks)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "True", run.stderr
    assert run.stderr == ""
