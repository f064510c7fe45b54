"""The "FM2S Denoise" command (fm2s.imagej.command, listener) in a headless ImageJ in this
process: results, errors that stop the macro and leave the command working, RGB images."""

from __future__ import annotations

import numpy as np
import pytest

from tests.imagej.fixtures import QUICK, requires_imagej

pytestmark = [pytest.mark.imagej, requires_imagej]


def _run(code: str) -> str | None:
    """Run macro ``code`` with no image of an earlier test open (results are titled uniquely)."""
    from fm2s.imagej.batch.runner import run_macro_code

    return run_macro_code('setBatchMode(true); close("*"); ' + code)


def test_macro_errors_then_denoise(ij):
    """Bad options and a missing image abort the macro with the message; the command then
    still works and returns a denoised image of the same type and calibration."""
    from fm2s.imagej.batch.runner import MacroError

    new16 = 'newImage("src", "16-bit ramp", 40, 32, 2);'
    for options, message in [
        ("preset=nope", "unknown preset 'nope'; choose one of: confocal"),
        ("noise_level=avg32", "unknown noise level 'avg32'"),
        ("seed=abc", "seed must be a whole number"),
        ("colour=red", "unknown option(s) colour"),
    ]:
        with pytest.raises(MacroError) as info:
            _run(f'{new16} run("FM2S Denoise", "{options}"); print("NOT REACHED");')
        assert "FM2S Denoise: " in str(info.value) and message in str(info.value)
    with pytest.raises(MacroError, match="there is no image open"):
        _run('close("*"); run("FM2S Denoise", "seed=0");')

    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit ramp", 40, 32, 2);'
        'setVoxelSize(0.2, 0.3, 0.5, "micron");'
        'src = getImageID(); before = getValue("Mean");'
        f'run("FM2S Denoise", "preset=confocal noise_level=avg1 {QUICK}");'
        'title = getTitle(); depth = bitDepth(); n = nSlices; out = getImageID();'
        'getVoxelSize(pw, ph, pd, unit); info = getMetadata("Info");'
        'if (indexOf(info, "fm2s_preset = confocal") < 0) info = "MISSING";'
        'after = getValue("Mean");'
        'selectImage(src); same = getValue("Mean") == before;'
        'return title+"|"+depth+"|"+n+"|"+pw+"|"+ph+"|"+pd+"|"+unit+"|"+(out!=src)+"|"+same'
        '+"|"+info+"|"+after+"|"+before;'
    )
    parts = result.split("|")
    assert parts[:9] == ["cells-FM2S", "16", "2", "0.2", "0.3", "0.5", "microns", "1", "1"]
    assert "fm2s_seed = 0" in parts[9]
    assert abs(float(parts[10]) - float(parts[11])) < 0.2 * float(parts[11])


def test_rgb_image_is_denoised_per_channel(ij):
    from fm2s.imagej.command import denoise_imageplus
    from fm2s.imagej.convert import from_imageplus

    imp = ij.IJ.createImage("colour", "RGB random", 32, 32, 1)
    before = from_imageplus(imp).values.copy()
    out = denoise_imageplus(imp, f"preset=confocal {QUICK}")
    assert out.getType() == ij.ImagePlus.COLOR_RGB and str(out.getTitle()) == "colour-FM2S"
    result = from_imageplus(out)
    assert result.dims == ("ch", "row", "col") and result.dtype == np.uint8
    assert not np.array_equal(result.values, before)
    np.testing.assert_array_equal(from_imageplus(imp).values, before)
    assert "fm2s_preset = confocal" in str(out.getInfoProperty())


def test_esc_stops_a_running_denoise_and_the_macro(ij):
    """ImageJ's way to stop a command: Esc. The macro stops too (it must not carry on with the
    source as if it were the result)."""
    import threading
    import time

    from fm2s.imagej.batch.runner import MacroError

    outcome = {}

    def run():
        try:
            _run('newImage("long", "16-bit ramp", 128, 128, 1);'
                 'run("FM2S Denoise", "schedule=reference num_threads=1 seed=0");'
                 'print("NOT REACHED");')
        except MacroError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(2.0)
    started = time.monotonic()
    ij.IJ.setKeyDown(ij.jpype_.JClass("java.awt.event.KeyEvent").VK_ESCAPE)
    worker.join(timeout=30)
    assert not worker.is_alive() and time.monotonic() - started < 10
    assert "FM2S Denoise: cancelled (Esc) while denoising long" in outcome["error"]
    ij.IJ.resetEscape()


def test_problems_of_an_image_are_said_in_macro_terms(ij):
    from fm2s.imagej.batch.runner import MacroError

    with pytest.raises(MacroError) as info:
        _run('newImage("holes", "32-bit ramp", 32, 32, 1); setPixel(3, 4, NaN);'
             'run("FM2S Denoise", "schedule=quick seed=0");')
    assert "NaN or infinite pixel(s)" in str(info.value)
    assert 'run("Remove NaNs...", "radius=2");' in str(info.value) and "numpy" not in str(info.value)


def test_noise2detail_from_a_macro(ij):
    """method=n2d: the same command, a result of the source's type and calibration with the
    method recorded; an FM2S preset given with it stops the macro and says why."""
    from fm2s.imagej.batch.runner import MacroError

    with pytest.raises(MacroError) as info:
        _run('newImage("src", "16-bit ramp", 40, 32, 1);'
             'run("FM2S Denoise", "method=n2d preset=widefield"); print("NOT REACHED");')
    assert "preset does not apply to method 'n2d'" in str(info.value)
    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit ramp", 40, 32, 2); setVoxelSize(0.2, 0.3, 0.5, "micron");'
        f'run("FM2S Denoise", "method=n2d {QUICK}");'
        'getVoxelSize(pw, ph, pd, unit); info = getMetadata("Info");'
        'return getTitle()+"|"+bitDepth()+"|"+nSlices+"|"+pw+"|"+unit+"|"'
        '+(indexOf(info, "fm2s_method = n2d") >= 0)+"|"+(indexOf(info, "fm2s_preset") >= 0);'
    )
    assert result.split("|") == ["cells-FM2S", "16", "2", "0.2", "microns", "1", "0"]


def test_auto_noise_level_is_logged_and_recorded(ij, capfd):
    """The Log (standard output in a headless ImageJ) says what auto chose."""
    info = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit black", 64, 64, 1); random("seed", 1);'
        'for (y = 0; y < 64; y++) for (x = 0; x < 64; x++)'
        '  setPixel(x, y, 1000 + 40 * x + 300 * random("gaussian"));'
        f'run("FM2S Denoise", "noise_level=auto {QUICK}");'
        'return getMetadata("Info");'
    )
    log = capfd.readouterr().out
    line = next(x for x in log.splitlines() if "noise sigma" in x)
    assert line.startswith("FM2S Denoise: cells: noise sigma ")
    assert "captures were averaged -> noise level avg" in line
    assert "fm2s_noise_level = auto" in info and "fm2s_noise_level_chosen" in info


def test_hot_pixels_set_aside_are_logged_and_kept(ij, capfd):
    """Two hot pixels far above a 16-bit image: the Log says so, the result keeps them."""
    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit black", 64, 64, 1); random("seed", 1);'
        'for (y = 0; y < 64; y++) for (x = 0; x < 64; x++)'
        '  setPixel(x, y, 1000 + 40 * x + 300 * random("gaussian"));'
        'setPixel(5, 5, 65535); setPixel(60, 3, 65535);'
        f'run("FM2S Denoise", "{QUICK}");'
        'return "" + getPixel(5, 5) + "|" + getPixel(60, 3) + "|" + getPixel(30, 30);'
    )
    line = next(x for x in capfd.readouterr().out.splitlines() if "hot pixels" in x)
    assert line.startswith("FM2S Denoise: cells: note: 2 isolated pixel(s)")
    hot_a, hot_b, other = (float(v) for v in result.split("|"))
    assert hot_a == hot_b == 65535 and other < 10000


def test_inverted_y_coordinates_are_kept(ij):
    """"Invert Y coordinates" (Image > Properties) is part of the calibration: measured y
    counts up from the bottom in the result as in the source."""
    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit ramp", 40, 32, 1); setOption("InvertY", true);'
        'x = 0; y = 0; toScaled(x, y); before = y;'
        f'run("FM2S Denoise", "{QUICK}");'
        'x = 0; y = 0; toScaled(x, y); return getTitle() + "|" + before + "|" + y;'
    )
    assert result.split("|") == ["cells-FM2S", "31", "31"]


def test_overlay_is_kept(ij):
    """The source's overlay (annotations, outlines) is on the result: each ROI with its place,
    name and plane, and the source's overlay is left as it was."""
    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "8-bit ramp", 40, 32, 3);'
        'makeRectangle(2, 3, 10, 11); Roi.setName("nucleus"); Overlay.addSelection;'
        'setSlice(2); makeOval(5, 6, 8, 9); Roi.setPosition(2); Overlay.addSelection;'
        'Roi.remove; setSlice(1); src = getImageID();'
        f'run("FM2S Denoise", "{QUICK}");'
        'n = Overlay.size; s = getTitle() + "|" + n;'
        'for (i = 0; i < n; i++) { Overlay.activateSelection(i); getSelectionBounds(x, y, w, h);'
        '  s = s + "|" + Roi.getName + ":" + x + "," + y + "," + w + "," + h + "@" + getSliceNumber(); }'
        'selectImage(src); return s + "|" + Overlay.size;'
    )
    assert result.split("|") == ["cells-FM2S", "2", "nucleus:2,3,10,11@1", ":5,6,8,9@2", "2"]


def test_channels_of_a_plain_image_keep_its_lut_and_range(ij):
    """A multi-channel image that is not a composite (Stack.setDimensions on a stack) shows
    every channel with its one LUT and display range: so does the result (no LUT of ImageJ's
    choosing, no range stretched to the denoised pixels)."""
    result = _run(
        'setBatchMode(true);'
        'newImage("cells", "16-bit ramp", 40, 32, 4); run("Fire"); setMinAndMax(100, 30000);'
        'Stack.setDimensions(2, 2, 1); getLut(r, g, b); lut = "" + r[100] + g[100] + b[100];'
        f'run("FM2S Denoise", "{QUICK}");'
        'Stack.getDisplayMode(mode); s = getTitle() + "|" + mode;'
        'for (c = 1; c <= 2; c++) { Stack.setChannel(c); getMinAndMax(lo, hi); getLut(r, g, b);'
        '  s = s + "|" + lo + "-" + hi + "|" + ("" + r[100] + g[100] + b[100] == lut); }'
        'return s;'
    )
    assert result.split("|") == ["cells-FM2S", "color", "100-30000", "1", "100-30000", "1"]


def test_the_result_title_is_made_unique_where_an_image_has_it(ij):
    """As ImageJ's Duplicate does: selectImage of the plain title must not find an older image."""
    result = _run(
        'setBatchMode(true);'
        'newImage("older-FM2S", "8-bit black", 32, 32, 1);'
        'newImage("older", "8-bit random", 32, 32, 1);'
        f'run("FM2S Denoise", "{QUICK}");'
        'title = getTitle(); mean = getValue("Mean");'
        'selectImage("older-FM2S");'
        'return title + "|" + (mean > 0) + "|" + getValue("Mean");'
    )
    assert result.split("|") == ["older-FM2S-1", "1", "0"]


def test_the_result_is_shown_as_the_source_is(ij):
    """Position, active channels, a hidden overlay and the frame rate go with the result."""
    state = ('Stack.getPosition(c, z, t); Stack.getActiveChannels(active);'
             'state = "" + c + "," + z + "," + t + "|" + active + "|" + Overlay.hidden + "|"'
             '        + Stack.getFrameRate();')
    result = _run(
        'newImage("cells", "16-bit ramp", 40, 32, 2, 2, 2);'
        'run("Make Composite", "display=Composite");'
        'makeRectangle(2, 2, 8, 8); Overlay.addSelection; Roi.remove; Overlay.hide;'
        'Stack.setPosition(2, 2, 1); Stack.setActiveChannels("01"); Stack.setFrameRate(5);'
        + state + 'source = state;'
        f'run("FM2S Denoise", "{QUICK}");'
        + state + 'return source + "#" + state;'
    )
    source, denoised = result.split("#")
    assert source.split("|")[0] == "2,2,1" and source.split("|")[1].startswith("01")
    assert source.split("|")[2:] == ["1", "5"]
    assert denoised == source
