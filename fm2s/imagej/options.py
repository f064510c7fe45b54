"""Options of the "FM2S Denoise" command: parse ImageJ macro option strings and validate them.

ImageJ passes a command's options as one string, ``"key=value key=[value with spaces] flag"``
(what the macro recorder writes and :func:`ij.Macro.getValue` reads). This module turns that
string, or a plain mapping (Fiji script parameters), into a validated :class:`CommandOptions`.
It needs no JVM, so it is tested and used everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.schedules import SCHEDULES as SCHEDULE_TABLE
from ..engine.schedules import STACK_MODES
from ..presets import (
    NOISE_LEVELS,
    PARAMETER_NAMES,
    canonical_preset,
    normalize_noise_level,
    resolve_params,
)

# The engine's own lists (torch-free modules), so the macro command and the core cannot disagree.
SCHEDULES: tuple[str, ...] = tuple(SCHEDULE_TABLE)
BASIC_KEYS: tuple[str, ...] = (
    "preset",
    "noise_level",
    "seed",
    "device",
    "schedule",
    "stack_mode",
    "num_threads",
)
VALID_KEYS: tuple[str, ...] = BASIC_KEYS + tuple(PARAMETER_NAMES)

_TOKEN = re.compile(r"\s*([^\s=\[\]]+)(?:=(\[[^\]]*\]|\S*))?")


@dataclass(frozen=True)
class CommandOptions:
    """Validated options of one "FM2S Denoise" run.

    Attributes
    ----------
    preset, noise_level, schedule, stack_mode, device : str
        Passed to :func:`fm2s.denoise` unchanged.
    seed : int or None
        Random seed; ``None`` draws a fresh one.
    num_threads : int or None
        CPU threads for torch; ``None`` keeps the default.
    overrides : dict
        FM2S parameter overrides (``n_chan``, ``stride``, ``median_window``, ``k_g``, ``k_p``,
        ``lam_p``), already type-checked.
    """

    preset: str = "confocal"
    noise_level: str = "avg1"
    seed: int | None = None
    device: str = "auto"
    schedule: str = "fast"
    stack_mode: str = "auto"
    num_threads: int | None = None
    overrides: dict[str, float | int] = field(default_factory=dict)

    def denoise_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments for :func:`fm2s.denoise`."""
        return {
            "preset": self.preset,
            "noise_level": self.noise_level,
            "seed": self.seed,
            "device": self.device,
            "schedule": self.schedule,
            "stack_mode": self.stack_mode,
            "num_threads": self.num_threads,
            **self.overrides,
        }

    def macro_options(self) -> str:
        """Return these options as an ImageJ macro option string (what the recorder writes)."""
        parts = [f"preset={self.preset}", f"noise_level={self.noise_level}"]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        for key in ("device", "schedule", "stack_mode"):
            value = getattr(self, key)
            if value != CommandOptions.__dataclass_fields__[key].default:
                parts.append(f"{key}={value}")
        if self.num_threads is not None:
            parts.append(f"num_threads={self.num_threads}")
        parts.extend(f"{k}={v}" for k, v in self.overrides.items())
        return " ".join(parts)


def parse_macro_options(text: str | None) -> dict[str, str]:
    """Split an ImageJ option string into a dict, like ``ij.Macro.getValue`` reads it.

    Parameters
    ----------
    text : str or None
        E.g. ``"preset=confocal noise_level=avg1 seed=[0]"``. Keys are lower-cased; values in
        square brackets may contain spaces; a bare word (a checked checkbox) maps to ``"true"``.
        ``None`` or an empty string gives an empty dict.

    Returns
    -------
    dict of str to str

    Raises
    ------
    ValueError
        If a ``[`` is not closed or a key is given twice.
    """
    result: dict[str, str] = {}
    if not text:
        return result
    text = str(text)
    if text.count("[") != text.count("]"):
        raise ValueError(f"unbalanced [ ] in the options {text!r}")
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot read the options {text!r} at position {pos}")
        key, value = match.group(1).lower(), match.group(2)
        if value is None:
            value = "true"
        elif value.startswith("["):
            value = value[1:-1]
        if key in result:
            raise ValueError(f"option {key!r} is given twice in {text!r}")
        result[key] = value
        pos = match.end()
    return result


def _optional_int(name: str, value: Any, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("", "none", "random", "-1"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number or 'none', got {value!r}") from None
    if number != int(number):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(number)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower().replace("-", "_")
    if text not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return text


def validate_options(options: Mapping[str, Any] | str | None) -> CommandOptions:
    """Check options from a macro string or a mapping and return :class:`CommandOptions`.

    Parameters
    ----------
    options : mapping, str or None
        A macro option string (see :func:`parse_macro_options`) or a mapping of option names to
        values. Missing options take their defaults (``preset=confocal noise_level=avg1``, random
        seed, ``device=auto``, ``schedule=fast``).

    Returns
    -------
    CommandOptions

    Raises
    ------
    ValueError
        Naming the bad option and listing the valid choices.
    """
    values = parse_macro_options(options) if options is None or isinstance(options, str) else {
        str(k).lower(): v for k, v in options.items()
    }
    unknown = sorted(set(values) - set(VALID_KEYS))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)}; valid options are: {', '.join(VALID_KEYS)}"
        )
    preset = canonical_preset(values.get("preset", "confocal"))
    noise_level = str(values.get("noise_level", "avg1")).strip().lower()
    if noise_level == "auto":
        raise ValueError(
            "noise_level=auto is not available in this version; "
            f"choose one of: {', '.join(NOISE_LEVELS)}"
        )
    overrides = {
        k: v for k, v in values.items() if k in PARAMETER_NAMES and str(v).strip() != ""
    }
    # resolve_params checks the noise level against the preset and the overrides' types/ranges.
    params = resolve_params(preset, noise_level, **overrides).as_dict()
    device = str(values.get("device", "auto")).strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", device):
        raise ValueError(f"unknown device {device!r}; choose one of: auto, cpu, cuda, cuda:N, mps")
    return CommandOptions(
        preset=preset,
        noise_level=normalize_noise_level(noise_level),
        seed=_optional_int("seed", values.get("seed"), minimum=0),
        device=device,
        schedule=_choice("schedule", values.get("schedule", "fast"), SCHEDULES),
        stack_mode=_choice("stack_mode", values.get("stack_mode", "auto"), STACK_MODES),
        num_threads=_optional_int("num_threads", values.get("num_threads"), minimum=1),
        overrides={k: params[k] for k in overrides},
    )
