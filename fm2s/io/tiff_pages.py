"""A TIFF's pages one at a time: read when used (a Dask array), written as they are computed.

:func:`lazy_pixels` gives the pixels of a series as a Dask array of one chunk per page, which
can be sent to other processes (a cluster's workers); :func:`planes_of` gives the planes of a
lazy image in file order for ``tifffile.imwrite``, computing a slab of them at a time (on the
cluster, when Dask's scheduler is one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def lazy_pixels(path: Path, series: int) -> Any:
    """The pixels of a series as a Dask array of one chunk per page (plane), read when used."""
    import dask.array as dask_array
    from dask.base import tokenize

    pixels = TiffPixels(path, series)
    stat = path.stat()
    name = "tiff-" + tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns, series)
    return dask_array.from_array(pixels, chunks=pixels.chunks, lock=False, asarray=True,
                                 name=name)


class TiffPixels:
    """One series of a TIFF file as an array-like read page by page (tifffile's zarr view).

    It can be pickled (a Dask task sent to another process): the file is opened again, on first
    use, wherever it is unpickled.
    """

    def __init__(self, path: str | os.PathLike[str], series: int = 0) -> None:
        self.path, self.series = str(path), series
        self._array: Any = None
        array = self._open()
        self.shape: tuple[int, ...] = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self.chunks: tuple[int, ...] = tuple(array.chunks)

    def _open(self) -> Any:
        if self._array is None:
            import tifffile
            import zarr

            # level 0: the full resolution of a pyramid (the only level of other files)
            self._array = zarr.open(tifffile.imread(self.path, aszarr=True, series=self.series,
                                                    level=0),
                                    mode="r")
        return self._array

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._open()[key])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None}


def planes_of(data: Any) -> Any:
    """The planes of a Dask array in file order, computed a slab at a time as they are written.

    A slab is one chunk along the first axis with the other axes whole, so that every chunk is
    computed once (one plane of a time-lapse read page by page; a store's chunk of many planes).
    Under a Dask cluster's scheduler (``dask.config.set(scheduler=client.get)``) the next slabs
    are computed on the cluster while this one is written, a few per worker at most.
    """
    if data.ndim == 2:
        yield np.asarray(data.compute())
        return
    bounds = np.cumsum((0, *data.chunks[0]))
    slabs = [data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    client = _cluster_client()
    if client is None:
        for slab in slabs:
            yield from _split(np.asarray(slab.compute()))
        return
    window = 2 * max(1, sum(client.nthreads().values()))
    pending = [client.compute(slab) for slab in slabs[:window]]
    for index in range(len(slabs)):
        future = pending.pop(0)
        if index + window < len(slabs):
            pending.append(client.compute(slabs[index + window]))
        yield from _split(np.asarray(future.result()))
        future.release()


def _split(slab: np.ndarray) -> Any:
    for index in np.ndindex(slab.shape[:-2]):
        yield slab[index]


def _cluster_client() -> Any:
    """The distributed Client of the Dask scheduler set in ``dask.config``, if it is one."""
    import dask

    owner = getattr(dask.config.get("scheduler", None), "__self__", None)
    return owner if type(owner).__name__ == "Client" else None
