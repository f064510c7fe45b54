"""Noise2Detail and ZS-N2N through ``fm2s.denoise`` and ``fm2s denoise``: everything FM2S has
(dtypes, N-D data, seeds, tiling, lazy data, the record), and FM2S's noise-model options refused
with a reason."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr

import fm2s
from fm2s import OptionError
from fm2s.cli import main
from fm2s.engine.methods.fm2s.schedules import QUICK as FM2S_QUICK
from fm2s.engine.methods.n2d.schedules import QUICK as N2D_QUICK
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom

METHODS = ["n2d", "zsn2n"]
FAST_TEST = {"schedule": "quick", "seed": 0, "num_threads": 1}


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    return noisy_phantom((44, 52), dtype="uint16", seed=0)[1]  # structure: seeds show


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_dtype_shape_and_scale_round_trip(noisy, method, dtype):
    image = (noisy.astype(np.float64) * (2 if dtype != "uint8" else 1)).astype(dtype)
    out = fm2s.denoise(image, method=method, **FAST_TEST)
    assert out.dtype == image.dtype and out.shape == image.shape
    assert abs(float(out.mean()) - float(image.mean())) < 0.1 * float(image.mean())


def test_noise2detail_gains_several_db_on_a_phantom():
    clean, noisy = noisy_phantom((96, 96), seed=3)
    out = fm2s.denoise(noisy, method="n2d", **FAST_TEST)
    gain = psnr(clean, out) - psnr(clean, noisy)
    assert gain > 3.0, gain


@pytest.mark.parametrize("method", METHODS)
def test_a_seed_repeats_a_run_and_another_seed_differs(noisy, method):
    a = fm2s.denoise(noisy, method=method, **FAST_TEST)
    b = fm2s.denoise(noisy, method=method, **FAST_TEST)
    c = fm2s.denoise(noisy, method=method, **{**FAST_TEST, "seed": 1})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("shape", [(37, 51), (33, 33)])
def test_any_plane_size_and_tiling_gives_the_same_pixels(shape):
    image = np.random.default_rng(1).poisson(40, (70, 90))[: shape[0] * 2, : shape[1] * 2]
    image = image.astype(np.uint16)
    whole = fm2s.denoise(image, method="n2d", tile=None, **FAST_TEST)
    tiled = fm2s.denoise(image, method="n2d", tile=32, **FAST_TEST)
    assert whole.shape == image.shape
    np.testing.assert_array_equal(whole, tiled)


def test_a_hyperstack_keeps_its_dims_and_records_the_method():
    data = np.random.default_rng(2).poisson(80, (2, 3, 40, 44)).astype(np.uint16)
    image = xr.DataArray(data, dims=("t", "ch", "row", "col"), attrs={"unit": "µm"},
                         coords={"t": [0.0, 2.5]})
    out = fm2s.denoise(image, method="n2d", **FAST_TEST)
    assert out.dims == image.dims and out.attrs["unit"] == "µm"
    np.testing.assert_array_equal(out["t"], image["t"])
    assert out.attrs["fm2s_method"] == "n2d" and out.attrs["fm2s_schedule"] == "quick"
    assert out.attrs["fm2s_schedule_settings"]["stage3_steps"] == N2D_QUICK.stage3_steps
    assert not any(k in out.attrs for k in ("fm2s_preset", "fm2s_noise_level", "fm2s_k_g",
                                            "fm2s_noise_draws", "fm2s_start"))
    # each channel its own model and seed: channel 1 alone (trained with channel 0's seed)
    # differs from channel 1 of the hyperstack
    alone = fm2s.denoise(image.isel(ch=[1]), method="n2d", **FAST_TEST)
    assert not np.array_equal(alone.values[:, 0], out.values[:, 1])


def test_a_lazy_image_gives_the_in_memory_pixels():
    data = np.random.default_rng(4).poisson(80, (4, 40, 44)).astype(np.uint16)
    eager = fm2s.denoise(xr.DataArray(data, dims=("t", "row", "col")), method="n2d",
                         **FAST_TEST)
    lazy = fm2s.denoise(xr.DataArray(da.from_array(data, chunks=(1, 40, 44)),
                                     dims=("t", "row", "col")), method="n2d", **FAST_TEST)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager.values)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("option", "value"), [("preset", "widefield"), ("noise_level", "avg4"),
                                                ("k_g", 3.0)])
def test_the_noise_model_options_of_fm2s_are_refused_with_the_reason(noisy, method, option,
                                                                     value):
    with pytest.raises(OptionError, match=f"{option} does not apply to method '{method}': "
                                          ".* no noise model; leave") as info:
        fm2s.denoise(noisy, method=method, **{option: value})
    assert info.value.option == option


def test_schedules_of_another_method_are_refused(noisy):
    with pytest.raises(OptionError, match="is an FM2S schedule"):
        fm2s.denoise(noisy, method="n2d", schedule=FM2S_QUICK)
    with pytest.raises(OptionError, match="is a Noise2Detail schedule; give method='n2d'"):
        fm2s.denoise(noisy, schedule=N2D_QUICK)
    out = fm2s.denoise(noisy, method="n2d", schedule=N2D_QUICK, seed=0, num_threads=1)
    assert out.shape == noisy.shape


def test_the_command_line_runs_noise2detail_and_names_a_flag_that_does_not_apply(
        tmp_path, capsys):
    data = np.random.default_rng(5).poisson(80, (2, 40, 44)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", data, imagej=True, resolution=(4.0, 4.0),
                     metadata={"axes": "ZYX", "unit": "um", "spacing": 0.7})
    assert main(["denoise", str(tmp_path / "s.tif"), "-o", str(tmp_path / "out"), "--method",
                 "n2d", "--preset", "confocal", "--no-progress"]) == 2
    assert "--preset" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "s.tif"), "-o", str(tmp_path / "out"), "--method",
                 "n2d", "--schedule", "quick", "--seed", "0", "--threads", "1",
                 "--no-progress"]) == 0
    written = fm2s.io.read_image(tmp_path / "out" / "s_fm2s.tif")
    api = fm2s.denoise(fm2s.io.read_image(tmp_path / "s.tif"), method="n2d", **FAST_TEST)
    np.testing.assert_array_equal(written.values, api.values)
    assert written.attrs["fm2s_method"] == "n2d"
    assert written.attrs["z_spacing"] == pytest.approx(0.7)


def test_progress_counts_both_trained_stages_and_every_plane():
    image = np.random.default_rng(2).poisson(30, (3, 36, 36)).astype(np.uint8)  # (t, row, col)
    events = []
    fm2s.denoise(image, method="n2d", progress=events.append, **FAST_TEST)
    fractions = [e.fraction for e in events]
    assert all(a <= b for a, b in zip(fractions, fractions[1:])) and fractions[-1] == 1.0
    train = [e for e in events if e.phase == "train"]
    steps = N2D_QUICK.stage1_steps + N2D_QUICK.stage3_steps
    assert len(train) == steps and all(e.n_steps == steps for e in train)  # one shared model
    assert [e.plane for e in events if e.phase == "denoise"] == [1, 2, 3]
