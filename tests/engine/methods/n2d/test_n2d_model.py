"""Noise2Detail building blocks: the network, pair downsampling, pixel shuffles, the losses,
the stage-2 estimate and tiled inference."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from fm2s.engine.methods.n2d.method import N2DMethod, ZSN2NMethod
from fm2s.engine.methods.n2d.model import (
    PIPELINE_RADIUS,
    N2DModel,
    build_net,
    count_parameters,
    from_subimages,
    n2d_output,
    pair_downsample,
    residual_denoise,
    structure_estimate,
    to_subimages,
)
from fm2s.engine.methods.n2d.schedules import QUICK
from fm2s.engine.methods.n2d.train import CROP_RIM, n2n_loss, stage1_loss, stage3_loss

CPU = torch.device("cpu")


def _net(seed: int = 0, bias: float = 0.0):
    net = build_net(1, torch.Generator().manual_seed(seed), CPU)
    with torch.no_grad():
        net.conv3.bias.add_(bias)
    return net.eval()


def _model(seed: int = 0) -> N2DModel:
    # f's noise estimate small (so x - f(x) is not all clamped), g's output inside [0, 1].
    f = _net(seed)
    with torch.no_grad():
        f.conv3.weight.mul_(0.1)
        f.conv3.bias.zero_()
    return N2DModel(f, _net(seed + 1, bias=0.5))


def _plane(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(h, w, generator=torch.Generator().manual_seed(seed))


def test_parameter_count():
    assert count_parameters(_net()) == 21_313


def test_pair_downsample_exact():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    d1, d2 = pair_downsample(x)
    # D1 averages each 2x2 block's main diagonal, D2 its anti-diagonal.
    assert d1.tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert d2.tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    y = torch.tensor([[[[1.0, 2.0, 3.0, 5.0], [7.0, 11.0, 13.0, 17.0]]]])
    d1, d2 = pair_downsample(y)
    assert d1.tolist() == [[[[6.0, 10.0]]]]
    assert d2.tolist() == [[[[4.5, 9.0]]]]


def test_pair_downsample_equals_the_depthwise_convolutions():
    x = torch.rand(2, 3, 10, 14, generator=torch.Generator().manual_seed(0))
    k1 = torch.tensor([[0.5, 0.0], [0.0, 0.5]]).expand(3, 1, 2, 2)
    k2 = torch.tensor([[0.0, 0.5], [0.5, 0.0]]).expand(3, 1, 2, 2)
    d1, d2 = pair_downsample(x)
    torch.testing.assert_close(d1, F.conv2d(x, k1, stride=2, groups=3), atol=0, rtol=0)
    torch.testing.assert_close(d2, F.conv2d(x, k2, stride=2, groups=3), atol=0, rtol=0)
    # An odd last row / column is dropped, as by the strided convolution.
    odd = x[..., :9, :13]
    torch.testing.assert_close(pair_downsample(odd)[0], F.conv2d(odd, k1, stride=2, groups=3))


@pytest.mark.parametrize("s", [2, 4])
def test_subimages_roundtrip_and_layout(s):
    x = torch.rand(2, 1, 8, 12, generator=torch.Generator().manual_seed(1))
    sub = to_subimages(x, s)
    assert sub.shape == (2 * s * s, 1, 8 // s, 12 // s)
    for b in range(2):
        for i in range(s):
            for j in range(s):
                assert torch.equal(sub[b * s * s + i * s + j], x[b, :, i::s, j::s])
    assert torch.equal(from_subimages(sub, s), x)


def test_n2n_loss_is_symmetric_in_the_pair():
    gen = torch.Generator().manual_seed(2)
    d1, d2, q1, q2, e1, e2 = (torch.rand(2, 1, 6, 6, generator=gen) for _ in range(6))
    loss = n2n_loss(d1, d2, q1, q2, e1, e2)
    assert torch.equal(loss, n2n_loss(d2, d1, q2, q1, e2, e1))
    expected = 0.5 * (((d1 - q2) ** 2).mean() + ((d2 - q1) ** 2).mean()) \
        + 0.5 * (((q1 - e1) ** 2).mean() + ((q2 - e2) ** 2).mean())
    torch.testing.assert_close(loss, expected)


def _same_conv_loss(net, u, x, residual, rim):
    """The whole-window loss with "same" convolutions, scored on the interior only."""
    r = rim // 2

    def est(v):
        return v - net(v) if residual else net(v)

    a1, a2 = pair_downsample(u)
    d1, d2 = pair_downsample(x)
    inner = (slice(None), slice(None), slice(r, -r), slice(r, -r))
    full = est(u)[..., rim:-rim, rim:-rim]
    e1, e2 = pair_downsample(full)
    return n2n_loss(d1[inner], d2[inner], est(a1)[inner], est(a2)[inner], e1, e2)


@pytest.mark.parametrize("residual", [True, False])
def test_crop_loss_scores_the_interior_of_the_whole_window_loss(residual):
    net = _net(3, bias=0.3)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 24 + 2 * CROP_RIM, 20 + 2 * CROP_RIM, generator=gen)
    u = x if residual else torch.rand(x.shape, generator=gen)
    with torch.no_grad():
        crop = (stage1_loss(net, x, rim=CROP_RIM) if residual
                else stage3_loss(net, u, x, rim=CROP_RIM))
        whole = _same_conv_loss(net, u, x, residual, CROP_RIM)
    torch.testing.assert_close(crop, whole, atol=1e-6, rtol=1e-5)


def test_whole_plane_stage1_loss_is_zero_shot_noise2noise():
    net = _net(4)
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        d1, d2 = pair_downsample(x)
        p1, p2 = d1 - net(d1), d2 - net(d2)
        e1, e2 = pair_downsample(x - net(x))
        expected = 0.5 * (F.mse_loss(d1, p2) + F.mse_loss(d2, p1)) \
            + 0.5 * (F.mse_loss(p1, e1) + F.mse_loss(p2, e2))
        torch.testing.assert_close(stage1_loss(net, x), expected)


def _unshuffled_estimate(f, x, s):
    """Stage 2's y_s written out with explicit slicing (independent of to_subimages)."""
    coarse = torch.empty_like(x)
    for i in range(s):
        for j in range(s):
            coarse[..., i::s, j::s] = residual_denoise(f, x[..., i::s, j::s].contiguous())
    return residual_denoise(f, coarse)


def test_structure_estimate_is_the_mean_of_the_three_estimates():
    f = _model(5).f
    x = _plane(32, 40, seed=5)[None, None]
    with torch.no_grad():
        estimates = [residual_denoise(f, x), _unshuffled_estimate(f, x, 2),
                     _unshuffled_estimate(f, x, 4)]
        y_hat = structure_estimate(f, x)
    assert not torch.allclose(estimates[0], estimates[2], atol=1e-3)
    torch.testing.assert_close(y_hat, sum(estimates) / 3, atol=1e-6, rtol=0)


def test_pipeline_radius_bounds_the_influence_of_one_pixel():
    model = _model(6)
    x = _plane(64, 64, seed=6)[None, None]
    bumped = x.clone()
    bumped[..., 32, 32] += 0.3
    with torch.no_grad():
        changed = (n2d_output(model, bumped) - n2d_output(model, x)).abs()[0, 0] > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed.any()
    assert (rows - 32).abs().max() <= PIPELINE_RADIUS and (cols - 32).abs().max() <= PIPELINE_RADIUS


@pytest.mark.parametrize(("shape", "tile", "views"),
                         [((150, 130), 64, 1), ((150, 130), 50, 1), ((97, 123), 40, 2)])
def test_n2d_tiled_equals_untiled(shape, tile, views):
    method = N2DMethod(dataclasses.replace(QUICK, views=views))
    model, plane = _model(7), _plane(*shape, seed=7)
    whole = method.predict(model, plane, tile=None)
    tiled = method.predict(model, plane, tile=tile)
    assert tiled.shape == plane.shape
    assert whole.std() > 0.01 and ((whole > 0) & (whole < 1)).float().mean() > 0.5
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_zsn2n_tiled_equals_untiled():
    method = ZSN2NMethod(QUICK)
    f, plane = _model(8).f, _plane(75, 61, seed=8)
    torch.testing.assert_close(method.predict(f, plane, tile=16), method.predict(f, plane, None),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(37, 53), (50, 41), (64, 64)])
def test_odd_plane_sizes_keep_their_shape(shape):
    model, plane = _model(9), _plane(*shape, seed=9)
    out = N2DMethod(QUICK).predict(model, plane, tile=None)
    assert out.shape == plane.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
