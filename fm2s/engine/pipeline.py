"""Denoise a stack of 2-D planes that share one noise model: the engine's single entry point.

Generic over the method (:class:`Method`; FM2S is :class:`fm2s.engine.methods.fm2s.method.
FM2SMethod`). Stack modes (see :data:`STACK_MODES`):

``shared``
    One network is trained on random crops from (up to ``MAX_SHARED_PLANES`` evenly spaced)
    planes of the stack, then applied to every plane. Fastest; right for time-lapses and
    z-stacks of one channel, whose noise is the same from plane to plane.
``per_plane``
    A fresh network for every plane, as the authors' code does for one image.
``warm_start``
    The first plane gets the full schedule; every next plane starts from the previous plane's
    network and trains for ``WARM_FRACTION`` of the steps.

A "fresh" network is what the method starts from (for FM2S: random weights, or the shipped
network pretrained on phantoms that its schedule names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from .bias import restore_local_mean
from .input_share import NoiseModel, best_share, sure_terms
from .plan import MAX_SHARED_PLANES, WARM_FRACTION


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report.

    Attributes
    ----------
    phase : str
        ``"train"`` (an optimizer step) or ``"denoise"`` (a plane finished).
    step, n_steps : int
        Optimizer step within the current model's training.
    plane, n_planes : int
        Planes finished so far in the current stack, and planes in it.
    fraction : float
        Overall progress of this stack in [0, 1].
    """

    phase: str
    step: int
    n_steps: int
    plane: int
    n_planes: int
    fraction: float


ProgressCallback = Callable[[ProgressEvent], None]


class Planes(Protocol):
    """``(H, W)`` float32 planes in [0, 1], one at a time (an ``(N, H, W)`` array is one)."""

    def __len__(self) -> int:
        """The number of planes."""

    def __getitem__(self, index: int) -> np.ndarray:
        """Plane ``index``."""


class Method(Protocol):
    """What the pipeline needs of a denoising method."""

    name: str

    def training_steps(self, fraction: float = 1.0) -> int:
        """Optimizer steps of one training (``fraction`` of it for warm-started planes)."""

    def prepare(self, planes: np.ndarray, device: torch.device) -> Any:
        """Training data from ``(N, H, W)`` float32 planes in [0, 1]."""

    def train(
        self,
        data: Any,
        model: torch.nn.Module | None,
        *,
        fraction: float,
        cpu_generator: torch.Generator,
        device_generator: torch.Generator,
        on_step: Callable[[int, int], None] | None,
    ) -> torch.nn.Module:
        """Train ``model`` (a fresh one when None) on ``data``; ``on_step(done, total)``."""

    def predict(self, model: torch.nn.Module, plane: torch.Tensor, tile: int | None) -> torch.Tensor:
        """Denoise one ``(H, W)`` plane in [0, 1] on the model's device."""

    def network(self) -> torch.nn.Module:
        """An untrained network of this method's shape (to load trained weights into)."""


def shared_training_planes(n: int) -> list[int]:
    """The planes a shared model trains on: at most ``MAX_SHARED_PLANES``, evenly spaced."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_SHARED_PLANES)).round().astype(int)).tolist()


def train_on(
    planes: Planes,
    indices: list[int],
    method: Method,
    model: torch.nn.Module | None,
    *,
    device: torch.device,
    cpu_generator: torch.Generator,
    device_generator: torch.Generator,
    fraction: float = 1.0,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.nn.Module:
    """Train ``model`` (a fresh one when None) on the planes ``indices`` of ``planes``."""
    chosen = np.stack([planes[i] for i in indices])
    return method.train(method.prepare(chosen, device), model, fraction=fraction,
                        cpu_generator=cpu_generator, device_generator=device_generator,
                        on_step=on_step)


def _denoised(method: Method, model: torch.nn.Module, noisy: torch.Tensor, tile: int | None,
              bias_sigma: float | None) -> torch.Tensor:
    result = method.predict(model, noisy, tile)
    return restore_local_mean(noisy, result, bias_sigma) if bias_sigma else result


def predict(
    method: Method,
    model: torch.nn.Module,
    plane: np.ndarray,
    *,
    device: torch.device,
    tile: int | None,
    bias_sigma: float | None = None,
    input_share: float = 0.0,
) -> np.ndarray:
    """Denoise one ``(H, W)`` float32 plane in [0, 1] with a trained model (and the bias
    correction, :func:`fm2s.engine.bias.restore_local_mean`, when ``bias_sigma`` is set).

    With ``input_share`` the result is ``(1 - input_share) * denoised + input_share * plane``
    (:func:`measure_input_share`).
    """
    noisy = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32)).to(device)
    return _blend(noisy, _denoised(method, model, noisy, tile, bias_sigma), input_share)


def _blend(noisy: torch.Tensor, denoised: torch.Tensor, input_share: float) -> np.ndarray:
    """``(1 - input_share) * denoised + input_share * noisy``, as a NumPy array."""
    if input_share:
        denoised = torch.lerp(denoised, noisy, float(input_share))
    return denoised.cpu().numpy()


def measure_input_share(
    method: Method,
    model: torch.nn.Module,
    planes: Planes,
    index: int,
    noise: NoiseModel,
    *,
    device: torch.device,
    tile: int | None,
    bias_sigma: float | None = None,
    denoised: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> float:
    """The share of the input to put back into the planes ``model`` denoises: the one that
    minimizes Stein's unbiased risk estimate for noise ``noise``
    (:mod:`fm2s.engine.input_share`), measured on plane ``index`` (the first training plane:
    on more, four planes added about 1.9 s to a 100-frame 512 x 512 stack of about 21 s).

    Costs two inference passes. ``denoised``, when given, receives ``{index: (plane,
    denoised plane)}`` (tensors), so that the plane's result is not computed again.
    """

    def denoise(noisy: torch.Tensor) -> torch.Tensor:
        return _denoised(method, model, noisy, tile, bias_sigma)

    with torch.no_grad():
        noisy = torch.from_numpy(np.ascontiguousarray(planes[index], dtype=np.float32)).to(device)
        result = denoise(noisy)
        share = best_share([sure_terms(denoise, noisy, noise, result)])
    if denoised is not None:
        denoised[index] = (noisy, result)
    return share


def denoise_stack(
    planes: Planes,
    method: Method,
    *,
    stack_mode: str,
    device: torch.device,
    cpu_generator: torch.Generator,
    device_generator: torch.Generator,
    tile: int | None,
    bias_sigma: float | None = None,
    keep_input: NoiseModel | None = None,
    on_input_share: Callable[[float], None] | None = None,
    progress: ProgressCallback | None = None,
    out: Any = None,
) -> Any:
    """Denoise float32 planes in [0, 1] (``(N, H, W)``, or read one by one) into ``out``.

    ``stack_mode`` must already be resolved (see :func:`fm2s.engine.plan.resolve_stack_mode`).
    With ``bias_sigma`` the output's local mean is put back on the input's
    (:func:`fm2s.engine.bias.restore_local_mean`). With ``keep_input`` (the planes' noise) a
    share of each input plane is put back into its result, measured once with the first model
    trained (:func:`measure_input_share`) and told to ``on_input_share``. ``out`` takes plane ``i`` as
    ``out[i] = plane`` (default: a new ``(N, H, W)`` float32 array); it is returned. Planes are
    read one at a time, a shared model's training planes (at most ``MAX_SHARED_PLANES``)
    together.
    """
    n = len(planes)
    full = method.training_steps()
    train_units = full * (1 if stack_mode == "shared" else n)
    if stack_mode == "warm_start" and n > 1:
        train_units = full + (n - 1) * method.training_steps(WARM_FRACTION)
    plane_units = max(1, train_units // (10 * n))  # a plane's inference, in training-step units
    total = train_units + n * plane_units
    state = {"units": 0, "planes": 0}

    def report(phase: str, step: int, n_steps: int) -> None:
        if progress is not None:
            progress(ProgressEvent(phase, step, n_steps, state["planes"], n,
                                   min(1.0, state["units"] / total)))

    def on_step(done: int, n_steps: int) -> None:
        state["units"] += 1
        report("train", done, n_steps)

    def train(indices: list[int], model: torch.nn.Module | None, fraction: float = 1.0) -> Any:
        return train_on(planes, indices, method, model, device=device, fraction=fraction,
                        cpu_generator=cpu_generator, device_generator=device_generator,
                        on_step=on_step)

    reuse: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # denoised to measure the share

    def input_share(model: torch.nn.Module, index: int) -> float:
        if keep_input is None:
            return 0.0
        share = measure_input_share(method, model, planes, index, keep_input,
                                    device=device, tile=tile, bias_sigma=bias_sigma,
                                    denoised=reuse)
        if on_input_share is not None:
            on_input_share(share)
        return share

    def infer(model: torch.nn.Module, i: int, share: float) -> np.ndarray:
        if i in reuse:
            result = _blend(*reuse.pop(i), share)
        else:
            result = predict(method, model, planes[i], device=device, tile=tile,
                             bias_sigma=bias_sigma, input_share=share)
        state["units"] += plane_units
        state["planes"] += 1
        report("denoise", 0, 0)
        return result

    if out is None:
        out = np.empty((n, *planes[0].shape), dtype=np.float32)
    if stack_mode == "shared":
        indices = shared_training_planes(n)
        model = train(indices, None)
        share = input_share(model, indices[0])
        for i in range(n):
            out[i] = infer(model, i, share)
        return out

    model, share = None, 0.0
    for i in range(n):
        if stack_mode == "warm_start" and model is not None:
            model = train([i], model, WARM_FRACTION)
        else:
            model = train([i], None)
        if i == 0:  # measured once, with the first plane's model
            share = input_share(model, 0)
        out[i] = infer(model, i, share)
    return out
