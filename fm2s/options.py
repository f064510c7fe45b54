"""The options of fm2s, specified once: every front-end takes its options from :data:`OPTIONS`.

Each :class:`Option` has a name (the :func:`fm2s.denoise` keyword, the ImageJ macro key and,
prefixed with ``fm2s_``, the metadata key), a default, a one-line help text, its choices and
the function that reads a value of it, from Python or from the text of a command line or a
macro. The ``fm2s`` command builds its flags from this table, the "FM2S Denoise" command reads
its macro keys and builds its dialog from it, the docs tables are checked against it, and
:func:`validate_options` is the one function that checks a set of values.

Torch-free: importing this module and validating options is cheap.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .engine.methods.fm2s.schedules import SCHEDULES, Schedule, named_schedule, resolve_schedule
from .engine.methods.fm2s.starts import check_start, find_start
from .engine.methods.n2d import schedules as n2d_schedules
from .engine.methods.n2d.schedules import N2DSchedule
from .engine.plan import DEFAULT_TILE, DEVICE_CHOICES, STACK_MODES
from .option_readers import (
    choice,
    is_off,
    read_bias_sigma,
    read_device,
    read_range,
    read_seed,
    read_threads,
    read_tile,
)
from .presets import (
    AUTO_LEVEL,
    NOISE_LEVELS,
    PARAMETER_NAMES,
    FM2SParams,
    canonical_preset,
    list_presets,
    normalize_noise_level,
    resolve_params,
)

#: Default Gaussian sigma (pixels) of the intensity-bias correction (fm2s.engine.bias).
DEFAULT_BIAS_SIGMA = 16.0

#: Methods :func:`fm2s.denoise` can run: FM2S, Noise2Detail and Zero-Shot Noise2Noise (N2D's
#: first stage alone).
METHODS: tuple[str, ...] = ("fm2s", "n2d", "zsn2n")

#: Why the options of FM2S's noise model do not apply to a method.
_NO_NOISE_MODEL = {
    "n2d": "Noise2Detail learns from the image alone, with no noise model",
    "zsn2n": "Zero-Shot Noise2Noise learns from the image alone, with no noise model",
}

class OptionError(ValueError):
    """A bad option value. ``option`` names the option, so front-ends can say which flag or key."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Option:
    """One option of fm2s.

    Attributes
    ----------
    name : str
        Keyword of :func:`fm2s.denoise`, key in ImageJ macros, ``fm2s_<name>`` in metadata.
    default : object
        Value when the option is not given (None: not set, see ``help``).
    help : str
        One sentence for users.
    read : callable
        ``read(value) -> typed value``; accepts Python values and command-line/macro text and
        raises ValueError with a message for users.
    choices : callable, optional
        The valid values of a choice option (a function: some lists come from other modules).
    group : str
        ``"main"`` (asked in the ImageJ dialog), ``"more"`` or ``"parameter"`` (replaces one
        FM2S parameter of the preset).
    flag : str
        The ``fm2s denoise`` flag.
    metavar : str, optional
        How the command-line help shows the value.
    nargs : int, optional
        Number of command-line words (2 for ranges).
    none_is_off : bool
        ``None`` turns the option off (``tile=None``: no tiling) instead of meaning "not given,
        use the default".
    methods : tuple of str, optional
        The methods the option applies to (None: all of them).
    """

    name: str
    default: Any
    help: str
    read: Callable[[Any], Any]
    choices: Callable[[], tuple[str, ...]] | None = None
    group: str = "more"
    flag: str = ""
    metavar: str | tuple[str, ...] | None = None
    nargs: int | None = None
    none_is_off: bool = False
    methods: tuple[str, ...] | None = None

    def applies_to(self, method: str) -> bool:
        """True when the option means something for ``method``."""
        return self.methods is None or method in self.methods

    def __post_init__(self) -> None:
        if not self.flag:
            object.__setattr__(self, "flag", "--" + self.name.replace("_", "-"))

    def parse(self, value: Any) -> Any:
        """Read ``value``; a bad one raises :class:`OptionError` naming this option."""
        if isinstance(value, str) and not value.strip():
            # "seed=" + a variable left empty: not a choice a user makes (the recorder and the
            # dialog write "none"), so it is not taken for none or the default
            raise OptionError(self.name, f"{self.name} has an empty value: give one, or 'none' "
                              f"where that is allowed, or leave {self.name} out for its default")
        try:
            return self.read(value)
        except OptionError:
            raise
        except ValueError as exc:
            hint = ""
            if self._reads_with_decimal_points(value):  # "0,5" (a German locale)
                hint = "; numbers take a point for decimals and no comma (0.5, not 0,5)"
            raise OptionError(self.name, f"{exc}{hint}") from None

    def _reads_with_decimal_points(self, value: Any) -> bool:
        """Whether ``value`` is text with decimal commas that reads once they are points (a
        comma that separates intensity_range's numbers, as in ``4095,100``, is not one)."""
        if not isinstance(value, str) or not re.search(r"\d,\d", value):
            return False
        try:
            self.read(re.sub(r"(?<=\d),(?=\d)", ".", value))
        except ValueError:
            return False
        return True


def _read_schedule(value: Any) -> str | Schedule | N2DSchedule:
    if isinstance(value, (Schedule, N2DSchedule)):
        return value
    return named_schedule(value).name  # every method has the same schedule names


def _parameter(name: str) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if is_off(value):
            return None
        return resolve_params("confocal", "avg1", **{name: value}).as_dict()[name]
    return read


# ------------------------------------------------------------------------------------ table

OPTIONS: tuple[Option, ...] = (
    Option("method", "fm2s",
           "fm2s (FM2S: a noise model per microscope), n2d (Noise2Detail: no noise model, "
           "no preset) or zsn2n (Zero-Shot Noise2Noise, N2D's first stage)",
           choice("method", lambda: METHODS), lambda: METHODS, group="main"),
    Option("preset", "confocal", "microscope preset (fm2s presets lists them); FM2S only",
           canonical_preset, lambda: tuple(list_presets()), group="main", methods=("fm2s",)),
    Option("noise_level", AUTO_LEVEL,
           "auto (the default) measures each channel's noise and picks the level from it; or "
           "avgN = the image is the mean of N captures: avg1 (a single capture, the noisiest) "
           ".. avg16, avg3 etc. between the columns; FM2S only", normalize_noise_level,
           lambda: (AUTO_LEVEL, *NOISE_LEVELS), group="main",
           methods=("fm2s",)),
    Option("schedule", "fast",
           "fast (the default: crop training), reference (the authors' schedule, minutes per "
           "plane for FM2S, an hour for N2D) or quick (previews)", _read_schedule,
           lambda: tuple(SCHEDULES), group="main"),
    Option("stack_mode", "auto",
           "how the planes of a stack share models: shared, per_plane, warm_start; auto = "
           "shared for crop schedules, per_plane for reference",
           choice("stack_mode", lambda: STACK_MODES), lambda: STACK_MODES, group="main"),
    Option("seed", None, "whole number for repeatable results; none or -1 = random (recorded)",
           read_seed, group="main", metavar="N"),
    Option("device", "auto", "auto (CUDA, else Apple MPS, else CPU), cpu, cuda, cuda:N or mps",
           read_device, lambda: DEVICE_CHOICES, group="main"),
    Option("num_threads", None, "CPU threads for torch during the run (default: torch's choice)",
           read_threads, flag="--threads", metavar="N"),
    Option("tile", DEFAULT_TILE, "largest plane side processed at once at inference; none = "
           "no tiling", read_tile, metavar="PIXELS", none_is_off=True),
    Option("bias_sigma", DEFAULT_BIAS_SIGMA,
           "Gaussian sigma in pixels of the intensity-bias correction (puts the output's local "
           "mean back on the input's); 0 or none turns it off", read_bias_sigma,
           metavar="PIXELS", none_is_off=True),
    Option("intensity_range", None,
           "data values mapped to 0 and 1 (default: 0..255 for 8-bit, min..max of each "
           "channel otherwise)", read_range, metavar=("LO", "HI"), nargs=2),
    *(Option(name, None, f"replaces the preset's {name}", _parameter(name), group="parameter",
             metavar="VALUE", methods=("fm2s",)) for name in PARAMETER_NAMES),
)

OPTION_NAMES: tuple[str, ...] = tuple(o.name for o in OPTIONS)
_BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The :class:`Option` called ``name``."""
    return _BY_NAME[name]


# ------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Options:
    """A validated set of options (:func:`validate_options`); values as :data:`OPTIONS` reads them.

    For FM2S, ``params`` are the parameters the preset, noise level and overrides give, and
    ``schedule`` is the schedule resolved for them (concrete draws and start, see
    :func:`fm2s.engine.methods.fm2s.schedules.resolve_schedule`); with ``noise_level="auto"``
    ``params`` is None (each channel's level is measured, :func:`fm2s_setting` gives its
    parameters) and ``schedule`` is resolved as for ``avg1``; for Noise2Detail and ZS-N2N
    ``params`` is None and ``schedule`` an :class:`~fm2s.engine.methods.n2d.schedules.N2DSchedule`.
    ``given`` names the options that were given rather than defaulted.
    """

    values: Mapping[str, Any]
    params: FM2SParams | None
    schedule: Schedule | N2DSchedule
    given: frozenset[str] = field(default_factory=frozenset)

    def __getattr__(self, name: str) -> Any:
        if name in _BY_NAME:
            return self.values[name]
        raise AttributeError(name)

    def keywords(self) -> dict[str, Any]:
        """The values as :func:`fm2s.denoise` keywords: those of the options that apply to the
        method (Noise2Detail takes no preset)."""
        return {k: v for k, v in self.values.items() if _BY_NAME[k].applies_to(self.method)}

    def macro_items(self, *, seed: int | None = None) -> list[tuple[str, str]]:
        """These options as ImageJ macro ``(key, value text)`` pairs, in :data:`OPTIONS` order.

        Every option given is written, plus ``preset`` and ``noise_level`` always (for FM2S)
        and the ``seed`` that was used when one is passed (so the line repeats the run).
        """
        values = dict(self.values)
        if seed is not None:
            values["seed"] = seed
        items = []
        for opt in OPTIONS:
            if not opt.applies_to(values["method"]):
                continue
            value = values[opt.name]
            wanted = opt.name in self.given or opt.name in ("preset", "noise_level")
            if opt.name == "seed" and value is not None:
                wanted = True
            if wanted and not (value is None and opt.default is None):
                items.append((opt.name, value_text(value)))
        return items

    def macro_string(self, *, seed: int | None = None) -> str:
        """These options as an ImageJ macro option string (what the recorder writes)."""
        return " ".join(f"{key}=[{text}]" if " " in text else f"{key}={text}"
                        for key, text in self.macro_items(seed=seed))


def value_text(value: Any) -> str:
    """``value`` as the text of an option value (``none`` for None, numbers as written)."""
    if value is None:
        return "none"
    if isinstance(value, (Schedule, N2DSchedule)):
        return value.name
    if isinstance(value, (tuple, list)):
        return " ".join(value_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def validate_options(**values: Any) -> Options:
    """Check option values (from Python, a command line or a macro) and return :class:`Options`.

    Parameters
    ----------
    **values
        Any options of :data:`OPTIONS` by name; missing ones take their defaults, and so do
        those given as ``None``, except where ``None`` turns the option off (``tile``,
        ``bias_sigma``).

    Returns
    -------
    Options

    Raises
    ------
    OptionError
        Naming the option and what to do (unknown option, bad value, a preset without that
        noise level, a schedule whose start does not fit the parameters).
    """
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        guesses = [f"{name} (did you mean {guess}?)" if (guess := closest_option(name))
                   else name for name in unknown]
        raise OptionError(
            unknown[0],
            f"unknown option(s) {', '.join(guesses)}; valid options are: "
            f"{', '.join(OPTION_NAMES)} (the overridable FM2S parameters are "
            f"{', '.join(PARAMETER_NAMES)})",
        )
    given = frozenset(k for k, v in values.items()
                      if v is not None or _BY_NAME[k].none_is_off)
    parsed: dict[str, Any] = {}
    for opt in OPTIONS:
        value = values.get(opt.name)
        parsed[opt.name] = opt.parse(value) if opt.name in given else opt.default
    method = parsed["method"]
    for opt in OPTIONS:
        if opt.name in given and not opt.applies_to(method):
            raise OptionError(opt.name, f"{opt.name} does not apply to method {method!r}: "
                              f"{_NO_NOISE_MODEL[method]}; leave {opt.name} out")
    if method == "n2d" and parsed["tile"] is not None:  # found before training, not after it
        from .engine.methods.n2d.method import smallest_tile

        if parsed["tile"] < smallest_tile():
            raise OptionError("tile", f"tile must be at least {smallest_tile()} pixels with "
                              f"method 'n2d' (or 'none' for no tiling), got {parsed['tile']}")
    if method != "fm2s":
        return Options(values=parsed, params=None, given=given,
                       schedule=_n2d_schedule(method, parsed["schedule"]))
    auto = parsed["noise_level"] == AUTO_LEVEL
    # auto: the options are checked as for avg1; each channel's level is chosen from its noise
    params, schedule = fm2s_setting(parsed, "avg1" if auto else parsed["noise_level"])
    if auto:
        params = None
    return Options(values=parsed, params=params, schedule=schedule, given=given)


def closest_option(name: str) -> str | None:
    """The option an unknown name most likely meant (``noise-level``, ``noiselevel`` and
    ``threads`` name ``noise_level``, ``noise_level`` and ``num_threads``), or None."""
    text = str(name).strip().lower().lstrip("-").replace("-", "_")
    by_flag = {o.flag.lstrip("-").replace("-", "_"): o.name for o in OPTIONS}
    squashed = {o.name.replace("_", ""): o.name for o in OPTIONS}
    found = by_flag.get(text) or squashed.get(text.replace("_", ""))
    if found is None:
        close = difflib.get_close_matches(text, OPTION_NAMES, n=1, cutoff=0.6)
        starts = [o for o in OPTION_NAMES if len(text) > 2 and o.startswith(text)]
        found = close[0] if close else starts[0] if len(starts) == 1 else None
    return found


def fm2s_setting(values: Mapping[str, Any], level: str) -> tuple[FM2SParams, Schedule]:
    """FM2S's parameters and resolved schedule for option ``values`` at noise level ``level``.

    ``values`` are read option values (:attr:`Options.values`); ``level`` is a level name
    (``"avg1"``, ``"avg2.83"``), the given one or the one ``noise_level="auto"`` chose. The
    schedule starts from the preset's shipped start nearest to the parameters
    (:func:`~fm2s.engine.methods.fm2s.starts.find_start`).

    Raises
    ------
    OptionError
        For a level the preset does not have, bad overrides, or a schedule that does not fit.
    """
    preset = values["preset"]
    overrides = {k: values[k] for k in PARAMETER_NAMES if values[k] is not None}
    try:
        params = resolve_params(preset, level, **overrides)
    except ValueError as exc:
        raise OptionError("noise_level", str(exc)) from None
    try:
        if isinstance(values["schedule"], N2DSchedule):
            raise ValueError(f"schedule {values['schedule'].name!r} is a Noise2Detail schedule; "
                             "give method='n2d', or an FM2S schedule")
        schedule = resolve_schedule(values["schedule"], preset, find_start(params, preset))
        check_start(schedule.start, params)
    except ValueError as exc:
        raise OptionError("schedule", str(exc)) from None
    return params, schedule


def _n2d_schedule(method: str, schedule: str | Schedule | N2DSchedule) -> N2DSchedule:
    """The Noise2Detail or ZS-N2N schedule ``schedule`` names (or is)."""
    if isinstance(schedule, N2DSchedule):
        return schedule
    if isinstance(schedule, Schedule):
        raise OptionError("schedule", f"schedule {schedule.name!r} is an FM2S schedule; give "
                          f"a name ({', '.join(SCHEDULES)}) or an N2DSchedule for {method}")
    table = n2d_schedules.ZSN2N_SCHEDULES if method == "zsn2n" else n2d_schedules.SCHEDULES
    return table[schedule]
