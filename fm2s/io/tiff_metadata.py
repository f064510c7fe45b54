"""TIFF metadata in: the ImageJ description and properties, OME-XML and the resolution tags
made into the metadata model (:mod:`fm2s.metadata`), for :func:`fm2s.io.tiff.read_tiff`.

fm2s's exact calibration is kept in the ``fm2s_calibration`` property, since the resolution
tags are rationals and the description's unit is ASCII (``"µm"`` is written ``"um"``); it is
used where the tags agree with it (a file recalibrated in ImageJ afterwards keeps its tags).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..metadata import (
    CALIBRATION_FIELDS,
    COMPOSITE_MODES,
    Calibration,
    ImageMetadata,
    split_info,
    split_properties,
)
from .ome import ome_calibration, ome_channel_names

#: The ImageJ property holding fm2s's exact calibration (JSON), and what it holds.
CALIBRATION_PROPERTY = "fm2s_calibration"
EXACT_KEYS = ("x_spacing", "y_spacing", "z_spacing", "unit", "finterval")

#: ImageJ description keys that describe the layout (rebuilt on writing, not kept).
STRUCTURAL_KEYS = {
    "ImageJ", "images", "channels", "slices", "frames", "hyperstack", "axes", "shape",
    "IJMetadataByteCounts",
}
#: ImageJ description keys that the metadata model holds.
MODELLED_KEYS = {"unit", "yunit", "zunit", "spacing", "finterval", "fps", "tunit", "xorigin",
                 "yorigin", "zorigin", "Info", "Properties", "Labels", "Ranges", "LUTs", "mode"}


def imagej_unit(unit: str) -> str:
    """``unit`` in the ASCII that an ImageJ image description holds.

    ``"µm"`` becomes ``"um"`` and ``"Å"`` ``"A"`` (ImageJ shows both with their symbols again);
    other non-ASCII characters are escaped. The exact unit is kept in the
    ``fm2s_calibration`` property, which :func:`read_tiff` prefers.
    """
    ascii_unit = unit.replace("\u00b5", "u").replace("\u03bc", "u").replace("\u00c5", "A")
    return ascii_unit.encode("ascii", "backslashreplace").decode("ascii")


def metadata_from_imagej(ij: dict[str, Any], resolution: tuple[Any, Any, Any]) -> ImageMetadata:
    """The metadata of an ImageJ TIFF.

    Parameters
    ----------
    ij : dict
        tifffile's ``imagej_metadata`` (the description's keys, Info, properties, labels...).
    resolution : tuple
        The first page's :func:`page_resolution`.

    Returns
    -------
    ImageMetadata
        With fm2s's exact calibration where the tags agree with it, and fm2s's record of the
        run that made the file (``provenance``) if there is one.
    """
    meta = ImageMetadata()
    cal = meta.calibration
    xres, yres, _ = resolution
    if ij.get("unit") is not None:
        cal.unit = str(ij["unit"])
        cal.x_spacing = 1.0 / xres if xres else None
        cal.y_spacing = 1.0 / yres if yres else None
    cal.y_unit = _text_or_none(ij.get("yunit"))
    cal.z_unit = _text_or_none(ij.get("zunit"))
    if "spacing" in ij:
        cal.z_spacing = float(ij["spacing"])
    if ij.get("finterval") is not None:
        cal.finterval = float(ij["finterval"])
    elif ij.get("fps"):
        cal.finterval = 1.0 / float(ij["fps"])
    if ij.get("tunit"):
        cal.time_unit = str(ij["tunit"])
    for axis in "xyz":
        if ij.get(f"{axis}origin") is not None:
            setattr(cal, f"{axis}_origin", float(ij[f"{axis}origin"]))
    meta.info, info_prov = split_info(str(ij.get("Info") or ""))
    exact: dict[str, Any] = {}
    props = dict(ij.get("Properties") or {})
    if CALIBRATION_PROPERTY in props:
        try:
            exact = dict(json.loads(props.pop(CALIBRATION_PROPERTY)))
        except (ValueError, TypeError):
            exact = {}
    meta.properties, prop_prov = split_properties(props)
    meta.provenance = {**info_prov, **prop_prov}  # the exact JSON values win over the Info text
    if exact and _calibration_agrees(exact, cal):
        for key in EXACT_KEYS:
            if key in exact:
                setattr(cal, key, exact[key])
    if ij.get("Labels") is not None:
        meta.slice_labels = [None if s is None else str(s) for s in ij["Labels"]]
    if ij.get("Ranges") is not None:
        flat = [float(v) for v in ij["Ranges"]]
        meta.display_ranges = list(zip(flat[0::2], flat[1::2]))
    if ij.get("LUTs") is not None:
        meta.luts = np.stack([np.asarray(lut, np.uint8).reshape(3, 256) for lut in ij["LUTs"]])
    if str(ij.get("mode", "")).lower() in COMPOSITE_MODES:
        meta.composite_mode = str(ij["mode"]).lower()
    meta.imagej_metadata = {k: v for k, v in ij.items() if k not in STRUCTURAL_KEYS | MODELLED_KEYS}
    return meta


def metadata_from_plain(resolution: tuple[Any, Any, Any], ome: str | None,
                        shaped: dict[str, Any], series: int = 0) -> ImageMetadata:
    """The metadata of a TIFF that is not ImageJ's: resolution tags, OME-XML or fm2s's JSON.

    Parameters
    ----------
    resolution : tuple
        The first page's :func:`page_resolution`.
    ome : str or None
        The OME-XML document (its sizes win over the tags).
    shaped : dict
        tifffile's "shaped" JSON description (what fm2s writes for int16 and float64).
    series : int
        The image of the OME document.

    Returns
    -------
    ImageMetadata
    """
    meta = ImageMetadata()
    cal = meta.calibration
    xres, yres, res_unit = resolution
    scale = {2: 25400.0, 3: 10000.0}.get(res_unit)  # inch, centimetre -> micrometre
    if scale is not None and xres and yres:
        cal.unit, cal.x_spacing, cal.y_spacing = "um", scale / xres, scale / yres
    if ome:
        for key, value in ome_calibration(ome, series).items():  # OME's sizes win over tags
            setattr(cal, key, value)
        meta.channel_names = ome_channel_names(ome, series)
    if shaped:
        meta = ImageMetadata.from_attrs(dict(shaped.get("metadata") or {}))
        exact = dict(shaped.get(CALIBRATION_PROPERTY) or {})
        for key in CALIBRATION_FIELDS:
            if key in exact:
                setattr(cal, key, exact[key])
        meta.calibration = cal
        meta.provenance = {k: v for k, v in shaped.items()
                           if k.startswith("fm2s_") and k != CALIBRATION_PROPERTY}
    return meta


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def page_resolution(page: Any) -> tuple[float | None, float | None, int | None]:
    """A TIFF page's X and Y resolution (pixels per unit; None if absent) and resolution unit."""
    tags = page.tags
    try:
        xres = _rational(tags["XResolution"].value) if "XResolution" in tags else None
        yres = _rational(tags["YResolution"].value) if "YResolution" in tags else None
        unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    except (TypeError, ValueError, ZeroDivisionError):
        return None, None, None
    return xres, yres, unit


def _rational(value: Any) -> float | None:
    if isinstance(value, tuple):
        num, den = value
        return float(num) / float(den) if den and num else None
    return float(value) or None


#: The other in-plane size, which the resolution tags hold for one that is not known.
_OTHER_SIDE = {"x_spacing": "y_spacing", "y_spacing": "x_spacing"}


def _calibration_agrees(saved: Mapping[str, Any], found: Calibration) -> bool:
    """True if fm2s's exact calibration record matches what the file's tags say (rounding
    aside); False when the file was re-calibrated after fm2s wrote it."""
    if imagej_unit(str(saved.get("unit"))) != str(found.unit):
        return False  # (the tags hold the unit in ASCII: "um" for "µm")
    for key in ("x_spacing", "y_spacing", "z_spacing", "finterval"):
        a, b = saved.get(key), getattr(found, key)
        if a is None and key in _OTHER_SIDE:  # the tags hold both: written from the other one
            a = saved.get(_OTHER_SIDE[key])
        if a is None and b is None:
            continue
        if a is None or b is None or not np.isclose(float(a), float(b), rtol=1e-5, atol=0):
            return False
    return True
