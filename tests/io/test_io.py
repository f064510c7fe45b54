"""Reading any supported file (fm2s.io.read_image): the type from the content, DataArrays fm2s.denoise takes."""

from __future__ import annotations

import numpy as np
import pytest

from fm2s import io


def test_non_image_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.tif"
    bad.write_text("this is not an image")
    with pytest.raises(ValueError, match="notes.tif is not a TIFF or PNG"):
        io.read_image(bad)



def test_read_dataarray_denoises_directly(tmp_path):
    """A file read by fm2s.io goes straight into fm2s.denoise and back out to TIFF."""
    import fm2s

    rng = np.random.default_rng(3)
    data = rng.poisson(40, (2, 48, 48)).astype(np.uint16)
    da = io.to_dataarray(data, ("ch", "row", "col"), x_spacing=0.2, y_spacing=0.2, unit="um")
    io.write_tiff(tmp_path / "in.tif", da)
    image = io.read_image(tmp_path / "in.tif")
    result, meta = fm2s.denoise_with_metadata(image, schedule="quick", seed=0, num_threads=1)
    assert result.dims == ("ch", "row", "col") and result.dtype == np.uint16
    assert len(meta["fm2s_intensity_range"]) == 2  # one model per channel
    io.write_tiff(tmp_path / "out.tif", result, meta)
    back = io.read_image(tmp_path / "out.tif")
    np.testing.assert_array_equal(back.values, result.values)
    assert back.attrs["x_spacing"] == 0.2 and back.attrs["fm2s_schedule"] == "quick"
    assert back.attrs["fm2s_seed"] == 0

