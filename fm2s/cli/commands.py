"""The handlers of ``fm2s denoise``, ``fm2s presets`` and ``fm2s demo``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..options import OPTION_NAMES, OptionError, option, validate_options
from ..presets import PARAMETER_NAMES
from .errors import UsageError, usage_error

log = logging.getLogger("fm2s")


def denoise_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (flags and ``--set KEY=VALUE``), validated once.

    Returns
    -------
    dict
        Keyword arguments for :func:`fm2s.denoise_with_metadata` (only those given).

    Raises
    ------
    UsageError
        Naming the flag and what to do.
    """
    options: dict[str, Any] = {}
    for item in args.set_params:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise UsageError(f"--set expects KEY=VALUE (e.g. --set k_g=150), got {item!r}")
        if key not in PARAMETER_NAMES:
            raise UsageError(f"--set: unknown FM2S parameter(s) {key}; overridable parameters "
                             f"are: {', '.join(PARAMETER_NAMES)}")
        if key in options:  # the last would win, whatever each said
            raise UsageError(f"--set {key} is given twice; give each parameter once")
        options[key] = value.strip()
    flags = {name: getattr(args, name) for name in OPTION_NAMES
             if getattr(args, name, None) is not None}
    both = sorted(set(options) & set(flags))
    if both:  # the flag won, before or after --set
        raise UsageError(f"{both[0]} is given both as --set {both[0]}=... and as "
                         f"{option(both[0]).flag}; give it once")
    options.update(flags)
    try:
        validate_options(**options)
    except OptionError as exc:
        raise usage_error(exc) from None
    device = str(options.get("device") or "auto").strip().lower()
    if device not in ("auto", "cpu"):  # a GPU this machine lacks: said once, before any work
        from ..engine.runtime import resolve_device

        try:
            resolve_device(device)
        except ValueError as exc:
            message = str(exc).replace("device='auto' or 'cpu'", "--device auto or cpu")
            raise usage_error(OptionError("device", message)) from None
    return options


def denoise_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s denoise``: plan the batch, check the output folder, denoise job by job."""
    from tqdm import tqdm

    from ..batch import (
        OutputFolderError,
        check_output_folder,
        plan_batch,
        remove_stale_temporaries,
    )
    from ..io import image_nbytes
    from ..io.files import IMAGE_SUFFIXES, OUTPUT_SUFFIX, ZARR_SUFFIX

    options = denoise_options(args)
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"output {outdir} exists and is not a folder")
    if not outdir.exists() and outdir.suffix.lower() in (*IMAGE_SUFFIXES, ZARR_SUFFIX):
        # `-o result.tif` would make a folder named result.tif holding <input>_fm2s.tif
        raise UsageError(
            f"-o/--output takes a folder, and {outdir} looks like a file name; give a folder "
            f"(each output is written there as <input>{OUTPUT_SUFFIX}), e.g. "
            f"-o {outdir.with_suffix('')}"
        )
    plan = plan_batch(args.inputs, outdir)
    for message in plan.errors:
        print(f"error: {message}", file=sys.stderr)
    if not plan.jobs:  # nothing to denoise: no output folder is made
        print(f"fm2s: 0 denoised, 0 skipped, {len(plan.errors)} failed", file=sys.stderr)
        return 1 if plan.errors else 0
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {outdir}: {exc.strerror or exc}") \
            from None
    names = {job.out.name for job in plan.jobs}
    stale = remove_stale_temporaries(outdir, names)
    if stale:
        print(f"fm2s: removed {len(stale)} temporary file(s) left by a run that was stopped",
              file=sys.stderr)
    todo = [job for job in plan.jobs if args.overwrite or not job.out.exists()]
    try:
        first = image_nbytes(todo[0].src, todo[0].series or 0) if todo else 0
    except (OSError, ValueError, IndexError):
        first = 0  # unreadable: the job fails with the reader's message
    try:
        check_output_folder(outdir, first)
    except OutputFolderError as exc:
        raise UsageError(str(exc)) from None

    counts = {"done": 0, "skipped": 0, "failed": len(plan.errors)}
    started = time.perf_counter()
    bar = tqdm(total=len(plan.jobs), unit="file", disable=True if args.no_progress else None,
               bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} files [{elapsed}<{remaining}{postfix}]",
               file=sys.stderr, dynamic_ncols=True)
    try:
        for index, (job, outcome, text) in enumerate(_results(plan.jobs, options, args, bar)):
            counts[outcome] += 1
            tqdm.write(text, file=sys.stderr if outcome == "failed" else sys.stdout)
            _advance(bar, index + 1)
            bar.set_postfix_str(job.src.name, refresh=False)
    finally:
        bar.close()
        if args.workers is not None:  # a local cluster, down now: its workers' locks are free
            with contextlib.suppress(OSError):  # a worker stopped mid-write left its temporary
                remove_stale_temporaries(outdir, names)
    total = time.perf_counter() - started
    print(f"fm2s: {counts['done']} denoised, {counts['skipped']} skipped, {counts['failed']} "
          f"failed in {total:.1f} s", file=sys.stderr)
    return 1 if counts["failed"] else 0


def _results(jobs: list, options: dict[str, Any], args: argparse.Namespace,
             bar: Any) -> Any:
    """``(job, outcome, line)`` for every job: here, one after the other, or on a cluster."""
    from ..batch import run_job

    if args.workers is None and not args.scheduler and not args.scheduler_file:
        for index, job in enumerate(jobs):
            bar.set_postfix_str(job.src.name, refresh=False)
            yield (job, *run_job(job, options, args.overwrite,
                                 lambda f, i=index: _advance(bar, i + f)))
        return
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    try:
        from ..distributed import cluster, run_on_cluster
    except ImportError as exc:
        raise UsageError(f"running on a cluster needs Dask ({exc}); pip install "
                         "'dask[distributed]'") from None
    with cluster(args.workers, args.scheduler, args.scheduler_file) as (client, _):
        yield from run_on_cluster(client, jobs, options, overwrite=args.overwrite)


def _advance(bar: Any, position: float) -> None:
    delta = position - bar.n
    if delta > 0:
        bar.update(delta)


def presets_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s presets``: every preset and noise level, with its parameters and start."""
    print(presets_table())
    return 0


def presets_table() -> str:
    """A plain-text table of every preset and noise level.

    The ``start`` column says whether ``fast`` starts from a shipped pretrained network for
    that setting (``yes``) or from random weights (``-``); the lines below it say where each
    preset's numbers come from.
    """
    from ..engine.methods.fm2s.starts import find_start
    from ..presets import PRESETS

    header = f"{'preset':<10} {'level':<6} {'n_chan':>6} {'stride':>6} {'median':>6} " \
             f"{'k_g':>6} {'k_p':>6} {'lam_p':>6} {'start':>5}  description"
    lines = [header, "-" * len(header)]
    for p in PRESETS.values():
        for level, (k_g, k_p, lam_p) in p.noise.items():
            start = "yes" if find_start(p.params(level)) else "-"
            lines.append(
                f"{p.name:<10} {level:<6} {p.n_chan:>6} {p.stride:>6} {p.median_window:>6} "
                f"{k_g:>6g} {k_p:>6g} {lam_p:>6g} {start:>5}  "
                f"{p.description if level == 'avg1' else ''}"
            )
    lines += ["", "noise_level=auto (the default) measures each channel's noise and picks a level "
                  "on or between these columns (avg3 etc.: each factor interpolated on a log "
                  "scale); fast starts from the start of the nearest column"]
    lines += ["", "where the numbers come from:"]
    lines += [f"  {p.name:<10} {p.source}" for p in PRESETS.values()]
    return "\n".join(lines)


def demo_command(args: argparse.Namespace) -> int:
    """Handle ``fm2s demo``."""
    from ..demo import run_demo

    if args.size < 32:
        raise UsageError(f"--size must be at least 32 pixels, got {args.size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    run_demo(args.output, size=args.size, seed=args.seed, num_threads=args.threads)
    return 0
