"""Data larger than memory (fm2s.lazy): a Dask-backed DataArray gives a lazy result with the
pixels and record of the in-memory run, and nothing is denoised before it is computed."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr

import fm2s
import fm2s.engine.pipeline as pipeline
from fm2s import io
from fm2s.cli import main

DIMS = ("t", "ch", "row", "col")


def _stack() -> np.ndarray:
    return np.random.default_rng(0).poisson(200, (5, 2, 48, 56)).astype(np.uint16)


def test_a_lazy_image_gives_the_pixels_and_record_of_the_in_memory_run():
    stack = _stack()
    eager = fm2s.denoise(xr.DataArray(stack, dims=DIMS), schedule="quick", seed=3, num_threads=1)
    lazy = fm2s.denoise(xr.DataArray(da.from_array(stack, chunks=(2, 1, 48, 56)), dims=DIMS),
                        schedule="quick", seed=3, num_threads=1)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert lazy.attrs == eager.attrs


def test_a_lazy_result_of_a_denoised_image_records_only_the_new_run():
    stack = _stack()[:2, :1]
    first = fm2s.denoise(xr.DataArray(stack, dims=DIMS), schedule="quick", seed=3, num_threads=1)
    assert "fm2s_k_g" in first.attrs
    lazy = fm2s.denoise(first.chunk({"t": 1}), method="n2d", schedule="quick", seed=3,
                        num_threads=1)
    assert isinstance(lazy.data, da.Array)
    assert lazy.attrs["fm2s_method"] == "n2d" and "fm2s_k_g" not in lazy.attrs


def test_nothing_is_denoised_before_the_result_is_computed(monkeypatch):
    calls = []
    real = pipeline.predict
    monkeypatch.setattr(pipeline, "predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    lazy = fm2s.denoise(xr.DataArray(da.from_array(_stack(), chunks=(1, 1, 48, 56)), dims=DIMS),
                        schedule="quick", seed=0, num_threads=1)
    assert calls == []  # only the models were trained
    lazy[0].compute()
    assert len(calls) == 2  # one time point: its two channel planes


def test_training_plane_by_plane_cannot_be_lazy():
    lazy = xr.DataArray(da.from_array(_stack(), chunks=(1, 1, 48, 56)), dims=DIMS)
    with pytest.raises(ValueError, match="cannot run on lazy .Dask. data; use stack_mode='shared'"):
        fm2s.denoise(lazy, schedule="quick", stack_mode="per_plane")


@pytest.mark.parametrize("stack_mode", ["shared", "per_plane"])
def test_the_command_streams_a_stack_and_gives_what_the_api_gives(tmp_path, stack_mode):
    stack = _stack()[:, 0]
    tifffile.imwrite(tmp_path / "s.tif", stack, imagej=True, metadata={"axes": "TYX"})
    assert isinstance(io.read_image(tmp_path / "s.tif", lazy=True).data, da.Array)
    assert main(["denoise", str(tmp_path / "s.tif"), "-o", str(tmp_path / "out"), "--schedule",
                 "quick", "--seed", "1", "--stack-mode", stack_mode, "--no-progress"]) == 0
    api = fm2s.denoise(io.read_image(tmp_path / "s.tif"), schedule="quick", seed=1,
                       stack_mode=stack_mode)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "s_fm2s.tif"), api.values)


def test_an_xarray_zarr_pipeline_stays_lazy_and_writes_back(tmp_path):
    """``xr.open_zarr`` in, ``to_zarr`` out: the result is written chunk by chunk with its
    record, and it holds the in-memory run's pixels."""
    stack = _stack()[:, 0]
    xr.Dataset({"image": (("t", "y", "x"), stack)}).chunk({"t": 2}).to_zarr(tmp_path / "in.zarr",
                                                                        consolidated=False)
    image = xr.open_zarr(tmp_path / "in.zarr", consolidated=False)["image"]
    result = fm2s.denoise(image, schedule="quick", seed=2, num_threads=1)
    assert isinstance(result.data, da.Array)
    result.to_dataset(name="denoised").to_zarr(tmp_path / "out.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "out.zarr", consolidated=False)["denoised"]
    eager = fm2s.denoise(stack, schedule="quick", seed=2, num_threads=1)
    np.testing.assert_array_equal(back.values, eager)
    assert back.dtype == np.uint16 and back.attrs["fm2s_seed"] == 2
