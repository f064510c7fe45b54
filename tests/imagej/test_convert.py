"""ImagePlus <-> DataArray (fm2s.imagej.convert) against the real ImageJ 1.x jar in this process
(headless JVM, no mocks): every pixel type, hyperstacks, calibration, LUTs, title, info and
properties, both ways, through fm2s's one axis vocabulary and metadata model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.imagej.fixtures import requires_imagej

pytestmark = [pytest.mark.imagej, requires_imagej]


_JAVA_TYPES = {np.uint8: ("JByte", np.int8), np.uint16: ("JShort", np.int16),
               np.float32: ("JFloat", np.float32)}


def make_imageplus(ij, data: np.ndarray, c: int, z: int, t: int, title: str = "src"):
    """Build an ImagePlus with ImageJ's own API from (t, z, c, row, col) data (czt order)."""
    jpype = ij.jpype_
    height, width = data.shape[-2:]
    stack = ij.ImageStack(width, height)
    jtype, view = _JAVA_TYPES[data.dtype.type]
    for ti in range(t):
        for zi in range(z):
            for ci in range(c):
                plane = np.ascontiguousarray(data[ti, zi, ci]).ravel().view(view)
                stack.addSlice(f"c{ci}z{zi}t{ti}", jpype.JArray(getattr(jpype, jtype))(plane))
    imp = ij.ImagePlus(title, stack)
    imp.setDimensions(c, z, t)
    if c * z * t > 1:
        imp.setOpenAsHyperStack(True)
    cal = imp.getCalibration()
    cal.pixelWidth, cal.pixelHeight, cal.pixelDepth = 0.25, 0.5, 2.0
    cal.xOrigin, cal.yOrigin = 3.0, 1.0
    cal.setUnit("micron")
    cal.frameInterval = 1.5
    cal.setTimeUnit("s")
    imp.setProperty("Info", "Acquired: test\n")
    imp.setProp("Objective", "63x")
    return imp


def _random(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.normal(100, 30, shape).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_hyperstack_round_trip(ij, dtype):
    from fm2s.imagej.convert import from_imageplus, to_imageplus

    c, z, t, h, w = 2, 3, 2, 12, 10
    data = _random(dtype, (t, z, c, h, w))
    imp = make_imageplus(ij, data, c, z, t, title="hyper")
    imp = ij.CompositeImage(imp, ij.IJ.COMPOSITE)
    red = ij.LUT.createLutFromColor(ij.jpype_.JClass("java.awt.Color").RED)
    red.min, red.max = 5.0, 90.0
    imp.setChannelLut(red, 1)

    da = from_imageplus(imp)
    assert da.dims == ("t", "pln", "ch", "row", "col")  # fm2s's one axis order (TZCYX)
    assert da.shape == (t, z, c, h, w)
    assert da.dtype == dtype
    np.testing.assert_array_equal(da.values, data)
    # an independent read through ImageJ: stack index = c + z*C + t*C*Z (1-based)
    ip = imp.getStack().getProcessor(1 + 1 + 2 * c + 1 * c * z)
    assert float(ip.getPixelValue(4, 7)) == pytest.approx(float(da.values[1, 2, 1, 7, 4]))
    np.testing.assert_allclose(da.coords["col"].values[:2], [-3 * 0.25, -2 * 0.25])
    np.testing.assert_allclose(da.coords["row"].values[:2], [-0.5, 0.0])
    np.testing.assert_allclose(da.coords["pln"].values, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(da.coords["t"].values, [0.0, 1.5])
    assert da.coords["col"].attrs["units"] == "micron" and da.coords["t"].attrs["units"] == "s"
    assert (da.attrs["unit"], da.attrs["x_spacing"], da.attrs["finterval"]) == ("micron", 0.25, 1.5)
    assert da.attrs["title"] == "hyper" and da.attrs["info"] == "Acquired: test\n"
    assert da.attrs["properties"] == {"Objective": "63x"}
    assert da.attrs["luts"].shape == (2, 3, 256)
    assert da.attrs["luts"][0, 0, 255] == 255 and da.attrs["luts"][0, 1, 255] == 0  # red
    assert da.attrs["display_ranges"][0] == (5.0, 90.0)
    assert da.attrs["slice_labels"][0] == "c0z0t0"
    assert da.attrs["composite_mode"] == "composite"

    for template in (None, imp):  # from attrs alone, and from the source image
        back = to_imageplus(da, template=template, provenance={"fm2s_preset": "confocal"})
        assert back is not imp
        assert (back.getNChannels(), back.getNSlices(), back.getNFrames()) == (c, z, t)
        assert back.getBitDepth() == imp.getBitDepth()
        assert back.isComposite() and back.getMode() == ij.IJ.COMPOSITE
        assert str(back.getTitle()) == "hyper"
        cal = back.getCalibration()
        assert (cal.pixelWidth, cal.pixelHeight, cal.pixelDepth) == (0.25, 0.5, 2.0)
        assert (cal.xOrigin, cal.yOrigin, cal.frameInterval) == (3.0, 1.0, 1.5)
        assert str(cal.getUnit()) == "micron" and str(cal.getTimeUnit()) == "s"
        luts = back.getLuts()
        assert list(np.array(memoryview(luts[0].getBytes()))) == list(
            np.array(memoryview(imp.getLuts()[0].getBytes()))
        )
        assert (luts[0].min, luts[0].max) == (5.0, 90.0)
        assert str(back.getProp("Objective")) == "63x"
        assert str(back.getProp("fm2s_preset")) == "confocal"
        assert str(back.getInfoProperty()) == (
            "Acquired: test\n--- fm2s ---\nfm2s_preset = confocal\n--- end fm2s ---\n")
        assert str(back.getStack().getSliceLabel(2)) == "c1z0t0"
        again = from_imageplus(back)
        np.testing.assert_array_equal(again.values, da.values)


@pytest.mark.parametrize("planes", [1, 3])
def test_rgb_round_trip(ij, planes):
    from fm2s.imagej.convert import from_imageplus, to_imageplus

    imp = ij.IJ.createImage("rgb", "RGB random", 9, 7, planes)
    da = from_imageplus(imp)
    expected_dims = ("ch", "row", "col") if planes == 1 else ("pln", "ch", "row", "col")
    assert da.dims == expected_dims and da.dtype == np.uint8 and da.sizes["ch"] == 3
    assert da.attrs["rgb"] is True
    rgb = int(imp.getStack().getProcessor(planes).getPixel(2, 5))
    assert tuple(da.values[..., :, 5, 2].reshape(-1, 3)[-1]) == (
        (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255
    )
    back = to_imageplus(da)
    assert back.getType() == ij.ImagePlus.COLOR_RGB and back.getStackSize() == planes
    for i in range(1, planes + 1):
        a = np.array(memoryview(imp.getStack().getPixels(i)))
        b = np.array(memoryview(back.getStack().getPixels(i)))
        np.testing.assert_array_equal(a & 0xFFFFFF, b & 0xFFFFFF)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_single_plane_lut_and_range(ij, dtype):
    from fm2s.imagej.convert import from_imageplus, to_imageplus

    data = _random(dtype, (1, 1, 1, 6, 5), seed=3)
    imp = make_imageplus(ij, data, 1, 1, 1, title="plane")
    imp.getProcessor().invertLut()
    imp.setDisplayRange(10, 60)
    da = from_imageplus(imp)
    assert da.dims == ("row", "col") and da.shape == (6, 5)
    np.testing.assert_array_equal(da.values, data[0, 0, 0])
    back = to_imageplus(da)
    assert back.isInvertedLut()
    assert (back.getDisplayRangeMin(), back.getDisplayRangeMax()) == (10.0, 60.0)
    np.testing.assert_array_equal(from_imageplus(back).values, da.values)


def test_signed16_and_plain_arrays(ij):
    import xarray as xr

    from fm2s.imagej.convert import from_imageplus, to_imageplus

    values = np.array([[-32768, -1, 0], [1, 1000, 32767]], dtype=np.int16)
    imp = to_imageplus(xr.DataArray(values, dims=("y", "x"), attrs={"title": "s16"}))
    assert imp.getCalibration().isSigned16Bit() and imp.getBitDepth() == 16
    assert float(imp.getProcessor().getPixelValue(0, 0)) == -32768.0
    da = from_imageplus(imp)
    assert da.dtype == np.int16
    np.testing.assert_array_equal(da.values, values)
    stack = to_imageplus(np.zeros((2, 3, 4, 5), np.float64), title="numpy")
    assert (stack.getNFrames(), stack.getNSlices(), stack.getBitDepth()) == (2, 3, 32)
    with pytest.raises(ValueError, match="cannot map dims to ImageJ"):
        to_imageplus(xr.DataArray(np.zeros((2, 2)), dims=("a", "b")))


def test_imagej_opens_an_ome_calibration_written_by_fm2s(ij, tmp_path):
    """OME-TIFF in (sizes in µm and nm, interval in ms) -> fm2s TIFF -> ImageJ's own opener."""
    import tifffile

    from fm2s import io

    src = tmp_path / "in.ome.tif"
    tifffile.imwrite(src, np.zeros((2, 3, 16, 16), np.uint16), ome=True,
                     metadata={"axes": "TZYX", "PhysicalSizeX": 0.2, "PhysicalSizeXUnit": "µm",
                               "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1500,
                               "PhysicalSizeZUnit": "nm", "TimeIncrement": 500,
                               "TimeIncrementUnit": "ms"})
    out = io.write_tiff(tmp_path / "out.tif", io.read_image(src))
    imp = ij.IJ.openImage(str(out))
    assert imp is not None
    cal = imp.getCalibration()
    assert str(cal.getUnit()) == "\u00b5m"
    assert cal.pixelWidth == pytest.approx(0.2) and cal.pixelHeight == pytest.approx(0.25)
    assert cal.pixelDepth == pytest.approx(1.5) and cal.frameInterval == pytest.approx(0.5)
    assert (imp.getNSlices(), imp.getNFrames()) == (3, 2)


def test_imagej_opens_a_width_alone_and_a_z_unit_of_its_own_as_fm2s_wrote_them(ij, tmp_path):
    """A pixel width without a height -> square pixels in ImageJ (not 1 x 1 um); a z step in nm
    beside um pixels (an OME-Zarr's units) -> ImageJ's own z unit."""
    import tifffile

    from fm2s import io
    from fm2s.imagej.convert import to_imageplus

    src = tmp_path / "x.ome.tif"
    tifffile.imwrite(src, np.zeros((16, 16), np.uint16), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.2})
    imp = ij.IJ.openImage(str(io.write_tiff(tmp_path / "x.tif", io.read_image(src))))
    cal = imp.getCalibration()
    assert cal.pixelWidth == pytest.approx(0.2) and cal.pixelHeight == pytest.approx(0.2)
    for size in ("x_spacing", "y_spacing"):  # the same when fm2s hands ImageJ the image itself
        cal = to_imageplus(io.to_dataarray(np.zeros((16, 16), np.uint16), ("row", "col"),
                                           unit="µm", **{size: 0.3})).getCalibration()
        assert cal.pixelWidth == pytest.approx(0.3) and cal.pixelHeight == pytest.approx(0.3)

    stack = io.to_dataarray(np.zeros((3, 16, 16), np.uint16), ("pln", "row", "col"),
                            x_spacing=0.1, y_spacing=0.1, z_spacing=500.0, unit="µm")
    stack.attrs["z_unit"] = "nm"
    imp = ij.IJ.openImage(str(io.write_tiff(tmp_path / "z.tif", stack)))
    cal = imp.getCalibration()
    assert str(cal.getUnit()) == "\u00b5m" and str(cal.getZUnit()) == "nm"
    assert cal.pixelDepth == pytest.approx(500.0) and cal.pixelWidth == pytest.approx(0.1)


@pytest.mark.parametrize(("kind", "function", "coefficients"), [
    ("16-bit", 0, [10.0, 0.5]),  # Straight Line, e.g. a calibrated camera's photo-electrons
    ("8-bit", 21, None),         # Uncalibrated OD
])
def test_a_value_calibration_survives_the_bridge_and_a_tiff(ij, tmp_path, kind, function,
                                                            coefficients):
    """The result of "FM2S Denoise" measured in raw grey values: the function was dropped."""
    import jpype

    from fm2s import io
    from fm2s.imagej.convert import from_imageplus, to_imageplus

    imp = ij.IJ.createImage("c", f"{kind} noise", 24, 16, 2)
    cal = imp.getCalibration()
    cal.setFunction(function, None if coefficients is None else
                    jpype.JArray(jpype.JDouble)(coefficients), "OD")
    imp.setCalibration(cal)
    da = from_imageplus(imp)
    for back in (to_imageplus(da), to_imageplus(da.values, template=imp),
                 ij.IJ.openImage(str(io.write_tiff(tmp_path / f"{kind}.tif", da)))):
        got = back.getCalibration()
        assert int(got.getFunction()) == function and str(got.getValueUnit()) == "OD"
        if coefficients is not None:
            assert list(got.getCoefficients()) == coefficients
        assert back.getStatistics().mean == pytest.approx(imp.getStatistics().mean)
