"""Shared helpers for the ImageJ integration tests (real JVM, real ImageJ 1.x jar, no mocks).

The JVM starts once per process, so the in-process tests share one headless ImageJ (the
``imagej_session`` fixture in the test modules); tests that need their own JVM (the ``fm2s
macro`` command, Xvfb) run ``python -m fm2s.cli`` in a subprocess.

Every denoise uses ``schedule=quick num_threads=1`` and small images: the CI machines have two
shared CPU cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
QUICK = "schedule=quick num_threads=1 seed=0"


def imagej_missing_reason() -> str | None:
    """Why the ImageJ tests cannot run here, or None if they can."""
    from fm2s.imagej import session as jvm

    try:
        import jpype  # noqa: F401
        import scyjava  # noqa: F401
    except ImportError:
        return 'jpype1/scyjava are not installed (pip install "fm2s[imagej]")'
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install default-jre-headless)"
    try:
        if jvm.find_ij_jar() is None:
            return "no ImageJ 1.x jar (apt-get install libij-java, or set FM2S_IJ_JAR)"
    except jvm.ImageJNotFoundError as exc:
        return str(exc)
    return None


requires_imagej = pytest.mark.skipif(
    imagej_missing_reason() is not None, reason=str(imagej_missing_reason())
)
requires_xvfb = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"
)
requires_javac = pytest.mark.skipif(
    shutil.which("javac") is None, reason="javac is not installed (apt-get install default-jdk-headless)"
)


def run_fm2s(
    *args: str, timeout: float = 300, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m fm2s.cli ARGS`` with this checkout first on the path; capture output.

    ``env_extra`` adds (or replaces) environment variables for that run.
    """
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "fm2s.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_tiff_stack(path: Path, seed: int, planes: int = 2, size: int = 48) -> np.ndarray:
    """Write a small noisy 16-bit ImageJ TIFF stack (0.2 um pixels, 0.5 um z) and return it."""
    import tifffile

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    blob = np.exp(-((yy - size / 3) ** 2 + (xx - size / 2) ** 2) / (size / 3))
    clean = 200 + 800 * blob[None].repeat(planes, 0)
    data = rng.poisson(clean).astype(np.uint16)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"unit": "um", "axes": "ZYX", "spacing": 0.5},
    )
    return data


#: Set-up of a process that runs ImageJ as Fiji's Python mode does (tests/imagej/harness.py):
#: ImageJ 1.x with imagej-legacy's SciJava dispatch of the menu script, headless or under a
#: private Xvfb with ImageJ's GUI (not shown), every dialog closed and logged as "DIALOG=...".
FIJI_LIKE = """
import os, sys, time, threading
import jpype
from tests.imagej import harness
from fm2s.imagej.session import start_imagej
DISPLAY = {display!r}
if DISPLAY == "xvfb":
    from fm2s.imagej.batch.display import start_xvfb
    start_xvfb()
harness.prepare()
start_imagej(headless=DISPLAY == "headless")
IJ = jpype.JClass("ij.IJ")
if DISPLAY == "xvfb":
    ImageJ = jpype.JClass("ij.ImageJ")
    ImageJ(ImageJ.NO_SHOW)
    from fm2s.imagej.batch.watchdog import DialogWatchdog
    WATCHDOG = DialogWatchdog(0.2)
    if {watchdog!r}:
        WATCHDOG.__enter__()
if {at_start!r}:
    # Fiji's Python imports fm2s.imagej.fiji_startup (fm2s_fiji.pth), which asks pyimagej to
    # call it back once ImageJ is up; imagej.init runs the callbacks (here: pyimagej's hook
    # list without the rest of pyimagej).
    import types
    callbacks = []
    sys.modules["imagej"] = types.SimpleNamespace(when_imagej_starts=callbacks.append)
    from fm2s.imagej import fiji_startup
    for callback in callbacks:
        callback(None)
harness.sci_java_command("FM2S Denoise", harness.MENU_SCRIPT)

def run_macro(code, argument=""):
    runner = jpype.JClass("ij.macro.MacroRunner")(code, argument)
    runner.getThread().join()

def finish():
    log = IJ.getLog()  # with ImageJ's GUI, print() in a macro goes to the Log window
    if DISPLAY == "xvfb" and log:
        print(str(log))
    if DISPLAY == "xvfb":
        for message in list(WATCHDOG.messages):
            print("DIALOG=" + message)
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)
"""


def run_fiji_like(body: str, *, display: str = "headless", at_start: bool = True,
                  watchdog: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``body`` in a new process set up by :data:`FIJI_LIKE`, then end it.

    ``at_start``: fm2s registered itself when "Fiji" started (as ``fm2s_fiji.pth`` does);
    ``watchdog``: close (and print) every dialog that opens under Xvfb.
    """
    script = (FIJI_LIKE.format(display=display, at_start=at_start, watchdog=watchdog)
              + body + "\nfinish()\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def write_hyperstack(path: Path, seed: int, shape=(2, 2, 2, 32, 32)) -> np.ndarray:
    """Write a small noisy 16-bit ImageJ hyperstack (TZCYX) with calibration and return it."""
    import tifffile

    rng = np.random.default_rng(seed)
    data = rng.poisson(300, shape).astype(np.uint16)
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.2, 1 / 0.2),
                     metadata={"unit": "um", "axes": "TZCYX", "spacing": 0.5, "finterval": 2.0})
    return data


def write_plane(path: Path, seed: int, size: int = 40) -> np.ndarray:
    """Write a single noisy 16-bit plane as an ImageJ TIFF and return it."""
    import tifffile

    data = np.random.default_rng(seed).poisson(200, (size, size)).astype(np.uint16)
    tifffile.imwrite(path, data, imagej=True)
    return data
