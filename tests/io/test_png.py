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



def _png_16_bit(path, pixels, colour_type):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("colour_type", "samples", "name"),
                         [(2, 3, "RGB"), (6, 4, "RGBA"), (4, 2, "grey \\+ alpha")])
def test_16_bit_colour_png_is_refused_not_read_as_8_bit(tmp_path, colour_type, samples, name):
    # Pillow opens these in 8-bit modes (the high byte of each sample): 1235..1376 became 4..5
    pixels = (np.random.default_rng(0).poisson(300, (8, 8, samples)) + 1000).astype(np.uint16)
    _png_16_bit(tmp_path / "c16.png", pixels.reshape(8, -1), colour_type)
    with pytest.raises(ValueError, match=f"16-bit {name} PNG.*16-bit TIFF"):
        io.read_image(tmp_path / "c16.png")


def test_16_bit_grey_png_written_by_hand_reads_exactly(tmp_path):
    pixels = (np.random.default_rng(0).poisson(300, (8, 8)) + 1000).astype(np.uint16)
    _png_16_bit(tmp_path / "g16.png", pixels, 0)
    np.testing.assert_array_equal(io.read_image(tmp_path / "g16.png").values, pixels)
