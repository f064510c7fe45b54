"""What will run: options validated and resolved for one image (:class:`Run`), and how each
channel is denoised (:class:`ChannelSetting`), with the record of both in ``fm2s_*`` metadata."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._version import __version__
from .intensity import IntensityMap
from .noise_estimate import NoiseEstimate
from .noise_level import LevelChoice, describe_level
from .options import OPTIONS, Options, fm2s_setting
from .presets import FM2SParams

log = logging.getLogger("fm2s")


@dataclass(frozen=True)
class Run:
    """Validated options resolved for one image: what will run."""

    options: Options
    seed: int
    device: Any  # torch.device
    stack_mode: str

    @property
    def cpu_threads(self) -> int | None:
        """The CPU threads torch ran on (``num_threads``, else torch's setting; FM2S trains on
        one fewer, beside its noise thread), or None on a GPU. Another count can give other
        pixels (float sums in another order), so the record keeps it."""
        if self.device.type != "cpu":
            return None
        if self.options.num_threads is not None:
            return int(self.options.num_threads)
        import torch

        return int(torch.get_num_threads())

    @property
    def training_precision(self) -> str:
        """``"bfloat16"`` when the schedule asks for it and the device has it, else ``"float32"``
        (as the method's training decides it)."""
        schedule = self.options.schedule
        if self.options.method == "fm2s":
            from .engine.methods.fm2s.train import trains_in_bf16

            bf16 = trains_in_bf16(schedule, self.device)
        else:
            from .engine.methods.n2d import train as n2d_train

            bf16 = schedule.bf16 and n2d_train.native_bf16(self.device)
        return "bfloat16" if bf16 else "float32"

    @property
    def noise_sampler(self) -> str:
        """``"numba"`` (the compiled CPU sampler) or ``"torch"``: what draws FM2S's noise.

        A seed repeats a result only with the same sampler, so it is recorded with the seed.
        """
        from .engine.methods.fm2s.noise import noise_sampler

        return noise_sampler(self.device)

    def method(self) -> Any:
        """The engine's method object for this run (with ``noise_level="auto"``: FM2S at
        ``avg1``, for counting steps; :meth:`channel_setting` gives each channel's)."""
        opts = self.options
        if opts.method == "n2d":
            from .engine.methods.n2d.method import N2DMethod

            return N2DMethod(opts.schedule)
        if opts.method == "zsn2n":
            from .engine.methods.n2d.method import ZSN2NMethod

            return ZSN2NMethod(opts.schedule)
        from .engine.methods.fm2s.method import FM2SMethod

        if opts.params is None:
            return FM2SMethod(*fm2s_setting(opts.values, "avg1"))
        return FM2SMethod(opts.params, opts.schedule)

    def channel_setting(self, planes: Any, indices: Sequence[int]) -> ChannelSetting:
        """The method that denoises one channel.

        With ``noise_level="auto"`` the channel's level is chosen from its noise
        (:func:`fm2s.noise_level.choose_level`), measured on its planes ``planes[i]`` for ``i``
        in ``indices`` (the [0, 1] scale; read only then). Otherwise every channel runs the
        options' method.
        """
        opts = self.options
        if opts.method != "fm2s" or opts.params is not None:
            return ChannelSetting(self.method(), opts.params, opts.schedule)
        from .engine.methods.fm2s.method import FM2SMethod
        from .noise_level import choose_level

        choice = choose_level(np.stack([planes[i] for i in indices]), opts.preset)
        params, schedule = fm2s_setting(opts.values, choice.level)
        log.info("fm2s: noise_level=auto: %s", describe_level(choice, params))
        if choice.note:  # recorded too, and shown by the command line and ImageJ's Log
            log.info("fm2s: noise_level=auto: note: %s", choice.note)
        return ChannelSetting(FM2SMethod(params, schedule), params, schedule, choice)

    def metadata(self, maps: Sequence[IntensityMap] = (),
                 settings: Sequence[ChannelSetting] = ()) -> dict[str, Any]:
        """The ``fm2s_*`` record of this run: every option as it ran, and how it ran.

        ``maps`` and ``settings`` are the channels' intensity maps and settings. Where hot
        pixels were set aside above a channel's range (:mod:`fm2s.spikes`), ``fm2s_hot_pixels``
        counts them per channel; on a CPU, ``fm2s_cpu_threads`` is :attr:`cpu_threads`. With
        ``noise_level="auto"`` the level chosen, the factors, the start and the measured noise
        are lists, one item per channel (:func:`auto_level_metadata`).
        """
        from .engine.methods.fm2s.schedules import SCHEDULES

        opts = self.options
        resolved = dict(opts.values)
        resolved.update(seed=self.seed, device=str(self.device), stack_mode=self.stack_mode,
                        schedule=opts.schedule.name, bias_sigma=opts.bias_sigma or 0.0)
        if opts.params is not None:
            resolved.update(opts.params.as_dict())
        elif opts.method == "fm2s":  # auto: the network is the preset's at every level
            network = fm2s_setting(opts.values, "avg1")[0]
            resolved.update(n_chan=network.n_chan, stride=network.stride,
                            median_window=network.median_window)
        if maps:
            resolved["intensity_range"] = [[m.lo, m.hi] for m in maps]
        meta: dict[str, Any] = {"fm2s_version": __version__}
        meta.update({f"fm2s_{o.name}": resolved[o.name] for o in OPTIONS
                     if (resolved[o.name] is not None or o.none_is_off)  # none: turned off
                     and o.applies_to(opts.method)})
        if any(m.spikes for m in maps):  # hot pixels above each range, kept as they were
            meta["fm2s_hot_pixels"] = [m.spikes for m in maps]
        if (threads := self.cpu_threads) is not None:  # other counts can give other pixels
            meta["fm2s_cpu_threads"] = threads
        given = opts.values["schedule"]
        if opts.method != "fm2s":  # no noise model; the schedule, a few numbers, in full
            meta["fm2s_training_precision"] = self.training_precision
            meta["fm2s_schedule_settings"] = dataclasses.asdict(opts.schedule)
            return meta
        meta.update(
            fm2s_noise_draws=opts.schedule.noise_draws,
            fm2s_start=opts.schedule.start,
            fm2s_training_precision=self.training_precision,
            fm2s_noise_sampler=self.noise_sampler,
        )
        if not isinstance(given, str) and given != SCHEDULES.get(given.name):
            meta["fm2s_schedule_settings"] = dataclasses.asdict(opts.schedule)
        if opts.params is None:
            meta.update(auto_level_metadata(settings, maps))
        return meta


@dataclass(frozen=True)
class ChannelSetting:
    """How one channel is denoised: the method object and, for FM2S, its parameters, schedule
    and (with ``noise_level="auto"``) the level chosen."""

    method: Any
    params: FM2SParams | None
    schedule: Any
    level: LevelChoice | None = None
    input_share: float = 0.0

    @property
    def keep_input(self) -> NoiseEstimate | None:
        """The channel's measured noise where the share of the input to put back into its
        result is to be measured (:attr:`fm2s.noise_level.LevelChoice.keeps_input`), else
        None; the share measured is then recorded as ``input_share``."""
        keeps = self.level is not None and self.level.keeps_input
        return self.level.estimate if keeps else None


def auto_level_metadata(
    settings: Sequence[ChannelSetting], maps: Sequence[IntensityMap]
) -> dict[str, Any]:
    """The ``fm2s_*`` keys of ``noise_level="auto"``: one item per channel in each.

    ``fm2s_noise_level_chosen`` (the level that ran, e.g. ``"avg2.83"``), ``fm2s_k_g``,
    ``fm2s_k_p``, ``fm2s_lam_p`` (its factors), ``fm2s_noise_draws``, ``fm2s_start``, and the
    measured noise: ``fm2s_noise_sigma`` (standard deviation at the channel's typical
    brightness, in data units), ``fm2s_noise_gain`` and ``fm2s_noise_floor`` (``a`` and ``b``
    of ``variance = a * mu + b`` on the [0, 1] scale), ``fm2s_noise_correlation``,
    ``fm2s_noise_captures`` (the captures the noise corresponds to, before clipping),
    ``fm2s_input_share`` (the share of the input put back into the result, measured from
    ``avg2`` up with the point-scanning presets, else 0) and ``fm2s_noise_note`` (why the level was
    clipped or kept, or None). The measured numbers are None for a channel whose noise could
    not be measured (it ran at ``avg1``).
    """
    if not settings:
        return {}
    scale = [m.hi - m.lo for m in maps] if maps else [1.0] * len(settings)
    chosen = [s.level for s in settings]

    def measured(value: Callable[[LevelChoice], float]) -> list[float | None]:
        return [None if c.estimate is None else _sig(value(c)) for c in chosen]

    return {
        "fm2s_noise_level_chosen": [c.level for c in chosen],
        "fm2s_k_g": [s.params.k_g for s in settings],
        "fm2s_k_p": [s.params.k_p for s in settings],
        "fm2s_lam_p": [s.params.lam_p for s in settings],
        "fm2s_noise_draws": [s.schedule.noise_draws for s in settings],
        "fm2s_start": [s.schedule.start for s in settings],
        "fm2s_noise_sigma": [None if c.estimate is None else _sig(c.estimate.sigma * k)
                             for c, k in zip(chosen, scale)],
        "fm2s_noise_gain": measured(lambda c: c.estimate.a),
        "fm2s_noise_floor": measured(lambda c: c.estimate.b),
        "fm2s_noise_correlation": measured(lambda c: c.estimate.correlation),
        "fm2s_noise_captures": measured(lambda c: c.measured),
        "fm2s_input_share": [s.input_share for s in settings],
        "fm2s_noise_note": [c.note for c in chosen],
    }


def _sig(value: float) -> float:
    """``value`` to 4 significant digits (measured numbers, not exact ones)."""
    return float(f"{value:.4g}")


def resolve_run(options: Options, n_planes: int) -> Run:
    """Resolve validated options for an image of ``n_planes`` planes per channel.

    Draws the seed when none was given, finds the device and the stack mode, and caps the
    threads at the CPU cores the process may use.
    """
    from .engine.plan import resolve_stack_mode
    from .engine.runtime import capped_threads, resolve_device

    schedule = options.schedule
    mode = resolve_stack_mode(options.stack_mode, schedule.crop is not None, schedule.name,
                              n_planes)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    threads = capped_threads(options.num_threads)
    if threads != options.num_threads:
        options = dataclasses.replace(options, values={**options.values, "num_threads": threads})
    return Run(options, seed, resolve_device(options.device), mode)

