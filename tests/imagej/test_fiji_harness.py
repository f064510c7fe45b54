""""FM2S Denoise" in Fiji's Python mode, reproduced on the real ImageJ jar (tests/imagej/harness.py).

Each test is a process of its own that runs ImageJ as Fiji does (the command is a SciJava
script run on a worker thread, results shown from the event thread, options only from the
macro string), headless or under a private Xvfb with other windows open, and checks what a
macro saved, what it printed and which dialogs opened. The first test shows that the harness
reproduces what was seen in Fiji with fm2s's first script; the others that the command now
behaves in Fiji as in plain ImageJ.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import tifffile

from tests.imagej.fixtures import (
    QUICK,
    REPO,
    requires_imagej,
    requires_javac,
    requires_xvfb,
    run_fiji_like,
    run_fm2s,
    write_hyperstack,
    write_plane,
    write_tiff_stack,
)

pytestmark = [pytest.mark.imagej, requires_imagej, requires_javac]

DISPLAYS = ["headless", pytest.param("xvfb", marks=[pytest.mark.xvfb, requires_xvfb])]
FOLDER_MACRO = REPO / "macros" / "fm2s_denoise_folder.ijm"
MEASURE_MACRO = REPO / "macros" / "fm2s_denoise_and_measure.ijm"

# Another image is open (a window under Xvfb, a batch-mode image headless) when the macro runs.
OTHER_IMAGE = """
if DISPLAY == "xvfb":
    IJ.createImage("another window", "8-bit ramp", 40, 40, 1).show()
"""


def _one_image_macro(src, out, options: str) -> str:
    return f"""
setBatchMode(true);
newImage("another image", "8-bit ramp", 40, 40, 1);
open("{src}");
run("FM2S Denoise", "{options}");
title = getTitle();
saveAs("Tiff", "{out}");
print("SAVED " + title);
"""


def test_the_harness_reproduces_what_fijis_script_threads_did(tmp_path):
    """fm2s's first Fiji script (SciJava parameters, an #@output) on the harness: the macro's
    current image stays the source, and the macro saves it as if it were the result (Fiji)."""
    src, out = tmp_path / "cells.tif", tmp_path / "out.tif"
    source = write_plane(src, seed=1)
    body = OTHER_IMAGE + f"""
harness.sci_java_command("FM2S Denoise", harness.OLD_STYLE_SCRIPT, image_input="imp",
                         output="result")
run_macro({_one_image_macro(src, out, QUICK)!r})
"""
    run = run_fiji_like(body, at_start=False)
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(tifffile.imread(out), source)  # the source, saved as result


@pytest.mark.parametrize("display", DISPLAYS)
def test_a_macro_gets_the_result_as_its_current_image(tmp_path, display):
    src, out = tmp_path / "cells.tif", tmp_path / "out.tif"
    source = write_plane(src, seed=1)
    run = run_fiji_like(OTHER_IMAGE + f"run_macro({_one_image_macro(src, out, QUICK)!r})",
                        display=display)
    assert run.returncode == 0, run.stderr
    assert "SAVED cells.tif-FM2S" in run.stdout
    result = tifffile.imread(out)
    assert result.dtype == np.uint16 and not np.array_equal(result, source)
    assert "DIALOG=" not in run.stdout and run.stderr.strip() == ""


@pytest.mark.parametrize("display", DISPLAYS)
def test_shipped_folder_macro_saves_what_plain_imagej_saves(tmp_path, display):
    """Single planes, stacks, hyperstacks and a non-image file: the files the macro writes in
    "Fiji" equal, pixel for pixel, those `fm2s macro` writes with plain ImageJ."""
    src = tmp_path / "raw"
    src.mkdir()
    write_plane(src / "plane.tif", seed=1)
    write_tiff_stack(src / "stack.tif", seed=2)
    write_hyperstack(src / "hyper.tif", seed=3)
    (src / "notes.txt").write_text("not an image")
    arg = f"input=[{src}] output=[{tmp_path / 'fiji'}] options=[preset=confocal {QUICK}]"
    run = run_fiji_like(OTHER_IMAGE + f"run_macro(open({str(FOLDER_MACRO)!r}).read(), {arg!r})",
                        display=display)
    assert run.returncode == 0, run.stderr
    assert "3 denoised" in run.stdout
    plain = run_fm2s("macro", str(FOLDER_MACRO), "--display", "headless", "--arg",
                     arg.replace(str(tmp_path / "fiji"), str(tmp_path / "plain")))
    assert plain.returncode == 0, plain.stderr
    for name in ("plane", "stack", "hyper"):
        fiji = tifffile.imread(tmp_path / "fiji" / f"{name}_fm2s.tif")
        np.testing.assert_array_equal(fiji, tifffile.imread(tmp_path / "plain" / f"{name}_fm2s.tif"))
        assert fiji.shape == tifffile.imread(src / f"{name}.tif").shape
    assert sorted(p.name for p in (tmp_path / "fiji").iterdir()) == [
        "hyper_fm2s.tif", "plane_fm2s.tif", "stack_fm2s.tif"]


@pytest.mark.parametrize("display", DISPLAYS)
def test_shipped_measure_macro_measures_the_denoised_image(tmp_path, display):
    src = tmp_path / "raw"
    src.mkdir()
    write_plane(src / "plane.tif", seed=4)
    write_hyperstack(src / "hyper.tif", seed=5)
    arg = f"input=[{src}] output=[{tmp_path / 'results'}] options=[preset=confocal {QUICK}]"
    run = run_fiji_like(OTHER_IMAGE + f"run_macro(open({str(MEASURE_MACRO)!r}).read(), {arg!r})",
                        display=display)
    assert run.returncode == 0, run.stderr
    lines = (tmp_path / "results" / "fm2s_measurements.csv").read_text().splitlines()
    assert len(lines) == 5 and "NaN" not in "".join(lines)
    rows = [line.split(",") for line in lines[1:]]
    assert [r[2] for r in rows] == ["raw", "fm2s", "raw", "fm2s"]
    assert rows[1][3] == "hyper.tif-FM2S" and rows[3][3] == "plane.tif-FM2S"
    assert float(rows[3][5]) < float(rows[2][5])  # denoising lowers the standard deviation


@pytest.mark.parametrize("display", DISPLAYS)
def test_only_the_options_given_are_used_the_others_are_fm2s_defaults(tmp_path, display):
    """No dialog, no value from an earlier run: a run with other values first, then one with
    only a seed and a schedule, which must record fm2s's defaults for everything else."""
    src = tmp_path / "cells.tif"
    write_plane(src, seed=6)
    first = _one_image_macro(src, tmp_path / "first.tif",
                             "preset=widefield noise_level=avg2 stack_mode=per_plane "
                             "schedule=quick num_threads=1 seed=3")
    second = _one_image_macro(src, tmp_path / "second.tif", "schedule=quick seed=5")
    run = run_fiji_like(f"run_macro({first!r})\nrun_macro({second!r})", display=display)
    assert run.returncode == 0, run.stderr
    assert "DIALOG=" not in run.stdout
    with tifffile.TiffFile(tmp_path / "second.tif") as tif:
        info = tif.imagej_metadata["Info"]
    assert "fm2s_preset = confocal" in info and "fm2s_noise_level = auto" in info
    assert "fm2s_stack_mode = shared" in info and "fm2s_device = cpu" in info
    assert "fm2s_seed = 5" in info


def test_every_documented_macro_option_works(tmp_path):
    src = tmp_path / "cells.tif"
    write_hyperstack(src, seed=7, shape=(1, 2, 2, 32, 32))
    options = ("method=fm2s preset=twophoton noise_level=avg2 schedule=quick stack_mode=warm_start "
               "seed=none device=cpu num_threads=1 tile=none bias_sigma=0 "
               "intensity_range=[0 4095] n_chan=1 stride=50 median_window=5 k_g=100 k_p=80 "
               "lam_p=250")
    run = run_fiji_like(f"run_macro({_one_image_macro(src, tmp_path / 'out.tif', options)!r})")
    assert run.returncode == 0, run.stderr
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        info = tif.imagej_metadata["Info"]
    for line in ("fm2s_preset = twophoton", "fm2s_stack_mode = warm_start", "fm2s_k_g = 100.0",
                 "fm2s_stride = 50", "fm2s_bias_sigma = 0.0", "fm2s_intensity_range = [[0.0, 4095.0]"):
        assert line in info, line
    assert re.search(r"fm2s_seed = \d+", info)  # seed=none: drawn and recorded


FAILING = [
    ("preset=nope", "FM2S Denoise: unknown preset 'nope'; choose one of: confocal"),
    ("colour=red", "FM2S Denoise: unknown option(s) colour"),
    ("seed=1.5", "FM2S Denoise: seed must be a whole number"),
    ("tile=8", "FM2S Denoise: tile must be larger than 16 pixels"),
]


@pytest.mark.parametrize(("options", "message"), FAILING)
def test_a_bad_call_stops_the_macro_with_one_line(tmp_path, options, message):
    src = tmp_path / "cells.tif"
    write_plane(src, seed=8)
    run = run_fiji_like(f"run_macro({_one_image_macro(src, tmp_path / 'out.tif', options)!r})")
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "out.tif").exists() and "SAVED" not in run.stdout
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(f"Macro Error: {message}")
    assert run.stderr.rstrip().endswith("in line 5")  # the run() line
    assert "Traceback" not in run.stdout + run.stderr and "Exception" not in run.stdout


@pytest.mark.xvfb
@requires_xvfb
def test_a_bad_call_is_imagejs_macro_error_dialog_with_a_display(tmp_path):
    src = tmp_path / "cells.tif"
    write_plane(src, seed=8)
    run = run_fiji_like(f"run_macro({_one_image_macro(src, tmp_path / 'out.tif', 'preset=nope')!r})",
                        display="xvfb")
    assert run.returncode == 0, run.stderr
    dialogs = [line for line in run.stdout.splitlines() if line.startswith("DIALOG=")]
    assert len(dialogs) == 1 and "Macro Error: FM2S Denoise: unknown preset 'nope'" in dialogs[0]
    assert "in line 5" in dialogs[0] and not (tmp_path / "out.tif").exists()
    assert run.stderr.strip() == ""


def test_a_failure_inside_fm2s_stops_the_macro_and_logs_the_traceback(tmp_path):
    src = tmp_path / "cells.tif"
    write_plane(src, seed=9)
    body = f"""
import fm2s
def broken(*args, **kwargs):
    raise RuntimeError("CUDA error: an illegal memory access was encountered")
fm2s.denoise_with_metadata = broken
run_macro({_one_image_macro(src, tmp_path / 'out.tif', QUICK)!r})
"""
    run = run_fiji_like(body)
    assert not (tmp_path / "out.tif").exists()
    assert run.stderr.startswith("Macro Error: FM2S Denoise: CUDA error: an illegal memory")
    assert "(details in the Log window)" in run.stderr and run.stderr.count("\n") == 1
    assert "Traceback" in run.stdout and "RuntimeError: CUDA error" in run.stdout  # the Log


def test_no_image_open_is_fm2s_message(tmp_path):
    code = 'run("FM2S Denoise", "seed=0"); print("NOT REACHED");'
    run = run_fiji_like(f"run_macro({code!r})")
    assert run.stderr.startswith("Macro Error: FM2S Denoise: there is no image open")
    assert "NOT REACHED" not in run.stdout


def test_without_the_start_up_registration_the_macro_is_stopped_then_served(tmp_path):
    """fm2s not registered when "Fiji" started: the menu script stops the macro (it cannot
    reach the macro's image), registers the command, and the next run works."""
    src = tmp_path / "cells.tif"
    source = write_plane(src, seed=10)
    macro = _one_image_macro(src, tmp_path / "out.tif", QUICK)
    run = run_fiji_like(f"run_macro({macro!r})\nprint('RERUN')\nrun_macro({macro!r})",
                        at_start=False)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.split("RERUN")
    assert "SAVED" not in first and "SAVED cells.tif-FM2S" in second
    assert "fm2s was not serving this command when the macro called it" in run.stderr
    assert "run the macro again" in run.stderr
    assert not np.array_equal(tifffile.imread(tmp_path / "out.tif"), source)


def test_fm2s_missing_from_fijis_python_stops_the_macro_with_the_fix(tmp_path):
    src = tmp_path / "cells.tif"
    write_plane(src, seed=11)
    body = f"""
class NoFm2sFiji:
    def find_spec(self, name, path=None, target=None):
        if name == "fm2s.imagej.fiji":
            raise ImportError("No module named 'fm2s'")
sys.meta_path.insert(0, NoFm2sFiji())
sys.modules.pop("fm2s.imagej.fiji", None)  # (the harness read the script's text from it)
run_macro({_one_image_macro(src, tmp_path / 'out.tif', QUICK)!r})
"""
    run = run_fiji_like(body, at_start=False)
    assert not (tmp_path / "out.tif").exists() and "SAVED" not in run.stdout
    assert "fm2s cannot be imported in Fiji's Python environment" in run.stderr + run.stdout
    assert "pip install" in run.stderr + run.stdout
    assert "ImportError: No module named 'fm2s'" in run.stdout  # the traceback, in the Log


@pytest.mark.xvfb
@requires_xvfb
@pytest.mark.parametrize("method", ["fm2s", "n2d"])
def test_menu_command_dialog_defaults_one_result_and_a_replayable_recording(tmp_path, method):
    body = """
from fm2s.imagej.dialog import DIALOG_OPTIONS
Recorder = jpype.JClass("ij.plugin.frame.Recorder")
recorder = Recorder()
source = IJ.createImage("cells", "16-bit ramp", 48, 40, 1)
IJ.run(source, "Add Specified Noise...", "standard=300")
source.show()
IJ.wait(500)
IJ.doCommand("FM2S Denoise")
GenericDialog = jpype.JClass("ij.gui.GenericDialog")
dialog = None
deadline = time.monotonic() + 60  # a loaded machine (CI beside other work) can take a while
while time.monotonic() < deadline:
    for window in jpype.JClass("java.awt.Window").getWindows():
        if isinstance(window, GenericDialog) and window.isShowing():
            dialog = window
    if dialog is not None:
        break
    time.sleep(0.1)
choices = [str(c.getSelectedItem()) for c in dialog.getChoices()]
texts = [str(t.getText()) for t in dialog.getStringFields()]
print("CHOICES=" + ",".join(choices))
print("TEXTS=" + ",".join(texts))
names = [o.name for o in DIALOG_OPTIONS if o.choices]
dialog.getChoices()[names.index("schedule")].select("quick")
dialog.getChoices()[names.index("method")].select(METHOD)
ActionEvent = jpype.JClass("java.awt.event.ActionEvent")
dialog.actionPerformed(ActionEvent(dialog.getButtons()[0], ActionEvent.ACTION_PERFORMED, "OK"))
deadline = time.monotonic() + 180
while time.monotonic() < deadline:
    results = [t for t in jpype.JClass("ij.WindowManager").getImageTitles() if str(t).endswith("-FM2S")]
    if results and "FM2S Denoise" in str(recorder.getText()):
        break
    time.sleep(0.1)
print("RESULTS=" + ",".join(str(t) for t in results))
line = [l for l in str(recorder.getText()).splitlines() if "FM2S Denoise" in l][0]
print("RECORDED=" + line)
interactive = jpype.JClass("ij.WindowManager").getImage(results[0])
import numpy as np
from fm2s.imagej.convert import from_imageplus
first = from_imageplus(interactive).values
source.show(); IJ.selectWindow("cells")
jpype.JClass("ij.WindowManager").setTempCurrentImage(source)
IJ.runMacro("setBatchMode(true); selectImage('cells'); " + line)
again = jpype.JClass("ij.WindowManager").getImage(jpype.JClass("ij.WindowManager").getIDList()[-1])
print("REPLAY_EQUAL=" + str(np.array_equal(from_imageplus(again).values, first)))
"""
    run = run_fiji_like(body.replace("METHOD", repr(method)), display="xvfb", watchdog=False)
    assert run.returncode == 0, run.stderr + run.stdout
    from fm2s.imagej.dialog import dialog_fields

    choices = [d for _, d, c in dialog_fields() if c is not None]
    texts = [d for _, d, c in dialog_fields() if c is None]
    assert f"CHOICES={','.join(choices)}" in run.stdout  # fm2s's defaults
    assert f"TEXTS={','.join(texts)}" in run.stdout
    assert "RESULTS=cells-FM2S\n" in run.stdout  # shown once
    recorded = re.search(r'RECORDED=(run\("FM2S Denoise", ".*"\);)', run.stdout).group(1)
    assert "schedule=quick" in recorded and re.search(r"seed=\d+", recorded)
    if method == "n2d":  # the dialog's FM2S fields are left out of an N2D run and its line
        assert "method=n2d" in recorded and "preset" not in recorded
        assert "noise_level" not in recorded
    assert "REPLAY_EQUAL=True" in run.stdout


@pytest.mark.xvfb
@requires_xvfb
def test_fm2s_missing_from_the_menu_is_an_imagej_error_with_the_traceback_in_the_log():
    body = """
class NoFm2sFiji:
    def find_spec(self, name, path=None, target=None):
        if name == "fm2s.imagej.fiji":
            raise ImportError("No module named 'fm2s'")
sys.meta_path.insert(0, NoFm2sFiji())
sys.modules.pop("fm2s.imagej.fiji", None)
IJ.createImage("cells", "8-bit ramp", 40, 40, 1).show()
IJ.doCommand("FM2S Denoise")  # the menu item: SciJava runs the script (fm2s not registered)
for _ in range(300):
    if WATCHDOG.messages:
        break
    time.sleep(0.1)
"""
    run = run_fiji_like(body, display="xvfb", at_start=False)
    assert run.returncode == 0, run.stderr
    dialogs = [line for line in run.stdout.splitlines() if line.startswith("DIALOG=")]
    assert len(dialogs) == 1 and "fm2s cannot be imported in Fiji's Python" in dialogs[0]
    assert "ImportError: No module named 'fm2s'" in run.stdout  # the Log window's text
