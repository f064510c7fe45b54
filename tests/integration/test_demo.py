"""The ``fm2s demo`` command: files written, PSNR clearly improved, fast enough."""

from __future__ import annotations

import re

from PIL import Image

from fm2s.cli import main
from fm2s.demo import DEMO_FILES


def test_demo_command(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out

    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FILES)
    with Image.open(out / "fm2s_demo_denoised.png") as im:
        assert im.size == (256, 256) and im.mode == "L"
    with Image.open(out / "fm2s_demo_side_by_side.png") as im:
        assert im.size == (3 * 256 + 8, 256)

    # it says what it is: a small sample and the short quick schedule
    assert "small synthetic sample" in printed and "'quick'" in printed and "'fast'" in printed
    noisy = float(re.search(r"PSNR noisy\s+([\d.]+) dB", printed).group(1))
    denoised = float(re.search(r"PSNR denoised\s+([\d.]+) dB", printed).group(1))
    assert re.search(r"denoised in [\d.]+ s", printed)  # speed itself is a benchmark's job
    assert denoised > noisy + 3.0

