"""Training the Noise2Detail networks: stage 1 (``f``, Zero-Shot Noise2Noise), the stage-2
estimate ``y_hat`` that stage 3 learns from, and stage 3 (``g``).

Both trained stages minimise the same pair loss (:func:`n2n_loss`) between the half-resolution
pair images ``d_i = D_i(x)`` of the noisy plane ``x`` and a network's estimates:

``0.5 [MSE(d1, q2) + MSE(d2, q1)] + 0.5 [MSE(q1, D1(h(u))) + MSE(q2, D2(h(u)))]``

with ``q_i = h(D_i(u))``. Stage 1: ``u = x`` and ``h(v) = v - f(v)`` (``f`` predicts the
noise); stage 3: ``u = y_hat`` and ``h(v) = g(v)``.

Whole-plane steps use the networks' zero-padded "same" convolutions on the plane, as the
authors do. Crop steps cut ``crop + 8``-pixel windows at even offsets from planes
reflect-padded by :data:`CROP_RIM` and run the networks unpadded ("valid"): the 4-pixel rim
(2 half-resolution pixels, one network's receptive radius) is context that is not scored, so
every scored pixel is computed as at inference, and the crop loss is an unbiased estimate of
the whole-plane loss away from the border.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...adam import Adam
from ...infer import predict_plane, reflect_pad
from ...plan import DEFAULT_TILE
from ...runtime import native_bf16
from .model import NET_RADIUS, PIPELINE_RADIUS, N2DNet, pad_to_multiple, pair_downsample
from .model import structure_estimate as structure_pipeline
from .schedules import N2DSchedule

#: Full-resolution context around a scored crop: one network's radius at half resolution.
CROP_RIM = 2 * NET_RADIUS

StepCallback = Callable[[], None]


@dataclass
class N2DData:
    """Planes prepared for training.

    Attributes
    ----------
    planes : torch.Tensor
        ``(N, 1, H, W)`` float32 noisy planes in [0, 1] on the training device.
    """

    planes: torch.Tensor

    @classmethod
    def from_planes(cls, planes: np.ndarray, device: torch.device) -> N2DData:
        """From ``(N, H, W)`` planes in [0, 1] (numpy)."""
        tensor = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))
        return cls(tensor[:, None].to(device))


def n2n_loss(
    d1: torch.Tensor, d2: torch.Tensor, q1: torch.Tensor, q2: torch.Tensor,
    e1: torch.Tensor, e2: torch.Tensor,
) -> torch.Tensor:
    """The Zero-Shot Noise2Noise pair loss.

    ``0.5 [MSE(d1, q2) + MSE(d2, q1)] + 0.5 [MSE(q1, e1) + MSE(q2, e2)]``: each pair image's
    estimate ``q_i`` should match the other pair image (residual term) and the pair image
    ``e_i`` of the full-resolution estimate (consistency term). Symmetric in the indices.
    """
    residual = F.mse_loss(q2, d1) + F.mse_loss(q1, d2)
    consistency = F.mse_loss(q1, e1) + F.mse_loss(q2, e2)
    return 0.5 * residual + 0.5 * consistency


NetApply = Callable[[N2DNet, torch.Tensor, bool], torch.Tensor]


def apply_net(net: N2DNet, x: torch.Tensor, valid: bool) -> torch.Tensor:
    """``net(x)`` in float32 (``valid``: unpadded convolutions)."""
    return net(x, valid=valid)


def apply_net_bf16(net: N2DNet, x: torch.Tensor, valid: bool) -> torch.Tensor:
    """``net(x)`` with the 3x3 convolutions in bfloat16 and the 1x1 output layer in float32.

    The output layer is 48 multiply-adds a pixel against the hidden layer's 20,736, so float32
    costs little there and keeps the output (an image, in stage 3) free of bfloat16 rounding.
    """
    with torch.autocast(x.device.type, dtype=torch.bfloat16):
        hidden = net.hidden(x, valid=valid)
    return net.conv3(hidden.float())


def pair_loss(
    net: N2DNet,
    inputs: torch.Tensor,
    raw: torch.Tensor,
    *,
    residual: bool,
    rim: int = 0,
    apply: NetApply = apply_net,
) -> torch.Tensor:
    """The loss of one step on ``(B, C, H, W)`` windows.

    Parameters
    ----------
    net : N2DNet
        ``f`` (``residual=True``: the estimate is ``v - net(v)``) or ``g`` (``net(v)``).
    inputs : torch.Tensor
        What the network sees: the noisy plane ``x`` (stage 1) or ``y_hat`` (stage 3).
    raw : torch.Tensor
        The noisy plane ``x`` whose pair images are the targets (same shape as ``inputs``).
    rim : int
        0: whole planes, zero-padded convolutions, every pixel scored. :data:`CROP_RIM`: the
        windows carry that much context on every side, which is not scored; unpadded
        convolutions. ``H - 2 rim`` and ``W - 2 rim`` must be even.
    apply : callable
        :func:`apply_net` or :func:`apply_net_bf16`.
    """
    valid = rim > 0
    r, h = rim // 2, NET_RADIUS  # rim at half resolution; trim of one unpadded network

    def estimate(v: torch.Tensor) -> torch.Tensor:
        out = apply(net, v, valid)
        if not residual:
            return out
        return (v[..., h:-h, h:-h] if valid else v) - out

    a1, a2 = pair_downsample(inputs)
    d1, d2 = pair_downsample(raw)
    if valid:
        d1, d2 = d1[..., r:-r, r:-r], d2[..., r:-r, r:-r]
        a1, a2 = a1[..., r - h : a1.shape[-2] - r + h, r - h : a1.shape[-1] - r + h], \
            a2[..., r - h : a2.shape[-2] - r + h, r - h : a2.shape[-1] - r + h]
        full_in = inputs[..., rim - h : inputs.shape[-2] - rim + h,
                         rim - h : inputs.shape[-1] - rim + h]
    else:
        full_in = inputs
    q1, q2 = estimate(a1), estimate(a2)
    e1, e2 = pair_downsample(estimate(full_in))
    return n2n_loss(d1, d2, q1, q2, e1, e2)


def stage1_loss(f: N2DNet, x: torch.Tensor, *, rim: int = 0,
                apply: NetApply = apply_net) -> torch.Tensor:
    """Stage 1 (Zero-Shot Noise2Noise) loss of ``f`` on ``x`` (see :func:`pair_loss`)."""
    return pair_loss(f, x, x, residual=True, rim=rim, apply=apply)


def stage3_loss(g: N2DNet, y_hat: torch.Tensor, x: torch.Tensor, *, rim: int = 0,
                apply: NetApply = apply_net) -> torch.Tensor:
    """Stage 3 loss of ``g`` on the stage-2 estimate ``y_hat`` of ``x`` (see :func:`pair_loss`)."""
    return pair_loss(g, y_hat, x, residual=False, rim=rim, apply=apply)


def train_stage(
    net: N2DNet,
    inputs: torch.Tensor,
    raw: torch.Tensor,
    schedule: N2DSchedule,
    n_steps: int,
    *,
    residual: bool,
    generator: torch.Generator,
    on_step: StepCallback | None = None,
) -> N2DNet:
    """Train ``net`` for ``n_steps`` steps on ``(N, 1, H, W)`` ``inputs`` and ``raw`` planes.

    Stage 1: ``inputs`` is ``raw`` and ``residual=True``; stage 3: ``inputs`` is ``y_hat``.
    With ``schedule.crop`` each step scores ``schedule.batch`` random crops drawn (positions
    and planes) from ``generator``; otherwise one whole plane per step, cycling through the
    planes. Adam with ``schedule``'s learning rate curve; ``on_step()`` after every step.
    Returns ``net`` trained in place, in eval mode.
    """
    device = inputs.device
    apply = apply_net_bf16 if schedule.bf16 and native_bf16(device) else apply_net
    net = net.to(memory_format=torch.channels_last)
    net.train()
    optimizer = Adam(net.parameters(), lr=schedule.lr)
    sampler = _Sampler(inputs, raw, schedule.crop, schedule.batch, generator)
    nhwc = torch.channels_last
    for i in range(n_steps):
        optimizer.lr = schedule.lr_at(i, n_steps)
        u, x = sampler.draw()
        optimizer.zero_grad()
        loss = pair_loss(net, u.contiguous(memory_format=nhwc), x, residual=residual,
                         rim=sampler.rim, apply=apply)
        loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step()
    net.eval()
    return net


class _Sampler:
    """Whole planes (cycling, end padded to even sides) or random crops with a rim."""

    def __init__(self, inputs: torch.Tensor, raw: torch.Tensor, crop: int | None, batch: int,
                 generator: torch.Generator) -> None:
        n, _, h, w = raw.shape
        self.n, self.batch, self.generator = n, batch, generator
        self.next_plane = 0
        if crop is None:
            self.rim, self.crop = 0, None
            self.inputs, _ = pad_to_multiple(inputs, 2)
            self.raw, _ = pad_to_multiple(raw, 2)
            return
        self.rim = CROP_RIM
        self.crop = (min(crop, h) // 2 * 2, min(crop, w) // 2 * 2)
        if min(self.crop) < 2:
            raise ValueError(f"planes of {h} x {w} pixels are too small to train on")
        self.inputs = reflect_pad(inputs, CROP_RIM)
        self.raw = self.inputs if raw is inputs else reflect_pad(raw, CROP_RIM)

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, raw)`` windows, ``(B, 1, h, w)``."""
        if self.crop is None:
            i = self.next_plane
            self.next_plane = (i + 1) % self.n
            return self.inputs[i : i + 1], self.raw[i : i + 1]
        ch, cw = self.crop[0] + 2 * self.rim, self.crop[1] + 2 * self.rim
        _, _, hp, wp = self.raw.shape
        g, b = self.generator, self.batch
        planes = torch.randint(0, self.n, (b,), generator=g).tolist()
        tops = (2 * torch.randint(0, (hp - ch) // 2 + 1, (b,), generator=g)).tolist()
        lefts = (2 * torch.randint(0, (wp - cw) // 2 + 1, (b,), generator=g)).tolist()
        picks = list(zip(planes, tops, lefts))
        u = torch.stack([self.inputs[p, :, t : t + ch, le : le + cw] for p, t, le in picks])
        if self.raw is self.inputs:
            return u, u
        x = torch.stack([self.raw[p, :, t : t + ch, le : le + cw] for p, t, le in picks])
        return u, x


def structure_planes(f: N2DNet, planes: torch.Tensor, tile: int | None = DEFAULT_TILE) -> torch.Tensor:
    """Stage 2's ``y_hat`` of ``(N, 1, H, W)`` planes, as inference computes it (reflect-padded
    by the pipeline radius, in tiles aligned to 4 pixels)."""
    def forward(plane: torch.Tensor) -> torch.Tensor:
        return structure_pipeline(f, plane[None, None])[0, 0]

    out = [predict_plane(forward, p[0], radius=PIPELINE_RADIUS, tile=aligned_tile(tile))
           for p in planes]
    return torch.stack(out)[:, None]


def aligned_tile(tile: int | None) -> int | None:
    """``tile`` rounded down to a multiple of 4 (tiles must start on sub-image boundaries)."""
    if tile is None:
        return None
    return max(4, tile // 4 * 4)
