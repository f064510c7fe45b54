"""OME-Zarr (fm2s.io.zarr): read lazily, written chunk by chunk with the same axes, physical
scale, units and dtype; fm2s denoise x.zarr writes x_fm2s.zarr."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

from fm2s import io
from fm2s.cli import main


def _image(dtype=np.uint16) -> xr.DataArray:
    data = np.random.default_rng(0).integers(0, 4000, (3, 2, 4, 32, 40)).astype(dtype)
    image = io.to_dataarray(data, ("t", "ch", "pln", "row", "col"), x_spacing=0.2,
                            y_spacing=0.25, z_spacing=0.5, unit="µm", finterval=2.0)
    image.attrs["info"] = "scope 3"
    return image


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_round_trip_of_axes_scale_units_and_dtype(tmp_path, dtype):
    image = _image(dtype)
    io.write_zarr(tmp_path / "x.zarr", image, {"fm2s_seed": 3})
    back = io.read_zarr(tmp_path / "x.zarr")
    assert isinstance(back.data, da.Array)  # lazy until used
    assert back.dims == ("t", "pln", "ch", "row", "col") and back.dtype == image.dtype
    np.testing.assert_array_equal(back.transpose(*image.dims).values, image.values)
    for key in ("x_spacing", "y_spacing", "z_spacing", "unit", "finterval", "time_unit"):
        assert back.attrs[key] == image.attrs[key], key
    assert back.attrs["info"] == "scope 3" and back.attrs["fm2s_seed"] == 3
    ngff = zarr.open_group(str(tmp_path / "x.zarr"), mode="r").attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ngff["axes"]] == ["t", "c", "z", "y", "x"]
    assert ngff["axes"][3]["unit"] == "micrometer" and ngff["axes"][0]["unit"] == "second"
    scale = ngff["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [2.0, 1.0, 0.5, 0.25, 0.2]
    with pytest.raises(FileExistsError):
        io.write_zarr(tmp_path / "x.zarr", image)


def test_the_command_denoises_a_zarr_store_into_a_zarr_store(tmp_path, capsys):
    image = _image()
    (tmp_path / "in").mkdir()
    io.write_zarr(tmp_path / "in" / "cells.zarr", image)
    out = tmp_path / "out"
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--schedule", "quick",
                 "--seed", "0", "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cells_fm2s.zarr"]
    result = io.read_zarr(out / "cells_fm2s.zarr").transpose(*image.dims)
    assert result.dtype == image.dtype and result.shape == image.shape
    assert result.attrs["x_spacing"] == 0.2 and result.attrs["unit"] == "µm"
    assert result.attrs["fm2s_schedule"] == "quick" and result.attrs["fm2s_source"] == "cells.zarr"
    assert not np.array_equal(result.values, image.values)


def test_an_image_without_a_plane_is_refused_before_anything_is_written(tmp_path):
    lines = xr.DataArray(np.zeros((3, 40), np.uint16), dims=("t", "col"))
    with pytest.raises(ValueError, match=r"OME-Zarr: the image needs row and col dims"):
        io.write_zarr(tmp_path / "x.zarr", lines)
    with pytest.raises(ValueError, match=r"TIFF: the image needs row and col dims"):
        io.write_tiff(tmp_path / "x.tif", lines)
    assert list(tmp_path.iterdir()) == []


def _ngff_store(path, scale, units):
    from ome_zarr.writer import write_image

    data = np.random.default_rng(0).poisson(100, (3, 32, 32)).astype(np.uint16)
    write_image(image=data, group=zarr.open_group(str(path), mode="w"), axes=["z", "y", "x"],
                scale_factors=(), scale=scale, axes_units=units)


def test_each_axis_keeps_its_own_unit_in_and_out(tmp_path):
    # a z step of 500 nm beside 0.1 um pixels was read as 500 um
    _ngff_store(tmp_path / "mixed.zarr", {"z": 500.0, "y": 0.1, "x": 0.1},
                {"z": "nanometer", "y": "micrometer", "x": "micrometer"})
    image = io.read_zarr(tmp_path / "mixed.zarr")
    assert image.attrs["unit"] == "µm" and image.attrs["z_unit"] == "nm"
    assert image.attrs["z_spacing"] == 500.0 and image.attrs["x_spacing"] == 0.1
    assert image.coords["pln"].attrs["units"] == "nm"
    io.write_zarr(tmp_path / "out.zarr", image)
    axes = zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs["ome"]["multiscales"][0]["axes"]
    assert [a["unit"] for a in axes] == ["nanometer", "micrometer", "micrometer"]
    io.write_tiff(tmp_path / "out.tif", image)
    back = io.read_image(tmp_path / "out.tif")
    assert back.attrs["z_unit"] == "nm" and back.attrs["z_spacing"] == 500.0


def test_a_scale_without_units_is_kept(tmp_path):
    # NGFF allows a scale without units; it was dropped, and written back as 1.0
    _ngff_store(tmp_path / "plain.zarr", {"z": 2.0, "y": 0.5, "x": 0.5}, None)
    image = io.read_zarr(tmp_path / "plain.zarr")
    assert image.attrs["unit"] == "pixel"
    assert (image.attrs["x_spacing"], image.attrs["z_spacing"]) == (0.5, 2.0)
    io.write_zarr(tmp_path / "out.zarr", image)
    ngff = zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs["ome"]["multiscales"][0]
    assert ngff["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 0.5, 0.5]
    assert all("unit" not in a for a in ngff["axes"])
    # no scale at all stays uncalibrated
    _ngff_store(tmp_path / "none.zarr", {"z": 1.0, "y": 1.0, "x": 1.0}, None)
    assert io.read_zarr(tmp_path / "none.zarr").attrs["x_spacing"] is None


def test_translation_and_channel_names_colours_windows_are_kept(tmp_path, capsys):
    # both were dropped: the result moved to the origin and lost its omero block
    from ome_zarr.writer import write_image

    data = np.random.default_rng(0).poisson(200, (2, 3, 32, 32)).astype(np.uint16)
    root = zarr.open_group(str(tmp_path / "in" / "a.zarr"), mode="w")
    write_image(data, root, axes="czyx", scale_factors=())
    ome = dict(root.attrs["ome"])
    multiscale = ome["multiscales"][0]
    for axis in multiscale["axes"][1:]:
        axis["unit"] = "micrometer"
    multiscale["datasets"][0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [1.0, 2.0, 0.5, 0.5]},
        {"type": "translation", "translation": [0.0, 10.0, 100.0, 200.0]}]
    ome["omero"] = {"channels": [
        {"label": "DAPI", "color": "0000FF", "window": {"start": 5, "end": 400, "min": 0, "max": 65535}},
        {"label": "GFP", "color": "00FF00", "window": {"start": 0, "end": 300, "min": 0, "max": 65535}}]}
    root.attrs["ome"] = ome
    image = io.read_zarr(tmp_path / "in" / "a.zarr")
    assert image.coords["col"].values[0] == 200.0 and image.coords["pln"].values[0] == 10.0
    assert image.attrs["channel_names"] == ["DAPI", "GFP"]
    assert main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--schedule",
                 "quick", "--seed", "0", "--threads", "1", "--no-progress"]) == 0
    out = zarr.open_group(str(tmp_path / "out" / "a_fm2s.zarr"), mode="r").attrs["ome"]
    steps = out["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert steps[1] == {"type": "translation", "translation": [0.0, 10.0, 100.0, 200.0]}
    channels = out["omero"]["channels"]
    assert [(c["label"], c["color"], c["window"]["start"], c["window"]["end"])
            for c in channels] == [("DAPI", "0000FF", 5, 400), ("GFP", "00FF00", 0, 300)]
    assert channels[0]["window"]["max"] == 65535


@pytest.mark.parametrize("left, extra", [
    # a run killed while writing x_fm2s.zarr leaves its temporary folder; the next run stopped
    # with a traceback (IsADirectoryError) before any work, every time
    (".cells_fm2s.zarr.0123abcd.tmp", []),
    # --overwrite moves the old store aside (.x_fm2s.zarr.<hex>.old) and then deletes it; a run
    # stopped while deleting a large one left it, hidden, for good
    (".cells_fm2s.zarr.0123abcd.old", ["--overwrite"]),
])
def test_a_store_a_stopped_run_left_is_removed_and_the_store_written(tmp_path, capsys, left,
                                                                      extra):
    (tmp_path / "in").mkdir()
    io.write_zarr(tmp_path / "in" / "cells.zarr", _image().isel(t=0, ch=0))
    out = tmp_path / "out"
    (out / left / "s0" / "c" / "0").mkdir(parents=True)
    (out / left / "zarr.json").write_text("{}")
    (out / left / "s0" / "c" / "0" / "0").write_bytes(b"half a chunk")
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--schedule", "quick",
                 "--seed", "0", "--threads", "1", "--no-progress", *extra]) == 0
    assert "removed 1 temporary file(s)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["cells_fm2s.zarr"]
    assert io.read_zarr(out / "cells_fm2s.zarr").shape == (4, 32, 40)


def test_no_output_is_written_inside_an_input_store(tmp_path, capsys):
    # -o naming an input store (or a folder in it) wrote the results into the input's store
    (tmp_path / "in").mkdir()
    store = tmp_path / "in" / "cells.zarr"
    io.write_zarr(store, _image().isel(t=0, ch=0))
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    for out in (store, store / "s0", store / "new"):
        assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--schedule", "quick",
                     "--no-progress"]) == 1
        assert "refusing to write" in capsys.readouterr().err
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before
