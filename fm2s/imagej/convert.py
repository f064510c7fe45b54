"""Convert between ImageJ 1.x ``ImagePlus`` and :class:`xarray.DataArray`, with bulk pixel copies.

Both directions go through fm2s's axis vocabulary (:mod:`fm2s.axes`: dims ``t, pln, ch, row,
col`` in that order, axes of length 1 dropped except ``row``/``col``) and its one metadata model
(:mod:`fm2s.metadata`: calibration, LUTs, display ranges, title, Info, properties, slice
labels, provenance), so a DataArray read from a file becomes an ImagePlus with its calibration
and an ImagePlus becomes a DataArray that writes as the same TIFF.

Pixel types: 8-bit <-> uint8, 16-bit <-> uint16 (int16 for "signed 16-bit" calibrated images),
32-bit <-> float32, RGB <-> three uint8 channels with ``attrs["rgb"] = True``. Copies go plane by
plane through JPype's buffer protocol; there is no per-pixel Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import axes
from ..metadata import COMPOSITE_MODES, Calibration, ImageMetadata, split_info, split_properties

_SIGNED16_OFFSET = 32768


def _jclass(name: str) -> Any:
    import jpype

    return jpype.JClass(name)


def _is_rgb(imp: Any) -> bool:
    return int(imp.getType()) == int(_jclass("ij.ImagePlus").COLOR_RGB)


def plane_to_numpy(pixels: Any, height: int, width: int, rgb: bool = False) -> np.ndarray:
    """Copy one ImageJ pixel array (``byte[]``, ``short[]``, ``float[]``, ``int[]``) to numpy.

    Bytes and shorts are reinterpreted as unsigned (ImageJ's convention); an RGB ``int[]``
    becomes a ``(3, height, width)`` uint8 array.
    """
    arr = np.array(memoryview(pixels), copy=True)
    if arr.dtype == np.int8:
        arr = arr.view(np.uint8)
    elif arr.dtype == np.int16:
        arr = arr.view(np.uint16)
    arr = arr.reshape(height, width)
    if rgb:
        packed = arr.astype(np.uint32, copy=False)
        arr = np.stack([(packed >> s) & 0xFF for s in (16, 8, 0)]).astype(np.uint8)
    return arr


def numpy_to_plane(plane: np.ndarray) -> Any:
    """Copy a 2-D uint8/uint16/float32 (or ``(3, h, w)`` uint8 RGB) array to a Java pixel array."""
    import jpype

    plane = np.ascontiguousarray(plane)
    if plane.ndim == 3:
        rgb = plane.astype(np.uint32)
        packed = np.uint32(0xFF000000) | (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]
        return jpype.JArray(jpype.JInt)(np.ascontiguousarray(packed.ravel()).view(np.int32))
    flat = plane.ravel()
    if plane.dtype == np.uint8:
        return jpype.JArray(jpype.JByte)(flat.view(np.int8))
    if plane.dtype == np.uint16:
        return jpype.JArray(jpype.JShort)(flat.view(np.int16))
    if plane.dtype == np.float32:
        return jpype.JArray(jpype.JFloat)(flat)
    raise TypeError(f"ImageJ has no pixel type for {plane.dtype}")


def imageplus_metadata(imp: Any) -> ImageMetadata:
    """The metadata of an ImagePlus in fm2s's model (everything but the pixels)."""
    cal = imp.getCalibration()
    scaled = bool(cal.scaled())
    unit, y_unit, z_unit = str(cal.getUnit()), str(cal.getYUnit()), str(cal.getZUnit())
    calibration = Calibration(
        x_spacing=float(cal.pixelWidth) if scaled else None,
        y_spacing=float(cal.pixelHeight) if scaled else None,
        z_spacing=float(cal.pixelDepth) if scaled else None,
        unit=unit if scaled else "pixel",
        y_unit=y_unit if y_unit != unit else None,
        z_unit=z_unit if z_unit != unit else None,
        x_origin=float(cal.xOrigin), y_origin=float(cal.yOrigin), z_origin=float(cal.zOrigin),
        finterval=float(cal.frameInterval) if cal.frameInterval > 0 else None,
        time_unit=str(cal.getTimeUnit()),
    )
    info = imp.getInfoProperty()
    other_info, info_prov = split_info("" if info is None else str(info))
    names = imp.getPropertiesAsArray()
    items = [] if names is None else [str(s) for s in names]
    props, prop_prov = split_properties(dict(zip(items[0::2], items[1::2])))
    stack = imp.getStack()
    meta = ImageMetadata(
        calibration=calibration, title=str(imp.getTitle()), info=other_info, properties=props,
        slice_labels=[None if s is None else str(s)
                      for s in (stack.getSliceLabel(i + 1) for i in range(int(imp.getStackSize())))],
        rgb=_is_rgb(imp), provenance={**info_prov, **prop_prov},
    )
    if not meta.rgb:
        luts = list(imp.getLuts())
        if luts:
            meta.luts = np.stack(
                [np.array(memoryview(lut.getBytes()), copy=True).view(np.uint8) for lut in luts]
            ).reshape(len(luts), 3, 256)
            meta.display_ranges = [(float(lut.min), float(lut.max)) for lut in luts]
    if len(meta.display_ranges or ()) <= 1:
        meta.display_ranges = [(float(imp.getDisplayRangeMin()), float(imp.getDisplayRangeMax()))]
    if imp.isComposite():
        meta.composite_mode = COMPOSITE_MODES[int(imp.getMode()) - 1]
    elif not meta.rgb and int(imp.getNChannels()) > 1:
        # channels of a plain ImagePlus share its one LUT and range and show one at a time:
        # ImageJ's "color" mode with that LUT and range on every channel
        n_c = int(imp.getNChannels())
        meta.luts = None if meta.luts is None else np.repeat(meta.luts[:1], n_c, axis=0)
        meta.display_ranges, meta.composite_mode = meta.display_ranges[:1] * n_c, "color"
    if not cal_signed16(imp):
        meta.imagej_metadata.update(_value_calibration(cal, int(imp.getBitDepth())))
    if cal.getInvertY():  # y counts up from the bottom (ImageJ's TIFF key, as tifffile reads it)
        meta.imagej_metadata["inverty"] = True
    if imp.getOverlay() is not None and int(imp.getOverlay().size()) > 0:
        meta.imagej_metadata["Overlays"] = _encode_overlay(imp.getOverlay())
    return meta


def _encode_overlay(overlay: Any) -> list[bytes]:
    """An overlay as ImageJ's TIFF holds it: one ``.roi`` record per ROI, the first carrying
    the overlay's own settings (labels, names, label colour and font), as ImageJ saves it."""
    copy = overlay.duplicate()  # the prototype is set on copies: the source's ROIs stay as they are
    encoder = _jclass("ij.io.RoiEncoder")
    records = []
    for i, roi in enumerate(copy.toArray()):
        if i == 0:
            roi.setPrototypeOverlay(copy)
        records.append(bytes(np.array(memoryview(encoder.saveAsByteArray(roi))).view(np.uint8)))
    return records


def _apply_overlay(imp: Any, described: dict[str, Any]) -> None:
    """Give ``imp`` the overlay in ``described["Overlays"]`` (``.roi`` records), if any."""
    import jpype

    records = described.get("Overlays")
    if isinstance(records, bytes):  # one ROI, as tifffile may read it
        records = [records]
    if not isinstance(records, list):
        return
    overlay = None
    for record in records:
        roi = _jclass("ij.io.RoiDecoder").openFromByteArray(
            jpype.JArray(jpype.JByte)(np.frombuffer(record, np.int8)))
        if roi is None:
            continue
        if overlay is None:
            prototype = roi.getPrototypeOverlay()
            overlay = _jclass("ij.gui.Overlay")() if prototype is None else prototype.create()
        overlay.add(roi)
    if overlay is not None:
        imp.setOverlay(overlay)


def _value_calibration(cal: Any, bit_depth: int) -> dict[str, Any]:
    """An ImageJ value calibration (a function of the grey value, e.g. optical density) under
    the keys of ImageJ's TIFF description, which the TIFF writer writes back as they are."""
    function = int(cal.getFunction())
    calibration = _jclass("ij.measure.Calibration")
    if function in (int(calibration.NONE), int(calibration.CUSTOM)) and bit_depth != 32:
        return {}
    unit = str(cal.getValueUnit())
    if bit_depth == 32:  # ImageJ keeps only the unit of 32-bit values
        return {} if unit == "Gray Value" else {"vunit": unit}
    values: dict[str, Any] = {"cf": function, "vunit": unit}
    values.update({f"c{i}": float(c) for i, c in enumerate(cal.getCoefficients() or [])})
    if cal.zeroClip():
        values["zeroclip"] = "true"
    return values


def from_imageplus(imp: Any) -> Any:
    """Copy an ImageJ 1.x ``ImagePlus`` into a new :class:`xarray.DataArray`.

    Parameters
    ----------
    imp : ij.ImagePlus
        8-bit, 16-bit, 32-bit or RGB; single image, stack or C/Z/T hyperstack.

    Returns
    -------
    xarray.DataArray
        Dims in fm2s's order (``t, pln, ch, row, col``), length-1 axes dropped except
        ``row``/``col``; calibration as coords, metadata in attrs (:mod:`fm2s.metadata`).

    Raises
    ------
    ValueError
        For an RGB hyperstack with more than one channel (not an ImageJ layout).
    """
    import xarray as xr

    width, height = int(imp.getWidth()), int(imp.getHeight())
    n_c, n_z, n_t = int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames())
    meta = imageplus_metadata(imp)
    if meta.rgb and n_c > 1:
        raise ValueError("RGB images with more than one channel are not supported")
    stack = imp.getStack()
    planes = [plane_to_numpy(stack.getPixels(i + 1), height, width, meta.rgb)
              for i in range(n_c * n_z * n_t)]
    # ImageJ's stack order is c fastest, then z, then t: (t, z, c, ...) in C order.
    data = np.stack(planes).reshape((n_t, n_z, n_c) + planes[0].shape)
    if meta.rgb:  # (t, z, 1, 3, row, col) -> (t, z, 3, row, col)
        data = data[:, :, 0]
    if cal_signed16(imp) and data.dtype == np.uint16:
        data = (data.astype(np.int32) - _SIGNED16_OFFSET).astype(np.int16)
    full = dict(zip(axes.DIMS, data.shape))
    keep = [d for d in axes.DIMS if d in ("row", "col") or full[d] > 1]
    data = data.reshape([full[d] for d in keep])
    sizes = {d: full[d] for d in keep}
    return xr.DataArray(data, dims=keep, coords=meta.coords(sizes), attrs=meta.to_attrs(),
                        name=meta.title)


def cal_signed16(imp: Any) -> bool:
    """True for a 16-bit image with ImageJ's "signed 16-bit" calibration (int16 data)."""
    return bool(imp.getCalibration().isSigned16Bit())


def _canonical(data: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Return ``data`` as a (t, pln, ch, row, col) numpy array plus the DataArray attrs."""
    import xarray as xr

    if not isinstance(data, xr.DataArray):
        arr = np.asarray(data)
        names = {2: ("row", "col"), 3: ("pln", "row", "col"), 4: ("t", "pln", "row", "col")}
        if arr.ndim not in names:
            raise ValueError(f"a numpy image must have 2 to 4 dimensions, got shape {arr.shape}")
        data = xr.DataArray(arr, dims=names[arr.ndim])
    try:
        data = axes.image_in_order(data)
    except ValueError as exc:
        raise ValueError(f"cannot map dims to ImageJ: {exc}") from None
    for dim in axes.DIMS:
        if dim not in data.dims:
            data = data.expand_dims(dim)
    return np.asarray(data.transpose(*axes.DIMS).values), dict(data.attrs)


def to_imageplus(
    data: Any,
    *,
    template: Any = None,
    title: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Any:
    """Build a NEW ImageJ 1.x ``ImagePlus`` from a DataArray (or numpy array).

    Parameters
    ----------
    data : xarray.DataArray or numpy.ndarray
        Dims of :mod:`fm2s.axes` (or their aliases); numpy arrays are read as ``(row, col)``,
        ``(pln, row, col)`` or ``(t, pln, row, col)``. dtypes uint8, uint16, int16 (stored as
        ImageJ's signed 16-bit), float32 (float64 is converted), or three uint8 channels with
        ``attrs["rgb"]`` (or an RGB template) for a colour image.
    template : ij.ImagePlus, optional
        Source of the metadata instead of ``data.attrs`` (calibration, LUTs, display ranges,
        composite mode, slice labels, info and properties).
    title : str, optional
        Window title; default the metadata's.
    provenance : mapping, optional
        ``fm2s_*`` entries for the Info block and the properties (default: those in the
        metadata).

    Returns
    -------
    ij.ImagePlus
    """
    imagej_plus = _jclass("ij.ImagePlus")
    arr, attrs = _canonical(data)
    meta = imageplus_metadata(template) if template is not None else ImageMetadata.from_attrs(attrs)
    if provenance is not None:
        meta.provenance = dict(provenance)
    n_t, n_z, n_c, height, width = arr.shape
    if meta.rgb:
        if n_c != 3 or arr.dtype != np.uint8:
            raise ValueError("an RGB image needs a 'ch' axis of 3 uint8 samples")
        arr = arr[:, :, None]  # (t, z, 1, 3, row, col)
        n_c = 1
    signed16 = arr.dtype == np.int16
    if signed16:
        arr = (arr.astype(np.int32) + _SIGNED16_OFFSET).astype(np.uint16)
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"ImageJ cannot hold {arr.dtype} pixels; use uint8, uint16 or float32")
    stack = _jclass("ij.ImageStack")(width, height)
    labels = meta.slice_labels or []
    for t in range(n_t):
        for z in range(n_z):
            for c in range(n_c):
                index = c + z * n_c + t * n_c * n_z
                label = labels[index] if index < len(labels) else None
                stack.addSlice(label, numpy_to_plane(arr[t, z, c]))
    out = imagej_plus(title or meta.title or "FM2S", stack)
    out.setDimensions(n_c, n_z, n_t)
    if n_c > 1 or n_t > 1:  # a z-only stack stays a plain stack, as in ImageJ
        out.setOpenAsHyperStack(True)
    _apply_calibration(out, meta.calibration, signed16=signed16,
                       invert_y=str(meta.imagej_metadata.get("inverty")).lower() == "true")
    if not signed16:
        _apply_value_calibration(out, meta.imagej_metadata)
    if n_c > 1:
        mode = COMPOSITE_MODES.index(meta.composite_mode or "composite") + 1
        out = _jclass("ij.CompositeImage")(out, mode)
    _apply_display(out, meta, n_c)
    _apply_info(out, meta)
    _apply_overlay(out, meta.imagej_metadata)
    return out


def _apply_calibration(imp: Any, calibration: Calibration, *, signed16: bool,
                       invert_y: bool = False) -> None:
    cal = _jclass("ij.measure.Calibration")()
    if calibration.x_spacing is not None or calibration.y_spacing is not None:
        # ImageJ holds both sizes: one known size stands for both (square pixels)
        cal.pixelWidth = calibration.x_spacing or calibration.y_spacing
        cal.pixelHeight = calibration.y_spacing or calibration.x_spacing
        cal.pixelDepth = calibration.z_spacing or 1.0
        cal.setUnit(calibration.unit)
        if calibration.y_unit:
            cal.setYUnit(calibration.y_unit)
        if calibration.z_unit:
            cal.setZUnit(calibration.z_unit)
    cal.xOrigin, cal.yOrigin = calibration.x_origin, calibration.y_origin
    cal.zOrigin = calibration.z_origin
    if calibration.finterval is not None:
        cal.frameInterval = calibration.finterval
    cal.setTimeUnit(calibration.time_unit)
    if signed16:
        cal.setSigned16BitCalibration()
    cal.setInvertY(invert_y)
    imp.setCalibration(cal)


def _apply_value_calibration(imp: Any, described: dict[str, Any]) -> None:
    """Set the value calibration that ``described`` (ImageJ's description keys) holds."""
    import jpype

    cal = imp.getCalibration()
    if "cf" in described and int(imp.getBitDepth()) != 32:
        coefficients = [float(described[f"c{i}"]) for i in range(5) if f"c{i}" in described]
        cal.setFunction(int(described["cf"]),
                        jpype.JArray(jpype.JDouble)(coefficients) if coefficients else None,
                        str(described.get("vunit", "Gray Value")),
                        str(described.get("zeroclip", "false")).lower() == "true")
    elif "vunit" in described:
        cal.setValueUnit(str(described["vunit"]))
    imp.setCalibration(cal)


def _apply_display(imp: Any, meta: ImageMetadata, n_c: int) -> None:
    import jpype

    ranges = meta.display_ranges or []
    lut_cls = _jclass("ij.process.LUT")
    if meta.luts is not None and len(meta.luts) == n_c and not meta.rgb:
        java_luts = []
        for i, table in enumerate(np.asarray(meta.luts, dtype=np.uint8)):
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
    if ranges and n_c == 1:
        imp.setDisplayRange(*ranges[0])


def _apply_info(imp: Any, meta: ImageMetadata) -> None:
    from ..metadata import info_with_provenance, properties_with_provenance

    props = properties_with_provenance(meta.properties, meta.provenance)
    props.pop("fm2s_json", None)  # exact values are for files; ImageJ users read the others
    for key, value in props.items():
        imp.setProp(key, value)
    info = info_with_provenance(meta.info, meta.provenance)
    if info:
        imp.setProperty("Info", info)
