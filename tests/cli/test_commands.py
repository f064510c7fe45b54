"""End-to-end tests of the ``fm2s`` command on small generated files (quick schedule, CPU)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fm2s import io, phantom
from fm2s.cli import main
from fm2s.presets import resolve_params

FAST = ["--schedule", "quick", "--seed", "0", "--threads", "1", "--no-progress"]
OLD = 1_000_000_000  # an mtime far in the past (2001), set on outputs to detect rewrites


def _write_inputs(folder: Path) -> dict[str, Path]:
    """A 16-bit ImageJ z-stack with calibration and an 8-bit PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    _, stack = phantom.moving_phantom(2, (64, 64), seed=1)
    da = io.to_dataarray(stack, ("pln", "row", "col"), x_spacing=0.13, y_spacing=0.13,
                         z_spacing=0.5, unit="um")
    da.attrs["info"] = "scope 3"
    io.write_tiff(folder / "cells.tif", da)
    _, noisy = phantom.noisy_phantom((64, 64), seed=2)
    io.write_png(folder / "plate.png", noisy)
    return {"tif": folder / "cells.tif", "png": folder / "plate.png"}


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def test_denoise_batch_resume_and_overwrite(tmp_path, capsys):
    inputs = _write_inputs(tmp_path / "in")
    out = tmp_path / "out" / "nested"  # created by the command
    argv = ["denoise", str(inputs["tif"]), str(inputs["png"]), "-o", str(out), *FAST]

    assert main(argv) == 0
    printed = capsys.readouterr()
    tif_out, png_out = out / "cells_fm2s.tif", out / "plate_fm2s.tif"
    assert sorted(p.name for p in out.iterdir()) == ["cells_fm2s.tif", "plate_fm2s.tif"]
    assert "wrote" in printed.out and "2 denoised, 0 skipped" in printed.err

    # dtype, dims and calibration kept; parameters recorded for ImageJ and for Python
    original = io.read_image(inputs["tif"])
    result = io.read_image(tif_out)
    assert result.dtype == np.uint16 and result.dims == ("pln", "row", "col")
    assert result.shape == original.shape
    for key in ("x_spacing", "y_spacing", "z_spacing", "unit"):
        assert result.attrs[key] == original.attrs[key]
    assert not np.array_equal(result.values, original.values)
    assert result.attrs["fm2s_preset"] == "confocal"
    assert result.attrs["fm2s_schedule"] == "quick"
    assert result.attrs["fm2s_seed"] == 0
    assert result.attrs["fm2s_source"] == "cells.tif"
    assert result.attrs["info"] == "scope 3"
    with tifffile.TiffFile(tif_out) as tif:
        assert tif.is_imagej
        assert "fm2s_noise_level = auto" in tif.imagej_metadata["Info"]  # the default
        recorded = json.loads(tif.imagej_metadata["Properties"]["fm2s_json"])
    (level,) = recorded["fm2s_noise_level_chosen"]
    assert recorded["fm2s_k_g"] == [resolve_params("confocal", level).k_g]
    png_result = io.read_image(png_out)
    assert png_result.dtype == np.uint8 and png_result.dims == ("row", "col")

    # re-run: everything exists -> skipped, nothing rewritten
    os.utime(tif_out, ns=(OLD, OLD))
    os.utime(png_out, ns=(OLD, OLD))
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert printed.out.count("skip ") == 2 and "exists" in printed.out
    assert _mtime(tif_out) == OLD and _mtime(png_out) == OLD

    # an interrupted batch: one output missing -> only that one is redone
    png_out.unlink()
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "1 denoised, 1 skipped" in printed.err
    assert _mtime(tif_out) == OLD
    assert png_out.exists() and _mtime(png_out) != OLD

    # --overwrite redoes everything
    os.utime(png_out, ns=(OLD, OLD))
    assert main([*argv, "--overwrite"]) == 0
    assert _mtime(tif_out) != OLD and _mtime(png_out) != OLD
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_folder_input_with_a_corrupt_file_continues(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _, noisy = phantom.noisy_phantom((64, 64), seed=4)
    io.write_png(folder / "good.png", noisy)
    (folder / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)  # truncated TIFF
    (folder / "notes.txt").write_text("not an image, ignored in a folder")
    out = tmp_path / "out"
    code = main(["denoise", str(folder), "-o", str(out), *FAST])
    printed = capsys.readouterr()
    assert code == 1
    errors = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.tif" in errors[0]
    assert "contains no image" in errors[0]
    assert "Traceback" not in printed.err
    assert (out / "good_fm2s.tif").exists()
    assert not (out / "broken_fm2s.tif").exists()
    assert "1 denoised, 0 skipped, 1 failed" in printed.err


def test_refuses_to_write_over_an_input(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    _, noisy = phantom.noisy_phantom((48, 48), seed=5)
    io.write_tiff(folder / "x.tif", noisy)
    # a file named like x.tif's output, given as an input too
    io.write_tiff(folder / "x_fm2s.tif", noisy)
    protected = (folder / "x_fm2s.tif").read_bytes()
    code = main(["denoise", str(folder / "x.tif"), str(folder / "x_fm2s.tif"),
                 "-o", str(folder), *FAST])
    printed = capsys.readouterr()
    assert code == 1
    assert "refusing to write" in printed.err and "x.tif" in printed.err
    assert (folder / "x_fm2s.tif").read_bytes() == protected
    # the other input is still processed
    assert (folder / "x_fm2s_fm2s.tif").exists()


def test_two_inputs_with_the_same_output_name(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _, noisy = phantom.noisy_phantom((48, 48), seed=6)
    io.write_png(a / "same.png", noisy)
    io.write_png(b / "same.png", noisy)
    code = main(["denoise", str(a / "same.png"), str(b / "same.png"), "-o",
                 str(tmp_path / "out"), *FAST])
    printed = capsys.readouterr()
    assert code == 1 and "would also be the output of" in printed.err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["same_fm2s.tif"]


def test_an_output_made_from_another_input_is_not_taken_for_this_ones(tmp_path, capsys):
    # a.png's result under a_fm2s.tif was skipped as "done" for a.tif, with exit code 0
    folder = tmp_path / "in"
    folder.mkdir()
    _, noisy = phantom.noisy_phantom((48, 48), seed=6)
    io.write_png(folder / "a.png", noisy)
    tifffile.imwrite(folder / "a.tif", noisy.astype(np.uint16) * 200)
    out = tmp_path / "out"
    assert main(["denoise", str(folder / "a.png"), "-o", str(out), *FAST]) == 0
    capsys.readouterr()
    made = _mtime(out / "a_fm2s.tif")
    assert main(["denoise", str(folder / "a.tif"), "-o", str(out), *FAST]) == 1
    printed = capsys.readouterr()
    assert "a_fm2s.tif exists but was made from a.png" in printed.out + printed.err
    assert "--overwrite" in printed.out + printed.err and _mtime(out / "a_fm2s.tif") == made
    # the input that made it is still skipped when run again
    assert main(["denoise", str(folder / "a.png"), "-o", str(out), *FAST]) == 0
    assert "skip" in "".join(capsys.readouterr())
    assert main(["denoise", str(folder / "a.tif"), "-o", str(out), "--overwrite", *FAST]) == 0
    assert io.read_image(out / "a_fm2s.tif").dtype == np.uint16


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset", "spinning-disk"],
         "unknown preset 'spinning-disk'; choose one of: confocal, twophoton, widefield"),
        (["--noise-level", "avg32"], "unknown noise level"),
        (["--set", "k_q=3"], "unknown FM2S parameter(s) k_q"),
        (["--set", "k_g"], "--set expects KEY=VALUE"),
        (["--median-window", "4"], "--median-window must be a positive odd number"),
        (["--schedule", "slow"], "unknown schedule 'slow'"),
        (["--bias-sigma", "-1"], "--bias-sigma must be >= 0"),
        (["--tile", "big"], "--tile must be a number of pixels or 'none'"),
        # the flag won over --set, before or after it, and the last --set won
        (["--k-g", "150", "--set", "k_g=20"], "k_g is given both as --set k_g=... and as --k-g"),
        (["--set", "k_g=150", "--set", "k_g=20"], "--set k_g is given twice"),
    ],
)
def test_bad_options_exit_2_with_the_core_message(tmp_path, capsys, extra, message):
    inputs = _write_inputs(tmp_path / "in")
    code = main(["denoise", str(inputs["png"]), "-o", str(tmp_path / "out"), *extra])
    printed = capsys.readouterr()
    assert code == 2
    assert message in printed.err
    assert "Traceback" not in printed.err
    assert not (tmp_path / "out").exists()  # nothing done


def test_a_gpu_this_machine_lacks_is_refused_before_any_work(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    inputs = _write_inputs(tmp_path / "in")
    code = main(["denoise", str(inputs["png"]), str(inputs["png"]), "-o", str(tmp_path / "out"),
                 "--device", "cuda"])
    printed = capsys.readouterr()
    # it failed every file on its own, with exit code 1 and the Python spelling of the fix
    assert code == 2 and printed.err.count("no CUDA GPU is available") == 1
    assert "use --device auto or cpu" in printed.err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["result.tif", "Result.TIFF", "result.png", "result.zarr"])
def test_an_output_that_looks_like_a_file_name_is_refused(tmp_path, capsys, name):
    inputs = _write_inputs(tmp_path / "in")
    code = main(["denoise", str(inputs["png"]), "-o", str(tmp_path / name), *FAST])
    err = capsys.readouterr().err
    assert code == 2
    assert "-o/--output takes a folder" in err and f"-o {tmp_path / 'result'}" in err.replace(
        f"{tmp_path / 'Result'}", f"{tmp_path / 'result'}")
    assert "Traceback" not in err
    assert not (tmp_path / name).exists()  # no folder named like an image
    # an existing folder of that name is the user's own choice
    (tmp_path / name).mkdir()
    assert main(["denoise", str(inputs["png"]), "-o", str(tmp_path / name), *FAST]) == 0
    assert (tmp_path / name / "plate_fm2s.tif").exists()


def test_missing_input_and_usage_errors(tmp_path, capsys):
    code = main(["denoise", str(tmp_path / "nope.tif"), "-o", str(tmp_path / "out"), *FAST])
    assert code == 1 and "nope.tif: no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # no empty output folder left behind
    os.mkfifo(tmp_path / "fifo.tif")  # reading it waited forever
    code = main(["denoise", str(tmp_path / "fifo.tif"), "-o", str(tmp_path / "out"), *FAST])
    assert code == 1 and "fifo.tif: not a regular file or folder" in capsys.readouterr().err
    assert main(["denoise", "x.tif"]) == 2  # -o is required (argparse)
    assert main(["--help"]) == 0
    assert "denoise" in capsys.readouterr().out


def test_presets_command(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("confocal", "twophoton", "widefield", "srdtrans", "base", "avg16"):
        assert name in out
    assert "where the numbers come from" in out and "2025-09-04" in out  # srdtrans's source
    assert re.search(r"srdtrans\s+avg1\s+6\s+5\s+3\s+60\s+40\s+125", out)


def _fm2s_command() -> list[str]:
    exe = shutil.which("fm2s")
    return [exe] if exe else [sys.executable, "-m", "fm2s.cli"]


def test_console_script_end_to_end(tmp_path):
    inputs = _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    proc = subprocess.run(
        [*_fm2s_command(), "denoise", str(tmp_path / "in"), "-o", str(out), "-v", *FAST,
         "--preset", "widefield", "--k-g", "150", "--set", "lam_p=2100"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "device auto" in proc.stderr  # the core's INFO logging shown with -v
    assert sorted(p.name for p in out.iterdir()) == ["cells_fm2s.tif", "plate_fm2s.tif"]
    result = io.read_image(out / "cells_fm2s.tif")
    assert result.attrs["fm2s_preset"] == "widefield"
    # overrides win over the level auto chose (one value per channel)
    assert result.attrs["fm2s_k_g"] == [150.0] and result.attrs["fm2s_lam_p"] == [2100.0]
    assert result.attrs["z_spacing"] == io.read_image(inputs["tif"]).attrs["z_spacing"]


def test_refuses_even_with_overwrite_when_the_output_is_a_link_to_the_input(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    _, noisy = phantom.noisy_phantom((48, 48), seed=7)
    io.write_tiff(data / "x.tif", noisy)
    os.link(data / "x.tif", out / "x_fm2s.tif")  # same file under the output's name
    before = (data / "x.tif").read_bytes()
    code = main(["denoise", str(data / "x.tif"), "-o", str(out), "--overwrite", *FAST])
    assert code == 1 and "refusing to write" in capsys.readouterr().err
    assert (data / "x.tif").read_bytes() == before


def test_auto_noise_level_is_printed_and_recorded_in_the_tiff(tmp_path, capsys):
    inputs = _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    argv = ["denoise", str(inputs["tif"]), "-o", str(out), "--noise-level", "auto", *FAST]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if "noise sigma" in x)
    assert re.search(r"as if [\d.]+ captures were averaged -> noise level avg[\d.]+ \(k_g ", line)
    with tifffile.TiffFile(out / "cells_fm2s.tif") as tif:
        info = tif.imagej_metadata["Info"]
        recorded = json.loads(tif.imagej_metadata["Properties"]["fm2s_json"])
    assert "fm2s_noise_level = auto" in info and "fm2s_noise_level_chosen" in info
    assert recorded["fm2s_noise_level_chosen"][0] in line
    assert len(recorded["fm2s_noise_sigma"]) == 1


def test_hot_pixels_set_aside_are_printed_recorded_and_kept(tmp_path, capsys):
    _, image = phantom.noisy_phantom((64, 64), dtype="uint16", offset=100, seed=2)
    image[5, 5] = image[60, 3] = 65535
    tifffile.imwrite(tmp_path / "a.tif", image, imagej=True)
    assert main(["denoise", str(tmp_path / "a.tif"), "-o", str(tmp_path / "out"), *FAST]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "hot pixels" in x)
    assert "note: 2 isolated pixel(s)" in line and f"ends at {image[image < 65535].max()}" in line
    with tifffile.TiffFile(tmp_path / "out" / "a_fm2s.tif") as tif:
        out = tif.asarray()
        recorded = json.loads(tif.imagej_metadata["Properties"]["fm2s_json"])
    assert out[5, 5] == out[60, 3] == 65535
    assert recorded["fm2s_hot_pixels"] == [2]


def test_python_dash_m_fm2s_is_the_command():
    done = subprocess.run([sys.executable, "-m", "fm2s", "presets"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "confocal" in done.stdout and "noise_level=auto" in done.stdout


def test_an_unreadable_file_at_the_output_name_is_kept_and_not_counted_as_done(tmp_path, capsys):
    inputs = _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / "cells_fm2s.tif").write_bytes(b"II*\x00 not a finished result")  # damaged
    argv = ["denoise", str(inputs["tif"]), "-o", str(out), *FAST]
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "cells_fm2s.tif exists but cannot be read as an image" in printed.out + printed.err
    assert (out / "cells_fm2s.tif").read_bytes() == b"II*\x00 not a finished result"
    assert main(argv + ["--overwrite"]) == 0
    assert io.read_image(out / "cells_fm2s.tif").attrs["fm2s_source"] == "cells.tif"
