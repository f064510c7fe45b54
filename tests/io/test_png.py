"""PNG files (fm2s.io.png): 8- and 16-bit grey and colour in, pixels and resolution kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fm2s import io


def test_png_8_and_16_bit(tmp_path):
    rng = np.random.default_rng(1)
    g8 = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    Image.fromarray(g8).save(tmp_path / "g8.png", dpi=(25400 / 0.5, 25400 / 0.5))
    read = io.read_image(tmp_path / "g8.png")
    assert read.dims == ("row", "col") and read.dtype == np.uint8
    np.testing.assert_array_equal(read.values, g8)
    assert read.attrs["source_format"] == "png"
    assert read.attrs["unit"] == "um" and read.attrs["x_spacing"] == pytest.approx(0.5, rel=1e-2)

    g16 = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    io.write_png(tmp_path / "g16.png", g16)
    read = io.read_image(tmp_path / "g16.png")
    assert read.dtype == np.uint16
    np.testing.assert_array_equal(read.values, g16)
    assert read.attrs["unit"] == "pixel"

    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    read = io.read_image(tmp_path / "rgba.png")
    assert read.dims == ("ch", "row", "col") and read.sizes["ch"] == 3  # alpha dropped
    np.testing.assert_array_equal(read.values, np.moveaxis(rgba[..., :3], -1, 0))



def test_png_round_trip_to_tiff_keeps_dtype(tmp_path):
    g16 = np.arange(24 * 24, dtype=np.uint16).reshape(24, 24) * 50
    io.write_png(tmp_path / "in.png", g16)
    io.write_tiff(tmp_path / "out.tif", io.read_image(tmp_path / "in.png"))
    back = io.read_image(tmp_path / "out.tif")
    assert back.dtype == np.uint16 and back.dims == ("row", "col")
    np.testing.assert_array_equal(back.values, g16)

