"""TIFF files (fm2s.io.tiff): ImageJ hyperstacks, OME-TIFF and plain TIFF read and written with their pixels, axes, calibration and metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import xarray as xr

from fm2s import io

FM2S_META = {
    "fm2s_version": "0.1.0",
    "fm2s_preset": "confocal",
    "fm2s_noise_level": "avg1",
    "fm2s_seed": 7,
    "fm2s_k_g": 200.0,
    "fm2s_n_chan": 2,
    "fm2s_intensity_range": [[0.0, 4095.0], [3.0, 250.0]],
}



def _hyperstack(dtype: str, shape=(2, 3, 2, 16, 20)) -> xr.DataArray:
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        data = (rng.normal(0, 1, shape) * 100).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    da = io.to_dataarray(
        data, ("t", "pln", "ch", "row", "col"), x_spacing=0.1, y_spacing=0.3,
        z_spacing=1.7, unit="um", finterval=0.35,
    )
    da.attrs.update(
        display_ranges=[(0.0, 10.0), (0.0, 20.0)],
        info="acquired on scope 3\nobjective 63x",
        properties={"operator": "A. N. Other"},
    )
    return da



def _assert_same_image(read: xr.DataArray, original: xr.DataArray) -> None:
    assert read.dims == original.dims
    assert read.dtype == original.dtype
    np.testing.assert_array_equal(read.values, original.values)
    for key in ("x_spacing", "y_spacing", "z_spacing", "unit", "finterval"):
        assert read.attrs[key] == original.attrs[key], key
    np.testing.assert_allclose(read["col"].values, np.arange(20) * 0.1)
    np.testing.assert_allclose(read["pln"].values, np.arange(3) * 1.7)
    np.testing.assert_allclose(read["t"].values, np.arange(2) * 0.35)
    assert read["row"].attrs["units"] == "um"



@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_imagej_hyperstack_round_trip(tmp_path, dtype):
    da = _hyperstack(dtype)
    path = tmp_path / f"stack_{dtype}.tif"
    io.write_tiff(path, da, FM2S_META)

    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.series[0].axes == "TZCYX"
        ij = tif.imagej_metadata
        assert ij["unit"] == "um" and ij["spacing"] == 1.7 and ij["finterval"] == 0.35
        assert ij["Ranges"] == (0.0, 10.0, 0.0, 20.0)
        # the fm2s parameters are visible to ImageJ users (Info) and macros (Properties)
        assert "acquired on scope 3" in ij["Info"]
        assert "fm2s_preset = confocal" in ij["Info"]
        assert "fm2s_k_g = 200.0" in ij["Info"]
        props = ij["Properties"]
        assert props["fm2s_preset"] == "confocal" and props["operator"] == "A. N. Other"
        assert json.loads(props["fm2s_json"]) == FM2S_META
        xres = tif.pages[0].tags["XResolution"].value
        assert xres[0] / xres[1] == pytest.approx(10.0)

    read = io.read_tiff(path)
    _assert_same_image(read, da)
    assert read.attrs["source_format"] == "imagej-tiff"
    assert read.attrs["source_axes"] == "TZCYX"
    assert {k: v for k, v in read.attrs.items() if k.startswith("fm2s_")} == FM2S_META
    assert read.attrs["info"] == "acquired on scope 3\nobjective 63x"  # fm2s block split off
    assert read.attrs["properties"] == {"operator": "A. N. Other"}
    assert read.attrs["display_ranges"] == [(0.0, 10.0), (0.0, 20.0)]

    # read -> write -> read keeps everything and does not duplicate the fm2s block
    again = tmp_path / f"again_{dtype}.tif"
    io.write_tiff(again, read)
    read2 = io.read_tiff(again)
    _assert_same_image(read2, da)
    assert {k: v for k, v in read2.attrs.items() if k.startswith("fm2s_")} == FM2S_META
    assert read2.attrs["info"] == read.attrs["info"]
    with tifffile.TiffFile(again) as tif:
        assert tif.imagej_metadata["Info"].count("fm2s_preset") == 1



@pytest.mark.parametrize("dtype", ["int16", "float64"])
def test_plain_tiff_keeps_types_imagej_cannot_hold(tmp_path, dtype):
    da = _hyperstack(dtype)
    path = tmp_path / f"stack_{dtype}.tif"
    io.write_tiff(path, da, FM2S_META)
    with tifffile.TiffFile(path) as tif:
        assert not tif.is_imagej
        assert tif.series[0].dtype == np.dtype(dtype)
        description = json.loads(tif.pages[0].description)
        assert description["fm2s_preset"] == "confocal"
        assert description["axes"] == "TZCYX"
    read = io.read_tiff(path)
    _assert_same_image(read, da)
    assert read.attrs["source_format"] == "tiff"
    assert {k: v for k, v in read.attrs.items() if k.startswith("fm2s_")} == FM2S_META
    assert read.attrs["info"] == "acquired on scope 3\nobjective 63x"
    again = tmp_path / "again.tif"
    io.write_tiff(again, read)
    _assert_same_image(io.read_tiff(again), da)



def test_subset_of_axes_and_dim_order(tmp_path):
    # a DataArray in a non-ImageJ order is written in ImageJ order (CYX here)
    data = np.arange(2 * 24 * 20, dtype=np.uint16).reshape(24, 20, 2)
    da = xr.DataArray(data, dims=("y", "x", "c"))
    path = tmp_path / "cyx.tif"
    io.write_tiff(path, da)
    read = io.read_tiff(path)
    assert read.dims == ("ch", "row", "col")
    np.testing.assert_array_equal(read.values, np.moveaxis(data, -1, 0))
    assert read.attrs["unit"] == "pixel" and read.attrs["x_spacing"] is None



def test_numpy_array_defaults_to_zyx(tmp_path):
    data = np.arange(3 * 16 * 16, dtype=np.float32).reshape(3, 16, 16)
    io.write_tiff(tmp_path / "z.tif", data)
    read = io.read_tiff(tmp_path / "z.tif")
    assert read.dims == ("pln", "row", "col")
    np.testing.assert_array_equal(read.values, data)



def test_reads_imagej_file_written_elsewhere(tmp_path):
    # as Fiji writes it: unit 'micron', resolution in pixels per unit, z spacing
    data = np.arange(4 * 32 * 32, dtype=np.uint16).reshape(4, 32, 32)
    path = tmp_path / "fiji.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"axes": "ZYX", "unit": "micron", "spacing": 0.2})
    read = io.read_image(path)
    assert read.dims == ("pln", "row", "col")
    assert read.attrs["unit"] == "micron"
    assert read.attrs["x_spacing"] == pytest.approx(0.065, rel=1e-6)
    assert read.attrs["z_spacing"] == 0.2
    assert read.attrs["finterval"] is None
    np.testing.assert_array_equal(read.values, data)



def _ome_stack(path, **sizes):
    data = np.arange(3 * 2 * 16 * 16, dtype=np.uint16).reshape(3, 2, 16, 16)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TZYX", **sizes})
    return data



def test_ome_tiff_calibration_is_read_and_kept_when_written(tmp_path):
    data = _ome_stack(tmp_path / "a.ome.tif", PhysicalSizeX=0.2, PhysicalSizeXUnit="µm",
                      PhysicalSizeY=0.25, PhysicalSizeZ=1500, PhysicalSizeZUnit="nm",
                      TimeIncrement=2.0, TimeIncrementUnit="ms")
    read = io.read_image(tmp_path / "a.ome.tif")
    assert read.dims == ("t", "pln", "row", "col")
    assert read.attrs["source_format"] == "ome-tiff"
    assert read.attrs["unit"] == "µm"
    assert read.attrs["x_spacing"] == pytest.approx(0.2)
    assert read.attrs["y_spacing"] == pytest.approx(0.25)
    assert read.attrs["z_spacing"] == pytest.approx(1.5)  # 1500 nm in the pixel width's unit
    assert read.attrs["finterval"] == pytest.approx(0.002)  # seconds
    assert read.coords["pln"].attrs["units"] == "µm"

    out = io.write_tiff(tmp_path / "b.tif", read)
    with tifffile.TiffFile(out) as tif:
        assert tif.imagej_metadata["unit"] == "um"  # ImageJ's description is ASCII
    back = io.read_tiff(out)
    for key in ("x_spacing", "y_spacing", "z_spacing", "finterval", "unit"):
        assert back.attrs[key] == read.attrs[key], key
    np.testing.assert_array_equal(back.values, data)



def test_ome_tiff_without_units_is_in_micrometres(tmp_path):
    _ome_stack(tmp_path / "a.ome.tif", PhysicalSizeX=0.5, PhysicalSizeY=0.5)
    read = io.read_image(tmp_path / "a.ome.tif")
    assert (read.attrs["unit"], read.attrs["x_spacing"], read.attrs["z_spacing"]) == ("µm", 0.5, None)
    assert read.attrs["finterval"] is None



def test_a_pixel_width_without_a_height_is_kept(tmp_path):
    # the width alone left the resolution tags at 1 per micrometre, which won over the record
    _ome_stack(tmp_path / "a.ome.tif", PhysicalSizeX=0.2)
    read = io.read_image(tmp_path / "a.ome.tif")
    assert (read.attrs["x_spacing"], read.attrs["y_spacing"]) == (pytest.approx(0.2), None)
    out = io.write_tiff(tmp_path / "b.tif", read)
    back = io.read_tiff(out)
    assert (back.attrs["x_spacing"], back.attrs["y_spacing"]) == (read.attrs["x_spacing"], None)
    with tifffile.TiffFile(out) as tif:  # what ImageJ reads: square pixels of the known width
        x_res, y_res = (tif.pages[0].tags[name].value for name in ("XResolution", "YResolution"))
    assert x_res[0] / x_res[1] == pytest.approx(5.0) and y_res == x_res
    # set again in ImageJ after fm2s wrote it: the tags win over the record
    recal = tmp_path / "recal.tif"
    with tifffile.TiffFile(out) as tif:
        ij = dict(tif.imagej_metadata)
    tifffile.imwrite(recal, back.values, imagej=True, resolution=(5.0, 2.0),
                     metadata={"unit": "um", "Properties": ij["Properties"]})
    assert io.read_tiff(recal).attrs["y_spacing"] == pytest.approx(0.5)


def test_non_ascii_unit_is_written_so_imagej_reads_it(tmp_path):
    da = io.to_dataarray(np.zeros((8, 8), np.uint16), ("row", "col"), x_spacing=0.1,
                         y_spacing=0.1, unit="µm")
    out = io.write_tiff(tmp_path / "u.tif", da)
    with tifffile.TiffFile(out) as tif:
        assert tif.imagej_metadata["unit"] == "um"
    assert io.read_tiff(out).attrs["unit"] == "µm"



def test_recalibrated_file_trusts_the_tags_over_stale_fm2s_record(tmp_path):
    stale = json.dumps({"x_spacing": 5.0, "y_spacing": 5.0, "z_spacing": None,
                        "unit": "um", "finterval": None})
    path = tmp_path / "recal.tif"
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8), imagej=True, resolution=(4.0, 4.0),
                     metadata={"unit": "um", "Properties": {"fm2s_calibration": stale}})
    read = io.read_tiff(path)
    assert read.attrs["x_spacing"] == 0.25 and read.attrs["y_spacing"] == 0.25



def test_plain_tiff_axes_become_dims(tmp_path):
    stack = np.arange(5 * 16 * 16, dtype=np.uint16).reshape(5, 16, 16)
    tifffile.imwrite(tmp_path / "q.tif", stack)  # tifffile's own (shaped) axes: QYX
    read = io.read_tiff(tmp_path / "q.tif")
    assert read.dims == ("pln", "row", "col")
    np.testing.assert_array_equal(read.values, stack)

    four = np.arange(2 * 3 * 16 * 16, dtype=np.uint8).reshape(2, 3, 16, 16)
    tifffile.imwrite(tmp_path / "qq.tif", four, photometric="minisblack")  # axes QQYX
    read = io.read_tiff(tmp_path / "qq.tif")
    assert read.attrs["source_axes"] == "QQYX"
    assert read.dims == ("t", "pln", "row", "col")  # two unnamed axes: (t, z) in file order
    np.testing.assert_array_equal(read.values, four)

    tifffile.imwrite(tmp_path / "pages.tif", four, shaped=False, photometric="minisblack")
    read = io.read_tiff(tmp_path / "pages.tif")  # a plain multi-page TIFF: axes IYX
    assert read.dims == ("pln", "row", "col")
    np.testing.assert_array_equal(read.values, four.reshape(6, 16, 16))

    rgb = np.random.default_rng(0).integers(0, 255, (16, 20, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb",
                     resolution=(10000.0, 10000.0), resolutionunit="CENTIMETER")
    read = io.read_tiff(tmp_path / "rgb.tif")
    assert read.dims == ("ch", "row", "col")
    np.testing.assert_array_equal(read.values, np.moveaxis(rgb, -1, 0))
    assert read.attrs["unit"] == "um" and read.attrs["x_spacing"] == pytest.approx(1.0)



def test_write_rejects_unknown_dims_and_types(tmp_path):
    with pytest.raises(ValueError, match="cannot place the dim 'wavelength'"):
        io.write_tiff(tmp_path / "a.tif",
                      xr.DataArray(np.zeros((2, 16, 16), np.uint8),
                                   dims=("wavelength", "row", "col")))
    with pytest.raises(ValueError, match="cannot write pixel type int32"):
        io.write_tiff(tmp_path / "b.tif", np.zeros((16, 16), np.int32))
    assert list(tmp_path.iterdir()) == []



def test_a_pyramid_is_read_lazily_at_full_resolution(tmp_path):
    # tifffile's zarr view of a pyramid is a group of levels: reading it failed
    base = np.random.default_rng(0).poisson(100, (64, 64)).astype(np.uint16)
    with tifffile.TiffWriter(tmp_path / "pyr.ome.tif", ome=True) as tif:
        tif.write(base, subifds=1, metadata={"axes": "YX"})
        tif.write(base[::2, ::2], subfiletype=1)
    lazy = io.read_tiff(tmp_path / "pyr.ome.tif", lazy=True)
    assert lazy.shape == (64, 64)
    np.testing.assert_array_equal(lazy.values, base)


def test_imagej_selection_and_overlay_are_written_back(tmp_path):
    roi = b"Iout\x00\xe4\x07\x00" + bytes(56)  # an ImageJ .roi header and an empty body
    overlay = [roi, roi[:8] + bytes([1]) + roi[9:]]
    tifffile.imwrite(tmp_path / "roi.tif", np.zeros((32, 32), np.uint16), imagej=True,
                     metadata={"ROI": roi, "Overlays": overlay})
    out = io.write_tiff(tmp_path / "out.tif", io.read_image(tmp_path / "roi.tif"))
    with tifffile.TiffFile(out) as tif:
        written = tif.imagej_metadata
    assert written["ROI"] == roi and list(written["Overlays"]) == overlay


@pytest.mark.parametrize("planar", [False, True])
def test_alpha_samples_are_dropped(tmp_path, planar):
    # alpha was read as a fourth channel and denoised as an intensity
    rgba = np.random.default_rng(0).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    stored = np.moveaxis(rgba, -1, 0) if planar else rgba
    tifffile.imwrite(tmp_path / "rgba.tif", stored, photometric="rgb", extrasamples=["unassalpha"],
                     planarconfig="separate" if planar else "contig")
    for lazy in (False, True):
        read = io.read_tiff(tmp_path / "rgba.tif", lazy=lazy)
        assert read.dims == ("ch", "row", "col") and read.attrs["rgb"] is True
        np.testing.assert_array_equal(read.values, np.moveaxis(rgba[..., :3], -1, 0))
    tifffile.imwrite(tmp_path / "la.tif", rgba[..., :2], photometric="minisblack",
                     extrasamples=["assocalpha"])
    grey = io.read_tiff(tmp_path / "la.tif")
    assert grey.dims == ("row", "col")
    np.testing.assert_array_equal(grey.values, rgba[..., 0])


def test_a_truncated_imagej_stack_is_refused_not_read_as_one_plane(tmp_path):
    # tifffile warned and gave the first plane: 4 of 5 planes were lost with exit code 0
    stack = np.random.default_rng(0).poisson(50, (5, 40, 40)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack, imagej=True)
    whole = (tmp_path / "stack.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[:int(len(whole) * 0.6)])
    for lazy in (False, True):
        with pytest.raises(ValueError, match="header says 5 planes, but only 1 can be read"):
            io.read_tiff(tmp_path / "cut.tif", lazy=lazy)
    assert io.read_tiff(tmp_path / "stack.tif").shape == (5, 40, 40)
