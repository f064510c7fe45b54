"""Calibration from OME-XML (the metadata of OME-TIFF files): pixel size, z step, frame interval.

OME stores each size with its own unit (``PhysicalSizeX="0.2" PhysicalSizeXUnit="µm"``,
micrometres when the unit is not given; ``TimeIncrement`` in seconds when not given). fm2s keeps
one length unit per image, as ImageJ does, so the z step is converted to the unit of the pixel
width, and the frame interval to seconds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

#: Length units in metres (the OME UnitsLength names fm2s understands).
_METRES = {
    "km": 1e3, "m": 1.0, "dm": 1e-1, "cm": 1e-2, "mm": 1e-3, "µm": 1e-6, "um": 1e-6,
    "nm": 1e-9, "pm": 1e-12, "Å": 1e-10, "in": 0.0254, "ft": 0.3048,
}
#: Time units in seconds (OME UnitsTime).
_SECONDS = {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def _pixels(xml: str, image: int) -> Any:
    """The ``Pixels`` element of image ``image`` of an OME-XML document (None if absent)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    found = [el for el in root.iter() if _local(el.tag) == "Pixels"]
    return found[image] if image < len(found) else None


def ome_channel_names(xml: str, image: int = 0) -> list[str] | None:
    """The channel names of image ``image`` of an OME-XML document (None if it names none)."""
    pixels = _pixels(xml, image)
    if pixels is None:
        return None
    names = [el.attrib.get("Name", "") for el in pixels if _local(el.tag) == "Channel"]
    return names if any(names) else None


def ome_calibration(xml: str, image: int = 0) -> dict[str, Any]:
    """Return the calibration of image ``image`` (the first by default) in an OME-XML document.

    Parameters
    ----------
    xml : str
        The OME-XML text (``tifffile.TiffFile.ome_metadata``).
    image : int
        Which image (series) of the document.

    Returns
    -------
    dict
        Only the keys the document sets: ``x_spacing``, ``y_spacing``, ``z_spacing`` (in
        ``unit``), ``unit`` (the pixel width's unit as OME spells it, e.g. ``"µm"``) and
        ``finterval`` (seconds). No sizes when they are not positive numbers or the first
        one's unit is unknown (the frame interval is still read); empty for a document
        without a ``Pixels`` element or that cannot be parsed.
    """
    pixels = _pixels(xml, image)
    if pixels is None:
        return {}
    attrs = pixels.attrib
    units = {axis: attrs.get(f"PhysicalSize{axis}Unit", "µm") for axis in "XYZ"}
    sizes = {axis: _positive(attrs.get(f"PhysicalSize{axis}")) for axis in "XYZ"}
    given = [axis for axis in "XYZ" if sizes[axis] is not None]
    out: dict[str, Any] = {}
    # Every size in the unit of the first one given (the pixel width's, as a rule). When that
    # unit is one fm2s does not know, no sizes at all rather than wrong ones.
    if given and units[given[0]] in _METRES:
        unit = out["unit"] = units[given[0]]
        for axis in given:
            if units[axis] in _METRES:
                out[f"{axis.lower()}_spacing"] = sizes[axis] * _METRES[units[axis]] / _METRES[unit]
    step = _positive(attrs.get("TimeIncrement"))
    seconds = _SECONDS.get(attrs.get("TimeIncrementUnit", "s"))
    if step is not None and seconds is not None:
        out["finterval"] = step * seconds
    return out


def _local(tag: str) -> str:
    """Element name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def _positive(text: str | None) -> float | None:
    """``text`` as a number if it is a positive one, else None."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None
