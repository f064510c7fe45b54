"""The bfloat16 output layer: float32-accurate values and gradients, clear error for other convs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fm2s.engine.methods.fm2s.bf16_output import conv_from_reference


def _layer(c_in: int = 12, c_out: int = 2, seed: int = 0) -> nn.Conv2d:
    torch.manual_seed(seed)
    conv = nn.Conv2d(c_in, c_out, 5, padding=2)
    with torch.no_grad():
        conv.bias.fill_(0.4)  # outputs near 0.1..0.7, as for a mid-grey image
    return conv


def _case(channels_last: bool = False, bf16_weights: bool = False):
    conv = _layer()
    if bf16_weights:  # weights that bfloat16 represents exactly: only the output is rounded
        with torch.no_grad():
            conv.weight.copy_(conv.weight.to(torch.bfloat16).float())
    g = torch.Generator().manual_seed(1)
    hidden = (torch.rand(2, 12, 20, 20, generator=g) * 0.3).to(torch.bfloat16)
    if channels_last:
        hidden = hidden.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        exact = conv.double()(hidden.double()).float()
    conv.float()
    reference = exact + 0.01 * torch.randn(exact.shape, generator=g)  # a target near the output
    return conv, hidden, exact, reference


def _plain_bf16(conv: nn.Conv2d, hidden: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = nn.functional.conv2d(hidden, conv.weight.to(torch.bfloat16),
                                   conv.bias.to(torch.bfloat16), padding=2)
    return out.float()


def _rms(x: torch.Tensor) -> float:
    return x.pow(2).mean().sqrt().item()


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_output_is_not_rounded_to_bfloat16(channels_last):
    conv, hidden, exact, reference = _case(channels_last, bf16_weights=True)
    out = conv_from_reference(conv, hidden, reference)
    assert out.dtype == torch.float32 and out.shape == exact.shape
    # A 12-bit grey level at unit scale is 2.4e-4: a plain bf16 layer is off by several.
    assert (_plain_bf16(conv, hidden) - exact).abs().max().item() > 1e-3
    # What is left is the rounding of the difference from the reference (up to ~0.04 here).
    assert (out - exact).abs().max().item() < 0.04 * 2**-8


def test_with_any_weights_the_error_is_a_fraction_of_a_plain_bf16_layer():
    conv, hidden, exact, reference = _case()
    ours = _rms(conv_from_reference(conv, hidden, reference) - exact)
    assert ours < _rms(_plain_bf16(conv, hidden) - exact) / 3
    assert ours < 2.4e-4


def test_any_reference_gives_the_same_output_up_to_rounding():
    conv, hidden, exact, _ = _case(False)
    for reference in (torch.zeros_like(exact), torch.ones_like(exact), exact):
        assert torch.allclose(conv_from_reference(conv, hidden, reference), exact, atol=5e-3)


def test_gradients_match_the_float32_layer():
    conv, hidden, exact, reference = _case(True)
    target = reference + 0.05
    hidden_32 = hidden.float().requires_grad_()
    ((conv(hidden_32) - target) ** 2).mean().backward()
    want = [conv.weight.grad.clone(), conv.bias.grad.clone(), hidden_32.grad.clone()]
    conv.zero_grad()
    hidden_16 = hidden.clone().requires_grad_()
    ((conv_from_reference(conv, hidden_16, reference) - target) ** 2).mean().backward()
    got = [conv.weight.grad, conv.bias.grad, hidden_16.grad.float()]
    assert hidden_16.grad.dtype == torch.bfloat16
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=2e-2, atol=1e-2 * w.abs().max().item())


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_hidden_gradient_arrives_dense_in_the_hidden_layout(channels_last):
    # Handed on as a slice of the concatenated input's gradient, it is strided, and the
    # activation's backward before it runs 3-5x slower. (Its values: the test above.)
    conv, hidden, _, reference = _case(channels_last)
    seen = []
    hidden = hidden.clone().requires_grad_()
    activated = torch.nn.functional.leaky_relu(hidden, 1e-3)
    activated.register_hook(seen.append)
    conv_from_reference(conv, activated, reference).square().mean().backward()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    assert seen[0].is_contiguous(memory_format=layout)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(12, 2, 5, padding=1),
        nn.Conv2d(12, 2, 4, padding=2),
        nn.Conv2d(12, 2, 5, padding=2, stride=2),
        nn.Conv2d(12, 2, 5, padding=2, bias=False),
    ],
)
def test_other_convolutions_are_refused_with_the_reason(conv):
    hidden = torch.zeros(1, 12, 8, 8, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="'same' convolution"):
        conv_from_reference(conv, hidden, torch.zeros(1, 2, 8, 8))


def test_valid_mode_gives_the_interior_of_the_padded_output():
    conv, hidden, exact, reference = _case(bf16_weights=True)
    out = conv_from_reference(conv, hidden, reference[..., 2:-2, 2:-2], valid=True)
    assert out.shape == exact[..., 2:-2, 2:-2].shape
    assert (out - exact[..., 2:-2, 2:-2]).abs().max().item() < 0.04 * 2**-8


@pytest.mark.parametrize("padding", [0, 2])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_input_gradient_computed_as_a_forward_convolution_is_torchs(padding, channels_last):
    from fm2s.engine.methods.fm2s.bf16_output import _DataGradByForward

    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 14, 17, 19, generator=g, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(2, 14, 5, 5, generator=g, dtype=torch.float64)
    upstream = torch.randn(2, 2, 17 - 4 + 2 * padding, 19 - 4 + 2 * padding, generator=g, dtype=torch.float64)

    def grads(conv):
        xs, ws = x.clone().requires_grad_(), weight.clone().requires_grad_()
        out = conv(xs, ws)
        (out * upstream).sum().backward()
        return out.detach(), xs.grad, ws.grad

    want = grads(lambda a, w: torch.nn.functional.conv2d(a, w, padding=padding))
    got = grads(lambda a, w: _DataGradByForward.apply(a, w, padding))
    for name, a, b in zip(("output", "input gradient", "weight gradient"), got, want):
        assert a.shape == b.shape, name
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-10), name


@pytest.mark.parametrize("c_out", [1, 2])
def test_the_convolution_runs_in_the_memory_format_of_hidden(monkeypatch, c_out):
    """With one output channel the reference channel fits both memory formats; the
    concatenated input must still be channels-last like ``hidden`` (NCHW made the layer's
    weight gradient 8x slower on the CPU)."""
    from fm2s.engine.methods.fm2s import bf16_output

    seen = []
    forward = bf16_output._DataGradByForward.forward

    def spy(ctx, x, weight, padding):
        seen.append(x.is_contiguous(memory_format=torch.channels_last))
        return forward(ctx, x, weight, padding)

    monkeypatch.setattr(bf16_output._DataGradByForward, "forward", staticmethod(spy))
    conv = _layer(c_out=c_out)
    hidden = torch.rand(2, 12, 20, 20).to(torch.bfloat16)
    hidden = hidden.contiguous(memory_format=torch.channels_last)
    reference = torch.rand(2, c_out, 16, 16)
    out = conv_from_reference(conv, hidden, reference, valid=True)
    assert out.shape == (2, c_out, 16, 16)
    assert seen == [True]
