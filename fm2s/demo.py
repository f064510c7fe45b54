"""``fm2s demo``: denoise a realistic generated sample with the default settings, show the result.

The sample is a 512 x 512 16-bit image of a fluorescence-like phantom (:mod:`fm2s.phantom`:
cells, filaments and diffraction-limited puncta on a faint background) as a 12-bit camera with
an offset of 100 records a dim single confocal capture (about 40 photons at the brightest
pixel, Poisson shot noise plus read noise). The demo writes it as a calibrated TIFF, denoises
the file exactly as ``fm2s denoise`` does (default settings: ``confocal``, ``avg1``, ``fast``),
and, because the clean image is known, reports PSNR and SSIM and draws a labelled figure:
noisy / denoised / clean, each with a 4x zoom of a region with fine structure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DemoResult", "run_demo"]

#: Files the demo writes (inside the output folder).
DEMO_FILES: tuple[str, ...] = (
    "sample.tif", "sample_fm2s.tif", "sample_clean.tif", "fm2s_demo.png",
)
#: Data range of the sample (a 12-bit camera), for PSNR and SSIM.
SAMPLE_RANGE = 4095.0
_ZOOM, _INSET = 4, 96


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` measured and wrote.

    Attributes
    ----------
    psnr_noisy, psnr_denoised : float
        PSNR (dB, data range 4095) of the noisy and denoised images against the clean one.
    ssim_noisy, ssim_denoised : float or None
        SSIM likewise (None when scikit-image is not installed).
    seconds : float
        Wall-clock time of denoising the file (reading and writing included).
    files : dict of str to pathlib.Path
        ``noisy``, ``denoised``, ``clean`` (TIFF) and ``figure`` (PNG).
    metadata : dict
        The run's ``fm2s_*`` metadata, as read back from the denoised file.
    """

    psnr_noisy: float
    psnr_denoised: float
    ssim_noisy: float | None
    ssim_denoised: float | None
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def gain_db(self) -> float:
        """PSNR improvement of the denoised over the noisy image, in dB."""
        return self.psnr_denoised - self.psnr_noisy


def make_sample(size: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The demo's (clean, noisy) pair: 16-bit, offset 100, a dim confocal capture."""
    from .phantom import noisy_phantom

    return noisy_phantom((size, size), dtype="uint16", offset=100.0, photons_per_unit=0.01,
                         read_sigma=2.0, seed=seed)


def run_demo(
    output: str | os.PathLike[str] = "fm2s-demo",
    *,
    size: int = 512,
    seed: int = 0,
    num_threads: int | None = None,
    echo: Callable[[str], None] | None = print,
) -> DemoResult:
    """Write the sample, denoise it as ``fm2s denoise`` would, report and draw the figure.

    Parameters
    ----------
    output : str or os.PathLike
        Folder for the files (created if missing; earlier demo files in it are replaced).
    size : int
        Side of the square sample in pixels.
    seed : int
        Seed of the sample, of its noise and of fm2s.
    num_threads : int or None
        CPU threads for torch (None: torch's choice).
    echo : callable or None
        Where the report lines go (default :func:`print`; None: silent).

    Returns
    -------
    DemoResult
    """
    from .batch import Job, denoise_file
    from .io import read_image, to_dataarray, write_tiff
    from .metrics import psnr, ssim

    say = echo if echo is not None else (lambda _line: None)
    outdir = Path(output)
    outdir.mkdir(parents=True, exist_ok=True)
    files = {"noisy": outdir / DEMO_FILES[0], "denoised": outdir / DEMO_FILES[1],
             "clean": outdir / DEMO_FILES[2], "figure": outdir / DEMO_FILES[3]}
    clean, noisy = make_sample(size, seed)
    for key, image in (("noisy", noisy), ("clean", clean)):
        write_tiff(files[key], to_dataarray(image, ("row", "col"), x_spacing=0.1, y_spacing=0.1,
                                            unit="um"), overwrite=True)
    say(f"fm2s demo: a {size} x {size} 16-bit sample like a dim single confocal capture "
        "(cells, filaments, puncta; about 40 photons at the brightest pixel), written to "
        f"{files['noisy']}; denoising it with the default settings, as `fm2s denoise` does.")
    options = {"seed": seed} if num_threads is None else {"seed": seed, "num_threads": num_threads}
    seconds, _ = denoise_file(Job(files["noisy"], files["denoised"]), options, overwrite=True)
    result = read_image(files["denoised"])
    denoised = np.asarray(result.values)
    scores = {name: psnr(clean, image, SAMPLE_RANGE)
              for name, image in (("noisy", noisy), ("denoised", denoised))}
    try:
        similarity: dict[str, float | None] = {
            name: ssim(clean, image, SAMPLE_RANGE)
            for name, image in (("noisy", noisy), ("denoised", denoised))}
    except ImportError:
        similarity = {"noisy": None, "denoised": None}
    draw_figure(files["figure"], noisy, denoised, clean, scores, seconds)
    meta = {k: v for k, v in result.attrs.items() if str(k).startswith("fm2s_")}
    level = meta.get("fm2s_noise_level")
    if level == "auto":
        level = f"noise level auto -> {', '.join(meta.get('fm2s_noise_level_chosen', []))}"
    say(f"  denoised in {seconds:.1f} s on {meta.get('fm2s_device')} "
        f"(preset {meta.get('fm2s_preset')}, {level}, schedule {meta.get('fm2s_schedule')})")
    for name in ("noisy", "denoised"):
        extra = f"   SSIM {similarity[name]:.3f}" if similarity[name] is not None else ""
        say(f"  PSNR {name:<8} {scores[name]:6.2f} dB{extra}")
    say(f"  gain {scores['denoised'] - scores['noisy']:+.2f} dB")
    say(f"  figure (noisy | fm2s | clean, with 4x zooms): {files['figure']}")
    return DemoResult(scores["noisy"], scores["denoised"], similarity["noisy"],
                      similarity["denoised"], seconds, files, meta)


def _inset_side(shape: tuple[int, ...]) -> int:
    """Side of the zoomed square: ``_INSET``, or half the image's smaller side if less."""
    return min(_INSET, min(shape[:2]) // 2)


def _inset_origin(clean: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the inset square with the most puncta and filaments in ``clean``
    (small bright structures: a white top-hat)."""
    from scipy import ndimage

    image = clean.astype(np.float64) - float(clean.min())
    background = ndimage.uniform_filter(image, 31) + 0.05 * float(image.max())
    detail = ndimage.white_tophat(image, size=7) / background  # relative to the surroundings
    side = _inset_side(clean.shape)
    sums = ndimage.uniform_filter(detail, side, mode="constant")
    half = side // 2
    inner = sums[half:clean.shape[0] - side + half + 1, half:clean.shape[1] - side + half + 1]
    y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(y), int(x)


def draw_figure(path: Path, noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray,
                scores: dict[str, float], seconds: float) -> Path:
    """Write the labelled figure: three panels and their zoomed insets, one grey scale."""
    from PIL import Image, ImageDraw, ImageFont

    from .io import write_png

    lo, hi = np.percentile(clean, (0.5, 99.8))
    def grey(image: np.ndarray) -> np.ndarray:
        return (np.clip((image.astype(np.float64) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)

    top, left = _inset_origin(clean)
    side, gap, label_h = clean.shape[1], 8, 30
    box = _inset_side(clean.shape)
    inset = box * _ZOOM
    width = 3 * max(side, inset) + 2 * gap
    canvas = Image.new("L", (width, label_h + clean.shape[0] + gap + label_h + inset), 255)
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=18)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    labels = (f"noisy input: {scores['noisy']:.2f} dB",
              f"fm2s, default settings: {scores['denoised']:.2f} dB, {seconds:.1f} s",
              "clean (ground truth)")
    for i, (image, label) in enumerate(zip((noisy, denoised, clean), labels)):
        x = i * (max(side, inset) + gap)
        shown = grey(image)
        canvas.paste(Image.fromarray(shown), (x, label_h))
        draw.rectangle((x + left, label_h + top, x + left + box, label_h + top + box),
                       outline=255)
        draw.text((x + 4, 6), label, fill=0, font=font)
        zoom = shown[top:top + box, left:left + box].repeat(_ZOOM, 0).repeat(_ZOOM, 1)
        y = label_h + clean.shape[0] + gap
        draw.text((x + 4, y + 6), f"{_ZOOM}x zoom of the box above", fill=0, font=font)
        canvas.paste(Image.fromarray(zoom), (x, y + label_h))
    return write_png(path, np.asarray(canvas), overwrite=True)
