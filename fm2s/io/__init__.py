"""Reading and writing microscopy images: TIFF (ImageJ hyperstacks, OME-TIFF, plain) and PNG.

Images are read into an :class:`xarray.DataArray` with fm2s's dims (:mod:`fm2s.axes`) in
ImageJ's order ``t, pln, ch, row, col`` (only the dims the file has), so that
``fm2s.denoise(da)`` works directly, and with the metadata model of :mod:`fm2s.metadata` in
``attrs`` (calibration, display, ImageJ description, provenance). Writers take the same
DataArrays; every file is written atomically and never over an existing one unless asked
(:mod:`fm2s.io.files`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..metadata import Calibration, ImageMetadata
from .files import IMAGE_SUFFIXES, ZARR_SUFFIX, atomic_write
from .png import read_png, write_png
from .tiff import IMAGEJ_DTYPES, read_tiff, write_tiff
from .tiff import series_count as tiff_series_count
from .zarr import is_zarr, read_zarr, write_zarr

__all__ = [
    "IMAGEJ_DTYPES",
    "IMAGE_SUFFIXES",
    "atomic_write",
    "image_nbytes",
    "read_image",
    "read_png",
    "read_tiff",
    "read_zarr",
    "series_count",
    "to_dataarray",
    "write_png",
    "write_image",
    "write_tiff",
    "write_zarr",
]


def _kind(path: Path) -> str:
    if is_zarr(path):
        return "zarr"
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if magic == b"\x89PNG\r\n\x1a\n":
        return "png"
    raise ValueError(
        f"{path.name} is not a TIFF or PNG image (fm2s reads {', '.join(IMAGE_SUFFIXES)})"
    )


def series_count(path: str | os.PathLike[str]) -> int:
    """How many images (series) a file holds: OME-TIFF positions and the like; 1 for PNG."""
    path = Path(path)
    return tiff_series_count(path) if _kind(path) == "tiff" else 1


def write_image(path: str | os.PathLike[str], image: xr.DataArray, metadata: dict | None = None,
                *, overwrite: bool = False) -> Path:
    """Write ``image`` as OME-Zarr when ``path`` ends in ``.zarr``, else as TIFF."""
    if str(path).lower().endswith(ZARR_SUFFIX):
        return write_zarr(path, image, metadata, overwrite=overwrite)
    return write_tiff(path, image, metadata, overwrite=overwrite)


def image_nbytes(path: str | os.PathLike[str], series: int = 0) -> int:
    """Bytes of the pixels of one image of a file (its size as an uncompressed output); reads
    headers only."""
    path = Path(path)
    kind = _kind(path)
    if kind == "zarr":
        image = read_zarr(path)
        return int(image.size * image.dtype.itemsize)
    if kind == "tiff":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return int(tif.series[series].nbytes)
    from PIL import Image

    with Image.open(path) as im:
        bands = 1 if im.mode in ("P", "1", "L", "LA") else len(im.getbands())
        depth = 2 if im.mode.startswith("I") else 1
        return im.width * im.height * bands * depth


def read_image(path: str | os.PathLike[str], series: int = 0, *, lazy: bool = False) -> xr.DataArray:
    """Read a TIFF or PNG file, or an OME-Zarr store, into a calibrated DataArray.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.tif``/``.tiff`` or ``.png`` file (the type is taken from the file's first bytes,
        so a misnamed file still works), or an OME-Zarr folder.
    series : int
        Which image of a file that holds several (:func:`series_count`).
    lazy : bool
        Read TIFF planes only when they are used (a Dask array of one chunk per plane); an
        OME-Zarr store is always read lazily, a PNG never.

    Returns
    -------
    xarray.DataArray
        Dims among ``t, pln, ch, row, col`` in that order; metadata in ``attrs``.

    Raises
    ------
    ValueError
        If the file is neither TIFF nor PNG, or its content cannot be represented.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "zarr":
        return read_zarr(path)
    if kind == "tiff":
        return read_tiff(path, series, lazy=lazy)
    if series != 0:
        raise ValueError(f"{path.name} holds one image, not {series + 1}")
    return read_png(path)


def to_dataarray(
    data: np.ndarray,
    dims: Sequence[str],
    *,
    x_spacing: float | None = None,
    y_spacing: float | None = None,
    z_spacing: float | None = None,
    unit: str = "pixel",
    finterval: float | None = None,
) -> xr.DataArray:
    """Wrap pixels in a DataArray with calibrated coordinates (the form :func:`read_image` returns).

    Parameters
    ----------
    data : numpy.ndarray
        The pixels.
    dims : sequence of str
        One dim name per axis (``t``, ``pln``, ``ch``, ``row``, ``col``).
    x_spacing, y_spacing, z_spacing : float, optional
        Pixel width, height and z step in ``unit`` (None: not calibrated, coordinates are
        pixel indices).
    unit : str
        Length unit of the spacings, e.g. ``"um"``.
    finterval : float, optional
        Seconds between time points.

    Returns
    -------
    xarray.DataArray
    """
    dims = tuple(str(d) for d in dims)
    if len(dims) != data.ndim:
        raise ValueError(f"{len(dims)} dims {dims} given for an array of shape {data.shape}")
    meta = ImageMetadata(Calibration(x_spacing=x_spacing, y_spacing=y_spacing,
                                     z_spacing=z_spacing, unit=unit, finterval=finterval))
    return xr.DataArray(data, dims=dims, coords=meta.coords(dict(zip(dims, data.shape))),
                        attrs=meta.to_attrs())
