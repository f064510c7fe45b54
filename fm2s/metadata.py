"""The one metadata model of fm2s: what an image carries besides its pixels.

Every reader fills an :class:`ImageMetadata` and every writer reads one: TIFF (ImageJ
hyperstacks, OME-TIFF, plain), PNG and ImageJ's ``ImagePlus`` (:mod:`fm2s.imagej.convert`). On a
DataArray it lives in ``attrs`` under the names of its fields (:meth:`ImageMetadata.to_attrs`,
:meth:`ImageMetadata.from_attrs`), and the coordinates of ``t``, ``pln``, ``row`` and ``col``
carry the calibration (``index * spacing``, with a ``units`` attribute).

Calibration (:class:`Calibration`)
    ``x_spacing``, ``y_spacing``, ``z_spacing`` (pixel width, height, z step, in ``unit``; None
    when uncalibrated), ``unit`` (``"pixel"`` when uncalibrated; ``y_unit``/``z_unit`` only
    where they differ, as ImageJ allows), ``x_origin``/``y_origin``/``z_origin`` (ImageJ's
    origin, in pixels), ``finterval`` (time between frames, in ``time_unit``, ``"s"`` unless a
    file says otherwise).
Display and channels
    ``rgb`` (the three channels are the red, green and blue of one colour image), ``luts`` (``(C, 3, 256)`` uint8), ``display_ranges`` (``[(min, max)]`` per channel),
    ``composite_mode`` (ImageJ's ``"composite"``, ``"color"`` or ``"grayscale"``),
    ``channel_names``.
Description
    ``title``, ``info`` (ImageJ's *Show Info* text, without fm2s's block), ``properties``
    (ImageJ image properties, without fm2s's), ``slice_labels`` (one per plane, ImageJ's
    C-Z-T order), ``imagej_metadata`` (other ImageJ keys a file held, written back as they were).
Source
    ``source_path``, ``source_format``, ``source_axes``.
Provenance
    ``fm2s_*`` keys: how fm2s made the image (:func:`fm2s.denoise_with_metadata`). In ImageJ's
    Info text they are one block (:func:`info_with_provenance`), in its properties one property
    each plus ``fm2s_json`` with the exact values (:func:`properties_with_provenance`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROVENANCE_PREFIX = "fm2s_"
INFO_BEGIN = "--- fm2s ---"
INFO_END = "--- end fm2s ---"
JSON_PROPERTY = "fm2s_json"
COMPOSITE_MODES: tuple[str, ...] = ("composite", "color", "grayscale")


@dataclass
class Calibration:
    """Physical size of pixels, planes and frames (see the module docstring)."""

    x_spacing: float | None = None
    y_spacing: float | None = None
    z_spacing: float | None = None
    unit: str = "pixel"
    y_unit: str | None = None
    z_unit: str | None = None
    x_origin: float = 0.0
    y_origin: float = 0.0
    z_origin: float = 0.0
    finterval: float | None = None
    time_unit: str = "s"

    def axes(self) -> dict[str, tuple[float | None, float, str]]:
        """Each calibrated dim's ``(spacing, origin in pixels, unit)``: ``col``, ``row`` and
        ``pln``, each in its own unit, and ``t``."""
        return {
            "col": (self.x_spacing, self.x_origin, self.unit),
            "row": (self.y_spacing, self.y_origin, self.y_unit or self.unit),
            "pln": (self.z_spacing, self.z_origin, self.z_unit or self.unit),
            "t": (self.finterval, 0.0, self.time_unit),
        }

    def coords(self, sizes: Mapping[str, int]) -> dict[str, Any]:
        """Coordinates of the dims in ``sizes``: ``(index - origin) * spacing`` with ``units``."""
        import xarray as xr

        spec = self.axes()
        coords: dict[str, Any] = {}
        for dim, n in sizes.items():
            if dim in spec:
                step, origin, unit = spec[dim]
                if step is None:
                    coords[dim] = xr.Variable(dim, np.arange(n),
                                              {"units": "frame" if dim == "t" else "pixel"})
                else:
                    coords[dim] = xr.Variable(dim, (np.arange(n) - origin) * float(step),
                                              {"units": unit})
            elif dim == "ch":
                coords[dim] = np.arange(n)
        return coords


#: The names of the calibration's fields (also their names in DataArray attrs).
CALIBRATION_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Calibration))


@dataclass
class ImageMetadata:
    """Everything fm2s keeps of an image besides its pixels (see the module docstring)."""

    calibration: Calibration = field(default_factory=Calibration)
    title: str | None = None
    info: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    slice_labels: list[str | None] | None = None
    channel_names: list[str] | None = None
    rgb: bool = False
    luts: np.ndarray | None = None
    display_ranges: list[tuple[float, float]] | None = None
    composite_mode: str | None = None
    imagej_metadata: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None
    source_format: str | None = None
    source_axes: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_attrs(self) -> dict[str, Any]:
        """The DataArray ``attrs`` holding this metadata (None/empty fields left out, except
        the calibration, which is always there)."""
        attrs: dict[str, Any] = dataclasses.asdict(self.calibration)
        for f in dataclasses.fields(self):
            if f.name in ("calibration", "provenance"):
                continue
            value = getattr(self, f.name)
            if value is not None and value is not False and not (
                    isinstance(value, (str, dict, list)) and not value):
                attrs[f.name] = value
        attrs.update(self.provenance)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> ImageMetadata:
        """Read the metadata back from DataArray ``attrs`` (unknown keys are ignored)."""
        cal = Calibration(**{k: attrs[k] for k in CALIBRATION_FIELDS if k in attrs})
        if cal.unit is None:
            cal.unit = "pixel"
        names = {f.name for f in dataclasses.fields(cls)} - {"calibration", "provenance"}
        values = {k: attrs[k] for k in names if k in attrs and attrs[k] is not None}
        meta = cls(calibration=cal, **values)
        if meta.luts is not None:
            meta.luts = np.asarray(meta.luts, np.uint8).reshape(-1, 3, 256)
        if meta.display_ranges is not None:
            meta.display_ranges = [(float(lo), float(hi)) for lo, hi in meta.display_ranges]
        meta.provenance = provenance_of(attrs)
        meta.properties = dict(meta.properties)
        meta.imagej_metadata = dict(meta.imagej_metadata)
        return meta

    def coords(self, sizes: Mapping[str, int]) -> dict[str, Any]:
        """Calibrated coordinates for dims of these sizes (see :meth:`Calibration.coords`)."""
        return self.calibration.coords(sizes)


def provenance_of(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The ``fm2s_*`` entries of ``mapping``, in order."""
    return {str(k): v for k, v in mapping.items() if str(k).startswith(PROVENANCE_PREFIX)}


def with_provenance(attrs: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` with its ``fm2s_*`` entries replaced by ``provenance`` (a new run's record).

    An image fm2s made before carries that run's record; the new result's record is this
    run's alone, not a mix of both (an N2D run must not show the earlier FM2S run's preset).
    """
    kept = {k: v for k, v in attrs.items() if not str(k).startswith(PROVENANCE_PREFIX)}
    return {**kept, **provenance}


def jsonable(value: Any) -> Any:
    """``value`` made JSON-serialisable (numpy scalars and arrays, tuples, nested mappings)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def value_text(value: Any) -> str:
    """How a provenance value is written in ImageJ's Info and properties (JSON, strings bare)."""
    return value if isinstance(value, str) else json.dumps(jsonable(value))


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def info_with_provenance(info: str, provenance: Mapping[str, Any]) -> str:
    """ImageJ Info text: ``info`` followed by fm2s's block of ``key = value`` lines."""
    if not provenance:
        return info
    block = "\n".join([INFO_BEGIN, *(f"{k} = {value_text(v)}" for k, v in provenance.items()),
                       INFO_END])
    return f"{info.rstrip(chr(10))}\n{block}\n" if info else f"{block}\n"


def split_info(text: str) -> tuple[str, dict[str, Any]]:
    """Split ImageJ Info text into (the other text, the fm2s provenance of its block)."""
    meta: dict[str, Any] = {}
    start = text.find(INFO_BEGIN)
    if start < 0:
        return text, meta
    end = text.find(INFO_END, start)
    end = len(text) if end < 0 else end + len(INFO_END)
    for line in text[start:end].splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key.strip().startswith(PROVENANCE_PREFIX):
            meta[key.strip()] = _parse_value(value.strip())
    return (text[:start] + text[end:]).strip("\n"), meta


def properties_with_provenance(
    properties: Mapping[str, Any], provenance: Mapping[str, Any]
) -> dict[str, str]:
    """ImageJ properties: ``properties``, one per fm2s key, and ``fm2s_json`` (exact values)."""
    props = {str(k): str(v) for k, v in properties.items()}
    props.update({k: value_text(v) for k, v in provenance.items()})
    if provenance:
        props[JSON_PROPERTY] = json.dumps(jsonable(dict(provenance)))
    return props


def split_properties(properties: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Split ImageJ properties into (the others, the fm2s provenance; ``fm2s_json`` wins)."""
    other: dict[str, str] = {}
    meta: dict[str, Any] = {}
    for key, value in properties.items():
        key = str(key)
        if key.startswith(PROVENANCE_PREFIX):
            if key != JSON_PROPERTY:
                meta.setdefault(key, _parse_value(str(value)))
        else:
            other[key] = str(value)
    if JSON_PROPERTY in properties:
        with contextlib.suppress(ValueError, TypeError):
            meta.update(json.loads(properties[JSON_PROPERTY]))
    return other, meta
