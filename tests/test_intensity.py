"""Intensity mapping: data values <-> [0, 1], dtype checks and rounding casts."""

from __future__ import annotations

import numpy as np
import pytest

from fm2s.intensity import (
    SUPPORTED_DTYPES,
    IntensityMap,
    check_dtype,
    intensity_map_for,
)


def test_supported_dtypes():
    assert set(SUPPORTED_DTYPES) == {"uint8", "uint16", "int16", "float32", "float64"}
    for name in SUPPORTED_DTYPES:
        assert check_dtype(np.dtype(name)) == np.dtype(name)


@pytest.mark.parametrize(("dtype", "hint"), [
    (np.bool_, "mask"), (np.complex64, "magnitude"), (np.int32, "float32"),
    (np.uint32, "float32"), (np.int64, "float32"), (np.float16, "float32"),
])
def test_unsupported_dtypes_raise_with_hint(dtype, hint):
    with pytest.raises(ValueError, match="unsupported pixel type") as err:
        check_dtype(np.dtype(dtype))
    assert hint in str(err.value)
    assert "uint16" in str(err.value)  # lists the accepted types


def test_uint8_maps_by_255_regardless_of_content():
    data = np.array([[10, 20], [30, 40]], np.uint8)
    imap = intensity_map_for(data)
    assert (imap.lo, imap.hi) == (0.0, 255.0)
    np.testing.assert_allclose(imap.to_unit(data), data / 255.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.float64])
def test_other_types_map_min_max_to_unit(dtype):
    data = np.array([[100, 500], [4095, 1000]]).astype(dtype)
    imap = intensity_map_for(data)
    assert (imap.lo, imap.hi) == (100.0, 4095.0)
    unit = imap.to_unit(data)
    assert unit.dtype == np.float32
    assert unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(unit, (data.astype(float) - 100) / 3995, rtol=1e-6)


def test_negative_int16_values_are_mapped():
    data = np.array([[-300, 0], [200, 700]], np.int16)
    imap = intensity_map_for(data)
    assert (imap.lo, imap.hi) == (-300.0, 700.0)
    np.testing.assert_allclose(imap.to_unit(data), [[0, 0.3], [0.5, 1.0]], atol=1e-7)


def test_round_trip_is_identity_for_integer_data():
    rng = np.random.default_rng(0)
    data = rng.integers(100, 4096, (32, 32)).astype(np.uint16)
    imap = intensity_map_for(data)
    back = imap.from_unit(imap.to_unit(data), data.dtype)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, data)


def test_round_trip_float_data_keeps_scale():
    data = np.linspace(-2.5, 7.5, 100, dtype=np.float64).reshape(10, 10)
    imap = intensity_map_for(data)
    back = imap.from_unit(imap.to_unit(data), data.dtype)
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, data, atol=1e-5)


def test_explicit_range_clips_outside_values():
    data = np.array([0, 50, 100, 150], np.uint16)
    imap = intensity_map_for(data, (50, 100))
    np.testing.assert_allclose(imap.to_unit(data), [0, 0, 1, 1])
    back = imap.from_unit(imap.to_unit(data), data.dtype)
    np.testing.assert_array_equal(back, [50, 50, 100, 100])


@pytest.mark.parametrize("bad", [(5, 5), (10, 1), ("a", "b"), (1,), (0, float("nan")), 7])
def test_bad_explicit_range_raises(bad):
    with pytest.raises(ValueError, match="intensity_range"):
        intensity_map_for(np.zeros(3, np.float32), bad)


def test_constant_image_maps_to_zero_and_back_exactly():
    data = np.full((8, 8), 321, np.uint16)
    imap = intensity_map_for(data)
    unit = imap.to_unit(data)
    assert np.all(unit == 0.0) and np.isfinite(unit).all()
    np.testing.assert_array_equal(imap.from_unit(unit + 0.3, data.dtype), data)


def test_back_from_unit_integers_round_half_to_even_and_clip():
    identity = IntensityMap(0.0, 1.0)  # data values = unit values: only the cast acts
    values = np.array([-3.0, 0.4, 0.5, 1.5, 2.5, 254.6, 300.0])
    np.testing.assert_array_equal(identity.from_unit(values, np.uint8), [0, 0, 0, 2, 2, 255, 255])
    np.testing.assert_array_equal(identity.from_unit(np.array([-40000.0, 40000.0]), np.int16),
                                  [-32768, 32767])
    assert identity.from_unit(values, np.float32).dtype == np.float32


def test_from_unit_rounds_not_truncates():
    imap = IntensityMap(0.0, 255.0)
    unit = np.array([99.7 / 255.0], np.float32)
    assert imap.from_unit(unit, np.uint8)[0] == 100
