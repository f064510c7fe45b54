"""The one implementation of ImageJ's "FM2S Denoise" command, shared by every way in.

:func:`run_command` is what ImageJ runs, on the thread that asked for the command (a macro's
own thread, or the thread ImageJ starts for a menu click): options from the macro string, or
from the dialog when a person chose the menu item (:mod:`fm2s.imagej.dialog`); the source is
that thread's current image; the result is shown, which makes it that thread's current image
(in batch mode too); the run is recorded as a macro line that repeats it.

:func:`denoise_imageplus` does the work: the source is never modified: its pixels are copied
out, denoised with :func:`fm2s.denoise_with_metadata`, and copied into a new ImagePlus titled
``<title>-FM2S`` with the source's calibration, dimensions, LUTs, display ranges and properties
(:mod:`fm2s.imagej.convert`), plus the run's ``fm2s_*`` record in its Info and properties.
RGB images are denoised as three 8-bit channels (one model each) and merged back into RGB.
"""

from __future__ import annotations

import time
from typing import Any

from ..options import Options
from .macro_options import COMMAND_NAME, read_macro_options

TITLE_SUFFIX = "-FM2S"


class NoImageError(RuntimeError):
    """The command was run with no image open."""


class Cancelled(Exception):
    """The person cancelled the dialog, or pressed Esc while the command ran."""


def _ij() -> Any:
    import jpype

    return jpype.JClass("ij.IJ")


def keep_display_state(source: Any, result: Any) -> None:
    """Show the ``result`` ImagePlus as ``source`` is shown: at its channel, slice and frame,
    with its composite's active channels, its overlay hidden where it is, and at its frame
    rate (``Calibration.fps``, which the animation and AVI export use)."""
    result.setPosition(source.getC(), source.getZ(), source.getT())
    if source.isComposite() and result.isComposite():
        shown, showing = source.getActiveChannels(), result.getActiveChannels()
        for c in range(min(len(shown), len(showing))):
            showing[c] = shown[c]
    result.setHideOverlay(bool(source.getHideOverlay()))
    calibration = result.getCalibration()
    calibration.fps = source.getCalibration().fps
    result.setCalibration(calibration)


def unique_title(title: str) -> str:
    """``title``, with ``-1``, ``-2``... added where an open image (batch mode's too) has it:
    a macro's ``selectImage(title)`` must not find an older image for the result."""
    import jpype

    taken = {str(t) for t in jpype.JClass("ij.WindowManager").getImageTitles()}
    return next(name for name in (title, *(f"{title}-{i}" for i in range(1, len(taken) + 2)))
                if name not in taken)


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
        """Report one progress event (``phase``, ``step``, ``n_steps``, ``plane``, ``fraction``).

        Raises
        ------
        Cancelled
            When Esc was pressed in ImageJ (its way to stop a running command).
        """
        ij = _ij()
        if ij.escapePressed():
            raise Cancelled(f"{COMMAND_NAME}: cancelled (Esc) while denoising {self.title}; "
                            "no image was made")
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


def denoise_imageplus(imp: Any, options: Options | str | None = None, *,
                      progress: bool = True) -> Any:
    """Denoise an ImageJ 1.x ImagePlus into a new ImagePlus (the source is left untouched).

    Parameters
    ----------
    imp : ij.ImagePlus
        8/16/32-bit or RGB; single plane, stack or hyperstack.
    options : Options or str, optional
        Validated options, or a macro option string (``"preset=confocal seed=0"``).
    progress : bool
        Show progress in ImageJ's status/progress bar and log.

    Returns
    -------
    ij.ImagePlus
        Titled ``<title>-FM2S`` (``-1``, ``-2``... added where an open image has that title, as
        ImageJ's Duplicate does), not shown; its ``fm2s_seed`` property holds the seed used.

    Raises
    ------
    fm2s.imagej.macro_options.CommandError
        For invalid options (the message lists the valid choices).
    ValueError
        For an image fm2s cannot denoise.
    """
    import fm2s

    from ..noise_level import level_lines
    from ..spikes import spike_lines
    from .convert import from_imageplus, to_imageplus

    opts = options if isinstance(options, Options) else read_macro_options(options)
    title = str(imp.getTitle())
    _ij().resetEscape()
    data = from_imageplus(imp)
    start = time.monotonic()
    if progress:
        _ij().log(f"{COMMAND_NAME}: {title} {dict(data.sizes)} {data.dtype}, {opts.macro_string()}")
    result, meta = fm2s.denoise_with_metadata(
        data, progress=ImageJProgress(title) if progress else None, **opts.keywords())
    out = to_imageplus(result, title=unique_title(title + TITLE_SUFFIX))
    keep_display_state(imp, out)
    if progress:
        ij = _ij()
        ij.showProgress(1.0)
        ij.showStatus("")
        for line in level_lines(meta) + spike_lines(meta):
            ij.log(f"{COMMAND_NAME}: {title}: {line}")
        ij.log(f"{COMMAND_NAME}: {title} done in {time.monotonic() - start:.1f} s")
    return out


def current_image() -> Any:
    """Return the current image of the calling thread (ImageJ keeps one per thread).

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


def run_command(macro_options: str | None, source: Any = None) -> Any:
    """Run "FM2S Denoise" with the options a macro passed, on the calling thread.

    Parameters
    ----------
    macro_options : str or None
        ``ij.Macro.getOptions()``: only these options are used, every other takes its default
        (None: all defaults, never a dialog).
    source : ij.ImagePlus, optional
        The image; default the calling thread's current image.

    Returns
    -------
    ij.ImagePlus
        The denoised image, shown (it becomes the thread's current image, in batch mode too).
    """
    opts = read_macro_options(macro_options)
    out = denoise_imageplus(current_image() if source is None else source, opts)
    out.show()
    return out


def run_interactive(source: Any) -> Any:
    """Run "FM2S Denoise" for a person: the dialog, then the run, then the macro recorder.

    The seed is drawn before the run when the person leaves it to chance, so the recorded
    line repeats the run.

    Raises
    ------
    Cancelled
        When the person cancelled the dialog.
    """
    import secrets

    from ..options import validate_options
    from .dialog import ask_options, has_display, record

    opts = ask_options() if has_display() else validate_options()
    if opts is None:
        raise Cancelled(f"{COMMAND_NAME}: cancelled")
    seed = opts.seed if opts.seed is not None else secrets.randbelow(2**31)
    opts = validate_options(**{**{k: opts.values[k] for k in opts.given}, "seed": seed})
    out = denoise_imageplus(source, opts)
    out.show()
    record(opts, seed=seed)
    return out
