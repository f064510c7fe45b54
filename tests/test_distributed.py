"""The batch on a Dask cluster (fm2s.distributed): a local cluster of two workers on loopback
gives the pixels and the record of one process, survives a killed worker, and leaves nothing
partial behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import tifffile

from fm2s import io
from fm2s.cli import main

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--schedule", "quick", "--seed", "0", "--no-progress"]


def _stacks(folder: Path, n: int, planes: int = 3, size: int = 48) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        data = np.random.default_rng(i).poisson(300, (planes, size, size)).astype(np.uint16)
        tifffile.imwrite(folder / f"f{i}.tif", data, imagej=True, resolution=(5.0, 5.0),
                         metadata={"axes": "ZYX", "unit": "um", "spacing": 0.5})


def _same_outputs(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        with tifffile.TiffFile(a / name) as x, tifffile.TiffFile(b / name) as y:
            np.testing.assert_array_equal(x.asarray(), y.asarray())
            assert x.imagej_metadata == y.imagej_metadata  # the whole record, calibration too


def test_a_cluster_gives_what_one_process_gives(tmp_path, capsys):
    """With the same torch threads (which the record keeps: other counts may sum in another
    order), a worker gives what one process gives."""
    _stacks(tmp_path / "in", 4)
    serial = ["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "serial"), "--threads", "1"]
    assert main([*serial, *QUICK]) == 0
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "cluster"),
                 "--workers", "2", "--threads", "1", *QUICK]) == 0
    assert "4 denoised, 0 skipped, 0 failed" in capsys.readouterr().err
    _same_outputs(tmp_path / "serial", tmp_path / "cluster")
    # the promises of the batch hold on the cluster: finished outputs are skipped
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "cluster"),
                 "--workers", "2", *QUICK]) == 0
    assert "0 denoised, 4 skipped, 0 failed" in capsys.readouterr().err


def test_a_killed_worker_loses_nothing_and_the_batch_completes(tmp_path):
    _stacks(tmp_path / "in", 4, planes=3, size=96)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "serial"), *QUICK]) == 0
    out = tmp_path / "cluster"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-m", "fm2s.cli", "denoise", str(tmp_path / "in"),
                            "-o", str(out), "--workers", "2", *QUICK],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".*.lock")):
        time.sleep(0.05)  # a task holds an output's lock: it is running
    workers = [p for p in psutil.Process(run.pid).children(recursive=True)
               if any("spawn_main" in part for part in p.cmdline())]
    assert workers, "no worker process found"
    for worker in workers:
        worker.send_signal(signal.SIGKILL)  # both workers die in the middle of their tasks
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert "4 denoised, 0 skipped, 0 failed" in stderr
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}_fm2s.tif" for i in range(4)]
    _same_outputs(tmp_path / "serial", out)  # nothing partial, nothing left behind


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_a_task_run_again_removes_what_its_killed_worker_left(tmp_path, suffix):
    """The task of a worker killed while writing runs again elsewhere: it removes the
    temporary the dead worker left. It never did (it asked for the output's lock it held
    itself), and a batch on a cluster left the temporary behind."""
    from fm2s.batch import Job, run_job

    data = np.random.default_rng(0).poisson(300, (32, 32)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data)
    (tmp_path / "out").mkdir()
    left = tmp_path / "out" / f".a_fm2s{suffix}.0123abcd.tmp"
    if suffix == ".zarr":
        (left / "s0").mkdir(parents=True)
    else:
        left.write_bytes(b"half written")
    job = Job(tmp_path / "a.tif", tmp_path / "out" / f"a_fm2s{suffix}")
    assert run_job(job, {"schedule": "quick", "seed": 0})[0] == "done"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [job.out.name]


def test_workers_must_be_at_least_one(tmp_path, capsys):
    _stacks(tmp_path / "in", 1)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                 "--workers", "0", *QUICK]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--workers", "2", "--scheduler", "tcp://x:1"]])
def test_one_way_to_find_a_cluster_at_a_time(flags, capsys):
    assert main(["denoise", "x.tif", "-o", "out", *flags]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(("signum", "code", "group"), [
    (signal.SIGINT, 130, True),  # Ctrl-C in a terminal: every process of the group
    (signal.SIGTERM, 143, True),  # a job's time limit (SLURM signals all of the job's processes)
    (signal.SIGTERM, 143, False),  # `kill PID`
])
def test_a_signal_stops_the_cluster_cleanly(tmp_path, signum, code, group):
    """A signal while workers compute: the cluster shuts down, no worker is left running, and
    no output or temporary file is left, without a traceback."""
    _stacks(tmp_path / "in", 2, planes=2, size=192)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-m", "fm2s.cli", "denoise", str(tmp_path / "in"),
                            "-o", str(out), "--workers", "2", "--schedule", "reference",
                            "--seed", "0", "--no-progress"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".*.lock")):
        time.sleep(0.05)
    assert list(out.glob(".*.lock")), "no task started"
    family = psutil.Process(run.pid).children(recursive=True)
    if group:
        os.killpg(run.pid, signum)
    else:
        run.send_signal(signum)
    try:
        _, err = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail("fm2s denoise --workers 2 did not stop within 60 s of the signal")
    assert run.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    time.sleep(1.0)
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert [p.name for p in out.iterdir() if not p.name.endswith(".lock")] == []
    # a rerun does the work and leaves the outputs only (the dead workers' locks removed)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--workers", "2", *QUICK]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["f0_fm2s.tif", "f1_fm2s.tif"]


def test_a_signal_while_a_worker_writes_leaves_no_temporary(tmp_path, monkeypatch):
    """A signal while a worker writes stops the worker mid-write: its temporary (a partial
    store) was left, though a stopped run leaves none (the next run removed it)."""
    import contextlib

    from fm2s import distributed
    from fm2s.cli import Stopped

    _stacks(tmp_path / "in", 1)
    out = tmp_path / "out"

    @contextlib.contextmanager
    def no_cluster(*args):
        yield None, 2

    def stopped_mid_write(client, jobs, options, overwrite=False):
        (out / f".{jobs[0].out.name}.0123abcd.tmp").mkdir()  # what the stopped worker left
        raise Stopped(signal.SIGTERM)
        yield

    monkeypatch.setattr(distributed, "cluster", no_cluster)
    monkeypatch.setattr(distributed, "run_on_cluster", stopped_mid_write)
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--workers", "2", *QUICK]) == 143
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_a_large_file_is_shared_out_in_groups_of_planes(tmp_path, suffix):
    """A file of at least CLUSTER_GROUP_PLANES planes: its chunks of planes are tasks on every
    worker, written in order by the file's task, with the pixels of one process."""
    from distributed import Client, LocalCluster, get_task_stream

    from fm2s.batch import CLUSTER_GROUP_PLANES, Job, run_job
    from fm2s.distributed import WorkerSetup, run_on_cluster

    n = CLUSTER_GROUP_PLANES + 6
    data = np.random.default_rng(5).poisson(100, (n, 40, 40)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "big.tif", data, imagej=True, metadata={"axes": "TYX"})
    options = {"schedule": "quick", "seed": 0}
    serial = Job(tmp_path / "big.tif", tmp_path / f"serial{suffix}")
    assert run_job(serial, options)[0] == "done"
    job = Job(tmp_path / "big.tif", tmp_path / f"cluster{suffix}")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.register_plugin(WorkerSetup(1))
        with get_task_stream(client) as stream:
            [(_, outcome, line)] = list(run_on_cluster(client, [job], options))
        assert outcome == "done", line
        blocks = [t for t in stream.data if "denoise_block" in str(t["key"])]
        assert len(blocks) == n  # one task per chunk (a page of the TIFF) ...
        assert len({t["worker"] for t in blocks}) == 2  # ... on both workers
    np.testing.assert_array_equal(io.read_image(job.out).values, io.read_image(serial.out).values)


def test_batches_at_once_on_one_cluster_each_write_their_own_files(tmp_path):
    """Two batches on one scheduler (two users, two folders) whose files share a name: the
    second was handed the first's task (the same key) and reported 'wrote <the first's
    output>', done, while its own output was never written."""
    from distributed import Client, LocalCluster

    from fm2s.batch import plan_batch
    from fm2s.distributed import run_on_cluster

    _stacks(tmp_path / "a", 1)
    _stacks(tmp_path / "b", 1, size=40)
    options = {"schedule": "quick", "seed": 0}
    plans = [plan_batch([tmp_path / x], tmp_path / f"out_{x}") for x in "ab"]
    for x in "ab":
        (tmp_path / f"out_{x}").mkdir()
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        first = run_on_cluster(client, plans[0].jobs, options)
        assert next(first)[1] == "done"  # the first batch still holds its task
        [(job, outcome, line)] = list(run_on_cluster(client, plans[1].jobs, options))
        first.close()
    assert (outcome, line.split(" (")[0]) == ("done", f"wrote {tmp_path / 'out_b' / 'f0_fm2s.tif'}")
    assert io.read_image(job.out).shape == (3, 40, 40)


def test_relative_paths_mean_the_same_files_on_workers_started_elsewhere(tmp_path, monkeypatch):
    """``--scheduler``: workers started in another folder resolved the command's relative paths
    in their own folder (a failure naming 'out/.f0_fm2s.tif.lock', or other files of the
    same names)."""
    from distributed import Client, LocalCluster

    from fm2s.batch import plan_batch
    from fm2s.distributed import run_on_cluster

    _stacks(tmp_path / "in", 1)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        monkeypatch.chdir(tmp_path)
        Path("out").mkdir()
        plan = plan_batch(["in"], Path("out"))
        [(job, outcome, line)] = list(run_on_cluster(client, plan.jobs, {"schedule": "quick"}))
    assert outcome == "done", line
    assert job == plan.jobs[0] and io.read_image(tmp_path / "out" / "f0_fm2s.tif").shape == (3, 48, 48)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize(("name", "visible", "preset", "expected"), [
    (3, 2, None, "1"),  # worker 3 of a machine with 2 GPUs uses GPU 1
    (0, 4, None, "0"),
    (1, 1, None, None),  # one GPU: nothing to choose
    (1, 4, "2", "2"),  # SLURM chose for the job already
])
def test_each_local_worker_sees_one_gpu(monkeypatch, name, visible, preset, expected):
    import types

    import torch

    from fm2s import distributed
    from fm2s.engine import runtime

    monkeypatch.setitem(runtime._OWNED, "process", runtime._OWNED.get("process", False))
    monkeypatch.setattr(distributed, "gpu_count", lambda: visible)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if preset is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", preset)
    distributed.WorkerSetup(torch.get_num_threads()).setup(types.SimpleNamespace(name=name))
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == expected
