"""Denoising files: which inputs, which outputs, and one job from reading to an atomic write.

The rules every front-end that writes files keeps (the ``fm2s`` command now, cluster workers
next): never write over an input; skip outputs that exist (running the same batch again
resumes it); write each output atomically (:func:`fm2s.io.files.atomic_write`); go on past a
file that fails; never let two runs compute the same output (a lock per output,
:func:`claim`); leave nothing behind when stopped (temporary files of killed runs are removed by
the next run, :func:`remove_stale_temporaries`). Every image of an input is denoised: each
series of a multi-series TIFF (OME positions) becomes an output of its own.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io.files import (
    IMAGE_SUFFIXES,
    claim,
    file_id,
    is_output_name,
    output_path,
    remove_temporary,
)
from .io.zarr import is_zarr

log = logging.getLogger("fm2s")

#: Temporary files of :func:`fm2s.io.files.atomic_write`: ``.<output name>.<8 hex>.tmp``, and
#: the replaced store ``atomic_write_dir`` deletes after an overwrite (``.old``).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.(tmp|old)$")


@dataclass(frozen=True)
class Job:
    """One image to denoise: the input file, its series (None: the only one), the output."""

    src: Path
    out: Path
    series: int | None = None

    @property
    def label(self) -> str:
        """How messages name the job."""
        return str(self.src) if self.series is None else f"{self.src} (series {self.series + 1})"


@dataclass
class BatchPlan:
    """The jobs, and the inputs refused (one message each)."""

    jobs: list[Job] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand files and folders into the list of images to denoise.

    Folders contribute their ``.tif``/``.tiff``/``.png`` files and OME-Zarr stores (not
    recursive; hidden files and earlier outputs ``*_fm2s.tif``/``*_fm2s.zarr`` are left out).
    Files named explicitly are taken whatever their suffix; an OME-Zarr store is an image, not
    a folder.

    Returns
    -------
    (list of pathlib.Path, list of str)
        The files, in order and without duplicates, and one error message per input that
        does not exist or is a folder without images.
    """
    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for text in inputs:
        path = Path(text)
        if path.is_dir() and not is_zarr(path):
            found = sorted(
                f for f in path.iterdir()
                if (f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES or is_zarr(f))
                and not f.name.startswith(".") and not is_output_name(f)
            )
            if not found:
                errors.append(f"{path}: folder contains no TIFF or PNG images")
            candidates = found
        elif path.is_file() or is_zarr(path):
            candidates = [path]
        elif path.exists():  # a FIFO or a device: reading it could wait forever
            errors.append(f"{path}: not a regular file or folder")
            candidates = []
        else:
            errors.append(f"{path}: no such file or folder")
            candidates = []
        for f in candidates:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files, errors


def plan_batch(inputs: Sequence[str | Path], outdir: Path) -> BatchPlan:
    """Pair every image of every input file with its output in ``outdir``.

    Refuses outputs that are inputs, inside an input OME-Zarr store or that two inputs would
    share; an output path that cannot be resolved (a symbolic-link loop) fails that input only.
    """
    from .io import series_count

    files, errors = collect_inputs(inputs)
    plan = BatchPlan(errors=errors)
    input_keys = {f.resolve() for f in files}
    input_ids = {file_id(f) for f in files} - {None}  # also catches links, case-folding
    stores = {key for key in input_keys if is_zarr(key)}  # no output goes inside one
    planned: dict[Path, Path] = {}
    for f in files:
        try:
            n_series = series_count(f)
        except (OSError, ValueError):
            n_series = 1  # unreadable: reading it fails the job, with the reader's message
        series: list[int | None] = [None] if n_series <= 1 else list(range(n_series))
        for k in series:
            out = output_path(f, outdir, k)
            try:
                key = out.resolve()
            except (OSError, RuntimeError) as exc:
                plan.errors.append(f"{f}: cannot use the output path {out}: {exc}")
                continue
            if key in input_keys or file_id(out) in input_ids or stores & set(key.parents):
                what = "is one of the inputs" if stores.isdisjoint(key.parents) else "would be " \
                    "inside an input OME-Zarr store"
                plan.errors.append(f"{f}: refusing to write {out}: it {what} (choose another "
                                   "output folder)")
            elif key in planned:
                plan.errors.append(f"{f}: its output {out} would also be the output of "
                                   f"{planned[key]} (rename one, or denoise them into "
                                   "different folders)")
            else:
                planned[key] = f
                plan.jobs.append(Job(f, out, k))
    return plan


def remove_stale_temporaries(outdir: Path, names: set[str], *, locked: bool = False) -> list[Path]:
    """Remove temporary files that killed runs left for outputs called ``names``.

    A temporary file is stale when no run holds its output's lock (a run that still writes
    holds it); ``locked``: the caller holds the locks of ``names`` (and writes nothing yet). An
    OME-Zarr output's temporary is a folder, removed with its contents. Returns the files removed.
    """
    removed = []
    for path in outdir.iterdir():
        match = _TEMPORARY.match(path.name)
        name = None if match is None else match.group("name")
        if name not in names:
            continue
        with (contextlib.nullcontext(True) if locked else claim(outdir / name)) as free:
            if free:
                with contextlib.suppress(FileNotFoundError):
                    remove_temporary(path)
                    removed.append(path)
    return removed


class OutputFolderError(OSError):
    """The output folder cannot take the outputs (not writable, or too little space)."""


def check_output_folder(outdir: Path, needed: int) -> None:
    """Make sure files can be written to ``outdir`` and ``needed`` bytes fit, before any work.

    Raises
    ------
    OutputFolderError
        Naming the folder and what is wrong.
    """
    probe = outdir / f".fm2s-write-test.{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.unlink(probe)
    except OSError as exc:
        raise OutputFolderError(f"cannot write to the output folder {outdir}: "
                                f"{exc.strerror or exc}") from None
    check_free_space(outdir, needed)


def check_free_space(outdir: Path, needed: int) -> None:
    """Raise :class:`OutputFolderError` if ``outdir``'s file system has less than ``needed``
    bytes free."""
    free = shutil.disk_usage(outdir).free
    if free < needed:
        raise OutputFolderError(
            f"no space for the output in {outdir}: it needs {needed / 2**20:.1f} MiB, "
            f"{free / 2**20:.1f} MiB are free")


def explain_write_error(exc: OSError, out: Path) -> OSError:
    """``exc`` with a message a user can act on (a full disk says so)."""
    if exc.errno == errno.ENOSPC or "requested and" in str(exc):
        free = shutil.disk_usage(out.parent).free
        return OSError(errno.ENOSPC, f"No space left on device while writing {out} "
                       f"({free / 2**20:.1f} MiB free); nothing was written")
    return exc


#: ``fm2s denoise`` on a cluster: a file of at least this many planes (per channel and all
#: together) is denoised by tasks of its chunks of planes on every worker, not by one task.
CLUSTER_GROUP_PLANES = 64


def plane_count(image: Any) -> int:
    """Planes in a DataArray (all of its channels)."""
    from . import axes

    row, col, _ = axes.dataarray_axes(image.dims)
    return int(image.size) // max(1, image.shape[row] * image.shape[col])


def _on_cluster_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _reporting_planes(result: Any, start: float, planes: int,
                      on_fraction: Callable[[float], None]) -> Any:
    """``result`` whose chunks, as this process computes them, report the fraction of the
    planes done (from ``start``, where the training left it, to 1)."""
    from . import axes

    row, col, _ = axes.dataarray_axes(result.dims)
    done = {"planes": 0}

    def report(block: Any) -> Any:
        done["planes"] += block.size // max(1, block.shape[row] * block.shape[col])
        on_fraction(start + (1.0 - start) * min(1.0, done["planes"] / planes))
        return block

    return result.copy(data=result.data.map_blocks(report, dtype=result.dtype))


def run_job(job: Job, options: dict[str, Any], overwrite: bool = False,
            on_fraction: Callable[[float], None] | None = None) -> tuple[str, str]:
    """Denoise one job under its output's lock, as every front-end does.

    Returns
    -------
    (str, str)
        ``"done"``, ``"skipped"`` or ``"failed"``, and a line for the user. Only
        ``KeyboardInterrupt`` (Ctrl-C, SIGTERM) escapes.
    """

    if job.out.exists() and not overwrite:
        return _existing(job)
    try:
        with claim(job.out) as mine:
            if not mine:
                return "skipped", f"skip {job.label}: another fm2s run is writing {job.out}"
            if job.out.exists() and not overwrite:  # finished by another run meanwhile
                return _existing(job)
            remove_stale_temporaries(job.out.parent, {job.out.name}, locked=True)  # killed runs'
            seconds, meta = denoise_file(job, options, overwrite=overwrite,
                                         on_fraction=on_fraction)
    except KeyboardInterrupt:
        raise
    except FileExistsError:
        return "failed", (f"error: {job.label}: {job.out} appeared while it was being "
                          "denoised (another program?); it was kept: use --overwrite to replace it")
    except Exception as exc:  # one bad file must not stop the batch
        log.debug("fm2s: %s failed", job.label, exc_info=True)
        return "failed", f"error: {job.label}: {one_line(exc)}"
    from .noise_level import level_lines
    from .spikes import spike_lines

    chosen = "".join(f"\n  {line}" for line in level_lines(meta) + spike_lines(meta))
    return "done", f"wrote {job.out} ({seconds:.1f} s){chosen}"


def source_label(job: Job) -> str:
    """What an output records as its source (``fm2s_source``): the input's name and series."""
    return job.src.name if job.series is None else f"{job.src.name} (series {job.series + 1})"


def _existing(job: Job) -> tuple[str, str]:
    """Skip a job whose output exists, unless its record names another input (``a.png``'s
    result where ``a.tif``'s would go: resuming must not pass that off as this input's result)
    or it cannot be read as an image (an empty folder, a damaged file: not a finished result).
    The record keeps the input's name, not its folder: a same-named input from another folder
    is not told apart."""
    from .io import read_image

    try:
        made_from = read_image(job.out, lazy=True).attrs.get("fm2s_source")
    except Exception as exc:  # noqa: BLE001 - kept, but not counted as done
        return "failed", (f"error: {job.label}: {job.out} exists but cannot be read as an image "
                          f"({one_line(exc)}); it was kept: move it away, or use --overwrite to "
                          "replace it with this input's result")
    if made_from is not None and made_from != source_label(job):
        return "failed", (f"error: {job.label}: {job.out} exists but was made from {made_from} "
                          "(two inputs with one name?); give another -o folder, or --overwrite "
                          "to replace it with this input's result")
    return "skipped", f"skip {job.label}: {job.out} exists (use --overwrite to redo it)"


def one_line(exc: BaseException) -> str:
    """``exc`` as one line in the command line's words."""
    from .errors import ImageError

    text = exc.for_front_end("cli") if isinstance(exc, ImageError) else str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    if not isinstance(exc, (ValueError, OSError, MemoryError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def denoise_file(
    job: Job,
    options: dict[str, Any],
    *,
    overwrite: bool = False,
    on_fraction: Callable[[float], None] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Read ``job``'s image, denoise it with ``options`` and write its output atomically.

    Returns
    -------
    (float, dict)
        Seconds it took, and the ``fm2s_*`` record written with the output.
    """
    import dask

    from .api import denoise_with_metadata, trains_one_shared_model
    from .io import read_image, write_image
    from .lazy import is_lazy

    started = time.perf_counter()
    # A shared model lets a stack stream through: planes read, denoised and written one at a
    # time (fm2s.lazy); otherwise the image is read whole.
    image = read_image(job.src, series=job.series or 0, lazy=trains_one_shared_model(options))
    if is_lazy(image.data) and not trains_one_shared_model(options):
        image = image.compute()
    reached = {"fraction": 0.0}

    def progress(event: Any) -> None:
        reached["fraction"] = float(event.fraction)
        if on_fraction is not None:
            on_fraction(reached["fraction"])

    with dask.config.set(scheduler="synchronous"):  # one chunk at a time, torch's threads
        result, meta = denoise_with_metadata(image, progress=progress, **options)
    meta = dict(meta)
    meta["fm2s_source"] = source_label(job)
    check_free_space(job.out.parent, int(result.nbytes))
    planes = plane_count(result)
    if is_lazy(result.data) and planes >= CLUSTER_GROUP_PLANES and _on_cluster_worker():
        # a large file on a cluster: its chunks of planes are tasks for every worker, while
        # this one writes them in order (this task leaves its worker's thread to them)
        from distributed import worker_client

        scheduler: Any = contextlib.ExitStack()
        client = scheduler.enter_context(worker_client())
        scheduler.enter_context(dask.config.set(scheduler=client.get))
    else:
        if is_lazy(result.data) and on_fraction is not None:
            result = _reporting_planes(result, reached["fraction"], planes, on_fraction)
        scheduler = dask.config.set(scheduler="synchronous")
    with scheduler:
        try:
            write_image(job.out, result, meta, overwrite=overwrite)
        except OSError as exc:
            raise explain_write_error(exc, job.out) from exc
    return time.perf_counter() - started, meta
