"""Output files (fm2s.io.files): atomic, never over an existing file unless asked, normal permissions."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fm2s import io


def test_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "out.tif"
    first = np.zeros((16, 16), np.uint8)
    io.write_tiff(path, first)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists.*overwrite=True"):
        io.write_tiff(path, np.full((16, 16), 9, np.uint8))
    assert path.read_bytes() == before
    io.write_tiff(path, np.full((16, 16), 9, np.uint8), overwrite=True)
    assert io.read_tiff(path).values.max() == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]  # no temporary left



def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "half.tif"

    def failing_writer(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.atomic_write(target, failing_writer)
    assert list(tmp_path.iterdir()) == []

    # an existing file survives a failed overwrite untouched
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        io.atomic_write(target, failing_writer, overwrite=True)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["half.tif"]



def test_written_file_gets_normal_permissions(tmp_path):
    path = tmp_path / "perm.tif"
    io.write_tiff(path, np.zeros((16, 16), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask



def test_a_store_that_appears_while_one_is_written_is_kept(tmp_path):
    # a store created by another program while fm2s wrote its temporary one was replaced and
    # deleted, though overwrite was False (a file in the same case raises FileExistsError)
    target = tmp_path / "x_fm2s.zarr"

    def writer(tmp):
        tmp.mkdir()
        (tmp / "zarr.json").write_text("fm2s")
        target.mkdir()
        (target / "zarr.json").write_text("another program's")

    with pytest.raises(FileExistsError, match="already exists"):
        io.files.atomic_write_dir(target, writer)
    assert (target / "zarr.json").read_text() == "another program's"
    assert [p.name for p in tmp_path.iterdir()] == ["x_fm2s.zarr"]  # no temporary left


def test_a_store_is_on_the_disk_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    # atomic_write syncs its file; atomic_write_dir synced nothing, so after a crash a store
    # could stand complete under its name with empty or missing chunks (read as blank planes)
    synced = []
    fsync = os.fsync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    io.write_zarr(tmp_path / "x.zarr", io.to_dataarray(np.ones((3, 16, 16), np.uint16),
                                                       ("pln", "row", "col")))
    store = tmp_path / "x.zarr"
    written = {p.relative_to(store) for p in store.rglob("*") if p.is_file()}
    assert len(written) > 3
    tmp = {os.path.dirname(s) for s in synced if s.endswith("zarr.json")}
    tmp_root = min(tmp, key=len)
    assert os.path.basename(tmp_root).startswith(".x.zarr.")
    assert {os.path.relpath(s, tmp_root) for s in synced} >= {str(p) for p in written}


def test_a_lock_removed_between_opening_and_locking_it_is_not_taken_for_the_output(
        tmp_path, monkeypatch):
    """Run A finishes (and removes its lock file) after run C opened it but before C locked it;
    run D then makes a new lock file. C must not own the output on the removed file while D
    owns it on the new one: C takes the lock again, on the file now at the name."""
    import fcntl

    from fm2s.io import files

    out = tmp_path / "x_fm2s.tif"
    holder = files.claim(out)
    assert holder.__enter__()  # run A
    real_flock = fcntl.flock

    def flock_after_a_finishes(fd, operation):
        nonlocal holder
        if holder is not None:
            holder.__exit__(None, None, None)
            holder = None
        return real_flock(fd, operation)

    monkeypatch.setattr(files.fcntl, "flock", flock_after_a_finishes)
    with files.claim(out) as c_owns:  # run C
        monkeypatch.setattr(files.fcntl, "flock", real_flock)
        with files.claim(out) as d_owns:  # run D
            assert (c_owns, d_owns) == (True, False)
    assert not (tmp_path / ".x_fm2s.tif.lock").exists()
