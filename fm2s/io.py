"""Reading and writing microscopy images for fm2s: TIFF (ImageJ hyperstacks and plain) and PNG.

Images are read into an :class:`xarray.DataArray` with pyimagej's dim names, in ImageJ's
order ``t, pln, ch, row, col`` (only the dims the file has), so that ``fm2s.denoise(da)``
works directly (channels ``ch`` get separate models, ``t``/``pln`` are iterated).

Calibration
    ``attrs`` hold ``x_spacing``, ``y_spacing`` and ``z_spacing`` (size of a pixel / of a
    z step, in ``unit``), ``unit`` (e.g. ``"um"`` or ``"micron"``, kept as the file spells
    it; ``"pixel"`` when uncalibrated) and ``finterval`` (seconds between frames, or None).
    They come from the ImageJ metadata, from OME-XML (OME-TIFF: the z step converted to the
    pixel width's unit, see :mod:`fm2s.ome`) or from the resolution tags.
    The coordinates of ``row``/``col``/``pln``/``t`` are ``index * spacing`` and carry a
    ``units`` attribute.
Other metadata
    ``attrs["imagej_metadata"]`` keeps the other ImageJ keys (display ``Ranges``, ``LUTs``,
    ``Labels``, ``mode``, ``min``/``max``, the non-fm2s part of ``Info`` and of
    ``Properties`` ...) so that they are written back. ``fm2s_*`` keys found in a file
    (written by an earlier fm2s run) are put back into ``attrs``.
    ``attrs["source_path"]``, ``attrs["source_format"]`` and ``attrs["source_axes"]`` say
    where the data came from.

Writing (:func:`write_tiff`)
    ``uint8``, ``uint16`` and ``float32`` are written as ImageJ hyperstacks (axes ``TZCYX``,
    only the axes present; X/YResolution + ``unit``, ``spacing``, ``finterval``; the unit in
    ASCII, ``"µm"`` as ``"um"``, the exact spelling in the calibration property). The fm2s
    parameters go into the ImageJ ``Info`` text (``fm2s_preset = confocal`` lines, shown by
    Fiji's *Image > Show Info*), into ImageJ ``Properties`` (one property per ``fm2s_*`` key,
    plus ``fm2s_json`` with the exact values) and are read back by :func:`read_tiff`.
    ImageJ hyperstacks cannot hold ``int16`` (ImageJ reads it as unsigned with an offset) or
    ``float64``; to keep the pixel type exactly these are written as plain TIFF whose image
    description is a JSON document (tifffile's "shaped" format: axes, calibration, fm2s
    parameters). Fiji opens them as plain stacks (float64 is converted to 32-bit by ImageJ).
    Files are written atomically (a temporary file in the same folder, then ``os.replace``)
    and an existing file is never replaced unless ``overwrite=True``.

PNG (:func:`read_png`)
    8- and 16-bit grey, grey+alpha (alpha dropped), RGB and RGBA (alpha dropped, channels as
    ``ch``) and palette images (converted to RGB). A ``pHYs`` resolution is turned into a
    spacing in micrometres.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .ome import ome_calibration

__all__ = [
    "IMAGE_SUFFIXES",
    "IMAGEJ_DTYPES",
    "atomic_write",
    "read_image",
    "read_png",
    "read_tiff",
    "to_dataarray",
    "write_png",
    "write_tiff",
]

#: File name endings :func:`read_image` understands (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".png")

#: Pixel types an ImageJ hyperstack TIFF can hold exactly.
IMAGEJ_DTYPES: tuple[str, ...] = ("uint8", "uint16", "float32")

#: tifffile axis letter -> pyimagej dim name (letters not listed go to a free ``pln``/``t``).
_AXIS_TO_DIM: dict[str, str] = {
    "T": "t", "Z": "pln", "C": "ch", "S": "ch", "Y": "row", "X": "col",
}
#: Dim name (ours and common aliases) -> ImageJ axis letter.
_DIM_TO_AXIS: dict[str, str] = {
    "t": "T", "time": "T", "pln": "Z", "z": "Z", "ch": "C", "c": "C", "channel": "C",
    "row": "Y", "y": "Y", "col": "X", "x": "X",
}
_AXIS_TO_OUR_DIM: dict[str, str] = {"T": "t", "Z": "pln", "C": "ch", "Y": "row", "X": "col"}
_IMAGEJ_ORDER = "TZCYX"

#: ImageJ description keys that describe the layout (rebuilt on writing, not kept).
_IJ_STRUCTURAL = {
    "ImageJ", "images", "channels", "slices", "frames", "hyperstack", "axes", "spacing",
    "unit", "finterval", "fps", "shape", "IJMetadataByteCounts",
}
_FM2S_INFO_BEGIN = "--- fm2s ---"
_FM2S_INFO_END = "--- end fm2s ---"
_FM2S_JSON_KEY = "fm2s_json"
_CALIBRATION_KEY = "fm2s_calibration"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read a TIFF or PNG file into a calibrated DataArray (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.tif``/``.tiff`` or ``.png`` file (the type is taken from the file's first bytes,
        so a misnamed file still works).

    Returns
    -------
    xarray.DataArray
        Dims among ``t, pln, ch, row, col`` in that order; calibration in ``attrs``.

    Raises
    ------
    ValueError
        If the file is neither TIFF nor PNG, or its content cannot be represented.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return read_tiff(path)
    if magic == b"\x89PNG\r\n\x1a\n":
        return read_png(path)
    raise ValueError(
        f"{path.name} is not a TIFF or PNG image (fm2s reads {', '.join(IMAGE_SUFFIXES)})"
    )


def read_tiff(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read the first image series of a TIFF file, keeping ImageJ metadata and calibration.

    Parameters
    ----------
    path : str or os.PathLike
        An ImageJ hyperstack or any TIFF tifffile can read (OME, plain, fm2s "shaped" JSON).

    Returns
    -------
    xarray.DataArray
        Pixels (dtype as stored) with dims from the series axes: ``Y X`` -> ``row col``,
        ``Z`` -> ``pln``, ``T`` -> ``t``, ``C``/``S`` -> ``ch``; other axes (``Q``, ``I``,
        ...) become ``pln`` or ``t`` if free. Calibration and metadata in ``attrs``.

    Raises
    ------
    ValueError
        For a file with more axes than can be named, or several channel axes.
    """
    import tifffile

    path = Path(path)
    with tifffile.TiffFile(path) as tif:
        if not tif.series or len(tif.pages) == 0:
            raise ValueError(f"{path.name} contains no image (empty or truncated TIFF)")
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes
        page = tif.pages[0]
        ij = dict(tif.imagej_metadata or {}) if tif.is_imagej else {}
        shaped = {}
        if tif.is_shaped and tif.shaped_metadata:
            shaped = dict(tif.shaped_metadata[0])
        resolution = _page_resolution(page)
        ome_xml = tif.ome_metadata if tif.is_ome and not tif.is_imagej else None
        source_format = "imagej-tiff" if tif.is_imagej else "ome-tiff" if ome_xml else "tiff"

    attrs: dict[str, Any] = {
        "x_spacing": None, "y_spacing": None, "z_spacing": None,
        "unit": "pixel", "finterval": None,
    }
    fm2s_meta: dict[str, Any] = {}
    ij_rest: dict[str, Any] = {}
    calibration: dict[str, Any] = {}

    # Physical pixel size from the resolution tags.
    xres, yres, res_unit = resolution
    if ij:
        unit = ij.get("unit")
        if unit is not None:
            attrs["unit"] = str(unit)
            if xres:
                attrs["x_spacing"] = 1.0 / xres
            if yres:
                attrs["y_spacing"] = 1.0 / yres
        if "spacing" in ij:
            attrs["z_spacing"] = float(ij["spacing"])
        if ij.get("finterval") is not None:
            attrs["finterval"] = float(ij["finterval"])
        elif ij.get("fps"):
            attrs["finterval"] = 1.0 / float(ij["fps"])
        info_meta: dict[str, Any] = {}
        prop_meta: dict[str, Any] = {}
        for key, value in ij.items():
            if key in _IJ_STRUCTURAL:
                continue
            if key == "Info":
                info, info_meta = _split_info(str(value))
                if info:
                    ij_rest["Info"] = info
            elif key == "Properties" and isinstance(value, Mapping):
                props, prop_meta, calibration = _split_properties(value)
                if props:
                    ij_rest["Properties"] = props
            else:
                ij_rest[key] = value
        fm2s_meta.update(info_meta)
        fm2s_meta.update(prop_meta)  # exact JSON values win over the Info text
        if calibration and not _calibration_agrees(calibration, attrs):
            calibration = {}  # the file was re-calibrated after fm2s wrote it: trust the tags
    else:
        scale = {2: 25400.0, 3: 10000.0}.get(res_unit)  # inch, centimetre -> micrometre
        if scale is not None and xres and yres:
            attrs["unit"] = "um"
            attrs["x_spacing"] = scale / xres
            attrs["y_spacing"] = scale / yres
        if ome_xml:
            attrs.update(ome_calibration(ome_xml))  # OME's sizes win over resolution tags
        if shaped:
            calibration = dict(shaped.get(_CALIBRATION_KEY) or {})
            fm2s_meta.update({k: v for k, v in shaped.items()
                              if k.startswith("fm2s_") and k != _CALIBRATION_KEY})
            extra = shaped.get("imagej_metadata")
            if isinstance(extra, Mapping):
                ij_rest.update(extra)

    # Exact values written by fm2s win over the (rational, rounded) resolution tags.
    for key in ("x_spacing", "y_spacing", "z_spacing", "unit", "finterval"):
        if key in calibration:
            attrs[key] = calibration[key]

    dim_names = _dims_from_axes(axes, path)
    da = to_dataarray(
        data, dim_names,
        x_spacing=attrs["x_spacing"], y_spacing=attrs["y_spacing"],
        z_spacing=attrs["z_spacing"], unit=attrs["unit"], finterval=attrs["finterval"],
    )
    da = _to_imagej_order(da)
    da.attrs.update(
        source_path=str(path), source_format=source_format, source_axes=axes,
        imagej_metadata=ij_rest,
    )
    da.attrs.update(fm2s_meta)
    return da


def read_png(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read an 8- or 16-bit PNG (grey or colour) into a DataArray.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG file.

    Returns
    -------
    xarray.DataArray
        ``uint8`` or ``uint16`` pixels, dims ``(row, col)`` for grey images and
        ``(ch, row, col)`` for colour ones (alpha is dropped: it is not an intensity).
        A ``pHYs`` resolution becomes ``x_spacing``/``y_spacing`` in ``um``.

    Raises
    ------
    ValueError
        For a PNG mode fm2s cannot represent.
    """
    from PIL import Image

    path = Path(path)
    with Image.open(path) as im:
        im.load()
        mode = im.mode
        dpi = im.info.get("dpi")
        if mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            mode = im.mode
        elif mode == "1":
            im = im.convert("L")
            mode = "L"
        if mode in ("L", "RGB"):
            arr = np.asarray(im, dtype=np.uint8)
        elif mode in ("LA", "RGBA"):
            arr = np.asarray(im, dtype=np.uint8)[..., :-1]
            if mode == "LA":
                arr = arr[..., 0]
        elif mode.startswith("I;16"):
            arr = np.asarray(im).astype(np.uint16)
        elif mode == "I":
            raw = np.asarray(im)
            if raw.size and (raw.min() < 0 or raw.max() > 65535):
                raise ValueError(f"{path.name}: 32-bit integer PNG data does not fit 16 bits")
            arr = raw.astype(np.uint16)
        else:
            raise ValueError(f"{path.name}: unsupported PNG mode {mode!r}")
    if arr.ndim == 3:
        arr = np.moveaxis(arr, -1, 0)
        dim_names: tuple[str, ...] = ("ch", "row", "col")
    else:
        dim_names = ("row", "col")
    spacing: float | None = None
    unit = "pixel"
    if dpi and dpi[0] and dpi[1]:
        unit = "um"
        spacing = 25400.0 / float(dpi[0])
        y_spacing: float | None = 25400.0 / float(dpi[1])
    else:
        y_spacing = None
    da = to_dataarray(np.ascontiguousarray(arr), dim_names, x_spacing=spacing,
                      y_spacing=y_spacing, unit=unit)
    da.attrs.update(source_path=str(path), source_format="png", source_axes=mode,
                    imagej_metadata={})
    return da


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
        One pyimagej dim name per axis (``t``, ``pln``, ``ch``, ``row``, ``col``).
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
    steps = {"col": (x_spacing, unit), "row": (y_spacing, unit), "pln": (z_spacing, unit),
             "t": (finterval, "s")}
    coords: dict[str, Any] = {}
    for axis, dim in enumerate(dims):
        n = data.shape[axis]
        if dim in steps:
            step, coord_unit = steps[dim]
            if step is None:
                coords[dim] = xr.Variable(dim, np.arange(n), {"units": "pixel" if dim != "t"
                                                              else "frame"})
            else:
                coords[dim] = xr.Variable(dim, np.arange(n) * float(step), {"units": coord_unit})
        elif dim == "ch":
            coords[dim] = np.arange(n)
    attrs = {"x_spacing": x_spacing, "y_spacing": y_spacing, "z_spacing": z_spacing,
             "unit": unit, "finterval": finterval}
    return xr.DataArray(data, dims=dims, coords=coords, attrs=attrs)


def _page_resolution(page: Any) -> tuple[float | None, float | None, int | None]:
    tags = page.tags
    try:
        xres = _rational(tags["XResolution"].value) if "XResolution" in tags else None
        yres = _rational(tags["YResolution"].value) if "YResolution" in tags else None
        unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    except (TypeError, ValueError, ZeroDivisionError):
        return None, None, None
    return xres, yres, unit


def _calibration_agrees(saved: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
    """True if fm2s's exact calibration record matches what the file's tags say (rounding aside)."""
    if _imagej_unit(str(saved.get("unit"))) != str(found.get("unit")):
        return False  # (the tags hold the unit in ASCII: "um" for "µm")
    for key in ("x_spacing", "y_spacing", "z_spacing", "finterval"):
        a, b = saved.get(key), found.get(key)
        if a is None and b is None:
            continue
        if a is None or b is None or not np.isclose(float(a), float(b), rtol=1e-5, atol=0):
            return False
    return True


def _rational(value: Any) -> float | None:
    if isinstance(value, tuple):
        num, den = value
        return float(num) / float(den) if den and num else None
    return float(value) or None


def _dims_from_axes(axes: str, path: Path) -> tuple[str, ...]:
    names: list[str | None] = [_AXIS_TO_DIM.get(a) for a in axes]
    if names.count("ch") > 1:
        raise ValueError(f"{path.name}: several channel axes ({axes}); fm2s cannot tell them apart")
    unknown = [i for i, name in enumerate(names) if name is None]
    if unknown:
        # One unnamed axis (Q, I, ...) is taken as z; two as (t, z) in file order.
        free = [d for d in ("t", "pln") if d not in names]
        if len(unknown) > len(free):
            raise ValueError(
                f"{path.name}: cannot name the TIFF axes {axes!r} (at most T, Z, C, Y, X)"
            )
        for i, dim in zip(unknown, free[len(free) - len(unknown):]):
            names[i] = dim
    if "row" not in names or "col" not in names:
        raise ValueError(f"{path.name}: the TIFF series has no Y and X axes ({axes!r})")
    return tuple(n for n in names if n is not None)


def _to_imagej_order(da: xr.DataArray) -> xr.DataArray:
    order = [d for d in ("t", "pln", "ch", "row", "col") if d in da.dims]
    return da.transpose(*order) if tuple(order) != tuple(da.dims) else da


def _split_info(info: str) -> tuple[str, dict[str, Any]]:
    """Split ImageJ Info text into (other text, fm2s_* values) by the fm2s block markers."""
    meta: dict[str, Any] = {}
    start = info.find(_FM2S_INFO_BEGIN)
    if start < 0:
        return info, meta
    end = info.find(_FM2S_INFO_END, start)
    end = len(info) if end < 0 else end + len(_FM2S_INFO_END)
    block = info[start:end]
    for line in block.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key.strip().startswith("fm2s_"):
            meta[key.strip()] = _parse_value(value.strip())
    rest = (info[:start] + info[end:]).strip("\n")
    return rest, meta


def _split_properties(
    props: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """Split ImageJ Properties into (other properties, fm2s_* values, calibration)."""
    other: dict[str, str] = {}
    meta: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    for key, value in props.items():
        if key == _FM2S_JSON_KEY:
            with contextlib.suppress(ValueError, TypeError):
                meta.update(json.loads(value))
        elif key == _CALIBRATION_KEY:
            with contextlib.suppress(ValueError, TypeError):
                calibration = dict(json.loads(value))
        elif key.startswith("fm2s_"):
            meta.setdefault(key, _parse_value(str(value)))
        else:
            other[key] = value
    # fm2s_json holds the exact values; individual properties are for ImageJ users/macros.
    if _FM2S_JSON_KEY in props:
        with contextlib.suppress(ValueError, TypeError):
            meta.update(json.loads(props[_FM2S_JSON_KEY]))
    return other, meta, calibration


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _imagej_unit(unit: str) -> str:
    """``unit`` in the ASCII that an ImageJ image description holds.

    ``"µm"`` becomes ``"um"`` and ``"Å"`` ``"A"`` (ImageJ shows both with their symbols again);
    other non-ASCII characters are escaped. The exact unit is kept in the fm2s calibration
    property, which :func:`read_tiff` prefers.
    """
    ascii_unit = unit.replace("\u00b5", "u").replace("\u03bc", "u").replace("\u00c5", "A")
    return ascii_unit.encode("ascii", "backslashreplace").decode("ascii")


def atomic_write(
    path: str | os.PathLike[str], write: Any, *, overwrite: bool = False
) -> Path:
    """Create ``path`` atomically: ``write(tmp)`` fills a temporary file then moved in place.

    The temporary file (``.<name>.<random>.tmp``) lives in the destination folder, so the
    final move is an atomic rename; an interrupted write leaves no partial output.

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
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(
            f"{path} already exists; not overwriting it (pass overwrite=True to replace it)"
        )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
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
                raise FileExistsError(
                    f"{path} already exists; not overwriting it (pass overwrite=True to replace it)"
                ) from None
            except OSError:
                if path.exists():
                    raise FileExistsError(
                        f"{path} already exists; not overwriting it "
                        "(pass overwrite=True to replace it)"
                    ) from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


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
        A DataArray with dims among ``t, pln, ch, row, col`` (``z``, ``c``, ``y``, ``x`` are
        accepted) and calibration attrs as made by :func:`read_image`; or a numpy array,
        taken as ``(row, col)``, ``(pln, row, col)``, ``(t, pln, row, col)`` or
        ``(t, pln, ch, row, col)``. Axes are written in ImageJ's ``TZCYX`` order.
    metadata : mapping, optional
        The ``fm2s_*`` dict of the run (e.g. from :func:`fm2s.denoise_with_metadata`); by
        default the ``fm2s_*`` attrs of ``image``. Stored in the ImageJ ``Info`` text and
        ``Properties`` (or in the JSON description of a plain TIFF).
    overwrite : bool
        Replace an existing file; default False raises :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    ``uint8``/``uint16``/``float32`` -> ImageJ hyperstack. ``int16``/``float64`` -> plain TIFF
    with a JSON description (ImageJ hyperstacks cannot hold them); :func:`read_tiff` reads
    both back with the same pixels, dtype, dims and calibration. The write is atomic.
    """
    import tifffile

    da = _as_dataarray(image)
    letters = []
    for dim in da.dims:
        letter = _DIM_TO_AXIS.get(str(dim))
        if letter is None:
            raise ValueError(
                f"cannot write dim {dim!r} to TIFF; use the dims t, pln, ch, row, col "
                f"(got {tuple(da.dims)})"
            )
        letters.append(letter)
    if len(set(letters)) != len(letters):
        raise ValueError(f"dims {tuple(da.dims)} name the same TIFF axis twice")
    if "Y" not in letters or "X" not in letters:
        raise ValueError(f"the image needs row and col dims to be written, got {tuple(da.dims)}")
    order = [da.dims[letters.index(a)] for a in _IMAGEJ_ORDER if a in letters]
    da = da.transpose(*order)
    axes = "".join(_DIM_TO_AXIS[str(d)] for d in da.dims)
    data = np.ascontiguousarray(da.values)
    dtype = data.dtype
    if dtype.name not in IMAGEJ_DTYPES + ("int16", "float64"):
        raise ValueError(
            f"cannot write pixel type {dtype.name}; fm2s writes uint8, uint16, int16, "
            "float32 and float64"
        )

    attrs = da.attrs
    if metadata is None:
        metadata = {k: v for k, v in attrs.items() if str(k).startswith("fm2s_")}
    fm2s_meta = {str(k): _jsonable(v) for k, v in dict(metadata).items()}
    x_sp, y_sp, z_sp = (_float_or_none(attrs.get(k)) for k in ("x_spacing", "y_spacing",
                                                                 "z_spacing"))
    unit = str(attrs.get("unit") or "pixel")
    finterval = _float_or_none(attrs.get("finterval"))
    calibration = {"x_spacing": x_sp, "y_spacing": y_sp, "z_spacing": z_sp, "unit": unit,
                   "finterval": finterval}
    ij_extra = dict(attrs.get("imagej_metadata") or {})

    kwargs: dict[str, Any] = {"photometric": "minisblack"}
    if dtype.name in IMAGEJ_DTYPES:
        ij_meta: dict[str, Any] = {"axes": axes}
        for key, value in ij_extra.items():
            if key in _IJ_STRUCTURAL or key in ("Info", "Properties"):
                continue
            if key == "Ranges" and "C" in axes and len(value) != 2 * data.shape[axes.index("C")]:
                continue  # stale display ranges for another channel count
            if key == "LUTs" and "C" in axes and len(value) != data.shape[axes.index("C")]:
                continue
            if key == "Labels" and len(value) != data.size // (data.shape[-1] * data.shape[-2]):
                continue
            ij_meta[key] = value
        if unit != "pixel" or x_sp is not None:
            ij_meta["unit"] = _imagej_unit(unit)
        if z_sp is not None:
            ij_meta["spacing"] = z_sp
        if finterval is not None:
            ij_meta["finterval"] = finterval
        info = str(ij_extra.get("Info") or "")
        if fm2s_meta:
            block = "\n".join(
                [_FM2S_INFO_BEGIN]
                + [f"{k} = {_info_value(v)}" for k, v in fm2s_meta.items()]
                + [_FM2S_INFO_END]
            )
            info = f"{info}\n{block}" if info else block
        if info:
            ij_meta["Info"] = info
        props = {str(k): str(v) for k, v in dict(ij_extra.get("Properties") or {}).items()}
        props.update({k: _info_value(v) for k, v in fm2s_meta.items()})
        if fm2s_meta:
            props[_FM2S_JSON_KEY] = json.dumps(fm2s_meta)
        props[_CALIBRATION_KEY] = json.dumps(calibration)
        ij_meta["Properties"] = props
        kwargs.update(imagej=True, metadata=ij_meta)
        if x_sp and y_sp:
            kwargs["resolution"] = (1.0 / x_sp, 1.0 / y_sp)
    else:
        shaped: dict[str, Any] = {"axes": axes, _CALIBRATION_KEY: calibration}
        shaped.update(fm2s_meta)
        if ij_extra:
            shaped["imagej_metadata"] = _jsonable(
                {k: v for k, v in ij_extra.items() if k not in ("LUTs",)}
            )
        kwargs.update(metadata=shaped)
        if x_sp and y_sp and unit.lower() in ("um", "micron", "µm", "\\u00b5m"):
            kwargs.update(resolution=(1e4 / x_sp, 1e4 / y_sp), resolutionunit="CENTIMETER")
        elif x_sp and y_sp:
            kwargs.update(resolution=(1.0 / x_sp, 1.0 / y_sp), resolutionunit="NONE")

    def write(tmp: Path) -> None:
        tifffile.imwrite(tmp, data, **kwargs)

    return atomic_write(path, write, overwrite=overwrite)


def write_png(
    path: str | os.PathLike[str], image: np.ndarray, *, overwrite: bool = False
) -> Path:
    """Write a 2-D ``uint8``/``uint16`` grey image (or ``(rows, cols, 3)`` uint8 RGB) as PNG.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    image : numpy.ndarray
        The pixels.
    overwrite : bool
        Replace an existing file (default: raise :class:`FileExistsError`).

    Returns
    -------
    pathlib.Path
        ``path``; written atomically.
    """
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype == np.uint8 and arr.ndim in (2, 3):
        pil = Image.fromarray(arr)
    elif arr.dtype == np.uint16 and arr.ndim == 2:
        pil = Image.fromarray(arr, mode="I;16") if _pil_needs_mode() else Image.fromarray(arr)
    else:
        raise ValueError(
            f"write_png takes 2-D uint8/uint16 or RGB uint8 images, got {arr.dtype} {arr.shape}"
        )
    return atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"), overwrite=overwrite)


def _pil_needs_mode() -> bool:
    from PIL import Image

    probe = Image.fromarray(np.zeros((1, 1), np.uint16))
    return probe.mode != "I;16"


def _as_dataarray(image: xr.DataArray | np.ndarray) -> xr.DataArray:
    if isinstance(image, xr.DataArray):
        return image
    arr = np.asarray(image)
    default = {2: ("row", "col"), 3: ("pln", "row", "col"), 4: ("t", "pln", "row", "col"),
               5: ("t", "pln", "ch", "row", "col")}
    if arr.ndim not in default:
        raise ValueError(f"cannot write a {arr.ndim}-D numpy array as TIFF; pass a DataArray")
    return xr.DataArray(arr, dims=default[arr.ndim])


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _jsonable(value: Any) -> Any:
    """Make ``value`` JSON-serialisable (numpy scalars/arrays, tuples)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _info_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
