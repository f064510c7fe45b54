"""Denoise folders of images on a SLURM cluster with dask-jobqueue, one task per image.

On a cluster (dask-jobqueue installed: ``pip install dask-jobqueue``)::

    python examples/denoise_on_slurm.py /data/raw -o /data/fm2s --slurm --jobs 8 \\
        --cores 4 --memory 16GB --walltime 02:00:00 --gpus 1 \\
        --options "preset=confocal noise_level=avg1 seed=0"

Each SLURM job is one Dask worker that denoises one file at a time with all of the job's
``--cores`` CPU cores (and its ``--gpus`` GPUs: SLURM sets ``CUDA_VISIBLE_DEVICES``, and fm2s's
``device="auto"`` picks the job's GPU). ``--print-job-script`` shows the ``sbatch`` script a job
would get, and submits nothing. Without ``--slurm`` the same script runs on a local cluster of two
workers (how the project's tests run it). The rules of ``fm2s denoise`` hold:
outputs that exist are skipped, each is written atomically, a failed file is reported and the
others go on, the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dask.distributed import Client, LocalCluster

from fm2s.batch import plan_batch
from fm2s.distributed import WorkerSetup, run_on_cluster
from fm2s.imagej.macro_options import parse_macro_options
from fm2s.options import validate_options


def slurm_cluster(args: argparse.Namespace):
    """A SLURM cluster whose jobs are one worker each: one task (file) at a time, torch
    using all of the job's ``--cores`` (``WorkerSetup``), ``--gpus`` GPUs per job."""
    from dask_jobqueue import SLURMCluster

    extra = [f"--gres=gpu:{args.gpus}"] if args.gpus else []
    return SLURMCluster(cores=1, processes=1, job_cpu=args.cores, memory=args.memory,
                        walltime=args.walltime, queue=args.queue, job_extra_directives=extra)


def make_cluster(args: argparse.Namespace):
    """A SLURM cluster of ``--jobs`` workers, or a local stand-in of two."""
    if not args.slurm:
        return LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    cluster = slurm_cluster(args)
    cluster.scale(jobs=args.jobs)
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--options", default="", help='fm2s options, e.g. "preset=confocal seed=0"')
    parser.add_argument("--slurm", action="store_true", help="use SLURM (dask-jobqueue)")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--memory", default="16GB")
    parser.add_argument("--walltime", default="02:00:00")
    parser.add_argument("--queue", default=None)
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--print-job-script", action="store_true",
                        help="print the sbatch script of one job and exit")
    args = parser.parse_args(argv)
    if args.print_job_script:
        with slurm_cluster(args) as cluster:
            print(cluster.job_script())
        return 0

    options = parse_macro_options(args.options)
    validate_options(**options)  # refuse bad options before any job starts
    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    plan = plan_batch(args.inputs, outdir)
    failed = len(plan.errors)
    for message in plan.errors:
        print(f"error: {message}", file=sys.stderr)
    with make_cluster(args) as cluster, Client(cluster) as client:
        threads = args.cores if args.slurm else 1
        client.register_plugin(WorkerSetup(threads))
        for _, outcome, line in run_on_cluster(client, plan.jobs, options):
            failed += outcome == "failed"
            print(line, file=sys.stderr if outcome == "failed" else sys.stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
