"""The FM2S network: architecture, parameter counts, receptive field and repeatable init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fm2s.engine.methods.fm2s.model import RECEPTIVE_RADIUS, FM2SNet, build_model, count_parameters

CPU = torch.device("cpu")


def _model(n_chan: int, seed: int = 0) -> FM2SNet:
    return build_model(n_chan, torch.Generator().manual_seed(seed), CPU)


@pytest.mark.parametrize(("n_chan", "expected"), [(1, 3529), (2, 4430), (6, 8034)])
def test_parameter_counts_match_the_paper(n_chan, expected):
    assert count_parameters(_model(n_chan)) == expected


def test_parameter_count_formula_for_other_widths():
    # conv1 n->24 5x5, conv2 24->12 3x3, conv3 12->n 5x5, all with bias.
    for n in (3, 4, 9):
        expected = (n * 24 * 25 + 24) + (24 * 12 * 9 + 12) + (12 * n * 25 + n)
        assert count_parameters(FM2SNet(n)) == expected


def test_architecture_layers():
    model = FM2SNet(2)
    convs = [model.conv1, model.conv2, model.conv3]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (2, 24, (5, 5)), (24, 12, (3, 3)), (12, 2, (5, 5))]
    assert isinstance(model.act, nn.LeakyReLU)
    assert model.act.negative_slope == pytest.approx(1e-3)


@pytest.mark.parametrize("n_chan", [1, 2, 6])
def test_same_padding_keeps_shape(n_chan):
    x = torch.rand(3, n_chan, 37, 41)
    assert _model(n_chan)(x).shape == x.shape


@pytest.mark.parametrize("n_chan", [1, 2])
def test_receptive_field_is_exactly_11x11(n_chan):
    model = _model(n_chan, seed=3).double().eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, n_chan, 31, 31, generator=gen, dtype=torch.float64)
    cy, cx = 15, 17
    bumped = x.clone()
    bumped[0, :, cy, cx] += 0.5
    with torch.no_grad():
        diff = (model(bumped) - model(x)).abs().amax(dim=(0, 1))
    changed = torch.nonzero(diff > 1e-12).tolist()
    rows = {r for r, _ in changed}
    cols = {c for _, c in changed}
    assert rows == set(range(cy - 5, cy + 6))
    assert cols == set(range(cx - 5, cx + 6))
    assert len(changed) == 11 * 11
    assert RECEPTIVE_RADIUS == 5


def test_receptive_field_channel_mixing():
    """A perturbation of one amplified channel reaches every output channel."""
    model = _model(2, seed=4).double().eval()
    x = torch.rand(1, 2, 21, 21, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    bumped = x.clone()
    bumped[0, 0, 10, 10] += 0.5
    with torch.no_grad():
        diff = (model(bumped) - model(x)).abs()[0, :, 10, 10]
    assert (diff > 1e-12).all()


def test_build_model_is_repeatable_with_the_same_generator_seed():
    a, b, c = _model(2, seed=7), _model(2, seed=7), _model(2, seed=8)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_init_bounds_follow_torch_default():
    model = _model(2, seed=0)
    for conv in (model.conv1, model.conv2, model.conv3):
        fan_in = conv.weight[0].numel()
        bound = 1.0 / fan_in**0.5
        assert conv.weight.abs().max() <= bound + 1e-7
        assert conv.bias.abs().max() <= bound + 1e-7
        # Not degenerate: the weights fill most of the allowed range.
        assert conv.weight.abs().max() > 0.8 * bound


def test_build_model_places_model_on_device_and_is_trainable():
    model = _model(1)
    assert all(p.device.type == "cpu" and p.requires_grad for p in model.parameters())


def test_valid_forward_is_the_interior_of_the_padded_forward():
    model = build_model(2, torch.Generator().manual_seed(0), torch.device("cpu"))
    x = torch.rand(3, 2, 40, 33, generator=torch.Generator().manual_seed(1))
    r = RECEPTIVE_RADIUS
    with torch.no_grad():
        full = model(x)
        valid = model(x, valid=True)
        hidden = model.hidden(x, valid=True)
    assert valid.shape == (3, 2, 40 - 2 * r, 33 - 2 * r)
    assert hidden.shape == (3, 12, 40 - 6, 33 - 6)
    assert torch.allclose(valid, full[..., r:-r, r:-r], atol=1e-6)
