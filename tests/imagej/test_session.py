"""Finding and starting ImageJ (fm2s.imagej.session): jar and Fiji discovery, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fm2s.imagej import session
from tests.imagej.fixtures import REPO


def fake_fiji(tmp_path: Path, *, jars: tuple[str, ...] = ("ij-1.54f", "imagej-legacy-2.0.0",
              "scijava-common-2.100.1", "scripting-python-0.4.2")) -> Path:
    """A folder laid out like a Fiji.app, with empty jars of the given names."""
    root = tmp_path / "Fiji.app"
    (root / "jars").mkdir(parents=True)
    (root / "plugins").mkdir()
    for name in jars:
        (root / "jars" / f"{name}.jar").write_bytes(b"")
    return root


def test_find_ij_jar_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(session.ENV_IJ_JAR, raising=False)
    jar = tmp_path / "ij.jar"
    jar.write_bytes(b"")
    assert session.find_ij_jar(jar) == jar
    monkeypatch.setenv(session.ENV_IJ_JAR, str(jar))
    assert session.find_ij_jar() == jar
    monkeypatch.setenv(session.ENV_IJ_JAR, str(tmp_path / "missing.jar"))
    with pytest.raises(session.ImageJNotFoundError, match="FM2S_IJ_JAR: no ImageJ jar"):
        session.find_ij_jar()
    monkeypatch.delenv(session.ENV_IJ_JAR)
    monkeypatch.setattr(session, "DEBIAN_IJ_JAR", tmp_path / "none.jar")
    assert session.find_ij_jar() is None


def test_find_fiji_takes_only_a_fiji(tmp_path, monkeypatch):
    monkeypatch.delenv(session.ENV_FIJI, raising=False)
    assert session.find_fiji() is None
    with pytest.raises(session.ImageJNotFoundError, match="has no jars/ folder"):
        session.find_fiji(tmp_path)
    (tmp_path / "jars").mkdir()
    with pytest.raises(session.ImageJNotFoundError, match="no ImageJ 1.x, ij-"):
        session.find_fiji(tmp_path)
    root = fake_fiji(tmp_path)
    assert session.find_fiji(root) == root
    legacy = root / "jars" / "imagej-legacy-2.0.0.jar"
    legacy.unlink()
    with pytest.raises(session.ImageJNotFoundError, match="imagej-legacy"):
        session.find_fiji(root)


def test_fiji_class_path_is_its_launchers(tmp_path):
    root = fake_fiji(tmp_path)
    (root / "jars" / "linux64").mkdir()
    (root / "jars" / "linux64" / "native-1.0.jar").write_bytes(b"")
    (root / "plugins" / "my_plugin-1.0.jar").write_bytes(b"")
    names = [Path(p).name for p in session.fiji_classpath(root)]
    assert "ij-1.54f.jar" in names and "native-1.0.jar" in names and "my_plugin-1.0.jar" in names


def test_no_imagej_anywhere_is_a_clear_error(tmp_path):
    code = (
        "from pathlib import Path; from fm2s.imagej import session;"
        f"session.DEBIAN_IJ_JAR = Path({str(tmp_path / 'none.jar')!r});"
        "\ntry:\n    session.start_imagej()\n"
        "except session.ImageJNotFoundError as e:\n    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (session.ENV_IJ_JAR, session.ENV_FIJI)}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert "no ImageJ found" in out.stdout and "--ij-jar" in out.stdout, out.stderr


def test_fm2s_macro_with_a_broken_fiji_is_one_message(tmp_path):
    """A folder that looks like Fiji but whose ImageJ2 cannot start: exit 2, one message,
    not pyimagej's UnboundLocalError (it starts no JVM with scyjava's fetch="never")."""
    root = fake_fiji(tmp_path)
    macro = tmp_path / "m.ijm"
    macro.write_text('print("hi");\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    run = subprocess.run([sys.executable, "-m", "fm2s.cli", "macro", str(macro), "--fiji",
                          str(root)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "UnboundLocalError" not in run.stderr and "Traceback" not in run.stderr
    assert "fm2s macro: could not start ImageJ2 from" in run.stderr
