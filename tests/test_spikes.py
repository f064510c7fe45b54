"""Hot pixels (fm2s.spikes): isolated pixels far above the rest do not set the intensity range,
and are kept as they were; anything the optics spread over neighbours is not one."""

from __future__ import annotations

import tracemalloc

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import fm2s
from fm2s.intensity import intensity_map_for
from fm2s.metrics import psnr
from fm2s.phantom import noisy_phantom
from fm2s.spikes import in_memory_range, is_spike, lazy_range, neighbour_indices, spike_lines


def _with_hot_pixels(image: np.ndarray, where: list[tuple[int, ...]], value: int) -> np.ndarray:
    hot = image.copy()
    for index in where:
        hot[index] = value
    return hot


def test_neighbours_are_mirrored_at_the_edges():
    rows, cols = neighbour_indices(np.array([0, 4]), np.array([0, 2]), 5, 3)
    # corner (0, 0): the row and column beyond the edge are rows/columns 1
    assert sorted(zip(rows[0], cols[0])) == sorted(
        [(1, 1), (1, 0), (1, 1), (0, 1), (0, 1), (1, 1), (1, 0), (1, 1)])
    assert rows[1].max() == 4 and rows[1].min() == 3 and cols[1].max() == 2 and cols[1].min() == 1


def test_a_spike_is_more_than_twice_as_bright_as_its_second_brightest_neighbour():
    values = np.array([100.0, 100.0, 100.0])
    neighbours = np.array([[10] * 8,                 # alone: a spike
                           [100] + [10] * 7,         # one of a pair: still a spike
                           [60, 60] + [10] * 6])     # a resolved spot: not one
    np.testing.assert_array_equal(is_spike(values, neighbours, 0.0), [True, True, False])


def test_hot_pixels_of_several_heights_are_set_aside_and_a_bright_spot_is_not():
    clean, noisy = noisy_phantom((64, 64), dtype="uint16", offset=100, seed=1)
    hot = _with_hot_pixels(noisy, [(5, 7), (5, 8), (0, 0), (63, 30)], 65535)
    hot[40, 3] = 30000
    imap = intensity_map_for(hot)
    assert (imap.lo, imap.hi, imap.spikes) == (noisy.min(), noisy.max(), 5)
    # a diffraction-limited spot as bright as the hot pixels is content: the range is the data's
    yy, xx = np.mgrid[:64, :64]
    spot = (noisy + 60000 * np.exp(-((yy - 20) ** 2 + (xx - 20) ** 2) / 2.0)).astype(np.uint16)
    assert intensity_map_for(spot).spikes == 0
    assert intensity_map_for(spot).hi == spot.max()
    # no spikes: the data's extremes, as always
    assert intensity_map_for(noisy) == intensity_map_for(noisy.astype(np.float32))
    assert (intensity_map_for(noisy).lo, intensity_map_for(noisy).hi) == (noisy.min(), noisy.max())


def test_spikes_that_leave_the_rest_more_than_half_the_range_are_kept_in_it():
    _, noisy = noisy_phantom((64, 64), dtype="uint16", offset=100, seed=1)
    hot = _with_hot_pixels(noisy, [(10, 10)], int(noisy.max()) + (int(noisy.max()) - 100) // 2)
    assert intensity_map_for(hot).spikes == 0


def test_the_lazy_search_finds_what_the_in_memory_one_finds():
    _, noisy = noisy_phantom((48, 40), dtype="uint16", offset=100, seed=2)
    stack = np.stack([noisy, noisy[::-1]])
    stack[1, 0, 39] = stack[0, 47, 0] = 65535
    stack[0, 20, 20] = 20000
    lo, hi = float(stack.min()), float(stack.max())
    eager = in_memory_range(stack, lo, hi)
    lazy = lazy_range(da.from_array(stack, chunks=(1, 24, 40)), lo, hi)
    assert eager == lazy
    assert eager.count == 3 and eager.top == float(np.sort(stack, axis=None)[-4])


def test_a_camera_image_with_hot_pixels_is_denoised_as_without_them():
    clean, noisy = noisy_phantom((96, 96), dtype="uint16", offset=100, seed=3)
    where = [(10, 20), (50, 51), (50, 52), (95, 0)]
    hot = _with_hot_pixels(noisy, where, 65535)
    keep = np.ones(clean.shape, bool)
    for index in where:
        keep[index] = False
    reference = clean.astype(float)[keep]
    span = float(np.ptp(reference))

    def score(image: np.ndarray) -> float:
        return psnr(reference, image.astype(float)[keep], data_range=span)

    plain = fm2s.denoise(noisy, preset="confocal", schedule="quick", seed=0)
    result, meta = fm2s.denoise_with_metadata(hot, preset="confocal", schedule="quick", seed=0)
    assert score(result) > score(noisy) + 2.0
    assert score(result) == pytest.approx(score(plain), abs=0.3)
    assert all(result[index] == 65535 for index in where)  # kept as they were
    assert meta["fm2s_hot_pixels"] == [4]
    assert meta["fm2s_intensity_range"] == [[float(noisy.min()), float(noisy.max())]]
    assert "4 isolated pixel(s)" in spike_lines(meta)[0]
    assert "fm2s_hot_pixels" not in fm2s.denoise_with_metadata(
        noisy, preset="confocal", schedule="quick", seed=0)[1]


def test_a_lazy_image_keeps_its_hot_pixels_as_the_in_memory_run_does():
    _, noisy = noisy_phantom((48, 48), dtype="uint16", offset=100, seed=4)
    stack = np.stack([noisy, noisy[:, ::-1]])
    stack[0, 3, 3] = stack[1, 40, 47] = 60000
    eager = fm2s.denoise(xr.DataArray(stack, dims=("t", "row", "col")), schedule="quick", seed=1,
                         num_threads=1)
    lazy = fm2s.denoise(xr.DataArray(da.from_array(stack, chunks=(1, 48, 48)),
                                     dims=("t", "row", "col")),
                        schedule="quick", seed=1, num_threads=1)
    assert lazy.attrs["fm2s_hot_pixels"] == eager.attrs["fm2s_hot_pixels"] == [2]
    values = lazy.values
    assert values[0, 3, 3] == values[1, 40, 47] == 60000
    assert np.abs(values.astype(int) - eager.values.astype(int)).max() <= 1


def test_a_given_intensity_range_is_used_as_given():
    _, noisy = noisy_phantom((48, 48), dtype="uint16", offset=100, seed=4)
    hot = _with_hot_pixels(noisy, [(3, 3)], 65535)
    out, meta = fm2s.denoise_with_metadata(hot, schedule="quick", seed=1,
                                           intensity_range=(100, 5000))
    assert "fm2s_hot_pixels" not in meta
    assert meta["fm2s_intensity_range"] == [[100.0, 5000.0]]
    assert out.max() <= 5000  # clipped to the given range, as documented


def test_a_photon_count_of_a_few_levels_keeps_its_brightest_counts():
    counts = np.random.default_rng(0).poisson(0.02, (256, 256)).astype(np.uint16)
    assert intensity_map_for(counts).hi == counts.max()
    counts[100, 100] = 60000  # a hot pixel above it is still set aside, and only it
    imap = intensity_map_for(counts)
    assert (imap.hi, imap.spikes) == (np.sort(counts, axis=None)[-2], 1)


@pytest.mark.parametrize("where", [[(0, 20), (1, 20)], [(20, 63), (20, 62)], [(0, 0), (1, 1)],
                                   [(63, 0), (62, 0)]])
def test_a_pair_of_hot_pixels_on_an_edge_is_found_as_inside_the_image(where):
    # the mirror of a neighbour beyond the edge is a neighbour inside it: counted twice, the
    # other pixel of the pair was the second brightest neighbour as well as the brightest
    _, noisy = noisy_phantom((64, 64), dtype="uint16", offset=100, seed=1)
    hot = _with_hot_pixels(noisy, where, 65535)
    imap = intensity_map_for(hot)
    assert (imap.hi, imap.spikes) == (noisy.max(), 2)
    lo, hi = float(hot.min()), float(hot.max())
    assert lazy_range(da.from_array(hot, chunks=(32, 32)), lo, hi) == in_memory_range(hot, lo, hi)
    unit = imap.to_unit(hot)  # filled from the neighbours inside the image only
    for r, c in where:  # no brighter than its neighbours but the other one of the pair
        near = hot[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        brightest = (near[near < 65535].max() - imap.lo) / (imap.hi - imap.lo)
        assert unit[r, c] <= brightest + 1e-6


def test_the_search_counts_the_bright_pixels_before_it_lists_them():
    # cells over half of a plane: half its pixels lie in the top half of the range, far more
    # than MAX_SPIKE_SHARE; listing their indices first took 16 bytes a pixel (4.5 x a uint16
    # plane) before the search gave up
    plane = np.full((1024, 1024), 100, np.uint16)
    plane[:, :512] = 3000
    plane[7, 700] = 65535
    tracemalloc.start()
    try:
        imap = intensity_map_for(plane)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (imap.hi, imap.spikes) == (3000, 1)
    assert peak < plane.nbytes
