"""The network's output layer in bfloat16 at close to float32 accuracy, for bfloat16 training.

A bfloat16 convolution rounds its result to 8 significant bits: ~0.2 % of the output, several
grey levels of a 12-bit image, which the loss would then see. A float32 output layer avoids
that but cost ~40 % of a bfloat16 training step (float32 convolutions with 12 input channels
are slow on CPUs that have bfloat16 units).

:func:`conv_from_reference` lets the bfloat16 convolution compute only the difference between
the output and a reference image close to it (the training target): the reference enters as
one more input channel with weight -1 at the kernel centre, and is added back in float32. The
rounding then applies to the small difference, not to the output. The result and its gradients
are those of the float32 layer up to bfloat16 rounding of the weights and of that difference.

The layer's input gradient is computed as a forward convolution of the output gradient with
the flipped, transposed kernel (:class:`_DataGradByForward`): oneDNN's own backward-data
kernel for two output channels took 2-3x as long on the project machine (AMX).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_from_reference(
    conv: nn.Conv2d, hidden: torch.Tensor, reference: torch.Tensor, *, valid: bool = False
) -> torch.Tensor:
    """Return ``conv(hidden)`` in float32, convolving in bfloat16 around ``reference``.

    Parameters
    ----------
    conv : torch.nn.Conv2d
        A "same" convolution (stride 1, odd square kernel, padding half of it, no groups or
        dilation) with float32 weight and bias. Gradients reach its weight and bias.
    hidden : torch.Tensor
        ``(B, conv.in_channels, H, W)`` input, bfloat16 (as autocast leaves it). Receives a
        gradient when it requires one.
    reference : torch.Tensor
        Image of the output's shape, close to the expected output (no gradient). Any values
        give the same result up to rounding; closer ones give a more exact one.
    valid : bool
        Convolve without padding (output ``kernel // 2`` pixels smaller on every side), like
        ``FM2SNet.forward(..., valid=True)``; otherwise pad as ``conv`` does.

    Returns
    -------
    torch.Tensor
        ``(B, conv.out_channels, H', W')`` float32 (``H' = H`` or ``H - 2 * (kernel // 2)``).
    """
    k = conv.kernel_size[0]
    if (
        conv.kernel_size != (k, k) or k % 2 == 0 or conv.padding != (k // 2, k // 2)
        or conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1
        or conv.bias is None
    ):
        raise ValueError(
            "conv_from_reference needs a 'same' convolution with bias: odd square kernel, "
            f"padding kernel//2, stride 1, no dilation or groups; got {conv}"
        )
    c, r = conv.out_channels, k // 2
    bias = conv.bias.view(1, c, 1, 1)
    with torch.no_grad():
        shift = (reference - bias).to(torch.bfloat16)
        # The extra input channel: the kernel centre of output pixel (i, j) must read shift[i, j].
        channel = F.pad(shift, (r, r, r, r)) if valid else shift
        channel = channel.contiguous(memory_format=_memory_format(hidden))
        centre = torch.zeros(c, c, k, k, dtype=conv.weight.dtype, device=conv.weight.device)
        centre[range(c), range(c), r, r] = -1.0
    weight = torch.cat([conv.weight, centre], dim=1).to(torch.bfloat16)
    # The gradient of ``hidden`` is a slice of the concatenated input's gradient; made dense,
    # the activation's backward before it runs 3-5x faster (it is slow on strided bfloat16).
    # In ``hidden``'s memory format: with one output channel ``channel`` has a single channel,
    # which both formats describe, and the concatenation came out NCHW, where oneDNN took 2x
    # the time for this layer's forward and 8x for its weight gradient (channels-last
    # ``hidden``, the wide-field preset's n_chan=1).
    inputs = torch.cat([_DenseGrad.apply(hidden.to(torch.bfloat16)), channel], dim=1)
    inputs = inputs.contiguous(memory_format=_memory_format(hidden))
    difference = _DataGradByForward.apply(inputs, weight, 0 if valid else r)
    return difference.float() + shift.float() + bias


class _DataGradByForward(torch.autograd.Function):
    """``F.conv2d(x, weight, padding=padding)`` whose input gradient is a forward convolution.

    The gradient of a stride-1 convolution with respect to its input is the "full"
    convolution of the output gradient with the kernel flipped in space and with input and
    output channels swapped; computed that way it runs on oneDNN's forward kernels, which are
    faster than its backward-data kernels when the layer has few output channels.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, None, padding=padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        x, weight = ctx.saved_tensors
        grad = grad.contiguous(memory_format=_memory_format(x))
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            rim = weight.shape[-1] - 1 - ctx.padding
            grad_x = F.conv2d(F.pad(grad, (rim, rim, rim, rim)), weight.flip(-2, -1).transpose(0, 1))
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [ctx.padding, ctx.padding], [1, 1], False, [0, 0], 1,
                [False, True, False],
            )[1]
        return grad_x, grad_weight, None


class _DenseGrad(torch.autograd.Function):
    """Identity whose backward hands on the gradient densely, in the input's memory format."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.memory_format = _memory_format(x)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad.contiguous(memory_format=ctx.memory_format)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format
