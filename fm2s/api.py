"""``fm2s.denoise``: numpy or xarray in, the same kind out, with dtype, scale and metadata kept.

This layer validates the options once (:func:`fm2s.options.validate_options`), maps
intensities to [0, 1], cuts the data into channel stacks of 2-D planes, hands them to the
engine and puts the result back together with a record of what ran.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import axes
from .errors import ImageError, nonfinite_error
from .intensity import IntensityMap, check_dtype, intensity_map_for
from .lazy import denoise_lazy, is_lazy
from .metadata import with_provenance
from .options import OPTIONS, validate_options
from .out_of_memory import explain_out_of_memory
from .planes import DataPlanes, PlaneLayout, UnitPlanes
from .run import ChannelSetting, Run, resolve_run
from .spikes import keep_spikes, spike_note

log = logging.getLogger("fm2s")

ProgressCallback = Callable[[Any], None]


def denoise(
    image: Any,
    *,
    plane_axes: Sequence[int] | None = None,
    channel_axis: int | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Any:
    """Denoise a fluorescence image (2-D plane, stack or hyperstack) with FM2S.

    Parameters
    ----------
    image : numpy.ndarray or xarray.DataArray
        uint8, uint16, int16, float32 or float64 pixels, at least 2-D. For numpy arrays the
        plane is the last two axes (see ``plane_axes``); for DataArrays the dims ``row``/``col``
        (or ``y``/``x``), with ``ch`` (or ``c``) as channels. Every other axis (``t``, ``pln``
        and their :data:`fm2s.axes.ALIASES`) is iterated; a dim fm2s cannot name is refused.
        A DataArray backed by Dask (``xr.open_zarr``, :func:`fm2s.io.read_zarr`) gives a lazy
        result: the shared model is trained at once, the planes are denoised when the result
        is computed or written (see :mod:`fm2s.lazy`).
    plane_axes : (int, int), optional
        Numpy only: the (row, column) axes of the plane.
    channel_axis : int, optional
        Numpy only: an axis of channels, each denoised with its own model
        (e.g. ``channel_axis=-1`` for an RGB array).
    progress : callable, optional
        Called with a :class:`fm2s.engine.pipeline.ProgressEvent` after every optimizer step
        and every finished plane (of a lazy result: the training steps only);
        ``event.fraction`` is the overall progress in [0, 1].
    **options
        Any of :data:`fm2s.options.OPTIONS` (listed below).
{options}
    Returns
    -------
    numpy.ndarray or xarray.DataArray
        The denoised image: same type, shape, dtype and intensity scale as ``image``. A
        DataArray keeps its dims, coords and attrs and gains ``fm2s_*`` attrs (every option as
        it ran, the package version, the noise draws and the start).

    Raises
    ------
    ValueError
        For bad input (unsupported dtype, NaN/inf, masked pixels, empty or too-small planes,
        unknown dims) or a bad option (:class:`fm2s.options.OptionError`, which names it).
    MemoryError
        When numpy or torch cannot get the memory; the message names the image, the size
        asked for and the ways out (see :mod:`fm2s.out_of_memory`).

    Notes
    -----
    Calls from several threads are safe; their CPU training runs one call at a time (see
    :mod:`fm2s.engine.runtime`).

    Examples
    --------
    >>> import fm2s, numpy as np
    >>> noisy = np.random.poisson(50, (64, 64)).astype(np.uint16)
    >>> clean = fm2s.denoise(noisy, preset="confocal", noise_level="avg1", seed=0,
    ...                      schedule="quick")
    >>> clean.dtype, clean.shape
    (dtype('uint16'), (64, 64))
    """
    result, _ = denoise_with_metadata(image, plane_axes=plane_axes, channel_axis=channel_axis,
                                      progress=progress, **options)
    return result


def denoise_with_metadata(
    image: Any,
    *,
    plane_axes: Sequence[int] | None = None,
    channel_axis: int | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> tuple[Any, dict[str, Any]]:
    """Like :func:`denoise`, but also return the run's ``fm2s_*`` metadata dict.

    Front-ends (CLI, TIFF writer, ImageJ bridge) use this to record how an output was made.
    """
    # A DataArray can only exist once xarray is imported: numpy input does not import it
    # (0.2 s of a fresh process's first call).
    xr = sys.modules.get("xarray")
    is_dataarray = xr is not None and isinstance(image, xr.DataArray)
    if is_dataarray:
        if plane_axes is not None or channel_axis is not None:
            raise ValueError("plane_axes/channel_axis are for numpy arrays; a DataArray's dims name its axes")
        row, col, ch = axes.dataarray_axes(image.dims)
        if is_lazy(image.data):  # larger than memory: a lazy result (fm2s.lazy)
            shape = image.shape
            if min(shape[row], shape[col]) < axes.MIN_PLANE_SIDE:
                check_image(np.empty((shape[row], shape[col]), image.dtype), 0, 1,
                            numpy_input=False)
            run = resolve_run(validate_options(**options), planes_per_channel(shape, row, col, ch))
            check_plane_for_method(shape[row], shape[col], run.options.method)
            return denoise_lazy(image, row, col, ch, run, progress)
        data = np.asarray(image.values)
    else:
        data = plain_array(image)
        row, col, ch = axes.numpy_axes(data.ndim, plane_axes, channel_axis)

    check_image(data, row, col, numpy_input=not is_dataarray)
    run = resolve_run(validate_options(**options), planes_per_channel(data.shape, row, col, ch))
    check_plane_for_method(data.shape[row], data.shape[col], run.options.method)
    try:
        out, maps, settings = _denoise_array(data, row, col, ch, run, progress)
    except (MemoryError, RuntimeError) as exc:
        explained = explain_out_of_memory(exc, data.shape, run.device.type)
        if explained is None:
            raise
        raise explained from exc
    meta = run.metadata(maps, settings)
    if is_dataarray:
        result = image.copy(data=out)
        result.attrs = with_provenance(result.attrs, meta)
        return result, meta
    return out, meta


def planes_per_channel(shape: Sequence[int], row: int, col: int, ch: int | None) -> int:
    """The planes of one channel of an array of ``shape`` (what the stack mode is chosen for:
    the channels of one plane are not a stack)."""
    per_plane = shape[row] * shape[col] * (shape[ch] if ch is not None else 1)
    return int(np.prod(shape, dtype=np.int64)) // per_plane


def trains_one_shared_model(options: dict[str, Any]) -> bool:
    """Whether ``options`` denoise a stack with one shared model (which data larger than
    memory needs, :mod:`fm2s.lazy`)."""
    validated = validate_options(**options)
    mode = validated.stack_mode
    return mode == "shared" or (mode == "auto" and validated.schedule.crop is not None)


def plain_array(image: Any) -> np.ndarray:
    """``image`` as a plain numpy array (no copy where it is one).

    Raises
    ------
    fm2s.errors.ImageError
        For a masked array with masked pixels: ``numpy.asarray`` would drop the mask, and the
        values under it (fill values, often far outside the data) would be denoised as pixels
        and set the intensity range. For an xarray Dataset (one of its variables is an image).
    """
    if isinstance(image, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(image))
        if masked:
            raise ImageError(
                f"the image is a masked array with {masked} masked pixel(s); fm2s has no mask "
                "and would denoise the values under it as pixels",
                {"python": "fill them with values of the image's own range first, e.g. "
                           "fm2s.denoise(image.filled(numpy.ma.median(image)))"})
        return np.asarray(image.data)
    if type(image).__module__.startswith("xarray") and type(image).__name__ == "Dataset":
        names = ", ".join(repr(str(n)) for n in image.data_vars) or "none"
        raise ImageError(f"the image is an xarray Dataset (variables: {names}); fm2s denoises "
                         "one image at a time", {"python": "pass one of its variables, e.g. "
                                                           "fm2s.denoise(dataset['image'])"})
    return np.asarray(image)


def check_image(data: np.ndarray, row: int, col: int, *, numpy_input: bool = True) -> None:
    """Raise a clear :class:`fm2s.errors.ImageError` if ``data`` cannot be denoised (type,
    emptiness, NaN, size)."""
    check_dtype(data.dtype)
    if data.size == 0:
        raise ImageError(f"the image is empty (shape {data.shape})")
    h, w = data.shape[row], data.shape[col]
    if min(h, w) < axes.MIN_PLANE_SIDE:
        hint = {"python": "if the last axis holds colour channels, pass channel_axis=-1"} \
            if numpy_input else None
        raise ImageError(
            f"image planes are {h} x {w} pixels (shape {data.shape}, plane axes {row}, {col}); "
            f"FM2S needs at least {axes.MIN_PLANE_SIDE} x {axes.MIN_PLANE_SIDE}", hint)
    if np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise nonfinite_error(bad)


def check_plane_for_method(height: int, width: int, method: str) -> None:
    """Raise a clear :class:`fm2s.errors.ImageError` for planes too small for ``method``
    (Noise2Detail pads each plane by its receptive radius, which must be less than its side)."""
    if method != "n2d":
        return
    from .engine.methods.n2d.method import smallest_plane

    least = smallest_plane()
    if min(height, width) < least:
        raise ImageError(f"image planes are {height} x {width} pixels; Noise2Detail (method "
                         f"'n2d') needs at least {least} x {least}: use method 'fm2s' or "
                         "'zsn2n' for smaller planes")


def _denoise_array(
    data: np.ndarray,
    row: int,
    col: int,
    ch: int | None,
    run: Run,
    progress: ProgressCallback | None,
) -> tuple[np.ndarray, list[IntensityMap], list[ChannelSetting]]:
    """Denoise ``data`` channel by channel, plane by plane, into a new array of its layout.

    Memory: the input, the output and the planes being worked on (:mod:`fm2s.planes`).
    """
    from .engine.pipeline import denoise_stack, shared_training_planes
    from .engine.runtime import channel_seed, cpu_threads, make_generators

    layout = PlaneLayout(row, col, ch)
    out = np.empty_like(data, order="C")
    sources, targets = layout.channels(data), layout.channels(out)
    n_ch, n_stack = len(sources), int(np.prod(sources[0].shape[:-2], dtype=np.int64))
    h, w = data.shape[row], data.shape[col]
    maps: list[IntensityMap] = []
    settings: list[ChannelSetting] = []
    opts = run.options
    log.info("fm2s: %d channel(s) x %d plane(s) of %d x %d on %s, schedule %s, stack mode %s",
             n_ch, n_stack, h, w, run.device, opts.schedule.name, run.stack_mode)
    with cpu_threads(opts.num_threads):
        for c, (source, target) in enumerate(zip(sources, targets)):
            # Each channel has its own generators, seeded from the run's seed and its index,
            # so its result does not depend on what the other channels hold (the first
            # channel's is what denoising it alone gives).
            cpu_gen, dev_gen = make_generators(channel_seed(run.seed, c), run.device)
            imap = intensity_map_for(source, opts.intensity_range)
            maps.append(imap)
            if imap.spikes:
                log.info("fm2s: channel %d: %s", c + 1, spike_note(imap.spikes, imap.hi))
            unit = UnitPlanes(source, imap)
            setting = run.channel_setting(unit, shared_training_planes(len(unit)))
            on_progress = None
            if progress is not None:
                on_progress = _channel_progress(progress, c, n_ch, n_stack)
            share: list[float] = []  # told by denoise_stack where it measures one
            denoise_stack(
                unit, setting.method, stack_mode=run.stack_mode, device=run.device,
                cpu_generator=cpu_gen, device_generator=dev_gen, tile=opts.tile,
                bias_sigma=opts.bias_sigma, keep_input=setting.keep_input,
                on_input_share=share.append, progress=on_progress,
                out=DataPlanes(target, imap),
            )
            if imap.spikes:  # hot pixels above the range: kept as they were
                keep_spikes(target, source, imap.hi)
            settings.append(dataclasses.replace(setting, input_share=share[0] if share else 0.0))
    return out, maps, settings


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


def _options_doc() -> str:
    lines = []
    for opt in OPTIONS:
        choices = f" ({', '.join(opt.choices())})" if opt.choices else ""
        lines.append(f"    {opt.name} : default {opt.default!r}")
        lines.append(f"        {opt.help[0].upper()}{opt.help[1:]}{choices}.")
    return "\n".join(lines) + "\n"


def _with_options(function: Callable[..., Any]) -> None:
    """Give ``function`` the options as keyword-only parameters in its signature (for help())."""
    signature = inspect.signature(function)
    params = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    params += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default)
               for o in OPTIONS]
    function.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]


denoise.__doc__ = (denoise.__doc__ or "").replace("{options}", _options_doc())
_with_options(denoise)
_with_options(denoise_with_metadata)
