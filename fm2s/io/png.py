"""PNG files: 8-bit grey and colour and 16-bit grey images in, grey or RGB out (through Pillow).

16-bit colour PNGs are refused with a message: Pillow reads them as 8 bits a sample.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..metadata import Calibration, ImageMetadata
from .files import atomic_write


def read_png(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read an 8-bit (grey or colour) or 16-bit grey PNG into a DataArray.

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
        For a PNG mode fm2s cannot represent, and for 16-bit colour (or grey with alpha)
        PNGs, which Pillow would read as 8 bits a sample; the message says how to convert.
    """
    from PIL import Image

    path = Path(path)
    _refuse_16_bit_colour(path)
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
    meta = ImageMetadata(Calibration(x_spacing=spacing, y_spacing=y_spacing, unit=unit),
                         source_path=str(path), source_format="png", source_axes=mode,
                         rgb=arr.ndim == 3 and arr.shape[0] == 3)
    arr = np.ascontiguousarray(arr)
    return xr.DataArray(arr, dims=dim_names, coords=meta.coords(dict(zip(dim_names, arr.shape))),
                        attrs=meta.to_attrs())


#: PNG colour types with more than one sample a pixel: grey + alpha, RGB, RGBA.
_MULTI_SAMPLE = {4: "grey + alpha", 2: "RGB", 6: "RGBA"}


def _refuse_16_bit_colour(path: Path) -> None:
    """Raise for a 16-bit PNG with more than one sample a pixel (its IHDR chunk says so).

    Pillow reads such files in its 8-bit modes, keeping each sample's high byte: the image would
    be denoised (and written) with 8 of its 16 bits, without an error.
    """
    with open(path, "rb") as f:
        head = f.read(26)
    # signature (8 bytes), IHDR length and type (8), width and height (8), depth, colour type
    if len(head) < 26 or head[12:16] != b"IHDR":
        return  # not a PNG Pillow would open either: Pillow's own error follows
    depth, colour = head[24], head[25]
    if depth == 16 and colour in _MULTI_SAMPLE:
        raise ValueError(
            f"{path.name} is a 16-bit {_MULTI_SAMPLE[colour]} PNG, which fm2s can only read as "
            "8 bits a sample (Pillow keeps the high byte); save it as a 16-bit TIFF and give "
            "that file (e.g. in Fiji: File > Save As > Tiff...)")


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
