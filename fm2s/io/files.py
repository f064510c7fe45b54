"""Files fm2s writes: names of outputs and the one atomic write that every writer uses.

An output is created under a temporary name in its destination folder (``.<name>.<random>.tmp``)
and moved into place only when complete, so an interrupted run never leaves a partial file
under the output's name, and an existing file is never replaced unless asked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

#: File name endings fm2s reads as images (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".png")

#: Suffix added to the stem of every output file.
OUTPUT_SUFFIX = "_fm2s.tif"


#: File name ending of an OME-Zarr store (lower case).
ZARR_SUFFIX = ".zarr"

#: Suffix of the output of an OME-Zarr input (which stays OME-Zarr).
ZARR_OUTPUT_SUFFIX = "_fm2s" + ZARR_SUFFIX


def output_path(input_path: Path, outdir: Path, series: int | None = None) -> Path:
    """``outdir / <stem>_fm2s.tif`` for ``input_path`` (``_s<k>`` before ``_fm2s`` for image
    ``k`` of several; ``<stem>_fm2s.zarr`` for an OME-Zarr input)."""
    part = "" if series is None else f"_s{series + 1}"
    suffix = ZARR_OUTPUT_SUFFIX if input_path.suffix.lower() == ZARR_SUFFIX else OUTPUT_SUFFIX
    return outdir / f"{input_path.stem}{part}{suffix}"


def is_output_name(path: Path) -> bool:
    """True for names fm2s gives its outputs (``*_fm2s.tif``, ``*_fm2s.tiff``, ``*_fm2s.zarr``)."""
    name = path.name.lower()
    return name.endswith((OUTPUT_SUFFIX, "_fm2s.tiff", ZARR_OUTPUT_SUFFIX))


def file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file, else None."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _exists_error(path: Path) -> FileExistsError:
    return FileExistsError(
        f"{path} already exists; not overwriting it (pass overwrite=True to replace it)"
    )


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Create ``path`` atomically: ``write(tmp)`` fills a temporary file then moved in place.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder must exist.
    write : callable
        ``write(tmp_path)`` writes the content to the (existing, empty) file ``tmp_path``.
    overwrite : bool
        Replace an existing ``path``. When False (default) an existing file is never touched.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path, tmp = _destination_and_temporary(path, overwrite)
    # Create the temporary file ourselves (mode 0o666 minus umask, as for a normal file).
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            # A hard link fails if the destination appeared meanwhile (no race); fall back to
            # a checked rename on file systems without hard links.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise _exists_error(path) from None
            except OSError:
                if path.exists():
                    raise _exists_error(path) from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _destination_and_temporary(path: str | os.PathLike[str], overwrite: bool) -> tuple[Path, Path]:
    """``path`` (refused when it exists and ``overwrite`` is False) and a fresh hidden
    temporary name beside it."""
    path = Path(path)
    if not overwrite and path.exists():
        raise _exists_error(path)
    return path, path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def remove_temporary(path: Path) -> None:
    """Remove a temporary of :func:`atomic_write` (a file) or :func:`atomic_write_dir` (a
    folder, with its contents).

    Raises
    ------
    FileNotFoundError
        If ``path`` is gone.
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _sync_tree(folder: Path) -> None:
    """``fsync`` every file and folder under ``folder``: after a crash, a store renamed into
    place has its chunks, not empty or missing files (read as blank planes)."""
    for root, _, names in os.walk(folder):
        for item in [*names, "."]:
            fd = os.open(os.path.join(root, item), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def atomic_write_dir(
    path: str | os.PathLike[str], write: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Create the folder ``path`` (a Zarr store) atomically: ``write(tmp)`` fills a temporary
    folder beside it, renamed into place when complete and on the disk (every file synced, as
    :func:`atomic_write` syncs its file).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path, tmp = _destination_and_temporary(path, overwrite)
    try:
        write(tmp)
        _sync_tree(tmp)
        if path.exists() and not overwrite:  # it appeared meanwhile (another program): kept
            raise _exists_error(path)
        if path.exists():  # overwrite: move the old one aside first, then drop it
            old = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


@contextlib.contextmanager
def claim(out: Path) -> Iterator[bool]:
    """Hold the lock of output ``out`` for the block; yields False if another run holds it.

    The lock is ``flock`` on ``.<name>.lock`` beside the output: the kernel releases it when
    its process ends, however it ends, so a killed run never leaves a lock that blocks the
    next. The lock file is removed when the block ends. A lock file its holder removed
    between this run's opening and locking it is not the output's lock any more (a third run
    may hold a new one): the lock is then taken again on the file now at that name.
    """
    lock = out.with_name(f".{out.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)  # removed (and perhaps made again) meanwhile: not the output's lock
    try:
        yield True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
