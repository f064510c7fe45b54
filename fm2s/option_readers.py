"""How option values are read, from Python values or from the text of a command line or a macro.

Each reader takes one value and returns it in its canonical form, or raises ``ValueError``
with a message that names the option and says what to give instead. :mod:`fm2s.options` puts
them in its table of options. Torch-free.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from typing import Any

from .engine.plan import DEVICE_CHOICES
from .intensity import check_intensity_range

#: Texts that mean "no value" (the option turned off or left to its default). An empty text
#: is refused (:meth:`fm2s.options.Option.parse`).
OFF_TEXTS = ("none", "off")



def is_off(value: Any) -> bool:
    """True for ``None`` and the texts of :data:`OFF_TEXTS`."""
    return value is None or (isinstance(value, str) and value.strip().lower() in OFF_TEXTS)


def read_number(name: str, value: Any) -> float:
    """``value`` as a finite float (not a bool); ``name`` is the option named in the error."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def read_whole(name: str, value: Any) -> int:
    """``value`` as a whole number (``3.0`` and ``"3"`` are 3).

    Integers and their text are read exactly, at any size (a seed above 2**53 is not rounded
    through a float); other numbers must be whole.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    try:
        number = read_number(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number != int(number):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def choice(name: str, choices: Callable[[], tuple[str, ...]]) -> Callable[[Any], str]:
    """A reader of one of ``choices()`` (case and ``-``/``_`` ignored)."""
    def read(value: Any) -> str:
        text = str(value).strip().lower().replace("-", "_")
        if text not in choices():
            raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices())}")
        return text
    return read


def read_seed(value: Any) -> int | None:
    """A seed in [0, 2**63), or None (random) for ``-1``, ``random`` or off."""
    if is_off(value) or (isinstance(value, str) and value.strip().lower() in ("random", "-1")):
        return None
    if not isinstance(value, str) and not isinstance(value, bool) and value == -1:
        return None
    if isinstance(value, str) and re.search(r"\d[eE]", value):
        # an ImageJ macro writes a number above 2**31 - 1 so, rounded to 5 digits
        # ("seed="+12345678901 is "seed=1.2346E10"): it would run with another seed
        raise ValueError(f"seed must be written in digits, got {value!r} (a macro writes a "
                         "number above 2147483647 rounded, as 1.2346E10: pass it as d2s(seed, 0))")
    seed = read_whole("seed", value)
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be between 0 and 2**63 - 1 (or -1/none for random), got {seed}")
    return seed


def read_device(value: Any) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    text = "auto" if value is None else str(value).strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", text):
        raise ValueError(f"unknown device {value!r}; choose one of: {', '.join(DEVICE_CHOICES)} "
                         "(or cuda:N)")
    return text


def read_threads(value: Any) -> int | None:
    """A thread count >= 1, or None (torch's default) when off."""
    if is_off(value):
        return None
    threads = read_whole("num_threads", value)
    if threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {value!r}")
    return threads


def read_tile(value: Any) -> int | None:
    """A tile side > 16 pixels, or None (no tiling) for 0 or off."""
    if is_off(value) or (not isinstance(value, (str, bool)) and value == 0) or value == "0":
        return None
    try:
        tile = read_whole("tile", value)
    except ValueError:
        raise ValueError(f"tile must be a number of pixels or 'none', got {value!r}") from None
    if tile <= 16:
        raise ValueError(f"tile must be larger than 16 pixels (or 'none' for no tiling), got {value!r}")
    return tile


def read_bias_sigma(value: Any) -> float | None:
    """A sigma in pixels, or None (no bias correction) for 0 or off."""
    if is_off(value):
        return None
    sigma = read_number("bias_sigma", value)
    if sigma < 0:
        raise ValueError(f"bias_sigma must be >= 0 (0 or none turns it off), got {value!r}")
    return sigma or None


def read_range(value: Any) -> tuple[float, float] | None:
    """A ``(low, high)`` intensity range from two numbers or their text, or None when off."""
    if is_off(value):
        return None
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return check_intensity_range(value)
