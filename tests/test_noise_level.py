"""noise_level="auto": the measured noise picks the level, monotonically, with notes where
it is clipped or kept; and every front-end records what it chose."""

from __future__ import annotations

import numpy as np
import pytest

import fm2s
from fm2s.metrics import psnr
from fm2s.noise_level import (
    REFERENCE_BRIGHTNESS,
    REFERENCE_VARIANCE,
    choose_level,
    level_lines,
)
from fm2s.phantom import noisy_phantom


def _clean(size: int = 256) -> np.ndarray:
    clean = noisy_phantom((size, size), seed=2, dtype="float32")[0].astype(np.float64)
    return clean / clean.max()


def _with_variance(variance_at_reference: float, seed: int = 0) -> np.ndarray:
    """A phantom with Poisson noise whose variance at the reference brightness is given."""
    photons = REFERENCE_BRIGHTNESS / variance_at_reference  # Poisson: var = mu / photons
    rng = np.random.default_rng(seed)
    return np.clip(rng.poisson(_clean() * photons) / photons, 0.0, 1.0)


@pytest.mark.parametrize("preset", ["confocal", "twophoton", "widefield"])
def test_the_level_follows_the_noise_monotonically(preset):
    reference = REFERENCE_VARIANCE[preset]
    factors = [0.7, 1.0, 2.0, 4.0, 8.0, 16.0]
    chosen = [choose_level(_with_variance(reference / f), preset) for f in factors]
    measured = [c.measured for c in chosen]
    assert measured == sorted(measured)
    for f, c in zip(factors, chosen):  # within 25 % of the captures the noise was made as
        assert c.measured == pytest.approx(f, rel=0.25)
        assert 1.0 <= c.captures <= 16.0
    captures = [c.captures for c in chosen]
    assert captures == sorted(captures) and captures[0] == 1.0 and captures[-1] == 16.0


def test_noisier_than_a_single_capture_is_avg1_with_a_note():
    choice = choose_level(_with_variance(REFERENCE_VARIANCE["confocal"] * 3), "confocal")
    assert choice.level == "avg1" and choice.measured < 0.5
    assert "stronger than in the preset's single captures" in choice.note
    assert f"(as if {choice.measured:.3g} of a capture)" in choice.note  # was "as if avg0.333"


def test_far_less_noise_than_avg16_is_reported_and_keeps_part_of_the_input():
    choice = choose_level(_with_variance(REFERENCE_VARIANCE["confocal"] / 60), "confocal")
    assert choice.level == "avg16" and choice.keeps_input
    assert "weaker than the preset's least noisy setting" in choice.note
    assert "part of the input is put back where that lowers the error" in choice.note
    within = choose_level(_with_variance(REFERENCE_VARIANCE["confocal"] / 5), "confocal")
    assert within.note is None and 8 < within.captures <= 16


def test_the_widefield_preset_keeps_fm2s_result_however_clean_the_image():
    # the share assumes noise independent from pixel to pixel; wide-field camera noise is not
    choice = choose_level(_with_variance(REFERENCE_VARIANCE["widefield"] / 60), "widefield")
    assert choice.level == "avg16" and not choice.keeps_input
    assert "no share of the input is put back with preset widefield" in choice.note
    image = _with_variance(REFERENCE_VARIANCE["widefield"] / 60)[:96, :96].astype(np.float32)
    _, meta = fm2s.denoise_with_metadata(image, preset="widefield", schedule="quick", seed=0,
                                         intensity_range=(0, 1))
    assert meta["fm2s_noise_level_chosen"] == ["avg16"] and meta["fm2s_input_share"] == [0.0]
    assert "no share of the input" in meta["fm2s_noise_note"][0]


def test_an_image_cleaner_than_avg16_gets_a_blend_of_fm2s_and_the_input():
    # far less noise than avg16 is made for: FM2S alone smooths the phantom's detail away
    clean = _clean(128)
    photons = REFERENCE_BRIGHTNESS / (REFERENCE_VARIANCE["confocal"] / 60)
    image = np.clip(np.random.default_rng(0).poisson(clean * photons) / photons, 0, 1)
    image = image.astype(np.float32)
    options = {"schedule": "quick", "seed": 0, "intensity_range": (0, 1)}
    auto, meta = fm2s.denoise_with_metadata(image, **options)
    (share,) = meta["fm2s_input_share"]
    assert meta["fm2s_noise_level_chosen"] == ["avg16"] and 0.3 < share < 1.0
    assert "part of the input is put back" in meta["fm2s_noise_note"][0]
    alone = fm2s.denoise(image, noise_level="avg16", **options)
    np.testing.assert_allclose(auto, (1 - share) * alone + share * image, atol=1e-6)
    assert psnr(clean, auto, 1.0) > psnr(clean, alone, 1.0) + 2.0
    assert psnr(clean, auto, 1.0) > psnr(clean, image, 1.0)  # and better than the input
    assert f"{share:.0%} of the input kept" in level_lines(meta)[0]


def test_the_share_is_measured_from_avg2_up_with_point_scanning_presets():
    noisy = choose_level(_with_variance(REFERENCE_VARIANCE["confocal"]), "confocal")
    assert noisy.captures < 2.0 and not noisy.keeps_input
    averaged = choose_level(_with_variance(REFERENCE_VARIANCE["confocal"] / 3), "confocal")
    assert averaged.captures >= 2.0 and averaged.keeps_input and averaged.note is None
    image = (_with_variance(REFERENCE_VARIANCE["confocal"]) * 255).astype(np.uint8)
    _, meta = fm2s.denoise_with_metadata(image, schedule="quick", seed=0)
    assert meta["fm2s_input_share"] == [0.0] and meta["fm2s_noise_note"] == [None]


def test_single_column_presets_keep_their_column_and_say_so():
    choice = choose_level(_with_variance(REFERENCE_VARIANCE["twophoton"] / 4), "srdtrans")
    assert choice.level == "avg1" and choice.measured > 2.5
    assert "preset 'srdtrans' has one noise column (avg1)" in choice.note


def test_unmeasurable_planes_fall_back_to_avg1_and_say_why():
    choice = choose_level(np.full((64, 64), 0.3), "confocal")
    assert choice.level == "avg1" and choice.estimate is None
    assert choice.note.startswith("could not measure the noise (the plane is constant")
    _, meta = fm2s.denoise_with_metadata(np.full((32, 32), 7, np.uint8), noise_level="auto",
                                         schedule="quick", seed=0)
    assert meta["fm2s_noise_level_chosen"] == ["avg1"] and meta["fm2s_noise_sigma"] == [None]
    assert "could not measure the noise" in level_lines(meta)[0]


def test_denoise_records_each_channels_level_and_noise():
    rng = np.random.default_rng(0)
    clean = _clean(128)
    # two channels, 16-bit with a camera offset: channel 0 noisy, channel 1 four times cleaner
    counts = [rng.poisson(clean * p) + 100 for p in (30, 120)]
    image = np.stack(counts, axis=-1).astype(np.uint16)
    out, meta = fm2s.denoise_with_metadata(image, channel_axis=-1, noise_level="auto",
                                           schedule="quick", seed=0)
    assert out.dtype == np.uint16 and out.shape == image.shape
    assert meta["fm2s_noise_level"] == "auto"
    first, second = meta["fm2s_noise_captures"]
    assert second / first == pytest.approx(4.0, rel=0.3)  # 4x the photons, a quarter the variance
    levels = meta["fm2s_noise_level_chosen"]
    assert len(levels) == 2 and levels[0] != levels[1]
    for key in ("fm2s_k_g", "fm2s_k_p", "fm2s_lam_p", "fm2s_start", "fm2s_noise_sigma",
                "fm2s_noise_gain", "fm2s_noise_floor", "fm2s_noise_correlation", "fm2s_noise_note"):
        assert len(meta[key]) == 2, key
    # the factors recorded are the preset's at the chosen level
    params = fm2s.presets.resolve_params("confocal", levels[1])
    assert (meta["fm2s_k_g"][1], meta["fm2s_k_p"][1], meta["fm2s_lam_p"][1]) == \
        (params.k_g, params.k_p, params.lam_p)
    # sigma in data units (one count per photon): the square root of a typical count
    assert 0.5 < meta["fm2s_noise_sigma"][0] < 10
    lines = level_lines(meta)
    assert lines[0].startswith("channel 1: noise sigma") and levels[0] in lines[0]


def test_auto_on_a_given_level_records_nothing_extra():
    image = (_with_variance(1e-3) * 255).astype(np.uint8)
    _, meta = fm2s.denoise_with_metadata(image, noise_level="avg2", schedule="quick", seed=0)
    assert "fm2s_noise_level_chosen" not in meta and level_lines(meta) == []


@pytest.mark.parametrize("variance", [1.0, 1 / 3])
def test_auto_gives_the_pixels_of_the_level_it_chose_with_the_share_it_recorded(variance):
    image = _with_variance(REFERENCE_VARIANCE["confocal"] * variance).astype(np.float32)
    options = {"schedule": "quick", "seed": 0, "intensity_range": (0, 1)}
    auto, meta = fm2s.denoise_with_metadata(image, noise_level="auto", **options)
    (level,), (share,) = meta["fm2s_noise_level_chosen"], meta["fm2s_input_share"]
    fixed = fm2s.denoise(image, noise_level=level, **options)
    np.testing.assert_allclose(auto, (1 - share) * fixed + share * image, atol=1e-6)
    assert (share == 0.0) == (variance == 1.0)  # a single capture's noise: no share


def test_lazy_data_choose_the_same_level_and_pixels_as_in_memory():
    import dask.array as da
    import xarray as xr

    rng = np.random.default_rng(1)
    stack = np.stack([rng.poisson(_clean(96) * 50) for _ in range(3)]).astype(np.uint16)
    eager = xr.DataArray(stack, dims=("pln", "row", "col"))
    lazy = eager.copy(data=da.from_array(stack, chunks=(1, 96, 96)))
    options = {"noise_level": "auto", "schedule": "quick", "seed": 0, "stack_mode": "shared"}
    ref, ref_meta = fm2s.denoise_with_metadata(eager, **options)
    out, meta = fm2s.denoise_with_metadata(lazy, **options)
    assert meta["fm2s_noise_level_chosen"] == ref_meta["fm2s_noise_level_chosen"]
    np.testing.assert_array_equal(out.compute().values, ref.values)


@pytest.mark.parametrize("mode", ["shared", "per_plane"])
def test_every_plane_of_a_stack_gets_the_channels_share(mode):
    rng = np.random.default_rng(2)
    photons = REFERENCE_BRIGHTNESS / (REFERENCE_VARIANCE["confocal"] / 60)
    stack = np.stack([rng.poisson(_clean(64) * photons) / photons for _ in range(3)])
    stack = np.clip(stack, 0, 1).astype(np.float32)
    options = {"schedule": "quick", "seed": 0, "intensity_range": (0, 1), "stack_mode": mode}
    auto, meta = fm2s.denoise_with_metadata(stack, **options)
    (share,) = meta["fm2s_input_share"]
    alone = fm2s.denoise(stack, noise_level=meta["fm2s_noise_level_chosen"][0], **options)
    assert share > 0.3
    np.testing.assert_allclose(auto, (1 - share) * alone + share * stack, atol=1e-6)


def test_lazy_data_keep_the_same_share_of_a_clean_input_as_in_memory():
    import dask.array as da
    import xarray as xr

    rng = np.random.default_rng(1)
    stack = np.stack([rng.poisson(_clean(96) * 30000) for _ in range(2)]).astype(np.uint16)
    eager = xr.DataArray(stack, dims=("pln", "row", "col"))
    lazy = eager.copy(data=da.from_array(stack, chunks=(1, 96, 96)))
    options = {"schedule": "quick", "seed": 0, "stack_mode": "shared"}
    ref, ref_meta = fm2s.denoise_with_metadata(eager, **options)
    out, meta = fm2s.denoise_with_metadata(lazy, **options)
    assert ref_meta["fm2s_input_share"][0] > 0.5
    assert meta["fm2s_input_share"] == ref_meta["fm2s_input_share"]
    np.testing.assert_array_equal(out.compute().values, ref.values)


@pytest.mark.parametrize("preset", ["confocal", "twophoton", "widefield", "srdtrans"])
def test_the_level_is_a_monotone_function_of_the_measured_captures(preset):
    from fm2s.noise_level import level_captures

    measured = np.geomspace(0.1, 200, 400)
    levels = [level_captures(m, preset) for m in measured]
    assert all(b >= a for a, b in zip(levels, levels[1:]))
    assert levels[0] == 1.0 and levels[-1] == 16.0
    assert level_captures(0.7, preset) == 1.0  # as noisy as a single capture: avg1
    assert level_captures(4.0, preset) > 4.0  # above the measured captures: see the module


def test_white_noise_with_the_widefield_preset_gets_a_hint():
    white = choose_level(_with_variance(REFERENCE_VARIANCE["widefield"]), "widefield")
    assert white.estimate.correlation < 1.5
    assert "preset confocal or twophoton may fit better" in white.note
    assert choose_level(_with_variance(REFERENCE_VARIANCE["confocal"]), "confocal").note is None


def test_a_dim_camera_image_with_an_offset_is_measured_as_noisy():
    # 20 photons at the peak over an offset of 100 with read noise 2, in a 16-bit container:
    # the fitted line reaches zero near the offset, the measured floor does not
    rng = np.random.default_rng(3)
    counts = rng.poisson(_clean(256) * 20) + rng.normal(0, 2, (256, 256)) + 100
    image = np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
    from fm2s.intensity import intensity_map_for

    unit = intensity_map_for(image).to_unit(image)
    choice = choose_level(unit, "confocal")
    assert choice.measured < 1.5 and choice.level == "avg1"


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.float64])
def test_every_dtype_gets_the_level_of_the_same_counts(dtype):
    # 12-bit camera counts with an offset of 100, as uint16, int16 and float: the intensity
    # mapping (min..max) makes them the same [0, 1] data, so the same level
    rng = np.random.default_rng(4)
    counts = np.clip(rng.poisson(_clean(128) * 400) + 100, 0, 4095)
    reference = choose_level(
        (counts - counts.min()) / (counts.max() - counts.min()), "confocal").level
    _, meta = fm2s.denoise_with_metadata(counts.astype(dtype), noise_level="auto",
                                         schedule="quick", seed=0)
    assert meta["fm2s_noise_level_chosen"] == [reference]
