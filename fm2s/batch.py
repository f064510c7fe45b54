"""Denoising files: which inputs, which outputs, and one file from reading to an atomic write.

The rules every front-end that writes files keeps (the ``fm2s`` command now, cluster workers
next): never write over an input, skip outputs that exist (so running the same batch again
resumes it), write each output atomically (:func:`fm2s.io.files.atomic_write`), and go on past a
file that fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io.files import IMAGE_SUFFIXES, file_id, is_output_name, output_path


@dataclass
class BatchPlan:
    """Inputs paired with their outputs, and the inputs refused (one message each)."""

    jobs: list[tuple[Path, Path]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand files and folders into the list of image files to denoise.

    Folders contribute their ``.tif``/``.tiff``/``.png`` files (not recursive; hidden files
    and earlier outputs ``*_fm2s.tif`` are left out). Files named explicitly are taken
    whatever their suffix.

    Parameters
    ----------
    inputs : sequence of str or Path
        Paths given by the user.

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
        if path.is_dir():
            found = sorted(
                f for f in path.iterdir()
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                and not f.name.startswith(".") and not is_output_name(f)
            )
            if not found:
                errors.append(f"{path}: folder contains no TIFF or PNG images")
            candidates = found
        elif path.exists():
            candidates = [path]
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
    """Pair every input file with its output in ``outdir``; refuse outputs that are inputs or
    that two inputs would share."""
    files, errors = collect_inputs(inputs)
    plan = BatchPlan(errors=errors)
    input_keys = {f.resolve() for f in files}
    input_ids = {file_id(f) for f in files} - {None}  # also catches links, case-folding
    planned: dict[Path, Path] = {}
    for f in files:
        out = output_path(f, outdir)
        key = out.resolve()
        if key in input_keys or file_id(out) in input_ids:
            plan.errors.append(f"{f}: refusing to write {out}: it is one of the inputs "
                               "(choose another output folder)")
        elif key in planned:
            plan.errors.append(f"{f}: its output {out} would also be the output of "
                               f"{planned[key]} (rename one, or denoise them into different "
                               "folders)")
        else:
            planned[key] = f
            plan.jobs.append((f, out))
    return plan


def denoise_file(
    src: Path,
    out: Path,
    options: dict[str, Any],
    *,
    overwrite: bool = False,
    on_fraction: Callable[[float], None] | None = None,
) -> float:
    """Read ``src``, denoise it with ``options`` and write ``out`` atomically.

    Returns
    -------
    float
        Seconds it took.
    """
    from .api import denoise_with_metadata
    from .io import read_image, write_tiff

    started = time.perf_counter()
    image = read_image(src)

    def progress(event: Any) -> None:
        if on_fraction is not None:
            on_fraction(float(event.fraction))

    result, meta = denoise_with_metadata(image, progress=progress, **options)
    meta = dict(meta)
    meta["fm2s_source"] = src.name
    write_tiff(out, result, meta, overwrite=overwrite)
    return time.perf_counter() - started
