"""``fm2s macro``: the shipped macros run headless on generated 16-bit TIFF stacks (with resume
after an interruption), macro failures give a non-zero exit and the message, and under Xvfb
ImageJ's own dialog-based commands work before and after "FM2S Denoise" in one macro.

Each run is a subprocess (one JVM per process), with ``schedule=quick num_threads=1``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile

from tests.imagej.fixtures import (
    QUICK,
    REPO,
    requires_imagej,
    requires_xvfb,
    run_fm2s,
    write_tiff_stack,
)

pytestmark = [pytest.mark.imagej, requires_imagej]

FOLDER_MACRO = REPO / "macros" / "fm2s_denoise_folder.ijm"
MEASURE_MACRO = REPO / "macros" / "fm2s_denoise_and_measure.ijm"


def _folder_arg(src, dst) -> str:
    return f"input=[{src}] output=[{dst}] options=[preset=confocal noise_level=avg1 {QUICK}]"


def test_folder_macro_headless_and_resume(tmp_path):
    src, dst = tmp_path / "raw data", tmp_path / "out"
    src.mkdir()
    first = write_tiff_stack(src / "a.tif", seed=1)

    run1 = run_fm2s("macro", str(FOLDER_MACRO), "--display", "headless",
                    "--arg", _folder_arg(src, dst))
    assert run1.returncode == 0, run1.stderr + run1.stdout
    out_a = dst / "a_fm2s.tif"
    with tifffile.TiffFile(out_a) as tif:
        data = tif.asarray()
        meta = tif.imagej_metadata
        x_res = tif.pages[0].tags["XResolution"].value
    assert data.dtype == np.uint16 and data.shape == first.shape
    assert not np.array_equal(data, first)
    assert meta["spacing"] == pytest.approx(0.5) and meta["unit"] in ("um", "\\u00B5m", "µm")
    assert x_res[0] / x_res[1] == pytest.approx(5.0)  # 0.2 um pixels
    assert "fm2s_preset = confocal" in meta["Info"] and "fm2s_schedule = quick" in meta["Info"]
    assert "FM2S Denoise: a.tif" in run1.stdout  # the ImageJ log is streamed

    # "interruption": a second file arrives and a half-written result of it is left behind
    write_tiff_stack(src / "b.tif", seed=2)
    (dst / "b_fm2s.partial.tif").write_bytes(b"half written")
    stamp, content = out_a.stat().st_mtime_ns, out_a.read_bytes()
    run2 = run_fm2s("macro", str(FOLDER_MACRO), "--display", "headless",
                    "--arg", _folder_arg(src, dst))
    assert run2.returncode == 0, run2.stderr + run2.stdout
    assert "skip (done): a.tif" in run2.stdout
    assert "1 denoised, 1 already done" in run2.stdout
    assert out_a.stat().st_mtime_ns == stamp and out_a.read_bytes() == content
    assert sorted(p.name for p in dst.iterdir()) == ["a_fm2s.tif", "b_fm2s.tif"]
    assert tifffile.imread(dst / "b_fm2s.tif").dtype == np.uint16


def test_folder_macro_stops_before_two_inputs_share_an_output(tmp_path):
    # a.tiff was skipped as "done" after a.tif's result had been written to a_fm2s.tif
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_tiff_stack(src / "a.tif", seed=1)
    write_tiff_stack(src / "a.tiff", seed=2)
    write_tiff_stack(src / "b.tif", seed=3)
    run = run_fm2s("macro", str(FOLDER_MACRO), "--display", "headless",
                   "--arg", _folder_arg(src, dst))
    assert run.returncode == 1
    assert "a.tif and a.tiff would both be written to a_fm2s.tif" in run.stdout + run.stderr
    assert not dst.exists() or list(dst.iterdir()) == []


def test_macro_failures_exit_nonzero_with_message(tmp_path):
    bad = tmp_path / "bad.ijm"
    bad.write_text(
        'newImage("x", "16-bit ramp", 32, 32, 1);\n'
        'run("FM2S Denoise", "preset=nope");\n'
        'print("NOT REACHED");\n'
    )
    run = run_fm2s("macro", str(bad), "--display", "headless")
    assert run.returncode == 1
    assert "unknown preset 'nope'; choose one of: confocal" in run.stderr
    assert "line 2" in run.stderr and "NOT REACHED" not in run.stdout

    usage = run_fm2s("macro", str(FOLDER_MACRO), "--display", "headless")
    assert usage.returncode == 1 and "usage: input=<folder> output=<folder>" in usage.stdout

    dialog = tmp_path / "dialog.ijm"
    saved = tmp_path / "y.tif"
    dialog.write_text(
        'newImage("x", "16-bit ramp", 32, 32, 2);\n'
        'run("Duplicate...", "title=y duplicate");\n'
        f'saveAs("Tiff", "{saved}");\n'  # would save the source as y.tif: stopped before
        'run("Measure");\n'
    )
    run = run_fm2s("macro", str(dialog), "--display", "headless", env_extra={"FM2S_JAVA_TRACES": "0"})
    assert run.returncode == 1 and not saved.exists()
    assert "line 3" in run.stderr
    assert '"Duplicate...": it needs a display' in run.stderr and "xvfb" in run.stderr
    # the message explains the failure: ImageJ's stack trace of it is left out ...
    assert "java.awt.HeadlessException\n" not in run.stdout + run.stderr
    assert "at ij.plugin.Duplicator" not in run.stdout + run.stderr
    # ... unless asked for
    traced = run_fm2s("macro", str(dialog), "--display", "headless",
                      env_extra={"FM2S_JAVA_TRACES": "1"})
    assert traced.returncode == 1 and "at ij.plugin.Duplicator" in traced.stdout
    assert '"Duplicate...": it needs a display' in traced.stderr

    missing = run_fm2s("macro", str(bad), "--ij-jar", str(tmp_path / "nope.jar"))
    assert missing.returncode == 2 and "no ImageJ jar at" in missing.stderr


@pytest.mark.parametrize("statement", ["exit;", "exit();", "if (nImages == 0) exit;"])
def test_a_macro_that_ends_with_a_plain_exit_succeeds(tmp_path, statement):
    # ImageJ's exit throws the same "Macro canceled" as an abort: it was taken for a failure
    macro = tmp_path / "ends.ijm"
    macro.write_text(f'print("BEFORE");\n{statement}\nprint("NOT REACHED");\n')
    run = run_fm2s("macro", str(macro), "--display", "headless")
    assert run.returncode == 0, run.stderr
    assert "BEFORE" in run.stdout and "NOT REACHED" not in run.stdout


def test_a_macro_that_exits_with_a_message_fails_with_it(tmp_path):
    macro = tmp_path / "why.ijm"
    macro.write_text('print("BEFORE");\nexit("no input folder " + "given");\nprint("NOT REACHED");\n')
    run = run_fm2s("macro", str(macro), "--display", "headless")
    assert run.returncode == 1
    assert "no input folder given" in run.stdout + run.stderr and "NOT REACHED" not in run.stdout


def test_measure_macro_headless(tmp_path):
    src, dst = tmp_path / "raw", tmp_path / "results"
    src.mkdir()
    write_tiff_stack(src / "cells.tif", seed=3)
    # an uncalibrated image beside it: its area in pixels went to a column of its own, with
    # zeros in the micrometre column (and the other way round)
    tifffile.imwrite(src / "plain.tif", write_tiff_stack(tmp_path / "tmp.tif", seed=4))
    run = run_fm2s("macro", str(MEASURE_MACRO), "--display", "headless",
                   "--arg", _folder_arg(src, dst))
    assert run.returncode == 0, run.stderr + run.stdout
    lines = (dst / "fm2s_measurements.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert len(lines) == 5 and "Mean" in header and header.count("OtsuArea") == 1
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
    assert [(r["Image"], r["Version"]) for r in rows] == [
        ("cells.tif", "raw"), ("cells.tif", "fm2s"), ("plain.tif", "raw"), ("plain.tif", "fm2s")]
    assert "cells.tif-FM2S" in rows[1]["Title"]
    assert all(float(r["OtsuArea"]) > 0 for r in rows)
    assert rows[0]["AreaUnit"] != rows[2]["AreaUnit"] and rows[0]["AreaUnit"].endswith("^2")
    assert sorted(p.name for p in dst.iterdir()) == ["fm2s_measurements.csv"]
    again = run_fm2s("macro", str(MEASURE_MACRO), "--display", "headless",
                     "--arg", _folder_arg(src, dst))
    assert again.returncode == 1 and "will not overwrite" in again.stdout


@pytest.mark.xvfb
@requires_xvfb
def test_imagej_commands_around_fm2s_under_xvfb(tmp_path):
    macro = tmp_path / "workflow.ijm"
    macro.write_text(
        f"""
setBatchMode(true);
newImage("cells", "16-bit ramp", 48, 40, 3);
run("Properties...", "channels=1 slices=3 frames=1 pixel_width=0.2 pixel_height=0.2 voxel_depth=1 unit=micron");
run("Add Specified Noise...", "stack standard=500");
run("Gaussian Blur...", "sigma=0.5 stack");
run("FM2S Denoise", "preset=confocal noise_level=avg1 {QUICK}");
print("after: " + getTitle() + " " + bitDepth() + " " + nSlices);
run("Duplicate...", "title=mask duplicate");
setAutoThreshold("Otsu dark");
run("Convert to Mask", "method=Otsu background=Dark black");
run("Analyze Particles...", "size=0-Infinity summarize stack");
run("Set Measurements...", "area mean standard redirect=None decimal=3");
selectWindow("cells-FM2S");
run("Measure");
print("mean " + getResult("Mean", 0));
showMessage("a dialog that must not block");
print("done");
"""
    )
    run = run_fm2s("macro", str(macro), "--display", "xvfb", timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "after: cells-FM2S 16 3" in run.stdout
    assert "mean " in run.stdout and "done" in run.stdout
    assert "Exception" not in run.stdout + run.stderr


GUI_SCRIPT = """
import threading, time
import jpype
from fm2s.imagej.batch.display import start_xvfb
from fm2s.imagej.batch.runner import finish
from fm2s.imagej.batch.watchdog import DialogWatchdog
from fm2s.imagej.session import start_imagej
from fm2s.imagej.listener import register_command

start_xvfb()
start_imagej(headless=False)
ImageJ = jpype.JClass("ij.ImageJ")
ImageJ(ImageJ.NO_SHOW)  # the ImageJ 1.x GUI, without showing its window
register_command()
IJ = jpype.JClass("ij.IJ")
IJ.createImage("gui", "8-bit ramp", 32, 32, 1).show()

def run():
    try:
        IJ.run("FM2S Denoise", "preset=nope")
    except Exception:
        pass  # ImageJ cancels the command thread after its error message

threading.Thread(target=run, daemon=True).start()
for _ in range(100):
    time.sleep(0.1)
    watchdog = DialogWatchdog()
    watchdog.close_dialogs()
    if watchdog.messages:
        print("DIALOG=" + watchdog.messages[-1], flush=True)
        break
finish(0)
"""


@pytest.mark.xvfb
@requires_xvfb
def test_gui_error_is_an_imagej_error_dialog():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    run = subprocess.run([sys.executable, "-c", GUI_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "DIALOG=FM2S Denoise: unknown preset 'nope'; choose one of: confocal" in run.stdout


def test_a_macro_stops_at_its_first_error_and_names_its_line(tmp_path):
    """ImageJ's own errors end the macro there (the statements after an error, a saveAs among
    them, must not run) and the line reported is the one ImageJ names."""
    middle = tmp_path / "middle.ijm"
    middle.write_text('a = 1;\nb = undefinedVar;\nprint("LINE3 RAN");\n')
    run = run_fm2s("macro", str(middle), "--display", "headless")
    assert run.returncode == 1
    assert "line 2: Undefined variable" in run.stderr and "LINE3 RAN" not in run.stdout
    last = tmp_path / "last.ijm"
    last.write_text('a = 1;\nb = 2;\nc = undefinedVar;')  # no newline at the end
    run = run_fm2s("macro", str(last), "--display", "headless")
    assert run.returncode == 1 and "line 3: Undefined variable" in run.stderr


LONG_MACRO = """
setBatchMode(true);
newImage("big", "16-bit ramp", 256, 256, 1);
run("FM2S Denoise", "schedule=reference num_threads=1 seed=0");
print("NOT REACHED");
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("display", ["headless",
                                     pytest.param("xvfb", marks=[pytest.mark.xvfb, requires_xvfb])])
def test_a_signal_during_fm2s_denoise_ends_the_run_promptly(tmp_path, signum, code, display):
    """Cluster time limits and Ctrl-C: a message, exit 128 + signal, no process left behind."""
    macro = tmp_path / "long.ijm"
    macro.write_text(LONG_MACRO)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "fm2s.cli", "macro", str(macro), "--display",
                             display], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    seen = ""
    while "FM2S: training" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert "FM2S: training" in seen, seen + proc.stderr.read()
    children = _children(proc.pid)
    time.sleep(1.0)  # well inside the training
    proc.send_signal(signum)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the run did not end within 20 s of the signal")
    err = proc.stderr.read()
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert "NOT REACHED" not in proc.stdout.read()
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []  # Xvfb too


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False
