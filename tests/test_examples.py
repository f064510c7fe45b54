"""The example scripts run as documented (examples/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fm2s.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_the_slurm_example_runs_on_its_local_stand_in(tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(2):
        data = np.random.default_rng(i).poisson(300, (2, 40, 40)).astype(np.uint16)
        tifffile.imwrite(tmp_path / "in" / f"f{i}.tif", data, imagej=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, str(REPO / "examples" / "denoise_on_slurm.py"),
                          str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                          "--options", "schedule=quick seed=0"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("wrote ") == 2
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "serial"), "--schedule",
                 "quick", "--seed", "0", "--no-progress"]) == 0
    for i in range(2):
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / f"f{i}_fm2s.tif"),
                                      tifffile.imread(tmp_path / "serial" / f"f{i}_fm2s.tif"))


def test_the_slurm_example_asks_slurm_for_a_job_per_worker():
    pytest.importorskip("dask_jobqueue")
    run = subprocess.run([sys.executable, str(REPO / "examples" / "denoise_on_slurm.py"), "in",
                          "-o", "out", "--slurm", "--cores", "8", "--gpus", "1", "--memory",
                          "32GB", "--print-job-script"], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    script = run.stdout
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH --gres=gpu:1" in script
    assert "--nthreads 1" in script  # one file at a time per worker, torch gets the 8 cores
