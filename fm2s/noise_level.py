"""``noise_level="auto"``: the preset's noise level chosen from the image's measured noise.

The presets' noise factors come in columns, "avg1" (one capture, the noisiest) to "avg16"
(the mean of 16). What distinguishes the columns is how strong the image's noise is on the
[0, 1] scale FM2S works in; averaging N captures divides its variance by N. So the image's
noise (:func:`fm2s.noise_estimate.estimate_noise`) says how many captures it is worth:

``measured = REFERENCE_VARIANCE[preset] / variance(REFERENCE_BRIGHTNESS)``

where ``REFERENCE_VARIANCE`` is the variance the same estimator measures at brightness 0.1 on
the preset's real single-capture images (the shared FMD captures: the geometric mean over the
microscope's fields). An image as noisy as those measures 1; one with half their variance, 2.

The level that denoises best is not simply the measured one: on real avg2 and avg4 images
(the means of 2 and 4 shared captures) the best published column is one or two columns above
(BENCHMARKS.md, "Noise level"). The level is therefore

``log2(captures) = clip(slope * log2(measured / knee), 0, 4)``

with the preset's ``slope`` and ``knee`` (:data:`LEVEL_MAPPING`) fitted on those images,
continuously:
``avg2.83`` sits between the ``avg2`` and ``avg4`` columns
(:meth:`fm2s.presets.Preset.factors`). A level outside 1..16 is clipped and the reason
recorded.

Noise below what ``avg16`` is made for (a bright, well-exposed image) is handled apart: FM2S's
noise model then synthesizes more noise than the image has, and the network smooths detail that
is not noise; neither ``avg16`` nor columns extrapolated beyond it came back to the input (on
generated images at 2,000-5,000 photons the result fell up to 4.5 dB below the noisy input).
There a share of the input is put back into the result: the share that minimizes Stein's
unbiased estimate of the error for the measured noise (:mod:`fm2s.engine.input_share`;
``fm2s_input_share``). The result's ``note`` says so; front-ends log it. The same share is
measured at every level from ``avg2`` up (:data:`SHARE_FROM_CAPTURES`), where it is most often
0 or small; below, on noisier images, the estimate is less reliable (BENCHMARKS.md). Only for
the point-scanning presets, whose pixels' noise is independent (:data:`KEEPS_INPUT_PRESETS`).

Presets with a single published column (``srdtrans``, ``base``) keep it: the level is measured
and recorded, the factors are the column's.

Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .noise_estimate import NoiseEstimate, NoiseEstimateError, estimate_noise
from .presets import (
    MAX_AVERAGED,
    MIN_AVERAGED,
    PRESETS,
    FM2SParams,
    averaged_captures,
    canonical_preset,
    level_name,
)

#: Brightness (on the [0, 1] scale) at which an image's noise variance is compared with the
#: reference: near the middle of fluorescence images' windows (FM2S's noise model works on
#: window means up to 0.15).
REFERENCE_BRIGHTNESS = 0.1

#: Noise variance at :data:`REFERENCE_BRIGHTNESS` of each preset's real single-capture images,
#: as :func:`fm2s.noise_estimate.estimate_noise` measures it: the geometric mean over the
#: shared FMD fields of that microscope (``benchmarks/bench_noise_level.py --calibrate``
#: prints them).
#: ``srdtrans`` and ``base`` have no such images and take the two-photon value.
REFERENCE_VARIANCE: dict[str, float] = {
    "confocal": 1.12e-3,
    "twophoton": 2.12e-3,
    "widefield": 2.59e-4,
}
_FALLBACK_REFERENCE = "twophoton"

#: Per preset, how fast the level rises with the measured captures (slope) and where it
#: leaves avg1 (knee): fitted on the avg1, avg2 and avg4 images made from the shared FMD
#: captures (three fields each for confocal and two-photon, two for wide-field), for the
#: smallest worst-case loss against the best published column (BENCHMARKS.md, "Noise level";
#: ``benchmarks/fit_noise_level.py`` makes the fit, and checks it on a field left out).
#: ``srdtrans`` and ``base`` have one column; their level is measured with the two-photon
#: mapping and only recorded.
LEVEL_MAPPING: dict[str, tuple[float, float]] = {
    "confocal": (1.3, 0.75),
    "twophoton": (1.4, 1.0),
    "widefield": (1.2, 1.05),
}

#: Below this correlation the noise is (nearly) white, unlike the FMD wide-field images'.
WHITE_NOISE = 1.5

#: Levels beyond ``avg16`` (``log2`` of the level above this) have too little noise for FM2S
#: to help alone: the note says so, and with :data:`KEEPS_INPUT_PRESETS` part of the input is
#: put back (:attr:`LevelChoice.keeps_input`).
TOO_CLEAN = math.log2(MAX_AVERAGED)

#: Presets whose images' noise is independent from pixel to pixel (point-scanning detectors),
#: as the estimate of the input's share assumes. On the FMD wide-field images, whose camera
#: noise neighbouring pixels share, it put back 90 % of the input and lost 3.5-8.4 dB
#: (BENCHMARKS.md, "Less noise than avg16"), so the ``widefield`` preset keeps FM2S's result.
KEEPS_INPUT_PRESETS = frozenset({"confocal", "twophoton"})

#: The input's share is measured for levels of this many captures and more. On single
#: captures (levels 1-1.6) it lost up to 0.31 dB on one field (``Confocal_BPAE_B``, three
#: captures); from ``avg2`` up at most 0.04 dB, and it gained up to 0.5 dB (BENCHMARKS.md,
#: "Less noise than avg16").
SHARE_FROM_CAPTURES = 2.0


@dataclass(frozen=True)
class LevelChoice:
    """The noise level chosen for one channel.

    Attributes
    ----------
    estimate : NoiseEstimate or None
        The measured noise; None where it could not be measured (then ``avg1`` is used).
    measured : float
        The number of averaged captures the noise corresponds to, before clipping (NaN when
        it could not be measured).
    captures : float
        The level, in captures: :func:`level_captures` of ``measured``, 1..16 (1 for presets
        with a single column).
    level : str
        ``captures`` as a level name (``"avg2.83"``): what ran.
    note : str or None
        Why the level was clipped or kept, when it was; None otherwise.
    keeps_input : bool
        Whether the share of the input to put back into the result is measured (a level of
        :data:`SHARE_FROM_CAPTURES` or more, with a preset of :data:`KEEPS_INPUT_PRESETS`;
        :func:`fm2s.engine.pipeline.measure_input_share`).
    """

    estimate: NoiseEstimate | None
    measured: float
    captures: float
    level: str
    note: str | None = None
    keeps_input: bool = False


def measured_captures(estimate: NoiseEstimate, preset: str) -> float:
    """The number of averaged captures whose noise ``estimate`` matches, for ``preset``."""
    key = canonical_preset(preset)
    reference = REFERENCE_VARIANCE.get(key, REFERENCE_VARIANCE[_FALLBACK_REFERENCE])
    variance = float(estimate.variance(REFERENCE_BRIGHTNESS))
    return reference / variance


def level_exponent(measured: float, preset: str) -> float:
    """``log2`` of ``preset``'s level for an image whose noise is worth ``measured`` captures,
    before clipping to the published columns (0 .. 4)."""
    slope, knee = LEVEL_MAPPING.get(canonical_preset(preset), LEVEL_MAPPING[_FALLBACK_REFERENCE])
    return slope * math.log2(max(measured, 1e-9) / knee)


def level_captures(measured: float, preset: str) -> float:
    """The level (in captures, 1..16) of ``preset`` for an image whose noise is worth
    ``measured`` captures."""
    exponent = level_exponent(measured, preset)
    return float(2.0 ** min(max(exponent, 0.0), math.log2(MAX_AVERAGED)))


def choose_level(planes: np.ndarray, preset: str) -> LevelChoice:
    """Measure the noise of ``planes`` and choose ``preset``'s noise level for them.

    Parameters
    ----------
    planes : numpy.ndarray
        ``(H, W)`` or ``(K, H, W)`` planes of one channel on the [0, 1] scale.
    preset : str
        The preset whose columns the level is chosen from.

    Returns
    -------
    LevelChoice
        Where the noise cannot be measured (a constant, tiny or mostly saturated plane) the
        level is ``avg1`` (the authors' default) and ``note`` says why.
    """
    key = canonical_preset(preset)
    try:
        estimate = estimate_noise(planes)
    except NoiseEstimateError as exc:
        return LevelChoice(None, float("nan"), MIN_AVERAGED, level_name(MIN_AVERAGED),
                           f"could not measure the noise ({exc}); used avg1")
    measured = measured_captures(estimate, key)
    captures = level_captures(measured, key)
    too_clean = level_exponent(measured, key) > TOO_CLEAN
    keeps_input = key in KEEPS_INPUT_PRESETS and captures >= SHARE_FROM_CAPTURES
    note = None
    if measured < MIN_AVERAGED / 1.5:
        note = (f"the noise is stronger than in the preset's single captures (as if "
                f"{measured:.3g} of a capture); using avg1, the noisiest setting")
    elif too_clean:
        note = (f"the noise is weaker than the preset's least noisy setting, avg16, is made "
                f"for (as if {measured:.3g} captures were averaged): ")
        note += ("FM2S alone would remove detail along with the little noise there is, so "
                 "part of the input is put back where that lowers the error estimated from "
                 "the noise (fm2s_input_share); compare with the input"
                 if keeps_input else
                 "FM2S may remove detail along with the little noise there is; compare with "
                 f"the input (no share of the input is put back with preset {key}: the share "
                 "is measured for noise independent from pixel to pixel, and camera noise "
                 "is not)")
    if key == "widefield" and estimate.correlation < WHITE_NOISE:
        hint = (f"the noise is not spatially correlated (correlation {estimate.correlation:.2g}) "
                "as the wide-field camera noise the widefield preset was made for is; preset "
                "confocal or twophoton may fit better (compare)")
        note = hint if note is None else f"{note}; {hint}"
    published = PRESETS[key].noise
    if len(published) == 1:
        only = next(iter(published))
        if level_name(captures) != only:
            note = (f"preset {key!r} has one noise column ({only}); the image's noise is that "
                    f"of {level_name(measured)}, {only} is used")
        captures = averaged_captures(only)  # not in KEEPS_INPUT_PRESETS: no share either
    return LevelChoice(estimate, measured, captures, level_name(captures), note, keeps_input)


def _factors(k_g: float, k_p: float, lam_p: float) -> str:
    return f"(k_g {k_g:g}, k_p {k_p:g}, lam_p {lam_p:g})"


def describe_level(choice: LevelChoice, params: FM2SParams) -> str:
    """One line for the log: the noise measured and the level and factors it chose."""
    est, factors = choice.estimate, _factors(params.k_g, params.k_p, params.lam_p)
    if est is None:
        return f"{choice.level} {factors}"
    return (f"noise sigma {est.sigma:.3g} at brightness {est.typical:.3g} (0..1 scale), "
            f"gain {est.a:.3g}, correlation {est.correlation:.2g}: as if "
            f"{choice.measured:.3g} captures were averaged -> {choice.level} {factors}")


def level_lines(meta: dict) -> list[str]:
    """What ``noise_level="auto"`` chose, one line per channel, from a run's ``fm2s_*`` record
    (empty when the level was given). For the command line and ImageJ's Log."""
    chosen = meta.get("fm2s_noise_level_chosen")
    if not chosen:
        return []
    notes = meta.get("fm2s_noise_note", [None] * len(chosen))
    lines = []
    for c, level in enumerate(chosen):
        line = "" if len(chosen) == 1 else f"channel {c + 1}: "
        sigma = meta["fm2s_noise_sigma"][c]
        if sigma is not None:
            line += (f"noise sigma {sigma:.3g} (data units), as if "
                     f"{meta['fm2s_noise_captures'][c]:.3g} captures were averaged -> ")
        line += f"noise level {level} " + _factors(
            meta["fm2s_k_g"][c], meta["fm2s_k_p"][c], meta["fm2s_lam_p"][c])
        share = meta.get("fm2s_input_share", [0.0] * len(chosen))[c]
        if share:
            line += f", {share:.0%} of the input kept"
        lines.append(line + (f"; note: {notes[c]}" if notes[c] else ""))
    return lines
