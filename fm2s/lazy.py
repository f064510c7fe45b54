"""Denoising data larger than memory: a Dask-backed DataArray in, a lazy DataArray out.

``fm2s.denoise(xr.open_zarr(...)["image"])`` (or any DataArray whose data is a Dask array)
returns at once a DataArray whose data is a Dask array too, so that it can be written chunk by
chunk (``to_zarr``, :func:`fm2s.io.write_tiff`) or computed on a cluster. What cannot wait is
done first: one pass over the data for each channel's intensity range (and its NaN check), one
more for the hot pixels above it (:mod:`fm2s.spikes`; a few more where it finds some), and
the training of each channel's shared model on up to ``MAX_SHARED_PLANES`` evenly spaced planes,
the same planes and generators an in-memory run uses. The trained models travel with the task
graph; every block of whole planes is then denoised where it is computed. The pixels are the
ones :func:`fm2s.denoise` gives for the same data in memory and the same seed, to the rounding
of float32 arithmetic done in other batches: an integer output can differ by one grey level.

Only ``stack_mode="shared"`` (the default for crop schedules) can be lazy: per-plane training
would have to run in order, plane after plane.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

import numpy as np

from .errors import nonfinite_error
from .intensity import (
    IntensityMap,
    check_dtype,
    intensity_map_for,
    sets_range_from_data,
    without_spikes,
)
from .metadata import with_provenance
from .spikes import keep_spikes, lazy_range, spike_note

log = logging.getLogger("fm2s")


def is_lazy(data: Any) -> bool:
    """True for a Dask array (a DataArray's ``.data``)."""
    return type(data).__module__.startswith("dask.")


def denoise_lazy(image: Any, row: int, col: int, ch: int | None, run: Any,
                 progress: Any = None) -> tuple[Any, dict]:
    """The lazy counterpart of the in-memory path of :func:`fm2s.denoise_with_metadata`.

    ``progress`` hears of the training steps, with fractions of the whole work as in memory;
    the planes are denoised later, wherever the result is computed, and not reported.

    Returns
    -------
    (xarray.DataArray, dict)
        The lazy result and the run's record.
    """
    import dask
    import dask.array as da

    from .engine.pipeline import (
        ProgressEvent,
        measure_input_share,
        shared_training_planes,
        train_on,
    )
    from .engine.runtime import channel_seed, cpu_threads, make_generators
    from .planes import PlaneLayout

    if run.stack_mode != "shared":
        raise ValueError(
            f"stack_mode {run.stack_mode!r} trains plane after plane and cannot run on lazy "
            "(Dask) data; use stack_mode='shared' (the default for crop schedules), or load the "
            "data first (.compute())")
    data = image.data
    check_dtype(data.dtype)
    layout = PlaneLayout(row, col, ch)
    order = layout.order(data.ndim)
    moved = da.transpose(data, order)
    if ch is None:
        moved = moved[None]
    # whole planes in every block; one channel per block
    moved = moved.rechunk({0: 1, moved.ndim - 2: -1, moved.ndim - 1: -1})
    n_ch = moved.shape[0]
    stack_shape = moved.shape[1:-2]
    n_stack = int(np.prod(stack_shape, dtype=np.int64))
    opts = run.options
    maps: list[IntensityMap] = []
    settings: list[Any] = []
    states: list[dict[str, np.ndarray]] = []
    steps = run.method().training_steps()
    # the in-memory shared mode's units: a plane's inference is a tenth of a training step each
    total = n_ch * (steps + n_stack * max(1, steps // (10 * n_stack)))
    done = {"units": 0}

    def on_step(step: int, n_steps: int) -> None:
        done["units"] += 1
        if progress is not None:
            progress(ProgressEvent("train", step, n_steps, 0, n_stack,
                                   min(1.0, done["units"] / total)))

    for c in range(n_ch):
        channel = moved[c]
        lo, hi, bad = dask.compute(channel.min(), channel.max(),
                                   (~da.isfinite(channel)).sum() if data.dtype.kind == "f" else 0,
                                   scheduler="synchronous")
        if bad:
            raise nonfinite_error(int(bad))
        # the map of data whose extremes are lo and hi (0..255 for uint8, as in memory)
        imap = intensity_map_for(np.array([lo, hi], dtype=data.dtype), opts.intensity_range)
        if sets_range_from_data(data.dtype, opts.intensity_range):  # hot pixels set aside
            imap = without_spikes(imap, lazy_range(channel, imap.lo, imap.hi))
            if imap.spikes:
                log.info("fm2s: channel %d: %s", c + 1, spike_note(imap.spikes, imap.hi))
        maps.append(imap)
        indices = shared_training_planes(n_stack)
        planes = {i: imap.to_unit(np.asarray(channel[np.unravel_index(i, stack_shape)]))
                  for i in indices}  # the training planes, fetched
        setting = run.channel_setting(planes, indices)
        cpu_gen, dev_gen = make_generators(channel_seed(run.seed, c), run.device)
        with cpu_threads(opts.num_threads):
            model = train_on(planes, indices, setting.method, None, device=run.device,
                             cpu_generator=cpu_gen, device_generator=dev_gen, on_step=on_step)
            if setting.keep_input is not None:  # as the in-memory path measures it
                setting = dataclasses.replace(setting, input_share=measure_input_share(
                    setting.method, model, planes, indices[0], setting.keep_input,
                    device=run.device, tile=opts.tile, bias_sigma=opts.bias_sigma))
        settings.append(setting)
        states.append({k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    denoise_block = functools.partial(
        _denoise_block, methods=tuple(s.method for s in settings), states=tuple(states), maps=tuple(maps),
        device=str(opts.device), tile=opts.tile, bias_sigma=opts.bias_sigma,
        input_shares=tuple(s.input_share for s in settings), num_threads=opts.num_threads)
    out = da.map_blocks(denoise_block, moved, dtype=data.dtype)
    if ch is None:
        out = out[0]
    result = image.copy(data=da.transpose(out, tuple(int(a) for a in np.argsort(order))))
    meta = run.metadata(maps, settings)
    result.attrs = with_provenance(result.attrs, meta)
    log.info("fm2s: lazy result, %d channel(s) x %d plane(s); models trained", n_ch, n_stack)
    return result, meta


def _denoise_block(block: np.ndarray, *, methods: tuple, states: tuple, maps: tuple, device: str,
                   tile: int | None, bias_sigma: float | None, input_shares: tuple,
                   num_threads: int | None, block_info: dict | None = None) -> np.ndarray:
    """Denoise every plane of one block (one channel, whole planes), where it is computed."""
    from .engine.pipeline import predict
    from .engine.runtime import cpu_threads, resolve_device

    c = block_info[0]["chunk-location"][0] if block_info else 0
    method = methods[c]
    torch_device = resolve_device(device)
    model = _model(method, states[c], str(torch_device))
    imap = maps[c]
    out = np.empty_like(block)
    with cpu_threads(num_threads):
        for index in np.ndindex(block.shape[:-2]):
            unit = imap.to_unit(block[index])
            out[index] = imap.from_unit(predict(method, model, unit, device=torch_device,
                                                tile=tile, bias_sigma=bias_sigma,
                                                input_share=input_shares[c]), block.dtype)
    if imap.spikes:  # hot pixels above the range: kept as they were
        keep_spikes(out, block, imap.hi)
    return out


def _model(method: Any, state: dict[str, np.ndarray], device: str) -> Any:
    """The network of ``state`` on ``device`` (a few thousand weights: built per block)."""
    import torch

    model = method.network()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return model.to(device).eval()
