"""The one implementation of ImageJ's "FM2S Denoise" command, shared by every front-end.

The Fiji menu script, the macro command listener and the headless batch runner all end up in
:func:`denoise_imageplus` (or :func:`run_command`, which adds "take the current image" and
"show the result"). The source image is never modified: its pixels are copied out, denoised
with :func:`fm2s.denoise`, and copied into a new ImagePlus titled ``<title>-FM2S`` that carries
the source's calibration, dimensions, LUTs, display ranges and properties, plus the FM2S
parameters (``fm2s_*``) in its info and properties.

RGB images are denoised as three 8-bit channels (one model each) and merged back into RGB.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .options import CommandOptions, validate_options

COMMAND_NAME = "FM2S Denoise"
TITLE_SUFFIX = "-FM2S"


class NoImageError(RuntimeError):
    """The command was run with no image open."""


def _ij() -> Any:
    import jpype

    return jpype.JClass("ij.IJ")


class ImageJProgress:
    """Forward :func:`fm2s.denoise` progress events to ImageJ's progress bar and status line.

    Updates are throttled to a few per second; the log gets a line when each phase starts.

    Parameters
    ----------
    title : str
        Image title shown in the status line.
    interval : float
        Minimum seconds between two status bar updates.
    """

    def __init__(self, title: str, interval: float = 0.25) -> None:
        self.title = title
        self.interval = interval
        self._last = 0.0
        self._phase: str | None = None

    def __call__(self, event: Any) -> None:
        """Report one progress event (``phase``, ``step``, ``n_steps``, ``plane``, ``fraction``)."""
        ij = _ij()
        if event.phase != self._phase:
            self._phase = event.phase
            what = "training" if event.phase == "train" else "denoising"
            ij.log(f"FM2S: {what} {self.title} ({event.n_planes} plane(s))")
        now = time.monotonic()
        if now - self._last < self.interval and event.fraction < 1.0:
            return
        self._last = now
        ij.showProgress(float(min(max(event.fraction, 0.0), 1.0)))
        if event.phase == "train":
            ij.showStatus(f"FM2S {self.title}: training step {event.step}/{event.n_steps}")
        else:
            ij.showStatus(f"FM2S {self.title}: plane {event.plane}/{event.n_planes}")


def fm2s_metadata(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``fm2s_*`` entries of a denoised DataArray's attrs, in order."""
    return {k: v for k, v in attrs.items() if str(k).startswith("fm2s_")}


def denoise_imageplus(
    imp: Any,
    options: CommandOptions | Mapping[str, Any] | str | None = None,
    *,
    progress: bool = True,
) -> Any:
    """Denoise an ImageJ 1.x ImagePlus into a new ImagePlus (the source is left untouched).

    Parameters
    ----------
    imp : ij.ImagePlus
        8/16/32-bit or RGB; single plane, stack or hyperstack.
    options : CommandOptions, mapping or str, optional
        ``preset``, ``noise_level``, ``seed``, ``device``, ``schedule``, ``stack_mode``,
        ``num_threads`` and parameter overrides, as a macro option string
        (``"preset=confocal noise_level=avg1 seed=0"``) or a mapping.
    progress : bool
        Show progress in ImageJ's status/progress bar and log.

    Returns
    -------
    ij.ImagePlus
        Titled ``<title>-FM2S``, not shown.

    Raises
    ------
    ValueError
        For invalid options (the message lists the valid choices) or an unsupported image.
    """
    import fm2s

    from .convert import from_imageplus, to_imageplus

    opts = options if isinstance(options, CommandOptions) else validate_options(options)
    title = str(imp.getTitle())
    data = from_imageplus(imp)
    start = time.monotonic()
    if progress:
        _ij().log(f"FM2S Denoise: {title} {dict(data.sizes)} {data.dtype}, {opts.macro_options()}")
    result = fm2s.denoise(
        data, progress=ImageJProgress(title) if progress else None, **opts.denoise_kwargs()
    )
    out = to_imageplus(
        result, template=imp, title=title + TITLE_SUFFIX, extra_info=fm2s_metadata(result.attrs)
    )
    if progress:
        ij = _ij()
        ij.showProgress(1.0)
        ij.showStatus("")
        ij.log(f"FM2S Denoise: {title} done in {time.monotonic() - start:.1f} s")
    return out


def current_image() -> Any:
    """Return ImageJ's current image.

    Raises
    ------
    NoImageError
        If no image is open.
    """
    import jpype

    imp = jpype.JClass("ij.WindowManager").getCurrentImage()
    if imp is None:
        raise NoImageError(f"{COMMAND_NAME}: there is no image open; open or select one first")
    return imp


def run_command(
    options: CommandOptions | Mapping[str, Any] | str | None = None,
    imp: Any = None,
    *,
    show: bool = True,
) -> Any:
    """Run "FM2S Denoise" on ``imp`` (default: the current image), as ImageJ would.

    Parameters
    ----------
    options : CommandOptions, mapping or str, optional
        See :func:`denoise_imageplus`.
    imp : ij.ImagePlus, optional
        The image; default the current image.
    show : bool
        Show the result (a new window, or in batch mode the macro's new current image).

    Returns
    -------
    ij.ImagePlus
        The denoised image.
    """
    opts = options if isinstance(options, CommandOptions) else validate_options(options)
    source = current_image() if imp is None else imp
    out = denoise_imageplus(source, opts)
    if show:
        out.show()
    return out


def denoise_dataset(dataset: Any, gateway: Any, options: Any = None) -> Any:
    """Denoise an ImageJ2 ``Dataset`` through pyimagej (``ij.py.from_java`` / ``to_dataset``).

    Parameters
    ----------
    dataset : net.imagej.Dataset
        The image.
    gateway : imagej.ImageJ
        The pyimagej gateway.
    options : CommandOptions, mapping or str, optional
        See :func:`denoise_imageplus`.

    Returns
    -------
    net.imagej.Dataset
        A new Dataset named ``<name>-FM2S``.
    """
    import fm2s

    opts = options if isinstance(options, CommandOptions) else validate_options(options)
    data = gateway.py.from_java(dataset)
    result = fm2s.denoise(data, **opts.denoise_kwargs())
    out = gateway.py.to_dataset(result)
    out.setName(f"{dataset.getName()}{TITLE_SUFFIX}")
    return out
