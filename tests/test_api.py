"""The public API ``fm2s.denoise``: types, scale, axes, metadata, determinism and errors.

Denoising runs use small crop-based schedules: ``API`` (25 steps) where the result must look
denoised, ``TINY`` (4 steps) where only structure, metadata or determinism matter. Error cases
are raised by validation before any training.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr

import fm2s
from fm2s.engine.methods.fm2s.schedules import Schedule

API = Schedule("api", stage1_steps=5, noise_draws=20, steps_per_draw=1,
               lr=5e-3, lr_final=1e-3, crop=32, batch=2)
TINY = Schedule("tiny", stage1_steps=1, noise_draws=3, steps_per_draw=1, crop=24, batch=1)


def _run(image, **kwargs):
    kwargs.setdefault("schedule", TINY)
    kwargs.setdefault("seed", 0)
    return fm2s.denoise(image, **kwargs)


# ----------------------------------------------------------------------------- types and scale

def _typed(noisy_u8: np.ndarray, dtype: str) -> np.ndarray:
    base = noisy_u8.astype(np.float64)
    if dtype == "uint8":
        return noisy_u8
    if dtype == "uint16":
        return (base * 16 + 100).astype(np.uint16)       # 12-bit range with camera offset
    if dtype == "int16":
        return (base * 4 - 300).astype(np.int16)         # negative values included
    return (base / 255.0).astype(dtype)                  # float already in [0, 1]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "float64"])
def test_dtype_shape_and_scale_round_trip(noisy_u8, dtype):
    image = _typed(noisy_u8, dtype)
    out = _run(image, schedule=API)
    assert isinstance(out, np.ndarray)
    assert out.dtype == image.dtype
    assert out.shape == image.shape
    assert np.isfinite(out.astype(np.float64)).all()
    lo, hi = float(image.min()), float(image.max())
    span = hi - lo
    # Same intensity scale: no stretch, mean close to the input's.
    assert abs(out.mean() - image.mean()) < 0.05 * span
    if dtype != "uint8":
        assert out.min() >= lo and out.max() <= hi
    assert out.max() - out.min() > 0.4 * span  # not squashed either
    # It denoises: smoother than the input.
    assert np.abs(np.diff(out.astype(np.float64), axis=1)).mean() < \
        0.7 * np.abs(np.diff(image.astype(np.float64), axis=1)).mean()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
def test_integer_output_is_rounded_into_range(noisy_u8, dtype):
    image = _typed(noisy_u8, dtype)
    out = _run(image, schedule=API)
    info = np.iinfo(dtype)
    assert info.min <= out.min() and out.max() <= info.max
    assert out.dtype == np.dtype(dtype)


def test_12_bit_in_16_bit_with_offset_is_not_stretched(phantom):
    p = phantom((64, 64), seed=4, background_photons=10, peak_photons=380, gain=10.0,
                read_noise=1.0, offset=100, bits=12, dtype=np.uint16)
    image = np.clip(p.noisy, 100, 4095)
    out = _run(image, schedule=API)
    assert out.dtype == np.uint16
    assert 100 <= out.min() and out.max() <= 4095
    assert out.max() > 2000  # the bright blobs are kept bright
    assert abs(out.mean() - image.mean()) < 0.03 * (image.max() - image.min())


def test_float_input_in_unit_range_is_not_black(noisy_u8):
    image = noisy_u8.astype(np.float32) / 255.0
    out = _run(image, schedule=API)
    assert out.dtype == np.float32
    assert out.mean() == pytest.approx(image.mean(), abs=0.03)


def test_explicit_intensity_range_clips_output(noisy_u8):
    image = noisy_u8.astype(np.uint16) * 10
    out, meta = fm2s.denoise_with_metadata(image, schedule=TINY, seed=0, intensity_range=(0, 1000))
    assert out.max() <= 1000
    assert meta["fm2s_intensity_range"] == [[0.0, 1000.0]]


@pytest.mark.parametrize(("dtype", "value"), [("uint16", 500), ("float32", 0.25),
                                               ("int16", -7), ("float64", 1e6)])
def test_constant_image_comes_back_unchanged(dtype, value):
    image = np.full((48, 48), value, dtype=dtype)
    out = _run(image)
    assert out.dtype == image.dtype
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, image)


@pytest.fixture(scope="module")
def constant_u8_quick() -> np.ndarray:
    """A constant uint8 image (100) denoised once with the shipped ``quick`` schedule."""
    return _run(np.full((64, 64), 100, np.uint8), schedule="quick").astype(int)


def test_constant_uint8_image_interior_is_nearly_unchanged(constant_u8_quick):
    interior = constant_u8_quick[6:-6, 6:-6]
    assert np.abs(interior - 100).max() <= 6


def test_constant_uint8_image_borders_are_nearly_unchanged(constant_u8_quick):
    assert np.abs(constant_u8_quick - 100).max() <= 10


# ----------------------------------------------------------------------------- xarray

def _dataarray(data: np.ndarray, dims: tuple[str, ...]) -> xr.DataArray:
    coords = {d: np.arange(n) * 0.5 + 1 for d, n in zip(dims, data.shape)}
    return xr.DataArray(data, dims=dims, coords=coords, name="cells",
                        attrs={"unit": "ADU", "objective": "63x"})


def test_denoising_a_result_again_records_only_the_new_run():
    rng = np.random.default_rng(1)
    first = _run(_dataarray(rng.poisson(40, (48, 48)).astype(np.uint16), ("row", "col")))
    assert first.attrs["fm2s_preset"] == "confocal" and "fm2s_k_g" in first.attrs
    again = _run(first, method="n2d", schedule="quick")
    record = {k for k in again.attrs if k.startswith("fm2s_")}
    assert again.attrs["fm2s_method"] == "n2d"
    # FM2S's settings from the first run would describe a run that never made this image
    assert not record & {"fm2s_preset", "fm2s_k_g", "fm2s_noise_level_chosen", "fm2s_start"}
    assert record == {k for k in fm2s.denoise_with_metadata(
        first, method="n2d", schedule="quick", seed=0)[1]}
    assert again.attrs["unit"] == "ADU" and again.attrs["objective"] == "63x"


@pytest.mark.parametrize(("dims", "shape"), [
    (("y", "x"), (48, 48)),
    (("t", "row", "col"), (2, 48, 48)),
    (("ch", "pln", "row", "col"), (2, 2, 40, 40)),
    (("row", "col", "ch"), (40, 40, 2)),
])
def test_dataarray_keeps_dims_coords_attrs(dims, shape):
    rng = np.random.default_rng(1)
    data = rng.poisson(40, shape).astype(np.uint16)
    da = _dataarray(data, dims)
    out = _run(da, seed=5)
    assert isinstance(out, xr.DataArray)
    assert out.dims == da.dims
    assert out.name == "cells"
    assert out.dtype == np.uint16
    for d in dims:
        np.testing.assert_array_equal(out.coords[d].values, da.coords[d].values)
    assert out.attrs["unit"] == "ADU" and out.attrs["objective"] == "63x"
    assert out.attrs["fm2s_version"] == fm2s.__version__
    assert out.attrs["fm2s_seed"] == 5
    assert out.attrs["fm2s_noise_sampler"] == "numba"
    assert out.attrs["fm2s_preset"] == "confocal"
    assert out.attrs["fm2s_noise_level"] == "auto"
    assert out.attrs["fm2s_schedule"] == "tiny"
    n_channels = shape[dims.index("ch")] if "ch" in dims else 1
    # with noise_level="auto" (the default) what depends on the level is recorded per channel
    assert out.attrs["fm2s_noise_draws"] == [TINY.noise_draws] * n_channels
    assert out.attrs["fm2s_start"] == ["random"] * n_channels
    levels = out.attrs["fm2s_noise_level_chosen"]
    assert len(levels) == n_channels
    for name, value in fm2s.resolve_params("confocal", "avg1").as_dict().items():
        if name in ("k_g", "k_p", "lam_p"):
            chosen = [fm2s.resolve_params("confocal", lv).as_dict()[name] for lv in levels]
            assert out.attrs[f"fm2s_{name}"] == chosen
        else:
            assert out.attrs[f"fm2s_{name}"] == value
    assert len(out.attrs["fm2s_intensity_range"]) == n_channels
    assert not any(k.startswith("fm2s_") for k in da.attrs)  # input untouched
    assert not np.array_equal(out.values, data)


def test_dataarray_matches_numpy_result():
    rng = np.random.default_rng(2)
    data = rng.poisson(40, (2, 48, 48)).astype(np.uint16)
    da = xr.DataArray(data, dims=("t", "y", "x"))
    np.testing.assert_array_equal(_run(da).values, _run(data))


def test_dataarray_channel_dim_equals_numpy_channel_axis():
    rng = np.random.default_rng(3)
    data = rng.poisson(40, (40, 40, 2)).astype(np.uint16)
    da = xr.DataArray(data, dims=("row", "col", "ch"))
    np.testing.assert_array_equal(_run(da).values, _run(data, channel_axis=-1))


def test_dataarray_rejects_numpy_axis_arguments():
    da = xr.DataArray(np.zeros((32, 32), np.uint8), dims=("y", "x"))
    with pytest.raises(ValueError, match="plane_axes/channel_axis"):
        _run(da, channel_axis=0)


def test_dataarray_without_plane_dims_raises():
    da = xr.DataArray(np.zeros((32, 32), np.uint8), dims=("a", "b"))
    with pytest.raises(ValueError, match="'row' and 'col'"):
        _run(da)


@pytest.mark.parametrize("dim", ["channels", "wavelength", "position"])
def test_dataarray_with_a_dim_fm2s_cannot_name_is_refused(dim):
    # such a dim was iterated as stack planes: channels then shared one intensity range and
    # one network, and a dim channel came out worse than its input
    da = xr.DataArray(np.zeros((2, 32, 32), np.uint16), dims=(dim, "y", "x"))
    with pytest.raises(ValueError, match=f"cannot place the dim\\(s\\) '{dim}'.*rename.*'ch'"):
        _run(da)


# ----------------------------------------------------------------------------- axes

def test_rgb_with_channel_axis_last():
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (48, 48, 3)).astype(np.uint8)
    out = _run(rgb, channel_axis=-1, seed=3, schedule=API)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    # Each channel's generators are seeded from the seed and its index: the first channel is
    # exactly what denoising it alone gives.
    np.testing.assert_array_equal(
        out[..., 0], _run(np.ascontiguousarray(rgb[..., 0]), seed=3, schedule=API))
    for c in range(3):  # every channel was denoised (smoothed), none copied
        assert np.abs(np.diff(out[..., c].astype(int), axis=0)).mean() < \
            0.6 * np.abs(np.diff(rgb[..., c].astype(int), axis=0)).mean()


def test_channel_axis_first_equals_channel_axis_last():
    rng = np.random.default_rng(5)
    chw = rng.integers(0, 256, (2, 48, 48)).astype(np.uint8)
    first = _run(chw, channel_axis=0)
    last = _run(np.moveaxis(chw, 0, -1), channel_axis=-1)
    np.testing.assert_array_equal(first, np.moveaxis(last, -1, 0))


def test_plane_axes_select_the_plane():
    rng = np.random.default_rng(6)
    stack = rng.integers(0, 256, (2, 48, 40)).astype(np.uint8)  # (t, row, col)
    moved = np.ascontiguousarray(np.transpose(stack, (1, 0, 2)))  # (row, t, col)
    out = _run(moved, plane_axes=(0, 2))
    assert out.shape == moved.shape
    np.testing.assert_array_equal(np.transpose(out, (1, 0, 2)), _run(stack))


def test_plane_axes_with_channel_axis():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (40, 2, 44)).astype(np.uint8)
    out = _run(image, plane_axes=(0, 2), channel_axis=1)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_nd_stack_shape_and_plane_order():
    rng = np.random.default_rng(8)
    tz = rng.integers(0, 256, (2, 2, 40, 40)).astype(np.uint8)
    out = _run(tz)
    assert out.shape == tz.shape and out.dtype == tz.dtype
    np.testing.assert_array_equal(out.reshape(4, 40, 40), _run(tz.reshape(4, 40, 40)))


# ----------------------------------------------------------------------------- determinism

def test_same_seed_same_output_different_seed_different(noisy_u8):
    a, b, c = _run(noisy_u8, seed=1), _run(noisy_u8, seed=1), _run(noisy_u8, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_seed_is_recorded_and_reproduces(noisy_u8):
    out, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=TINY)
    seed = meta["fm2s_seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**31
    np.testing.assert_array_equal(out, _run(noisy_u8, seed=seed))


def test_seed_given_as_numeric_string(noisy_u8):
    np.testing.assert_array_equal(_run(noisy_u8, seed="7"), _run(noisy_u8, seed=7))


# ----------------------------------------------------------------------------- metadata

def test_metadata_records_options_and_overrides(noisy_u8):
    _, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=TINY, seed=3, preset="widefield",
                                         noise_level=4, k_g=33, device="cpu")
    assert meta["fm2s_preset"] == "widefield"
    assert meta["fm2s_noise_level"] == "avg4"
    assert meta["fm2s_k_g"] == 33.0
    assert meta["fm2s_median_window"] == 11
    assert meta["fm2s_device"] == "cpu"
    assert meta["fm2s_stack_mode"] == "shared"
    assert meta["fm2s_intensity_range"] == [[0.0, 255.0]]


def test_metadata_records_the_training_precision(noisy_u8, monkeypatch):
    import dataclasses

    import fm2s.engine.methods.fm2s.train as train_module

    monkeypatch.setattr(train_module, "native_bf16", lambda device: True)
    _, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=dataclasses.replace(TINY, bf16=True))
    assert meta["fm2s_training_precision"] == "bfloat16"
    _, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=dataclasses.replace(TINY, bf16=False))
    assert meta["fm2s_training_precision"] == "float32"
    monkeypatch.setattr(train_module, "native_bf16", lambda device: False)
    _, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=dataclasses.replace(TINY, bf16=True))
    assert meta["fm2s_training_precision"] == "float32"


def test_metadata_records_the_noise_sampler_and_the_seed_repeats_with_it(noisy_u8, monkeypatch):
    compiled, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=TINY, seed=4)
    assert meta["fm2s_noise_sampler"] == "numba"
    monkeypatch.setenv("FM2S_NOISE_SAMPLER", "torch")
    with_torch, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=TINY, seed=4)
    assert meta["fm2s_noise_sampler"] == "torch"
    np.testing.assert_array_equal(with_torch, _run(noisy_u8, seed=4))
    assert not np.array_equal(with_torch, compiled)


def test_metadata_records_canonical_preset_name(noisy_u8):
    _, meta = fm2s.denoise_with_metadata(noisy_u8, schedule=TINY, seed=0, preset="Two-Photon")
    assert meta["fm2s_preset"] == "twophoton"


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("image", "match"), [
    (np.array([[np.nan] * 16] * 16, np.float32), "NaN"),
    (np.full((16, 16), np.inf), "infinite"),
    (np.zeros((0, 32), np.float32), "empty"),
    (np.zeros((0, 32, 32), np.uint8), "empty"),
    (np.zeros((1, 1), np.uint8), "at least"),
    (np.zeros((5, 64), np.uint16), "at least"),
    (np.zeros(64, np.uint8), "2-D"),
    (np.zeros((32, 32), np.bool_), "unsupported pixel type bool"),
    (np.zeros((32, 32), np.complex64), "unsupported pixel type complex64"),
    (np.zeros((32, 32), np.int32), "unsupported pixel type int32"),
])
def test_bad_images_raise_clear_errors(image, match):
    with pytest.raises(ValueError, match=match):
        _run(image)


def test_masked_pixels_are_refused_not_denoised_as_values():
    # np.asarray drops a mask: the fill values under it (-9999 here) set the intensity range
    # and the result came back as a plain array, the mask lost (RMSE 1.1 -> 51 on this image).
    data = np.full((32, 32), 50.0, np.float32)
    data[0, :5] = -9999.0
    image = np.ma.masked_equal(data, -9999.0)
    with pytest.raises(fm2s.errors.ImageError, match="5 masked pixel"):
        _run(image)


def test_a_dataset_is_refused_naming_its_variables():
    import xarray as xr

    dataset = xr.Dataset({"nuclei": (("y", "x"), np.zeros((16, 16), np.uint16))})
    with pytest.raises(fm2s.errors.ImageError, match=r"Dataset \(variables: 'nuclei'\)") as err:
        fm2s.denoise(dataset)
    assert "dataset['image']" in str(err.value)


def test_masked_array_without_masked_pixels_is_denoised_as_its_data(noisy_u8):
    image = np.ma.masked_array(noisy_u8, mask=np.zeros(noisy_u8.shape, bool))
    np.testing.assert_array_equal(_run(image), _run(noisy_u8))


def test_single_nan_is_counted():
    image = np.ones((32, 32), np.float64)
    image[3, 4] = np.nan
    with pytest.raises(ValueError, match="1 NaN"):
        _run(image)


def test_rgb_without_channel_axis_mentions_channel_axis():
    with pytest.raises(ValueError, match="channel_axis"):
        _run(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"preset": "lightsheet"}, "confocal"),
    ({"noise_level": "avg32"}, "avg16"),
    ({"sigma": 2}, "overridable"),
    ({"median_window": 4}, "odd"),
    ({"device": "tpu"}, "cpu"),
    ({"device": "cuda"}, "CUDA"),
    ({"stack_mode": "batched"}, "per_plane"),
    ({"schedule": "slow"}, "reference"),
    ({"tile": 16}, "tile"),
    ({"num_threads": 0}, "num_threads"),
    ({"seed": "abc"}, "whole number"),
    ({"seed": 1.5}, "whole number"),
    ({"intensity_range": (10, 5)}, "lo < hi"),
    ({"channel_axis": 5}, "out of range"),
    ({"plane_axes": (0,)}, "two axes"),
    ({"plane_axes": (1, 1)}, "different"),
    # int() made 1.7 axis 1 and True axis 1 (a (T, Z, C, Y, X) array's z, not its channels)
    ({"channel_axis": 1.7}, "whole number"),
    ({"channel_axis": True}, "whole number"),
    ({"plane_axes": (0.5, 1)}, "whole number"),
])
def test_bad_options_raise_clear_errors(noisy_u8, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _run(noisy_u8, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_unavailable_is_a_value_error():
    from fm2s.engine.runtime import resolve_device

    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    assert resolve_device("auto").type in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_torch_device_unavailable_is_a_value_error(noisy_u8):
    with pytest.raises(ValueError):
        _run(noisy_u8, device=torch.device("cuda"))


def test_channel_axis_inside_plane_axes_raises():
    with pytest.raises(ValueError, match="channel_axis"):
        _run(np.zeros((32, 32, 3), np.uint8), plane_axes=(0, 2), channel_axis=2)


def test_shared_with_reference_schedule_on_a_stack_raises():
    with pytest.raises(ValueError, match="per_plane"):
        _run(np.zeros((2, 32, 32), np.uint8), schedule="reference", stack_mode="shared")


def test_shared_with_a_whole_plane_schedule_on_the_channels_of_one_plane_runs():
    # The channels were counted as planes of a stack: an RGB plane was refused as a stack.
    whole = Schedule("whole", stage1_steps=1, noise_draws=3, steps_per_draw=1, crop=None, batch=1)
    image = np.zeros((24, 24, 3), np.uint8)
    out = _run(image, channel_axis=-1, schedule=whole, stack_mode="shared")
    assert out.shape == image.shape


# ----------------------------------------------------------------------------- progress

def test_progress_is_monotone_and_counts_planes():
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (2, 3, 40, 40)).astype(np.uint8)  # (ch, t, row, col)
    events = []
    _run(image, channel_axis=0, progress=events.append)
    fractions = [e.fraction for e in events]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(a <= b for a, b in zip(fractions, fractions[1:]))
    assert fractions[-1] == 1.0
    done = [e for e in events if e.phase == "denoise"]
    assert [e.plane for e in done] == [1, 2, 3, 4, 5, 6]
    assert all(e.n_planes == 6 for e in events)
    train = [e for e in events if e.phase == "train"]
    assert len(train) == 2 * TINY.total_steps  # shared mode: one model per channel
    assert all(e.n_steps == TINY.total_steps for e in train)


# ----------------------------------------------------------------------------- global state

def test_import_does_not_import_torch():
    code = "import fm2s, sys; fm2s.resolve_params('confocal', 4); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_num_threads_is_applied_and_restored(noisy_u8):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    try:
        _run(noisy_u8, num_threads=1, progress=lambda e: seen.append(torch.get_num_threads()))
        assert torch.get_num_threads() == 2
        assert seen and set(seen) == {1}
    finally:
        torch.set_num_threads(before)


def test_num_threads_none_leaves_torch_alone(noisy_u8):
    before = torch.get_num_threads()
    _run(noisy_u8, num_threads=None)
    assert torch.get_num_threads() == before


def test_numpy_global_rng_untouched(noisy_u8):
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the legacy global RNG)
    _run(noisy_u8)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_torch_global_rng_untouched(noisy_u8):
    state = torch.get_rng_state()
    _run(noisy_u8)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(("preset", "level", "draws", "start"), [
    ("Two-Photon", "avg1", 200, "twophoton_avg1"),  # a shipped start fits: fewer draws
    ("confocal", "avg1", 450, "confocal_avg1"),
    ("confocal", "avg2", 450, "confocal_avg2"),  # every published level has its start
    ("confocal", "avg3", 450, "confocal_avg4"),  # in between: the nearest start
    ("confocal", "avg32", None, None),  # refused
    ("base", "avg1", 700, "random"),  # neither: the schedule's draws
])
def test_the_fast_schedule_by_name_gets_the_presets_draws_and_start(preset, level, draws, start):
    from fm2s.api import resolve_run
    from fm2s.options import validate_options

    if draws is None:
        with pytest.raises(ValueError, match="unknown noise level"):
            validate_options(preset=preset, noise_level=level)
        return
    opts = validate_options(preset=preset, noise_level=level, schedule="fast", seed=0,
                            device="cpu")
    assert opts.schedule.name == "fast"
    assert opts.schedule.noise_draws == draws
    assert opts.schedule.start == start
    metadata = resolve_run(opts, 1).metadata()
    assert metadata["fm2s_noise_draws"] == draws
    assert metadata["fm2s_start"] == start


def test_a_stack_is_denoised_in_little_more_memory_than_its_output():
    """Planes are read and written one at a time (fm2s.planes): numpy's peak is the output and a
    few planes, not float copies of the whole stack (it was 6x the data)."""
    import tracemalloc

    stack = np.random.default_rng(0).poisson(100, (400, 64, 64)).astype(np.uint16)
    fm2s.denoise(stack[:2], schedule=TINY, seed=0, num_threads=1)  # imports, caches
    tracemalloc.start()
    try:
        out = fm2s.denoise(stack, schedule=TINY, seed=0, num_threads=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == stack.shape and out.dtype == stack.dtype
    assert peak < 2.0 * stack.nbytes


def test_fm2s_io_is_reachable_from_import_fm2s_and_loaded_only_when_used():
    # docs/cluster.md's example, `import fm2s` then fm2s.io.read_zarr, raised AttributeError
    code = ("import sys, fm2s; assert 'xarray' not in sys.modules; "
            "assert callable(fm2s.io.read_zarr) and callable(fm2s.io.write_tiff); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_tiling_turned_off_is_recorded(tmp_path):
    # a record without fm2s_tile could not be told from an older one (read as the default)
    from fm2s import io

    x = np.random.default_rng(0).poisson(50, (32, 32)).astype(np.uint16)
    _, meta = fm2s.denoise_with_metadata(x, tile=None, schedule=TINY, seed=0)
    assert "fm2s_tile" in meta and meta["fm2s_tile"] is None
    da = _run(xr.DataArray(x, dims=("row", "col")), tile="none")
    back = io.read_image(io.write_tiff(tmp_path / "t.tif", da))
    assert "fm2s_tile" in back.attrs and back.attrs["fm2s_tile"] is None


@pytest.mark.parametrize("side", [11, 12])
def test_planes_too_small_for_noise2detail_get_a_clear_error(side):
    # a torch padding error ("Padding size should be less than...") came through
    image = np.random.default_rng(0).poisson(50, (side, 40)).astype(np.uint16)
    with pytest.raises(fm2s.errors.ImageError, match="Noise2Detail .* needs at least 13 x 13"):
        fm2s.denoise(image, method="n2d", schedule="quick", seed=0)
    assert fm2s.denoise(image, method="zsn2n", schedule="quick", seed=0).shape == image.shape


def test_the_cpu_threads_that_ran_are_recorded(noisy_u8):
    import torch

    _, given = fm2s.denoise_with_metadata(noisy_u8, schedule=API, seed=0, num_threads=1)
    _, default = fm2s.denoise_with_metadata(noisy_u8, schedule=API, seed=0)
    assert given["fm2s_cpu_threads"] == 1
    assert default["fm2s_cpu_threads"] == torch.get_num_threads()
