"""TIFF files: ImageJ hyperstacks, OME-TIFF and plain TIFF, through tifffile.

Reading fills the metadata model (:mod:`fm2s.metadata`) from the ImageJ description and
properties, from OME-XML (:mod:`fm2s.io.ome`) or from the resolution tags
(:mod:`fm2s.io.tiff_metadata`); writing turns it back
into an ImageJ hyperstack (``uint8``, ``uint16``, ``float32``) or, for the types ImageJ
hyperstacks cannot hold exactly (``int16``: ImageJ reads it as unsigned with an offset;
``float64``), a plain TIFF whose description is a JSON document (tifffile's "shaped" format).
fm2s's exact calibration is kept in the ``fm2s_calibration`` property, since the resolution
tags are rationals and the description's unit is ASCII (``"µm"`` is written ``"um"``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import axes
from ..lazy import is_lazy
from ..metadata import (
    CALIBRATION_FIELDS,
    Calibration,
    ImageMetadata,
    info_with_provenance,
    jsonable,
    properties_with_provenance,
)
from .files import atomic_write
from .tiff_metadata import (
    CALIBRATION_PROPERTY,
    EXACT_KEYS,
    MODELLED_KEYS,
    STRUCTURAL_KEYS,
    imagej_unit,
    metadata_from_imagej,
    metadata_from_plain,
    page_resolution,
)
from .tiff_pages import lazy_pixels, planes_of

#: Pixel types an ImageJ hyperstack TIFF can hold exactly.
IMAGEJ_DTYPES: tuple[str, ...] = ("uint8", "uint16", "float32")

# -------------------------------------------------------------------------------- reading


def series_count(path: str | os.PathLike[str]) -> int:
    """The number of image series in a TIFF file (OME-TIFF positions, say); reads headers only."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return len(tif.series)


def read_tiff(path: str | os.PathLike[str], series: int = 0, *, lazy: bool = False) -> xr.DataArray:
    """Read one image series of a TIFF file, keeping ImageJ metadata and calibration.

    Parameters
    ----------
    path : str or os.PathLike
        An ImageJ hyperstack or any TIFF tifffile can read (OME, plain, fm2s "shaped" JSON).
    series : int
        Which series (0: the first; :func:`series_count` says how many there are).
    lazy : bool
        A Dask array of one chunk per plane, read when used, instead of the pixels.

    Returns
    -------
    xarray.DataArray
        Pixels (dtype as stored) with dims from the series axes (:func:`fm2s.axes.dims_of_letters`)
        in fm2s's order, metadata in ``attrs`` (:mod:`fm2s.metadata`). Alpha samples are
        dropped (an RGBA image gives its RGB channels).

    Raises
    ------
    ValueError
        For a file without an image, or with axes fm2s cannot name.
    """
    import tifffile

    path = Path(path)
    with tifffile.TiffFile(path) as tif:
        if not tif.series or len(tif.pages) == 0:
            raise ValueError(f"{path.name} contains no image (empty or truncated TIFF)")
        if not 0 <= series < len(tif.series):
            raise ValueError(f"{path.name} has {len(tif.series)} image series, not {series + 1}")
        chosen = tif.series[series]
        _check_imagej_planes(path, tif, chosen)
        data = lazy_pixels(path, series) if lazy else chosen.asarray()
        data, letters = _without_alpha(tif.pages[0], data, chosen.axes)
        rgb = "S" in letters and data.shape[letters.index("S")] == 3 and \
            int(tif.pages[0].photometric) == 2  # PHOTOMETRIC.RGB
        resolution = page_resolution(tif.pages[0])
        if tif.is_imagej:
            meta, source_format = metadata_from_imagej(dict(tif.imagej_metadata or {}), resolution), "imagej-tiff"
        else:
            shaped = dict(tif.shaped_metadata[0]) if tif.is_shaped and tif.shaped_metadata else {}
            ome = tif.ome_metadata if tif.is_ome else None
            meta = metadata_from_plain(resolution, ome, shaped, series)
            source_format = "ome-tiff" if ome else "tiff"
    try:
        dims = axes.dims_of_letters(letters)
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    meta.source_path, meta.source_format, meta.source_axes = str(path), source_format, letters
    meta.rgb = rgb
    da = xr.DataArray(data, dims=dims)
    da = axes.in_order(da)
    return xr.DataArray(da.data, dims=da.dims, coords=meta.coords(dict(da.sizes)),
                        attrs=meta.to_attrs())


def _check_imagej_planes(path: Path, tif: Any, chosen: Any) -> None:
    """Raise when an ImageJ TIFF holds fewer planes than its header says (a truncated file:
    tifffile then gives what it can read, the first plane, with only a warning)."""
    if not tif.is_imagej:
        return
    try:
        said = int((tif.imagej_metadata or {}).get("images", 1))
    except (TypeError, ValueError):
        return
    plane_axes = sum(1 for a in chosen.axes if a in "YXS")
    found = int(np.prod(chosen.shape[:len(chosen.shape) - plane_axes], dtype=np.int64))
    if found < said:
        raise ValueError(
            f"{path.name}: its ImageJ header says {said} planes, but only {found} can be read "
            "(a truncated or damaged file?); nothing was denoised; copy the file again")


def _without_alpha(page: Any, data: Any, letters: str) -> tuple[Any, str]:
    """``data`` and its axes without alpha samples (ExtraSamples 1 and 2, the last samples):
    alpha is not an intensity, and is dropped as it is from PNGs."""
    alpha = sum(int(e) in (1, 2) for e in (getattr(page, "extrasamples", None) or ()))
    if not alpha or "S" not in letters:
        return data, letters
    at, kept = letters.index("S"), data.shape[letters.index("S")] - alpha
    if kept == 1:  # grey + alpha: the grey plane, without a samples axis
        return data[(slice(None),) * at + (0,)], letters.replace("S", "")
    return data[(slice(None),) * at + (slice(0, kept),)], letters


# -------------------------------------------------------------------------------- writing


def write_tiff(
    path: str | os.PathLike[str],
    image: xr.DataArray | np.ndarray,
    metadata: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write an image as TIFF, keeping dtype, axes, calibration and ImageJ metadata.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (its folder must exist).
    image : xarray.DataArray or numpy.ndarray
        A DataArray with dims among ``t, pln, ch, row, col`` (or their aliases) and the
        metadata of :mod:`fm2s.metadata` in its attrs; or a numpy array, taken as
        ``(row, col)``, ``(pln, row, col)``, ``(t, pln, row, col)`` or ``(t, pln, ch, row,
        col)``. Axes are written in ImageJ's ``TZCYX`` order.
    metadata : mapping, optional
        The ``fm2s_*`` provenance of the run (e.g. from :func:`fm2s.denoise_with_metadata`);
        by default the ``fm2s_*`` attrs of ``image``.
    overwrite : bool
        Replace an existing file; default False raises :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        ``path``; written atomically (:func:`fm2s.io.files.atomic_write`).
    """
    import tifffile

    da = _as_dataarray(image)
    try:
        da = axes.image_in_order(da)
    except ValueError as exc:
        raise ValueError(f"cannot write this image to TIFF: {exc}") from None
    letters = axes.letters(da.dims)
    data = da.data if is_lazy(da.data) else np.ascontiguousarray(da.values)
    if data.dtype.name not in IMAGEJ_DTYPES + ("int16", "float64"):
        raise ValueError(f"cannot write pixel type {data.dtype.name}; fm2s writes uint8, uint16, "
                         "int16, float32 and float64")
    meta = ImageMetadata.from_attrs(da.attrs)
    if metadata is not None:
        meta.provenance = {str(k): v for k, v in dict(metadata).items()}
    meta.provenance = jsonable(meta.provenance)
    rgb = meta.rgb and data.dtype == np.uint8 and "C" in letters and \
        data.shape[letters.index("C")] == 3
    if rgb:  # one colour image: samples last, as ImageJ's RGB TIFFs hold them
        channel = letters.index("C")
        data = np.ascontiguousarray(np.moveaxis(np.asarray(data), channel, -1))
        letters = letters[:channel] + letters[channel + 1:] + "S"
    if data.dtype.name in IMAGEJ_DTYPES:
        kwargs = _imagej_kwargs(meta, letters, data.shape)
    else:
        kwargs = _shaped_kwargs(meta, letters)
    kwargs["photometric"] = "rgb" if rgb else "minisblack"
    if is_lazy(data):  # one plane at a time, computed as it is written
        kwargs.update(shape=data.shape, dtype=data.dtype)
        return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, planes_of(data), **kwargs),
                            overwrite=overwrite)
    return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, data, **kwargs), overwrite=overwrite)


def _exact_calibration(cal: Calibration) -> dict[str, Any]:
    return {key: getattr(cal, key) for key in EXACT_KEYS}


def _imagej_kwargs(meta: ImageMetadata, letters: str, shape: tuple[int, ...]) -> dict[str, Any]:
    cal = meta.calibration
    n_channels = shape[letters.index("C")] if "C" in letters else 1
    plane_dims = 3 if letters.endswith("S") else 2  # an RGB plane holds its samples
    n_planes = int(np.prod(shape[:-plane_dims], dtype=np.int64))
    ij: dict[str, Any] = {"axes": letters}
    for key, value in meta.imagej_metadata.items():
        if key in STRUCTURAL_KEYS | MODELLED_KEYS:
            continue
        # a selection and an overlay (ImageJ's .roi bytes): the pixels keep their places
        rois = value if key == "Overlays" and isinstance(value, list) else [value]
        if isinstance(value, (str, int, float, bool)) or (
                key in ("ROI", "Overlays") and all(isinstance(r, bytes) for r in rois)):
            ij[key] = value
    if cal.unit != "pixel" or cal.x_spacing is not None:
        ij["unit"] = imagej_unit(cal.unit)
    for key, value in (("yunit", cal.y_unit), ("zunit", cal.z_unit)):
        if value:
            ij[key] = imagej_unit(value)
    if cal.z_spacing is not None:
        ij["spacing"] = cal.z_spacing
    if cal.finterval is not None:
        ij["finterval"] = cal.finterval
    if cal.time_unit not in ("s", "sec"):
        ij["tunit"] = imagej_unit(cal.time_unit)
    for axis in "xyz":
        origin = getattr(cal, f"{axis}_origin")
        if origin:
            ij[f"{axis}origin"] = origin
    info = info_with_provenance(meta.info, meta.provenance)
    if info:
        ij["Info"] = info
    props = properties_with_provenance(meta.properties, meta.provenance)
    props[CALIBRATION_PROPERTY] = json.dumps(_exact_calibration(cal))
    ij["Properties"] = props
    labels = meta.slice_labels
    if labels is None and meta.channel_names and len(meta.channel_names) == n_channels:
        # ImageJ shows a plane's label: name each plane by its channel (C is fastest)
        labels = [meta.channel_names[i % n_channels] for i in range(n_planes)]
    if labels is not None and len(labels) == n_planes:
        ij["Labels"] = ["" if s is None else s for s in labels]
    if meta.display_ranges is not None and len(meta.display_ranges) == n_channels:
        ij["Ranges"] = tuple(float(v) for pair in meta.display_ranges for v in pair)
    if meta.luts is not None and len(meta.luts) == n_channels:
        ij["LUTs"] = [np.asarray(lut, np.uint8) for lut in meta.luts]
    if meta.composite_mode and n_channels > 1:
        ij["mode"] = meta.composite_mode
    kwargs: dict[str, Any] = {"imagej": True, "metadata": ij}
    width, height = cal.x_spacing, cal.y_spacing
    if width or height:
        # The tags hold both sizes (1 when not written): one known size is written for both,
        # as square pixels; the fm2s_calibration property keeps the other unknown.
        kwargs["resolution"] = (1.0 / (width or height), 1.0 / (height or width))
    return kwargs


def _shaped_kwargs(meta: ImageMetadata, letters: str) -> dict[str, Any]:
    cal = meta.calibration
    rest = {k: v for k, v in meta.to_attrs().items()
            if k not in CALIBRATION_FIELDS and not k.startswith(("fm2s_", "source_"))}
    shaped: dict[str, Any] = {"axes": letters, CALIBRATION_PROPERTY: dataclasses.asdict(cal),
                              **meta.provenance, "metadata": jsonable(rest)}
    kwargs: dict[str, Any] = {"metadata": shaped}
    if cal.x_spacing and cal.y_spacing and cal.unit.lower() in ("um", "micron", "µm", "\\u00b5m"):
        kwargs.update(resolution=(1e4 / cal.x_spacing, 1e4 / cal.y_spacing),
                      resolutionunit="CENTIMETER")
    elif cal.x_spacing and cal.y_spacing:
        kwargs.update(resolution=(1.0 / cal.x_spacing, 1.0 / cal.y_spacing), resolutionunit="NONE")
    return kwargs


def _as_dataarray(image: xr.DataArray | np.ndarray) -> xr.DataArray:
    if isinstance(image, xr.DataArray):
        return image
    arr = np.asarray(image)
    default = {2: ("row", "col"), 3: ("pln", "row", "col"), 4: ("t", "pln", "row", "col"),
               5: ("t", "pln", "ch", "row", "col")}
    if arr.ndim not in default:
        raise ValueError(f"cannot write a {arr.ndim}-D numpy array as TIFF; pass a DataArray")
    return xr.DataArray(arr, dims=default[arr.ndim])
