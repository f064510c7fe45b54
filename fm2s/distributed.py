"""``fm2s denoise --workers N`` and ``--scheduler``: the batch as one Dask task per image.

Each task is :func:`fm2s.batch.run_job`, the same function the single-process batch runs: it
takes the output's lock, skips outputs that exist, denoises, writes atomically, and reports
(done, skipped, failed) with a line for the user. What a task gives does not depend on the
worker or the order: every file's run starts from the same options (a given ``--seed`` is
used as it is for every file).

Faults: a worker that dies (killed, out of memory) leaves no partial output (outputs are
renamed into place only when complete; the dead worker's lock is released by the system and its
temporary file removed by the next task on that output); Dask runs the task again on another
worker, at most :data:`ALLOWED_FAILURES` times, then the file is reported as failed. Running
the batch again finishes whatever is left.

Threads and devices: a local cluster gets ``threads_per_worker=1`` (one file at a time per
worker) and each worker's torch its share of the cores (cores / workers; ``--threads`` still sets
a task's own); on a machine with several CUDA GPUs, each worker sees one (:class:`WorkerSetup`,
which suits dask-jobqueue workers too), so that ``device="auto"`` resolves per worker. The record
of a file is the same as in one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from distributed import WorkerPlugin

from .batch import Job, run_job

#: How many times a file's task may take its worker down before it is reported as failed.
ALLOWED_FAILURES = 2


class WorkerSetup(WorkerPlugin):
    """A Dask worker plugin for workers that run fm2s tasks one at a time (one thread each).

    Torch gets ``threads`` CPU threads (the worker's share of the cores, or a job's cores on a
    cluster), and worker ``k`` sees GPU ``k mod n`` only: nothing changes where
    ``CUDA_VISIBLE_DEVICES`` is set already (SLURM sets it for a job that asked for GPUs) or the
    machine has fewer than two GPUs.

    Examples
    --------
    >>> from fm2s.distributed import WorkerSetup
    >>> WorkerSetup(threads=4).threads
    4
    """

    name = "fm2s-local-worker-setup"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        from .engine.runtime import own_process, set_process_threads

        own_process()
        set_process_threads(self.threads)
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # see _dask_logs_off
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C reaches every process of the terminal's group: the client stops the
            # cluster, and a worker interrupted on its own only prints a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if "CUDA_VISIBLE_DEVICES" in os.environ:
            return
        count = gpu_count()
        if count > 1:
            try:
                index = int(str(worker.name).rsplit("-", 1)[-1])
            except ValueError:
                return
            os.environ["CUDA_VISIBLE_DEVICES"] = str(index % count)


def gpu_count() -> int:
    """NVIDIA GPUs on this machine (``nvidia-smi -L``), without initialising CUDA."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        listed = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))


@contextlib.contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None,
            scheduler_file: str | None = None) -> Iterator[tuple[Any, int]]:
    """A Dask client: a local cluster of ``workers`` processes, or an existing cluster.

    Yields
    ------
    (distributed.Client, int)
        The client and the number of workers (of a local cluster; 0 for an existing one).
    """
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.worker.daemon": False}):
        if scheduler or scheduler_file:
            with Client(scheduler, scheduler_file=scheduler_file) as client:
                yield client, 0
            return
        with _dask_logs_off(), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.CRITICAL) as local, \
                Client(local) as client:
            from .engine.runtime import available_cpus

            client.register_plugin(WorkerSetup(max(1, available_cpus() // (workers or 1))))
            yield client, int(workers or 1)


@contextlib.contextmanager
def _dask_logs_off() -> Iterator[None]:
    """Keep Dask's own log lines off the terminal while a local cluster runs and shuts down.

    A signal cuts the cluster's connections mid-message, and Dask logs each one, with a
    traceback; fm2s says what happened itself. (``silence_logs`` alone lowers only the
    handlers' levels while the cluster is open, and only in this process.)
    """
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_on_cluster(client: Any, jobs: Sequence[Job], options: dict[str, Any], *,
                   overwrite: bool = False) -> Iterator[tuple[Job, str, str]]:
    """Submit one task per job; yield ``(job, outcome, line)`` as tasks finish.

    Task keys are unique to this call: a scheduler takes a key it holds already as the same
    task, and another batch's file of the same name would get that batch's result. Tasks get
    absolute paths: a worker's current folder is not this process's.
    """
    from distributed import as_completed

    batch = uuid.uuid4().hex[:12]
    futures = {client.submit(run_job, _absolute(job), options, overwrite, pure=False,
                             key=f"fm2s-{batch}-{index}-{job.out.name}"): job
               for index, job in enumerate(jobs)}
    for future in as_completed(futures):
        job = futures[future]
        try:
            outcome, line = future.result()
        except Exception as exc:  # noqa: BLE001 - the worker died more than allowed, or the like
            outcome, line = "failed", (f"error: {job.label}: the task failed on the cluster "
                                       f"({type(exc).__name__}: {exc}); run again to retry")
        yield job, outcome, line


def _absolute(job: Job) -> Job:
    """``job`` with absolute paths, as this process resolves them (not yet resolved through
    links, which the output's lock and temporary name must not follow)."""
    return Job(job.src.absolute(), job.out.absolute(), job.series)
