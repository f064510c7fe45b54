"""Many files and large stacks: ``fm2s denoise`` with and without a Dask cluster.

Three measurements, each ``fm2s denoise`` run as a fresh process (what a user runs), on
generated data (Poisson noise on a smooth pattern, seed 0) written to a temporary folder:

``stream``
    One N-frame 256 x 256 uint16 time-lapse, as an ImageJ TIFF and as an OME-Zarr store,
    denoised with the default settings (``--seed 0``): the peak resident memory of the
    process, the wall time and the time per frame. ``--memory-limit GIB`` runs each inside a
    memory cgroup of that size (Linux, as root): a stack larger than the limit must still go
    through.
``folder``
    A folder of 16 files (512 x 512 uint16 planes) without a cluster, and with
    ``--workers 1`` and ``--workers 2``: the wall time of the batch, and whether the outputs
    are identical.
``overhead``
    One small file (a 128 x 128 plane) with and without ``--workers 1``: what starting a
    local cluster costs.

Run: ``python benchmarks/bench_cluster.py stream --frames 2000``,
``python benchmarks/bench_cluster.py stream --frames 6400 --memory-limit 0.75 --formats tif``,
``python benchmarks/bench_cluster.py folder``, ``python benchmarks/bench_cluster.py overhead``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Runs a command and prints the peak resident memory of it (and its children) in bytes.
_MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, code)")


def _pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    phase = rng.uniform(0, 2 * np.pi, 2)
    return 40 + 160 * (1 + np.sin(yy / 9 + phase[0]) * np.cos(xx / 13 + phase[1])) / 2


def write_stack(path: Path, frames: int, size: int = 256) -> int:
    """An N-frame uint16 time-lapse, written plane by plane (TIFF) or chunk by chunk (Zarr)."""
    import dask
    import dask.array as da
    import tifffile
    import xarray as xr

    from fm2s.io import write_zarr

    base = _pattern((size, size), np.random.default_rng(0))

    def plane(t: int) -> np.ndarray:
        rng = np.random.default_rng(t)
        return (rng.poisson(base) + 100).astype(np.uint16)

    if path.suffix == ".zarr":
        lazy = da.stack([da.from_delayed(dask.delayed(plane)(t), (size, size), np.uint16)
                         for t in range(frames)])
        image = xr.DataArray(lazy, dims=("t", "row", "col"), attrs={
            "x_spacing": 0.2, "y_spacing": 0.2, "unit": "µm", "finterval": 2.0,
            "time_unit": "s"})
        write_zarr(path, image)
    else:
        tifffile.imwrite(path, (plane(t) for t in range(frames)), shape=(frames, size, size),
                         dtype=np.uint16, imagej=True, resolution=(5.0, 5.0),
                         metadata={"axes": "TYX", "unit": "um", "finterval": 2.0})
    return frames * size * size * 2


def run_fm2s(args: list[str], memory_limit: float | None = None) -> dict:
    """``fm2s <args>`` in a fresh process: wall seconds, peak RSS bytes, exit code."""
    command = [sys.executable, "-c", _MEASURE, sys.executable, "-m", "fm2s.cli", *args]
    preexec = None
    if memory_limit is not None:
        group = _memory_cgroup(memory_limit)

        def preexec() -> None:  # the measuring process and everything it starts
            Path(group, "cgroup.procs").write_text(str(os.getpid()))

    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, preexec_fn=preexec)
    finally:
        if memory_limit is not None:
            Path(group).rmdir()  # empty once its processes have ended
    wall = time.perf_counter() - started
    line = next((x for x in done.stdout.splitlines() if x.startswith("PEAK")), "PEAK 0 -1")
    _, peak, code = line.split()
    if int(code) != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return {"wall": wall, "peak": int(peak), "code": int(code)}


def _memory_cgroup(gib: float) -> str:
    """A memory cgroup limited to ``gib`` GiB, swap included (cgroup v2 or v1; as root)."""
    limit = str(int(gib * 2**30))
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # v2
        group = Path("/sys/fs/cgroup", f"fm2s-bench-{os.getpid()}")
        group.mkdir(exist_ok=True)
        (group / "memory.max").write_text(limit)
        (group / "memory.swap.max").write_text("0")
        return str(group)
    if Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():  # v1
        group = Path("/sys/fs/cgroup/memory", f"fm2s-bench-{os.getpid()}")
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(limit)
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(limit)
        return str(group)
    raise SystemExit("--memory-limit needs a memory cgroup (Linux, run as root)")


def stream(args: argparse.Namespace) -> None:
    limit = f", memory limit {args.memory_limit} GiB" if args.memory_limit else ""
    print(f"{args.frames} frames of {args.size} x {args.size} uint16{limit}")
    print(f"{'format':>7} {'data MiB':>9} {'peak MiB':>9} {'wall s':>8} {'s/frame':>8} {'exit':>5}")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for suffix in (f".{f}" for f in args.formats):
            src = Path(tmp, f"stack{suffix}")
            nbytes = write_stack(src, args.frames, args.size)
            row = run_fm2s(["denoise", str(src), "-o", str(Path(tmp, "out")), "--seed", "0",
                            "--no-progress"], args.memory_limit)
            print(f"{suffix[1:]:>7} {nbytes / 2**20:>9.1f} {row['peak'] / 2**20:>9.1f} "
                  f"{row['wall']:>8.1f} {row['wall'] / args.frames:>8.3f} {row['code']:>5}")
            _record(args, {"bench": "stream", "format": suffix[1:], "frames": args.frames,
                           "size": args.size, "data": nbytes, "limit": args.memory_limit, **row})


def folder(args: argparse.Namespace) -> None:
    import tifffile

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        src = Path(tmp, "in")
        src.mkdir()
        for i in range(args.files):
            rng = np.random.default_rng(i)
            tifffile.imwrite(src / f"f{i:02d}.tif",
                             (rng.poisson(_pattern((512, 512), rng)) + 100).astype(np.uint16),
                             imagej=True)
        print(f"{args.files} files of 512 x 512 uint16, --seed 0, {os.cpu_count()} CPUs")
        print(f"{'run':>12} {'wall s':>8} {'s/file':>8} {'identical':>10}")
        reference = None
        for label, extra in (("one process", []), ("--workers 1", ["--workers", "1"]),
                             ("--workers 2", ["--workers", "2"])):
            out = Path(tmp, label.replace(" ", "_").replace("-", ""))
            row = run_fm2s(["denoise", str(src), "-o", str(out), "--seed", "0", "--no-progress",
                            *extra])
            pixels = [tifffile.imread(p) for p in sorted(out.glob("*.tif"))]
            same = reference is None or all(np.array_equal(a, b)
                                            for a, b in zip(reference, pixels))
            reference = reference or pixels
            print(f"{label:>12} {row['wall']:>8.1f} {row['wall'] / args.files:>8.2f} "
                  f"{str(same and len(pixels) == args.files):>10}")
            _record(args, {"bench": "folder", "run": label, "files": args.files, **row,
                           "identical": bool(same)})


def overhead(args: argparse.Namespace) -> None:
    import tifffile

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        rng = np.random.default_rng(0)
        tifffile.imwrite(Path(tmp, "small.tif"),
                         (rng.poisson(_pattern((128, 128), rng)) + 100).astype(np.uint16))
        print(f"{'run':>12} {'wall s':>8} {'peak MiB':>9}")
        for label, extra in (("one process", []), ("--workers 1", ["--workers", "1"])):
            walls = []
            for repeat in range(args.repeats):
                out = Path(tmp, f"out{len(extra)}_{repeat}")
                row = run_fm2s(["denoise", str(Path(tmp, "small.tif")), "-o", str(out),
                                "--seed", "0", "--no-progress", *extra])
                walls.append(row["wall"])
            print(f"{label:>12} {np.median(walls):>8.2f} {row['peak'] / 2**20:>9.1f}")
            _record(args, {"bench": "overhead", "run": label, "walls": walls, "peak": row["peak"]})


def _record(args: argparse.Namespace, row: dict) -> None:
    if args.results:
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["stream", "folder", "overhead"])
    parser.add_argument("--frames", type=int, default=2000, help="with stream: the stack's frames")
    parser.add_argument("--size", type=int, default=256,
                        help="with stream: the frames' side (folder's files are 512 x 512)")
    parser.add_argument("--files", type=int, default=16, help="with folder: how many files")
    parser.add_argument("--repeats", type=int, default=3, help="with overhead: runs of each")
    parser.add_argument("--memory-limit", type=float,
                        help="with stream: GiB (a memory cgroup; root)")
    parser.add_argument("--formats", nargs="+", choices=["tif", "zarr"], default=["tif", "zarr"],
                        help="with stream: the stack's formats")
    parser.add_argument("--tmp", help="where to write the data (default: the system's)")
    parser.add_argument("--results", help="append JSON lines here")
    args = parser.parse_args(argv)
    {"stream": stream, "folder": folder, "overhead": overhead}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
