"""OME-Zarr (NGFF) images, read and written chunk by chunk through ome-zarr-py.

Reading gives a lazy DataArray (Dask) of the image's full-resolution level, with fm2s's dims
(NGFF's ``t``, ``c``, ``z``, ``y``, ``x`` are :mod:`fm2s.axes` aliases), its physical scale,
units and translation as the calibration, the channels' names, colours and windows of the
``omero`` block, and the metadata fm2s wrote, if any. Writing makes one resolution level with
the same axes, scale, units, translation, ``omero`` channels, dtype and chunks of whole planes
(NGFF 0.5, zarr v3) into a temporary folder renamed into place when complete. A lazy image is computed chunk by
chunk under the Dask scheduler in use (``fm2s denoise``: one chunk at a time in its process, or
on the cluster's workers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import axes
from ..metadata import CALIBRATION_FIELDS, Calibration, ImageMetadata, jsonable
from .files import atomic_write_dir

#: NGFF (UDUNITS) unit names <-> fm2s's spelling of them.
_LENGTHS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm",
            "meter": "m", "angstrom": "Å"}
_TIMES = {"second": "s", "millisecond": "ms", "microsecond": "µs", "minute": "min", "hour": "h"}
_ALSO = {"um": "micrometer", "micron": "micrometer", "microns": "micrometer", "µm": "micrometer",
         "\u03bcm": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter",
         "m": "meter", "Å": "angstrom", "A": "angstrom", "s": "second", "sec": "second",
         "ms": "millisecond", "min": "minute", "h": "hour"}
_NGFF_NAME = {"t": "t", "ch": "c", "pln": "z", "row": "y", "col": "x"}
#: The order NGFF requires of the axes: time, channel, then space.
NGFF_ORDER: tuple[str, ...] = ("t", "ch", "pln", "row", "col")
#: Where fm2s keeps its metadata in the image group's attributes.
ATTRS_KEY = "fm2s"


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """True for a folder that is a Zarr store (``zarr.json``, ``.zattrs`` or ``.zgroup`` inside)."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists()
                                 for name in ("zarr.json", ".zattrs", ".zgroup"))


def read_zarr(path: str | os.PathLike[str]) -> Any:
    """Read the first image of an OME-Zarr store as a lazy, calibrated DataArray.

    Raises
    ------
    ValueError
        For a store without an NGFF image, or with axes fm2s cannot name.
    """
    import xarray as xr
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = Path(path)
    location = parse_url(str(path))
    nodes = [] if location is None else [n for n in Reader(location)() if n.data]
    if not nodes:
        raise ValueError(f"{path.name} holds no OME-Zarr image")
    node = nodes[0]
    data = node.data[0]
    ngff_axes = node.metadata.get("axes") or [{"name": n} for n in "tczyx"[-data.ndim:]]
    try:
        dims = tuple(axes.canonical_dims([a["name"] for a in ngff_axes]).values())
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    scale, shift = _transforms(node.metadata.get("coordinateTransformations"), data.ndim)
    group_attrs = zarr.open_group(str(path), mode="r").attrs.asdict()
    meta = ImageMetadata.from_attrs(dict(group_attrs.get(ATTRS_KEY) or {}))
    meta.calibration = _calibration(dims, ngff_axes, scale)
    for dim, field in _ORIGINS.items():  # NGFF's translation is physical, ImageJ's origin pixels
        if dim in dims and shift[dims.index(dim)] and scale[dims.index(dim)]:
            setattr(meta.calibration, field, -shift[dims.index(dim)] / scale[dims.index(dim)])
    n_channels = data.shape[dims.index("ch")] if "ch" in dims else 1
    omero = dict(group_attrs.get("ome", group_attrs).get("omero") or {})
    _channels_from_omero(meta, omero.get("channels") or [], n_channels)
    meta.source_path, meta.source_format = str(path), "ome-zarr"
    meta.source_axes = "".join(a["name"] for a in ngff_axes)
    da = xr.DataArray(data, dims=dims)
    da = axes.in_order(da)
    return xr.DataArray(da.data, dims=da.dims, coords=meta.coords(dict(da.sizes)),
                        attrs=meta.to_attrs())


#: The calibration's origin (in pixels) of each space dim.
_ORIGINS = {"col": "x_origin", "row": "y_origin", "pln": "z_origin"}


def _transforms(transforms: Any, ndim: int) -> tuple[list[float], list[float]]:
    """The full-resolution level's scale and translation (ones and zeros when absent)."""
    scale, shift = [1.0] * ndim, [0.0] * ndim
    for step in (transforms or [[]])[0]:
        if step.get("type") == "scale":
            scale = [float(v) for v in step["scale"]]
        elif step.get("type") == "translation":
            shift = [float(v) for v in step["translation"]]
    return scale, shift


def _channels_from_omero(meta: ImageMetadata, channels: list[dict], n_channels: int) -> None:
    """Channel names, colours and display windows from NGFF's ``omero`` block, where fm2s's
    own record has none and there is one entry per channel."""
    if len(channels) != n_channels:
        return
    if meta.channel_names is None and any(c.get("label") for c in channels):
        meta.channel_names = [str(c.get("label", "")) for c in channels]
    windows = [c.get("window") or {} for c in channels]
    if meta.display_ranges is None and all("start" in w and "end" in w for w in windows):
        meta.display_ranges = [(float(w["start"]), float(w["end"])) for w in windows]
    colours = [str(c.get("color", "")) for c in channels]
    if meta.luts is None and all(len(c) == 6 for c in colours):
        ramp = np.arange(256) / 255.0
        meta.luts = np.stack([np.outer([int(c[i:i + 2], 16) for i in (0, 2, 4)], ramp)
                              for c in colours]).round().astype(np.uint8)


def _omero(meta: ImageMetadata, n_channels: int, dtype: Any) -> dict[str, Any] | None:
    """NGFF's ``omero`` block (what viewers show: names, colours, windows) from the model."""
    names, ranges, luts = meta.channel_names, meta.display_ranges, meta.luts
    if not any(x is not None and len(x) == n_channels for x in (names, ranges, luts)):
        return None
    channels = []
    for k in range(n_channels):
        channel: dict[str, Any] = {"active": True}
        if names is not None and len(names) == n_channels:
            channel["label"] = names[k]
        if luts is not None and len(luts) == n_channels:
            channel["color"] = "".join(f"{int(v):02X}" for v in np.asarray(luts[k])[:, -1])
        if ranges is not None and len(ranges) == n_channels:
            lo, hi = ranges[k]
            full = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
            channel["window"] = {"start": lo, "end": hi, "min": float(full.min) if full else lo,
                                 "max": float(full.max) if full else hi}
        channels.append(channel)
    return {"channels": channels}


def _calibration(dims: tuple[str, ...], ngff_axes: list[dict], scale: list[float]) -> Calibration:
    """The calibration of an NGFF image: its scale, each space axis in its own unit.

    The pixel width's unit is ``unit``; the height's and the z step's are ``y_unit`` and
    ``z_unit`` where they differ (a z step in nanometres beside pixels in micrometres), as
    ImageJ keeps them. A space axis without a unit beside axes with one is taken in theirs.
    Scales without any unit (NGFF allows them) are kept, in ``"pixel"``.
    """
    cal = Calibration()
    units = {d: a.get("unit") for d, a in zip(dims, ngff_axes)}
    steps = dict(zip(dims, scale))
    space = [d for d in ("col", "row", "pln") if d in steps]
    lengths = {d: _LENGTHS.get(units[d], units[d]) for d in space if units.get(d)}
    if lengths or any(steps[d] != 1.0 for d in space):
        cal.x_spacing, cal.y_spacing = steps.get("col"), steps.get("row")
        cal.z_spacing = steps.get("pln")
    if lengths:
        cal.unit = next(iter(lengths.values()))  # the first named of x, y, z
        y_unit, z_unit = lengths.get("row", cal.unit), lengths.get("pln", cal.unit)
        cal.y_unit = y_unit if y_unit != cal.unit else None
        cal.z_unit = z_unit if z_unit != cal.unit else None
    if "t" in steps and units.get("t"):
        cal.finterval, cal.time_unit = steps["t"], _TIMES.get(units["t"], units["t"])
    return cal


def write_zarr(path: str | os.PathLike[str], image: Any, metadata: dict | None = None, *,
               overwrite: bool = False) -> Path:
    """Write a DataArray (lazy or not) as an OME-Zarr image, chunk by chunk, atomically.

    Parameters
    ----------
    path : path
        The store to create (a folder, e.g. ``x_fm2s.zarr``).
    image : xarray.DataArray
        Dims of :mod:`fm2s.axes`; calibration and metadata in its attrs.
    metadata : dict, optional
        The run's ``fm2s_*`` record (default: the ``fm2s_*`` attrs of ``image``).
    overwrite : bool
        Replace an existing store.

    Returns
    -------
    pathlib.Path
    """
    import dask.array as dask_array
    import zarr
    from ome_zarr.writer import write_image

    try:
        image = axes.image_in_order(image, NGFF_ORDER)
    except ValueError as exc:
        raise ValueError(f"cannot write this image to OME-Zarr: {exc}") from None
    meta = ImageMetadata.from_attrs(image.attrs)
    if metadata is not None:
        meta.provenance = dict(metadata)
    cal = meta.calibration
    dims = tuple(str(d) for d in image.dims)
    data = image.data if hasattr(image.data, "dask") else dask_array.from_array(np.asarray(image.data))
    chunks = tuple(1 for _ in dims[:-2]) + tuple(image.shape[-2:])
    data = data.rechunk(chunks)
    calibrated = cal.axes()  # (spacing, origin in pixels, unit) of each calibrated dim
    scale = {_NGFF_NAME[d]: float(calibrated.get(d, (None,))[0] or 1.0) for d in dims}
    units: dict[str, str] = {}
    if cal.unit != "pixel":
        for d in ("pln", "row", "col"):
            if d in dims:
                unit = calibrated[d][2]
                units[_NGFF_NAME[d]] = _ALSO.get(unit, unit)
    if "t" in dims and cal.finterval is not None:
        units["t"] = _ALSO.get(cal.time_unit, cal.time_unit)
    kept = {k: v for k, v in meta.to_attrs().items()
            if k not in CALIBRATION_FIELDS and not k.startswith("source_")}
    shift = [-float(calibrated[d][1]) * scale[_NGFF_NAME[d]] if d in _ORIGINS else 0.0
             for d in dims]
    omero = _omero(meta, image.sizes.get("ch", 1), image.dtype)

    def write(tmp: Path) -> None:
        root = zarr.open_group(str(tmp), mode="w")
        write_image(image=data, group=root, axes=[_NGFF_NAME[d] for d in dims],
                    scale_factors=(), scale=scale, axes_units=units or None,
                    storage_options={"chunks": chunks}, **({"omero": omero} if omero else {}))
        if any(shift):  # ome-zarr writes a zero translation; NGFF's is physical
            ome = root.attrs["ome"]
            transforms = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]
            transforms[:] = [t for t in transforms if t["type"] != "translation"]
            transforms.append({"type": "translation", "translation": [v + 0.0 for v in shift]})
            root.attrs["ome"] = ome
        root.attrs[ATTRS_KEY] = jsonable(kept)

    return atomic_write_dir(path, write, overwrite=overwrite)
