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
