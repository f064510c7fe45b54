"""Tiled inference (``predict_plane``): tiles with receptive-field overlap reproduce the
untiled result, with and without the flip ensemble."""

from __future__ import annotations

import pytest
import torch

from fm2s.engine.infer import dihedral as _dihedral
from fm2s.engine.infer import dihedral_inverse as _dihedral_inverse
from fm2s.engine.methods.fm2s.model import RECEPTIVE_RADIUS, build_model, pad_plane, predict_plane

CPU = torch.device("cpu")


def _model(n_chan: int, seed: int = 0):
    model = build_model(n_chan, torch.Generator().manual_seed(seed), CPU)
    with torch.no_grad():  # shift the output into [0, 1] so the clamp does not hide errors
        model.conv3.bias.add_(0.5)
    return model.eval()


def _plane(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n_chan", [1, 2])
@pytest.mark.parametrize("tile", [64, 50, 11])
def test_tiled_equals_untiled(n_chan, tile):
    model, plane = _model(n_chan), _plane(200, 170)
    whole = predict_plane(model, plane, n_chan, tile=None)
    tiled = predict_plane(model, plane, n_chan, tile=tile)
    assert tiled.shape == plane.shape
    # Not trivially clamped: the output has real dynamic range.
    assert whole.std() > 0.01
    assert ((whole > 0) & (whole < 1)).float().mean() > 0.5
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("views", [2, 8])
def test_tiled_equals_untiled_with_views(views):
    model, plane = _model(2, seed=1), _plane(200, 170, seed=1)
    whole = predict_plane(model, plane, 2, tile=None, views=views)
    tiled = predict_plane(model, plane, 2, tile=64, views=views)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def _view(model, plane, k):
    r = RECEPTIVE_RADIUS
    with torch.no_grad():
        y = model(_dihedral(pad_plane(plane), k)[None, None]).clamp(0, 1)[0, 0]
    return _dihedral_inverse(y, k)[r:-r, r:-r]


@pytest.mark.parametrize(
    ("views", "transforms"),
    [(1, [0]), (2, [0, 4]), (4, [0, 1, 2, 3]), (8, list(range(8)))],
)
def test_views_average_the_named_dihedral_transforms(views, transforms):
    model, plane = _model(1, seed=2), _plane(40, 56, seed=2)
    got = predict_plane(model, plane, 1, tile=None, views=views)
    manual = sum(_view(model, plane, k) for k in transforms) / len(transforms)
    torch.testing.assert_close(got, manual, atol=1e-6, rtol=0)
    # The views really differ (the network is not symmetric), so averaging changes the output.
    if views > 1:
        assert not torch.allclose(got, _view(model, plane, 0), atol=1e-4)


def test_the_two_views_are_the_plane_and_its_left_right_mirror():
    model, plane = _model(1, seed=3), _plane(30, 44, seed=3)
    mirrored = _view(model, plane.flip(-1), 0).flip(-1)
    want = (_view(model, plane, 0) + mirrored) / 2
    torch.testing.assert_close(predict_plane(model, plane, 1, tile=None, views=2), want,
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("views", [0, 3, 16, True])
def test_other_view_counts_are_refused(views):
    model, plane = _model(1, seed=2), _plane(20, 20, seed=2)
    with pytest.raises(ValueError, match="views must be one of"):
        predict_plane(model, plane, 1, views=views)


@pytest.mark.parametrize("k", range(8))
def test_dihedral_inverse_undoes_transform(k):
    x = _plane(5, 7)
    assert torch.equal(_dihedral_inverse(_dihedral(x, k), k), x)


def test_eight_dihedral_transforms_are_distinct():
    x = _plane(6, 6)
    outs = [_dihedral(x, k) for k in range(8)]
    assert all(not torch.equal(outs[i], outs[j]) for i in range(8) for j in range(i))


def test_output_is_clamped_and_channel_averaged():
    model, plane = _model(2, seed=3), _plane(30, 30, seed=3)
    out = predict_plane(model, plane, 2, tile=None)
    r = RECEPTIVE_RADIUS
    with torch.no_grad():
        raw = model(pad_plane(plane)[None, None].expand(1, 2, 40, 40).contiguous())
    torch.testing.assert_close(out, raw.clamp(0, 1).mean(dim=1)[0, r:-r, r:-r])
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("tile", [10, 5, 1])
def test_tile_too_small_raises(tile):
    with pytest.raises(ValueError, match="tile"):
        predict_plane(_model(1), _plane(40, 40), 1, tile=tile)


def test_plane_smaller_than_tile_is_one_pass():
    model, plane = _model(1), _plane(30, 20)
    torch.testing.assert_close(predict_plane(model, plane, 1, tile=64),
                               predict_plane(model, plane, 1, tile=None), atol=0, rtol=0)
