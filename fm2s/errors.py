"""An image fm2s cannot denoise: the problem, and the fix in the words of each front-end.

The fix depends on where the image came from: a Python user converts an array, a command-line
user converts a file, a macro converts its image with an ImageJ command. :class:`ImageError`
carries one fix per front-end; ``str(error)`` is the Python one, and the ``fm2s`` command and
the "FM2S Denoise" command ask for theirs (:meth:`ImageError.for_front_end`).
"""

from __future__ import annotations

FRONT_ENDS: tuple[str, ...] = ("python", "cli", "macro")


class ImageError(ValueError):
    """An image fm2s cannot denoise.

    Parameters
    ----------
    problem : str
        What is wrong with the image.
    fixes : dict of str to str
        What to do, per front-end (``"python"``, ``"cli"``, ``"macro"``); missing ones fall back
        to ``"python"``; none at all for a problem without a fix.
    """

    def __init__(self, problem: str, fixes: dict[str, str] | None = None) -> None:
        self.problem, self.fixes = problem, dict(fixes or {})
        super().__init__(self.for_front_end("python"))

    def for_front_end(self, front_end: str) -> str:
        """The message for ``front_end`` (one of :data:`FRONT_ENDS`)."""
        fix = self.fixes.get(front_end, self.fixes.get("python"))
        return f"{self.problem} ({fix})" if fix else self.problem


def nonfinite_error(count: int) -> ImageError:
    """The image holds ``count`` NaN or infinite pixels: what to do, per front-end."""
    return ImageError(f"the image contains {count} NaN or infinite pixel(s); replace them first", {
        "python": "e.g. numpy.nan_to_num(image, nan=0.0)",
        "cli": "e.g. Fiji: Process > Math > Remove NaNs...",
        "macro": 'e.g. run("Remove NaNs...", "radius=2");',
    })
