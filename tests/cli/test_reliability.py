"""Nothing lost, nothing hangs: ``fm2s denoise`` against signals, full disks, unwritable folders,
killed runs, concurrent runs, link loops, multi-image files and bad values."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from fm2s import io, phantom
from fm2s.batch import claim
from fm2s.cli import main

REPO = Path(__file__).resolve().parents[2]
QUICK = ["--schedule", "quick", "--seed", "0", "--threads", "1", "--no-progress"]


def _planes(folder: Path, n: int = 2, size: int = 48) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        _, noisy = phantom.noisy_phantom((size, size), dtype="uint16", offset=100, seed=i)
        paths.append(folder / f"cell{i}.tif")
        tifffile.imwrite(paths[-1], noisy, imagej=True)
    return paths


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_cleanly(tmp_path, signum, code):
    """A cluster's time limit (SIGTERM) or Ctrl-C: exit 128 + signal with a message, finished
    files kept, no temporary or lock file left."""
    _planes(tmp_path / "in", n=1, size=256)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fm2s.cli", "denoise", str(tmp_path / "in"), "-o", str(out),
         "--schedule", "reference", "--threads", "1", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(out.glob(".cell0_fm2s.tif.lock")):
        time.sleep(0.2)  # the lock exists while the file is being denoised
    time.sleep(1.0)
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("fm2s denoise did not stop within 30 s of the signal")
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert list(out.iterdir()) == []


def test_what_killed_runs_leave_is_removed_and_their_files_are_redone(tmp_path, capsys):
    _planes(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".cell0_fm2s.tif.0123abcd.tmp").write_bytes(b"half written by a run killed -9")
    (out / ".cell0_fm2s.tif.lock").write_bytes(b"")  # a lock file whose run is gone
    (out / ".unrelated.tmp").write_bytes(b"not ours")
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "removed 1 temporary file(s) left by a run that was stopped" in err
    assert sorted(p.name for p in out.iterdir()) == [".unrelated.tmp", "cell0_fm2s.tif",
                                                      "cell1_fm2s.tif"]


def test_an_output_another_run_is_writing_is_left_to_it(tmp_path, capsys):
    _planes(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    with claim(out / "cell0_fm2s.tif") as mine:  # another run holds this output
        assert mine
        assert main(["denoise", str(tmp_path / "in"), "-o", str(out), *QUICK]) == 0
    printed = capsys.readouterr()
    assert "another fm2s run is writing" in printed.out and "cell0" in printed.out
    assert "1 denoised, 1 skipped, 0 failed" in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["cell1_fm2s.tif"]


def test_two_runs_at_once_compute_each_file_once(tmp_path):
    _planes(tmp_path / "in", n=3)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "fm2s.cli", "denoise", str(tmp_path / "in"), "-o", str(out),
            *QUICK]
    runs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [run.communicate(timeout=300) + (run.returncode,) for run in runs]
    assert [code for _, _, code in results] == [0, 0]  # no false failure
    wrote = sum(stdout.count("wrote ") for stdout, _, _ in results)
    assert wrote == 3
    assert sorted(p.name for p in out.iterdir()) == [f"cell{i}_fm2s.tif" for i in range(3)]


def test_an_unwritable_output_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import fm2s.batch

    _planes(tmp_path / "in")
    real_open = os.open

    def refuse(path, flags, *args):
        if ".fm2s-write-test" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(fm2s.batch.os, "open", refuse)
    started = time.perf_counter()
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *QUICK]) == 2
    assert time.perf_counter() - started < 5
    assert "cannot write to the output folder" in capsys.readouterr().err


def test_a_full_disk_is_said_before_the_work_and_when_it_fills_up(tmp_path, capsys, monkeypatch):
    import fm2s.batch

    _planes(tmp_path / "in")
    out = tmp_path / "out"

    class Full:
        free = 1000

    monkeypatch.setattr(fm2s.batch.shutil, "disk_usage", lambda path: Full)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "no space for the output in" in err and "0.0 MiB are free" in err
    monkeypatch.undo()

    def disk_full(path, *args, **kwargs):
        Path(path).write_bytes(b"part")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", disk_full)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), *QUICK]) == 1
    err = capsys.readouterr().err
    assert err.count("No space left on device while writing") == 2 and "nothing was written" in err
    assert list(out.iterdir()) == []  # no partial file, no temporary


def test_a_link_loop_at_one_output_fails_that_file_only(tmp_path, capsys):
    _planes(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink("cell0_fm2s.tif", out / "cell0_fm2s.tif")  # points at itself
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), *QUICK]) == 1
    printed = capsys.readouterr()
    assert "cannot use the output path" in printed.err and "Traceback" not in printed.err
    assert (out / "cell1_fm2s.tif").exists()


def test_every_series_of_an_ome_tiff_is_denoised_with_its_channel_names(tmp_path, capsys):
    src = tmp_path / "plate.ome.tif"
    rng = np.random.default_rng(0)
    with tifffile.TiffWriter(src, ome=True) as tif:
        for _ in range(3):
            tif.write(rng.poisson(300, (2, 40, 40)).astype(np.uint16),
                      metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP"]},
                                "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    out = tmp_path / "out"
    assert main(["denoise", str(src), "-o", str(out), *QUICK]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"plate.ome_s{k}_fm2s.tif" for k in (1, 2, 3)]
    for k in range(3):
        result = io.read_image(out / f"plate.ome_s{k + 1}_fm2s.tif")
        assert result.dims == ("ch", "row", "col") and result.attrs["x_spacing"] == 0.2
        assert result.attrs["slice_labels"] == ["DAPI", "GFP"]
        assert result.attrs["fm2s_source"] == f"plate.ome.tif (series {k + 1})"
    assert "3 denoised" in capsys.readouterr().err


def test_rgb_comes_back_as_rgb(tmp_path):
    src = tmp_path / "slide.png"
    rgb = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(src)
    assert main(["denoise", str(src), "-o", str(tmp_path / "out"), *QUICK]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "slide_fm2s.tif") as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        assert tif.series[0].shape == (40, 48, 3)


@pytest.mark.parametrize(("extra", "message"), [
    (["--intensity-range", "0", "inf"], "--intensity-range must be two finite numbers"),
    (["--lam-p", "nan"], "--lam-p: parameter lam_p must be a finite number"),
    (["--k-g", "nan"], "--k-g: parameter k_g must be a finite number"),
    (["--bias-sigma", "nan"], "--bias-sigma must be a finite number"),
    (["--bias-sigma", "inf"], "--bias-sigma must be a finite number"),
    (["--seed", "-5"], "--seed must be between 0 and 2**63 - 1"),
])
def test_non_finite_or_out_of_range_values_exit_2_in_one_line(tmp_path, capsys, extra, message):
    _planes(tmp_path / "in", n=1)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_problems_of_a_file_are_said_in_command_line_terms(tmp_path, capsys):
    src = tmp_path / "holes.tif"
    data = np.random.default_rng(0).normal(100, 10, (32, 32)).astype(np.float32)
    data[3, 4] = np.nan
    tifffile.imwrite(src, data, imagej=True)
    assert main(["denoise", str(src), "-o", str(tmp_path / "out"), *QUICK]) == 1
    err = capsys.readouterr().err
    assert "1 NaN or infinite pixel(s)" in err and "Process > Math > Remove NaNs" in err
    assert "numpy" not in err


def test_too_many_threads_are_capped_with_a_warning(tmp_path, capsys):
    _planes(tmp_path / "in", n=1)
    argv = ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--schedule", "quick",
            "--threads", "10000", "--no-progress"]
    assert main(argv) == 0
    assert "asks for more threads than the" in capsys.readouterr().err
    recorded = io.read_image(tmp_path / "out" / "cell0_fm2s.tif").attrs["fm2s_num_threads"]
    assert 1 <= recorded <= (os.cpu_count() or 1)
