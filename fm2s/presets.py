"""The authors' FM2S settings as data, and validation of user choices against them.

A *preset* names a microscope (``confocal``, ``twophoton``, ``widefield``, ``srdtrans``,
``base``); a *noise level* (``avg1`` .. ``avg16``) picks the column of its noise factors: "avgN"
means the image is the mean of N raw captures, so ``avg1`` is the noisiest. Everything is
resolved once, here, into an immutable :class:`FM2SParams`; the engine only ever sees valid
values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NOISE_LEVELS: tuple[str, ...] = ("avg1", "avg2", "avg4", "avg8", "avg16")

#: ``noise_level`` value that measures the image's noise and picks the level from it
#: (:mod:`fm2s.noise_level`).
AUTO_LEVEL = "auto"

#: Smallest and largest number of averaged captures a level can name (the published columns).
MIN_AVERAGED, MAX_AVERAGED = 1.0, 16.0


@dataclass(frozen=True)
class FM2SParams:
    """Every parameter of one FM2S run on a 2-D plane.

    Attributes
    ----------
    n_chan : int
        Channel amplification factor (lambda in the paper): the plane is repeated this many
        times along the network's channel axis.
    stride : int
        Side of the square windows over which the local brightness ``m_k`` is measured.
    median_window : int
        Side of the median filter that makes the training target.
    k_g : float
        Gaussian noise map factor: sigma = ``k_g * m_k / 255``.
    k_p : float
        Poisson noise map factor: rate = ``k_p / m_k``.
    lam_p : float
        Overall Poisson factor applied to the whole synthetic image.
    """

    n_chan: int
    stride: int
    median_window: int
    k_g: float
    k_p: float
    lam_p: float

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dict (for metadata)."""
        return dataclasses.asdict(self)


def _levels(k_g: tuple, k_p: tuple, lam_p: tuple) -> dict[str, tuple[float, float, float]]:
    return {lvl: (g, p, lam) for lvl, g, p, lam in zip(NOISE_LEVELS, k_g, k_p, lam_p)}


@dataclass(frozen=True)
class Preset:
    """A published FM2S setting: structure parameters plus noise factors per noise level."""

    name: str
    description: str
    n_chan: int
    stride: int
    median_window: int
    noise: Mapping[str, tuple[float, float, float]]
    source: str

    def params(self, noise_level: str) -> FM2SParams:
        """Return the parameters of this preset at ``noise_level`` (a published column, or any
        ``avgN`` in between: see :meth:`factors`)."""
        return FM2SParams(self.n_chan, self.stride, self.median_window,
                          *self.factors(averaged_captures(noise_level)))

    def factors(self, captures: float) -> tuple[float, float, float]:
        """``(k_g, k_p, lam_p)`` for an image that is the mean of ``captures`` captures.

        At a published column (1, 2, 4, 8, 16) these are the authors' numbers. In between,
        each factor is interpolated linearly in ``log2(captures)`` on a log scale (the
        columns double the captures and the factors change by ratios), to 3 significant
        digits, so the setting moves continuously from one column to the next.
        """
        name = level_name(captures)
        if name in self.noise:
            return self.noise[name]
        published = sorted((averaged_captures(level), factors)
                           for level, factors in self.noise.items())
        if len(published) == 1 or not published[0][0] <= captures <= published[-1][0]:
            raise ValueError(
                f"preset {self.name!r} has no noise level {name!r}; it has: "
                f"{', '.join(self.noise)}")
        for (n0, f0), (n1, f1) in zip(published, published[1:]):
            if n0 <= captures <= n1:
                w = math.log2(captures / n0) / math.log2(n1 / n0)
                return tuple(_round3(math.exp((1 - w) * math.log(max(a, 1e-3))
                                              + w * math.log(max(b, 1e-3))))
                             for a, b in zip(f0, f1))  # type: ignore[return-value]
        raise AssertionError("unreachable")  # pragma: no cover


#: Where the FMD presets' numbers come from.
_FMD_SOURCE = "the FM2S authors' published table for the FMD microscopes (8-bit images)"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "confocal", "FMD confocal (8-bit), authors' settings", 2, 75, 3,
            _levels((200, 125, 70, 10, 5), (30, 95, 195, 240, 650), (70, 285, 485, 650, 1400)),
            _FMD_SOURCE,
        ),
        Preset(
            "twophoton", "FMD two-photon (8-bit), authors' settings", 2, 75, 3,
            _levels((175, 150, 90, 20, 15), (30, 85, 300, 185, 850), (60, 300, 480, 600, 3800)),
            _FMD_SOURCE,
        ),
        Preset(
            "widefield", "FMD wide-field (8-bit), authors' settings", 1, 75, 11,
            _levels((220, 220, 60, 20, 1), (45, 100, 650, 600, 1500),
                    (2000, 2500, 3500, 4000, 4800)),
            _FMD_SOURCE,
        ),
        Preset(
            "srdtrans", "SRDTrans two-photon calcium imaging, authors' settings (avg1 only)",
            6, 5, 3, {"avg1": (60, 40, 125)},
            "the authors' SRDTrans row, as changed on 2025-09-04 (k_p 30 -> 40, lam_p 150 -> 125)",
        ),
        Preset(
            "base", "authors' fallback when no microscope is named (avg1 only)",
            6, 5, 3, {"avg1": (60, 40, 125)},
            "the authors' BASE_CONFIG, their code's fallback (the same numbers as srdtrans)",
        ),
    )
}

PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FM2SParams))

_INT_PARAMS = {"n_chan", "stride", "median_window"}


def list_presets() -> list[str]:
    """Return the names of the available presets."""
    return list(PRESETS)


def resolve_params(
    preset: str = "confocal",
    noise_level: str = "avg1",
    **overrides: Any,
) -> FM2SParams:
    """Resolve a preset, a noise level and optional overrides into validated parameters.

    Parameters
    ----------
    preset : str
        One of :func:`list_presets` (case-insensitive).
    noise_level : str
        ``"avg1"`` .. ``"avg16"`` (also accepted: ``1``, ``"1"``, ``"AVG4"``). Presets with
        a single column (``srdtrans``, ``base``) only have ``avg1``.
    **overrides
        Any field of :class:`FM2SParams` (``n_chan``, ``stride``, ``median_window``, ``k_g``,
        ``k_p``, ``lam_p``) to replace the preset's value. ``None`` values are ignored.

    Returns
    -------
    FM2SParams

    Raises
    ------
    ValueError
        For an unknown preset, noise level or parameter name, or an out-of-range value; the
        message lists the valid choices.
    """
    chosen = PRESETS[canonical_preset(preset)]
    level = normalize_noise_level(noise_level)
    if level == AUTO_LEVEL:
        raise ValueError("noise_level='auto' is measured from the image: resolve it with "
                         "fm2s.noise_level.choose_level")
    params = chosen.params(level)
    clean = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(clean) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(
            f"unknown FM2S parameter(s) {', '.join(unknown)}; "
            f"overridable parameters are: {', '.join(PARAMETER_NAMES)}"
        )
    values = params.as_dict()
    for name, value in clean.items():
        values[name] = _coerce(name, value)
    _validate(values)
    return FM2SParams(**values)


def canonical_preset(preset: str) -> str:
    """Return the preset's canonical name (``"Two-Photon"`` -> ``"twophoton"``) or raise."""
    key = str(preset).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return key


def normalize_noise_level(noise_level: Any) -> str:
    """Map ``1``, ``"1"``, ``"avg1"``, ``"AVG1"`` to ``"avg1"``, ``3`` or ``"avg3"`` to
    ``"avg3"`` (any number of captures from 1 to 16), and ``"auto"`` to ``"auto"``; reject
    anything else."""
    text = str(noise_level).strip().lower()
    if text == AUTO_LEVEL:
        return text
    number = text[3:] if text.startswith("avg") else text
    try:
        captures = float(number)
    except ValueError:
        captures = math.nan
    if isinstance(noise_level, bool) or not MIN_AVERAGED <= captures <= MAX_AVERAGED:
        raise ValueError(
            f"unknown noise level {noise_level!r}; choose auto (measured from the image) or "
            f"one of: {', '.join(NOISE_LEVELS)}, or avgN for any N from 1 to 16 (avgN = the "
            "image is the mean of N captures; avg1 is the noisiest)"
        )
    return level_name(captures)


def level_name(captures: float) -> str:
    """``"avg<N>"`` for ``captures`` N, to 3 significant digits (``avg2``, ``avg2.83``)."""
    return f"avg{_round3(float(captures)):g}"


def averaged_captures(level: str) -> float:
    """The number of captures a level names: ``"avg2.83"`` -> 2.83."""
    return float(normalize_noise_level(level)[3:])


def _round3(value: float) -> float:
    return float(f"{value:.3g}")


def _coerce(name: str, value: Any) -> float | int:
    try:
        number = float(str(value)) if not isinstance(value, (int, float)) else value
    except ValueError:
        raise ValueError(f"parameter {name} must be a number, got {value!r}") from None
    if isinstance(number, bool) or not math.isfinite(number):
        raise ValueError(f"parameter {name} must be a finite number, got {value!r}")
    if name in _INT_PARAMS:
        if float(number) != int(number):
            raise ValueError(f"parameter {name} must be a whole number, got {value!r}")
        return int(number)
    return float(number)


def _validate(values: dict[str, Any]) -> None:
    if not 1 <= values["n_chan"] <= 64:
        raise ValueError(f"n_chan must be between 1 and 64, got {values['n_chan']}")
    if values["stride"] < 1:
        raise ValueError(f"stride must be at least 1, got {values['stride']}")
    mw = values["median_window"]
    if mw < 1 or mw % 2 == 0:
        raise ValueError(f"median_window must be a positive odd number, got {mw}")
    if values["k_g"] < 0:
        raise ValueError(f"k_g must be >= 0, got {values['k_g']}")
    for name in ("k_p", "lam_p"):
        if values[name] <= 0:
            raise ValueError(f"{name} must be > 0, got {values[name]}")
