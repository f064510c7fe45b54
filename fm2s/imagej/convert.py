"""Convert between ImageJ images and :class:`xarray.DataArray`, with bulk pixel copies.

ImageJ 1.x ``ImagePlus`` -> DataArray (:func:`from_imageplus`) uses pyimagej's dimension names:
``t`` (frames), ``pln`` (slices, z), ``row``, ``col``, ``ch`` (channels), in that order; axes of
length 1 are dropped except ``row``/``col``, and RGB images get a ``ch`` axis of 3 uint8 samples.
Calibration becomes coordinates (``col = (i - xOrigin) * pixelWidth`` ...) with the unit in each
coordinate's ``attrs["unit"]``; title, info, properties, LUTs, display ranges and the raw
calibration are kept in ``attrs`` (keys starting with ``ij_``) so that :func:`to_imageplus` can
rebuild an equal ImagePlus.

:func:`to_imageplus` always makes a NEW ImagePlus (pixels copied, never a view), taking its
metadata from a ``template`` ImagePlus when given, else from the DataArray's attrs and coords.

Pixel types: 8-bit <-> uint8, 16-bit <-> uint16 (int16 for "signed 16-bit" calibrated images),
32-bit <-> float32, RGB <-> uint8 with ``ch`` = 3. Copies go plane by plane through JPype's
buffer protocol; there is no per-pixel Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

DIMS: tuple[str, ...] = ("t", "pln", "row", "col", "ch")
_ALIASES = {"y": "row", "x": "col", "z": "pln", "c": "ch", "Channel": "ch", "Time": "t"}
_SIGNED16_OFFSET = 32768


def _jclass(name: str) -> Any:
    import jpype

    return jpype.JClass(name)


def _is_rgb(imp: Any) -> bool:
    return int(imp.getType()) == int(_jclass("ij.ImagePlus").COLOR_RGB)


def plane_to_numpy(pixels: Any, height: int, width: int, rgb: bool = False) -> np.ndarray:
    """Copy one ImageJ pixel array (``byte[]``, ``short[]``, ``float[]``, ``int[]``) to numpy.

    Bytes and shorts are reinterpreted as unsigned (ImageJ's convention); an RGB ``int[]``
    becomes a ``(height, width, 3)`` uint8 array.
    """
    arr = np.array(memoryview(pixels), copy=True)
    if arr.dtype == np.int8:
        arr = arr.view(np.uint8)
    elif arr.dtype == np.int16:
        arr = arr.view(np.uint16)
    arr = arr.reshape(height, width)
    if rgb:
        packed = arr.astype(np.uint32, copy=False)
        arr = np.stack([(packed >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(np.uint8)
    return arr


def numpy_to_plane(plane: np.ndarray) -> Any:
    """Copy a 2-D uint8/uint16/float32 (or ``(h, w, 3)`` uint8 RGB) array to a Java pixel array."""
    import jpype

    plane = np.ascontiguousarray(plane)
    if plane.ndim == 3:
        rgb = plane.astype(np.uint32)
        packed = np.uint32(0xFF000000) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        return jpype.JArray(jpype.JInt)(np.ascontiguousarray(packed.ravel()).view(np.int32))
    flat = plane.ravel()
    if plane.dtype == np.uint8:
        return jpype.JArray(jpype.JByte)(flat.view(np.int8))
    if plane.dtype == np.uint16:
        return jpype.JArray(jpype.JShort)(flat.view(np.int16))
    if plane.dtype == np.float32:
        return jpype.JArray(jpype.JFloat)(flat)
    raise TypeError(f"ImageJ has no pixel type for {plane.dtype}")


def _metadata(imp: Any) -> dict[str, Any]:
    cal = imp.getCalibration()
    attrs: dict[str, Any] = {
        "title": str(imp.getTitle()),
        "ij_pixel_width": float(cal.pixelWidth),
        "ij_pixel_height": float(cal.pixelHeight),
        "ij_pixel_depth": float(cal.pixelDepth),
        "ij_x_origin": float(cal.xOrigin),
        "ij_y_origin": float(cal.yOrigin),
        "ij_z_origin": float(cal.zOrigin),
        "ij_unit": str(cal.getUnit()),
        "ij_y_unit": str(cal.getYUnit()),
        "ij_z_unit": str(cal.getZUnit()),
        "ij_frame_interval": float(cal.frameInterval),
        "ij_time_unit": str(cal.getTimeUnit()),
        "ij_signed16": bool(cal.isSigned16Bit()),
        "ij_type": int(imp.getType()),
    }
    info = imp.getInfoProperty()
    attrs["info"] = "" if info is None else str(info)
    props = {}
    names = imp.getPropertiesAsArray() if hasattr(imp, "getPropertiesAsArray") else None
    if names is not None:
        items = [str(s) for s in names]
        props = dict(zip(items[0::2], items[1::2]))
    attrs["ij_properties"] = props
    if not _is_rgb(imp):
        luts = list(imp.getLuts())
        if luts:
            attrs["ij_luts"] = np.stack(
                [np.array(memoryview(lut.getBytes()), copy=True).view(np.uint8) for lut in luts]
            ).reshape(len(luts), 3, 256)
            attrs["ij_display_ranges"] = [(float(lut.min), float(lut.max)) for lut in luts]
    if imp.isComposite():
        attrs["ij_composite_mode"] = int(imp.getMode())
    attrs["ij_display_range"] = (float(imp.getDisplayRangeMin()), float(imp.getDisplayRangeMax()))
    return attrs


def _coords(attrs: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, Any]:
    import xarray as xr

    coords: dict[str, Any] = {}
    spec = {
        "col": ("ij_x_origin", "ij_pixel_width", "ij_unit"),
        "row": ("ij_y_origin", "ij_pixel_height", "ij_y_unit"),
        "pln": ("ij_z_origin", "ij_pixel_depth", "ij_z_unit"),
    }
    for dim, (origin, step, unit) in spec.items():
        if dim in sizes:
            values = (np.arange(sizes[dim]) - attrs[origin]) * attrs[step]
            coords[dim] = xr.Variable(dim, values, {"unit": attrs[unit]})
    if "t" in sizes:
        interval = attrs["ij_frame_interval"] or 1.0
        unit = attrs["ij_time_unit"] if attrs["ij_frame_interval"] else "frame"
        coords["t"] = xr.Variable("t", np.arange(sizes["t"]) * interval, {"unit": unit})
    if "ch" in sizes:
        coords["ch"] = np.arange(sizes["ch"])
    return coords


def from_imageplus(imp: Any) -> Any:
    """Copy an ImageJ 1.x ``ImagePlus`` into a new :class:`xarray.DataArray`.

    Parameters
    ----------
    imp : ij.ImagePlus
        8-bit, 16-bit, 32-bit or RGB; single image, stack or C/Z/T hyperstack.

    Returns
    -------
    xarray.DataArray
        Dims in ``("t", "pln", "row", "col", "ch")`` order, length-1 axes dropped except
        ``row``/``col``; calibration as coords, metadata in attrs (see the module docstring).

    Raises
    ------
    ValueError
        For an RGB hyperstack with more than one channel (not an ImageJ layout).
    """
    import xarray as xr

    width, height = int(imp.getWidth()), int(imp.getHeight())
    n_c, n_z, n_t = int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames())
    rgb = _is_rgb(imp)
    if rgb and n_c > 1:
        raise ValueError("RGB images with more than one channel are not supported")
    attrs = _metadata(imp)
    stack = imp.getStack()
    planes = [
        plane_to_numpy(stack.getPixels(i + 1), height, width, rgb) for i in range(n_c * n_z * n_t)
    ]
    data = np.stack(planes).reshape((n_t, n_z, n_c) + planes[0].shape)
    if rgb:  # (t, z, 1, row, col, 3) -> (t, z, row, col, 3)
        data = data[:, :, 0]
    else:  # (t, z, c, row, col) -> (t, z, row, col, c)
        data = np.moveaxis(data, 2, -1)
    if attrs["ij_signed16"] and data.dtype == np.uint16:
        data = (data.astype(np.int32) - _SIGNED16_OFFSET).astype(np.int16)
    full = dict(zip(DIMS, data.shape))
    keep = [d for d in DIMS if d in ("row", "col") or full[d] > 1]
    data = data.reshape([full[d] for d in keep])
    labels = [stack.getSliceLabel(i + 1) for i in range(n_c * n_z * n_t)]
    attrs["ij_slice_labels"] = [None if s is None else str(s) for s in labels]
    sizes = {d: full[d] for d in keep}
    return xr.DataArray(data, dims=keep, coords=_coords(attrs, sizes), attrs=attrs,
                        name=attrs["title"])


def _canonical(data: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Return ``data`` as a (t, pln, ch, row, col) numpy array plus the DataArray attrs."""
    import xarray as xr

    if not isinstance(data, xr.DataArray):
        arr = np.asarray(data)
        names = {2: ("row", "col"), 3: ("pln", "row", "col"), 4: ("t", "pln", "row", "col")}
        if arr.ndim not in names:
            raise ValueError(f"a numpy image must have 2 to 4 dimensions, got shape {arr.shape}")
        data = xr.DataArray(arr, dims=names[arr.ndim])
    data = data.rename({d: _ALIASES[d] for d in data.dims if d in _ALIASES})
    unknown = [d for d in data.dims if d not in DIMS]
    if unknown or "row" not in data.dims or "col" not in data.dims:
        raise ValueError(
            f"cannot map dims {data.dims} to ImageJ; use {DIMS} (or y, x, z, c), row and col "
            "being required"
        )
    for dim in DIMS:
        if dim not in data.dims:
            data = data.expand_dims(dim)
    return np.asarray(data.transpose("t", "pln", "ch", "row", "col").values), dict(data.attrs)


def to_imageplus(
    data: Any,
    *,
    template: Any = None,
    title: str | None = None,
    extra_info: Mapping[str, Any] | None = None,
) -> Any:
    """Build a NEW ImageJ 1.x ``ImagePlus`` from a DataArray (or numpy array).

    Parameters
    ----------
    data : xarray.DataArray or numpy.ndarray
        Dims from ``t, pln, row, col, ch`` (aliases ``z, y, x, c``); numpy arrays are read as
        ``(row, col)``, ``(pln, row, col)`` or ``(t, pln, row, col)``. dtypes uint8, uint16,
        int16 (stored as ImageJ's signed 16-bit), float32 (float64 is converted), or uint8 with
        ``ij_type`` RGB in attrs / an RGB template for a colour image.
    template : ij.ImagePlus, optional
        Source of calibration, LUTs, display ranges, composite mode, slice labels, info and
        properties; without it they come from ``data.attrs`` / coords (as made by
        :func:`from_imageplus`).
    title : str, optional
        Window title; default the template's or ``attrs["title"]``.
    extra_info : mapping, optional
        Lines ``key = value`` appended to the info and set as image properties (FM2S
        parameters).

    Returns
    -------
    ij.ImagePlus
    """
    imagej_plus = _jclass("ij.ImagePlus")
    arr, attrs = _canonical(data)
    meta = dict(attrs)
    if template is not None:
        meta.update(_metadata(template))
        meta["ij_slice_labels"] = [
            None if s is None else str(s)
            for s in (template.getStack().getSliceLabel(i + 1)
                      for i in range(int(template.getStackSize())))
        ]
    rgb = meta.get("ij_type") == int(imagej_plus.COLOR_RGB)
    n_t, n_z, n_c, height, width = arr.shape
    if rgb:
        if n_c != 3 or arr.dtype != np.uint8:
            raise ValueError("an RGB image needs a 'ch' axis of 3 uint8 samples")
        arr = np.moveaxis(arr, 2, -1)[:, :, None]  # (t, z, 1, row, col, 3)
        n_c = 1
    if arr.dtype == np.int16:
        arr = (arr.astype(np.int32) + _SIGNED16_OFFSET).astype(np.uint16)
        meta["ij_signed16"] = True
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"ImageJ cannot hold {arr.dtype} pixels; use uint8, uint16 or float32")
    stack = _jclass("ij.ImageStack")(width, height)
    labels = meta.get("ij_slice_labels") or []
    for t in range(n_t):
        for z in range(n_z):
            for c in range(n_c):
                index = c + z * n_c + t * n_c * n_z
                label = labels[index] if index < len(labels) else None
                stack.addSlice(label, numpy_to_plane(arr[t, z, c]))
    out = imagej_plus(title or meta.get("title") or "FM2S", stack)
    out.setDimensions(n_c, n_z, n_t)
    if n_c > 1 or n_t > 1:  # a z-only stack stays a plain stack, as in ImageJ
        out.setOpenAsHyperStack(True)
    _apply_calibration(out, meta)
    if n_c > 1:
        mode = meta.get("ij_composite_mode", int(_jclass("ij.IJ").COMPOSITE))
        out = _jclass("ij.CompositeImage")(out, int(mode))
    _apply_display(out, meta, n_c)
    _apply_info(out, meta, extra_info)
    return out


def _apply_calibration(imp: Any, meta: Mapping[str, Any]) -> None:
    cal = _jclass("ij.measure.Calibration")()
    if "ij_pixel_width" in meta:
        cal.pixelWidth, cal.pixelHeight = meta["ij_pixel_width"], meta["ij_pixel_height"]
        cal.pixelDepth = meta["ij_pixel_depth"]
        cal.xOrigin, cal.yOrigin = meta["ij_x_origin"], meta["ij_y_origin"]
        cal.zOrigin = meta["ij_z_origin"]
        cal.frameInterval = meta["ij_frame_interval"]
        cal.setUnit(meta["ij_unit"])
        if meta.get("ij_y_unit") and meta["ij_y_unit"] != meta["ij_unit"]:
            cal.setYUnit(meta["ij_y_unit"])
        if meta.get("ij_z_unit") and meta["ij_z_unit"] != meta["ij_unit"]:
            cal.setZUnit(meta["ij_z_unit"])
        cal.setTimeUnit(meta["ij_time_unit"])
    if meta.get("ij_signed16"):
        cal.setSigned16BitCalibration()
    imp.setCalibration(cal)


def _apply_display(imp: Any, meta: Mapping[str, Any], n_c: int) -> None:
    luts = meta.get("ij_luts")
    ranges = meta.get("ij_display_ranges") or []
    lut_cls = _jclass("ij.process.LUT")
    if luts is not None and len(luts) == n_c:
        import jpype

        java_luts = []
        for i, table in enumerate(np.asarray(luts, dtype=np.uint8)):
            r, g, b = (jpype.JArray(jpype.JByte)(row.view(np.int8)) for row in table)
            lut = lut_cls(r, g, b)
            if i < len(ranges):
                lut.min, lut.max = ranges[i]
            java_luts.append(lut)
        if n_c > 1 and imp.isComposite():
            imp.setLuts(jpype.JArray(lut_cls)(java_luts))
            for c, lut in enumerate(java_luts):
                imp.setPositionWithoutUpdate(c + 1, 1, 1)
                imp.setDisplayRange(lut.min, lut.max)
            imp.setPositionWithoutUpdate(1, 1, 1)
            return
        if n_c == 1:
            imp.getProcessor().setLut(java_luts[0])
            imp.getStack().setColorModel(java_luts[0])
    if "ij_display_range" in meta and n_c == 1:
        imp.setDisplayRange(*meta["ij_display_range"])


def _apply_info(imp: Any, meta: Mapping[str, Any], extra: Mapping[str, Any] | None) -> None:
    for key, value in (meta.get("ij_properties") or {}).items():
        imp.setProp(str(key), str(value))
    info = str(meta.get("info") or "")
    if extra:
        lines = [f"{k} = {_text(v)}" for k, v in extra.items()]
        info = (info.rstrip("\n") + "\n" if info else "") + "\n".join(lines) + "\n"
        for k, v in extra.items():
            imp.setProp(str(k), _text(v))
    if info:
        imp.setProperty("Info", info)


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return str(value)


def from_java(image: Any, gateway: Any = None) -> Any:
    """Convert an ImageJ image to a DataArray: ``ImagePlus`` directly, anything else (ImageJ2
    ``Dataset``, ``ImgPlus``) through the pyimagej gateway's ``ij.py.from_java``.

    Raises
    ------
    TypeError
        For a non-ImagePlus image when no pyimagej gateway is available.
    """
    import jpype

    if isinstance(image, jpype.JClass("ij.ImagePlus")):
        return from_imageplus(image)
    if gateway is None:
        raise TypeError(
            f"{type(image).__name__} images need a pyimagej gateway (Fiji); "
            "pass an ij.ImagePlus or start ImageJ with a Fiji.app"
        )
    return gateway.py.from_java(image)
