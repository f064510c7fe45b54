"""``fm2s.denoise``: numpy or xarray in, the same kind out, with dtype, scale and metadata kept.

This layer validates the user's choices once, maps intensities to [0, 1], cuts the data into
channel stacks of 2-D planes, hands them to the engine and puts the result back together.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dims
from ._version import __version__
from .intensity import IntensityMap, check_dtype, check_intensity_range, intensity_map_for
from .out_of_memory import explain_out_of_memory
from .presets import FM2SParams, canonical_preset, normalize_noise_level, resolve_params

#: Default Gaussian sigma (pixels) of the intensity-bias correction (fm2s.engine.bias).
DEFAULT_BIAS_SIGMA = 16.0

log = logging.getLogger("fm2s")

ProgressCallback = Callable[[Any], None]


@dataclass(frozen=True)
class DenoiseOptions:
    """Everything :func:`denoise` was asked to do, validated (see :func:`denoise` for meanings)."""

    preset: str
    noise_level: str
    params: FM2SParams
    schedule: Any  # fm2s.engine.schedules.Schedule (imported lazily: torch)
    stack_mode: str
    seed: int
    device: Any  # torch.device
    num_threads: int | None
    tile: int | None
    intensity_range: tuple[float, float] | None
    bias_sigma: float | None

    @property
    def training_precision(self) -> str:
        """``"bfloat16"`` when the schedule asks for it and the device has it, else ``"float32"``."""
        from .engine.train import trains_in_bf16

        return "bfloat16" if trains_in_bf16(self.schedule, self.device) else "float32"

    def metadata(self, maps: Sequence[IntensityMap] = ()) -> dict[str, Any]:
        """Flat ``fm2s_*`` metadata describing this run (for attrs, TIFF and ImageJ info)."""
        meta: dict[str, Any] = {
            "fm2s_version": __version__,
            "fm2s_preset": self.preset,
            "fm2s_noise_level": self.noise_level,
            "fm2s_schedule": self.schedule.name,
            "fm2s_noise_draws": self.schedule.noise_draws,
            "fm2s_start": self.schedule.start,
            "fm2s_stack_mode": self.stack_mode,
            "fm2s_seed": self.seed,
            "fm2s_device": str(self.device),
            "fm2s_training_precision": self.training_precision,
            "fm2s_bias_sigma": self.bias_sigma or 0.0,
        }
        meta.update({f"fm2s_{k}": v for k, v in self.params.as_dict().items()})
        if maps:
            meta["fm2s_intensity_range"] = [[m.lo, m.hi] for m in maps]
        meta["fm2s_noise_sampler"] = self.noise_sampler
        return meta

    @property
    def noise_sampler(self) -> str:
        """``"numba"`` (the compiled CPU sampler) or ``"torch"``: what draws the noise.

        A seed repeats a result only with the same sampler, so it is recorded with the seed.
        """
        from .engine.noise import noise_sampler

        return noise_sampler(self.device)


def denoise(
    image: Any,
    *,
    preset: str = "confocal",
    noise_level: str | int = "avg1",
    schedule: Any = "fast",
    stack_mode: str = "auto",
    seed: int | None = None,
    device: Any = "auto",
    num_threads: int | None = None,
    plane_axes: Sequence[int] | None = None,
    channel_axis: int | None = None,
    intensity_range: tuple[float, float] | None = None,
    tile: int | None = 1024,
    bias_sigma: float | None = DEFAULT_BIAS_SIGMA,
    progress: ProgressCallback | None = None,
    **overrides: Any,
) -> Any:
    """Denoise a fluorescence image (2-D plane, stack or hyperstack) with FM2S.

    Parameters
    ----------
    image : numpy.ndarray or xarray.DataArray
        uint8, uint16, int16, float32 or float64 pixels, at least 2-D. For numpy arrays the
        plane is the last two axes (see ``plane_axes``); for DataArrays the dims ``row``/``col``
        (or ``y``/``x``), with ``ch`` (or ``c``) as channels. Every other axis is iterated.
    preset : str
        Microscope preset: ``confocal``, ``twophoton``, ``widefield``, ``srdtrans`` or ``base``.
    noise_level : str or int
        ``avg1`` (single capture, noisiest) .. ``avg16``; ``4`` means ``avg4``.
    schedule : str or Schedule
        ``"fast"`` (default, crop training; starts from a network pretrained on generated
        phantoms where one fits the parameters, see :mod:`fm2s.engine.starts`),
        ``"reference"`` (the authors' 2,255 whole-image steps from random weights) or
        ``"quick"`` (short, for previews and tests). A ``Schedule`` with ``start="random"``
        trains from random weights.
    stack_mode : str
        ``"auto"``, ``"shared"`` (one model for all planes of a channel), ``"per_plane"`` or
        ``"warm_start"``; see :mod:`fm2s.engine.pipeline`. ``auto`` = shared for crop
        schedules, per_plane for ``reference``. Channels always get their own model.
    seed : int, optional
        Makes the result repeatable on the same device (on the CPU, with the same noise
        sampler: numba's compiled one, or ``torch.poisson`` without numba or with
        ``FM2S_NOISE_SAMPLER=torch``). A random seed is drawn (and recorded in the metadata)
        when omitted.
    device : str
        ``"auto"`` (CUDA, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.
    num_threads : int, optional
        CPU threads for torch during this call (default: torch's, one per core).
    plane_axes : (int, int), optional
        Numpy only: the (row, column) axes of the plane.
    channel_axis : int, optional
        Numpy only: an axis of channels, each denoised with its own model
        (e.g. ``channel_axis=-1`` for an RGB array).
    intensity_range : (float, float), optional
        Data values mapped to 0 and 1; default 0..255 for uint8 and min..max of each channel
        otherwise (see :mod:`fm2s.intensity`).
    tile : int or None
        Largest plane side processed in one pass at inference (memory bound); None = no tiling.
    bias_sigma : float or None
        Put the output's local mean back on the input's, with a Gaussian of this many pixels
        (:mod:`fm2s.engine.bias`: corrects the network's smooth intensity bias). None or 0
        gives the network's output as it is (the authors' behaviour).
    progress : callable, optional
        Called with a :class:`fm2s.engine.pipeline.ProgressEvent` after every optimizer step
        and every finished plane; ``event.fraction`` is the overall progress in [0, 1].
    **overrides
        Replace any preset parameter: ``n_chan``, ``stride``, ``median_window``, ``k_g``,
        ``k_p``, ``lam_p``.

    Returns
    -------
    numpy.ndarray or xarray.DataArray
        The denoised image: same type, shape, dtype and intensity scale as ``image``. A
        DataArray keeps its dims, coords and attrs and gains ``fm2s_*`` attrs (parameters,
        seed, device, package version).

    Raises
    ------
    ValueError
        For bad input (unsupported dtype, NaN/inf, empty or too-small planes, unknown dims)
        or an unknown preset, noise level, parameter, schedule, stack mode or device.
    MemoryError
        When numpy or torch cannot get the memory; the message names the image, the size
        asked for and the ways out (see :mod:`fm2s.out_of_memory`).

    Examples
    --------
    >>> import fm2s, numpy as np
    >>> noisy = np.random.poisson(50, (64, 64)).astype(np.uint16)
    >>> clean = fm2s.denoise(noisy, preset="confocal", noise_level="avg1", seed=0,
    ...                      schedule="quick")
    >>> clean.dtype, clean.shape
    (dtype('uint16'), (64, 64))
    """
    result, _ = denoise_with_metadata(
        image, preset=preset, noise_level=noise_level, schedule=schedule,
        stack_mode=stack_mode, seed=seed, device=device, num_threads=num_threads,
        plane_axes=plane_axes, channel_axis=channel_axis, intensity_range=intensity_range,
        tile=tile, bias_sigma=bias_sigma, progress=progress, **overrides,
    )
    return result


def denoise_with_metadata(
    image: Any,
    *,
    preset: str = "confocal",
    noise_level: str | int = "avg1",
    schedule: Any = "fast",
    stack_mode: str = "auto",
    seed: int | None = None,
    device: Any = "auto",
    num_threads: int | None = None,
    plane_axes: Sequence[int] | None = None,
    channel_axis: int | None = None,
    intensity_range: tuple[float, float] | None = None,
    tile: int | None = 1024,
    bias_sigma: float | None = DEFAULT_BIAS_SIGMA,
    progress: ProgressCallback | None = None,
    **overrides: Any,
) -> tuple[Any, dict[str, Any]]:
    """Like :func:`denoise`, but also return the run's ``fm2s_*`` metadata dict.

    Front-ends (CLI, TIFF writer, ImageJ bridge) use this to record how an output was made.
    """
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a dependency
        xr = None
    is_dataarray = xr is not None and isinstance(image, xr.DataArray)
    if is_dataarray:
        if plane_axes is not None or channel_axis is not None:
            raise ValueError("plane_axes/channel_axis are for numpy arrays; a DataArray's dims name its axes")
        row, col, ch = dims.dataarray_axes(image.dims)
        data = np.asarray(image.values)
    else:
        if isinstance(image, (list, tuple)) or not hasattr(image, "shape"):
            image = np.asarray(image)
        data = np.asarray(image)
        row, col, ch = dims.numpy_axes(data.ndim, plane_axes, channel_axis)

    check_image(data, row, col)
    n_planes = data.size // (data.shape[row] * data.shape[col])
    options = validate_options(
        preset=preset, noise_level=noise_level, schedule=schedule, stack_mode=stack_mode,
        seed=seed, device=device, num_threads=num_threads, tile=tile,
        intensity_range=intensity_range, bias_sigma=bias_sigma, n_planes=n_planes,
        overrides=overrides,
    )
    try:
        out, maps = _denoise_array(data, row, col, ch, options, progress)
    except (MemoryError, RuntimeError) as exc:
        explained = explain_out_of_memory(exc, data.shape, options.device.type)
        if explained is None:
            raise
        raise explained from exc
    meta = options.metadata(maps)
    if is_dataarray:
        result = image.copy(data=out)
        result.attrs.update(meta)
        return result, meta
    return out, meta


def check_image(data: np.ndarray, row: int, col: int) -> None:
    """Raise a clear ValueError if ``data`` cannot be denoised (type, emptiness, NaN, size)."""
    check_dtype(data.dtype)
    if data.size == 0:
        raise ValueError(f"the image is empty (shape {data.shape})")
    h, w = data.shape[row], data.shape[col]
    if min(h, w) < dims.MIN_PLANE_SIDE:
        raise ValueError(
            f"image planes are {h} x {w} pixels (shape {data.shape}, plane axes {row}, {col}); "
            f"FM2S needs at least {dims.MIN_PLANE_SIDE} x {dims.MIN_PLANE_SIDE}. "
            "If the last axis holds colour channels, pass channel_axis=-1"
        )
    if np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise ValueError(
                f"the image contains {bad} NaN or infinite pixel(s); replace them first "
                "(e.g. numpy.nan_to_num(image, nan=0.0))"
            )


def validate_options(
    *,
    preset: str,
    noise_level: str | int,
    schedule: Any,
    stack_mode: str,
    seed: int | None,
    device: Any,
    num_threads: int | None,
    tile: int | None,
    intensity_range: tuple[float, float] | None,
    n_planes: int,
    overrides: dict[str, Any],
    bias_sigma: float | None = DEFAULT_BIAS_SIGMA,
) -> DenoiseOptions:
    """Validate every option once, at the edge, and return a :class:`DenoiseOptions`."""
    from .engine.device import resolve_device
    from .engine.pipeline import resolve_stack_mode
    from .engine.schedules import resolve_schedule
    from .engine.starts import check_start, find_start

    params = resolve_params(preset, noise_level, **overrides)
    preset_name = canonical_preset(preset)
    sched = resolve_schedule(schedule, preset_name, find_start(params))
    check_start(sched.start, params)
    mode = resolve_stack_mode(stack_mode, sched, n_planes)
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        try:
            seed = int(str(seed))
        except ValueError:
            raise ValueError(f"seed must be a whole number, got {seed!r}") from None
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be between 0 and 2**63 - 1, got {seed}")
    if num_threads is not None and int(num_threads) < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    if tile is not None and int(tile) <= 16:
        raise ValueError(f"tile must be larger than 16 pixels (or None for no tiling), got {tile}")
    if intensity_range is not None:
        check_intensity_range(intensity_range)
    if bias_sigma is not None:
        try:
            bias_sigma = float(bias_sigma)
        except (TypeError, ValueError):
            raise ValueError(f"bias_sigma must be a number of pixels or None, got {bias_sigma!r}") from None
        if bias_sigma < 0:
            raise ValueError(f"bias_sigma must be >= 0 (0 or None disables it), got {bias_sigma}")
    return DenoiseOptions(
        preset=preset_name, noise_level=normalize_noise_level(noise_level),
        params=params, schedule=sched, stack_mode=mode, seed=int(seed),
        device=resolve_device(device), num_threads=num_threads,
        tile=None if tile is None else int(tile), intensity_range=intensity_range,
        bias_sigma=bias_sigma or None,
    )


def _denoise_array(
    data: np.ndarray,
    row: int,
    col: int,
    ch: int | None,
    options: DenoiseOptions,
    progress: ProgressCallback | None,
) -> tuple[np.ndarray, list[IntensityMap]]:
    from .engine.device import cpu_threads, make_generators
    from .engine.pipeline import denoise_stack

    stack_axes = [a for a in range(data.ndim) if a not in (row, col, ch)]
    order = ([ch] if ch is not None else []) + stack_axes + [row, col]
    moved = np.transpose(data, order)
    n_ch = data.shape[ch] if ch is not None else 1
    h, w = data.shape[row], data.shape[col]
    blocks = moved.reshape(n_ch, -1, h, w)
    n_stack = blocks.shape[1]
    out = np.empty(blocks.shape, dtype=data.dtype)
    maps: list[IntensityMap] = []
    log.info("fm2s: %d channel(s) x %d plane(s) of %d x %d on %s, schedule %s, stack mode %s",
             n_ch, n_stack, h, w, options.device, options.schedule.name, options.stack_mode)
    with cpu_threads(options.num_threads):
        for c in range(n_ch):
            # Each channel has its own generators, so a channel's result does not depend on
            # the channels before it (denoising it alone gives the same pixels).
            cpu_gen, dev_gen = make_generators(channel_seed(options.seed, c), options.device)
            imap = intensity_map_for(blocks[c], options.intensity_range)
            maps.append(imap)
            on_progress = None
            if progress is not None:
                on_progress = _channel_progress(progress, c, n_ch, n_stack)
            unit = denoise_stack(
                imap.to_unit(blocks[c]), options.params, options.schedule,
                stack_mode=options.stack_mode, device=options.device,
                cpu_generator=cpu_gen, device_generator=dev_gen, tile=options.tile,
                bias_sigma=options.bias_sigma, progress=on_progress,
            )
            out[c] = imap.from_unit(unit, data.dtype)
    restored = out.reshape(moved.shape)
    return np.ascontiguousarray(np.transpose(restored, np.argsort(order))), maps


def channel_seed(seed: int, channel: int) -> int:
    """Seed of channel ``channel``: ``seed`` itself for channel 0, a distinct one otherwise."""
    return seed if channel == 0 else (seed * 1_000_003 + channel) % 2**63


def _channel_progress(
    progress: ProgressCallback, channel: int, n_channels: int, n_stack: int
) -> ProgressCallback:
    """Rescale a stack's progress events to the whole image (all channels)."""

    def report(event: Any) -> None:
        progress(dataclasses.replace(
            event,
            plane=channel * n_stack + event.plane,
            n_planes=n_channels * n_stack,
            fraction=(channel + event.fraction) / n_channels,
        ))

    return report
