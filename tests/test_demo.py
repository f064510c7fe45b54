"""The ``fm2s demo`` command: the sample denoised with the default settings, files and figure."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from fm2s import io
from fm2s.cli import main
from fm2s.demo import DEMO_FILES, make_sample


def test_demo_command(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--size", "256"]) == 0
    printed = capsys.readouterr().out

    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)
    clean, noisy = make_sample(256, 0)
    np.testing.assert_array_equal(io.read_image(out / "sample.tif").values, noisy)
    result = io.read_image(out / "sample_fm2s.tif")
    assert result.dtype == np.uint16 and result.shape == (256, 256)
    assert result.attrs["x_spacing"] == 0.1 and result.attrs["unit"] == "um"
    # the default settings ran: what a user gets without choosing anything
    assert (result.attrs["fm2s_preset"], result.attrs["fm2s_schedule"]) == ("confocal", "fast")
    assert result.attrs["fm2s_noise_level"] == "auto"
    (start,) = result.attrs["fm2s_start"]  # the start of the column nearest the chosen level
    assert start.startswith("confocal_avg")
    assert "noise level auto -> avg" in printed
    with Image.open(out / "fm2s_demo.png") as im:
        assert im.mode == "L" and im.size[0] > 3 * 256 and im.size[1] > 256 + 4 * 96

    assert "default settings" in printed and "as `fm2s denoise` does" in printed
    noisy_db = float(re.search(r"PSNR noisy\s+([\d.]+) dB", printed).group(1))
    denoised_db = float(re.search(r"PSNR denoised\s+([\d.]+) dB", printed).group(1))
    assert re.search(r"denoised in [\d.]+ s", printed)  # speed itself is a benchmark's job
    assert denoised_db > noisy_db + 5.0


def test_demo_on_the_smallest_sample_draws_a_smaller_zoom(tmp_path):
    # sizes 32-96 passed the check and failed drawing the 96-pixel zoom (after the TIFFs)
    out = tmp_path / "small"
    assert main(["demo", "-o", str(out), "--size", "32", "--threads", "1"]) == 0
    with Image.open(out / "fm2s_demo.png") as im:
        assert im.size[1] >= 32 + 4 * 16
