"""How the ``fm2s`` command reports a bad choice: one line naming the flag, exit code 2."""

from __future__ import annotations

from ..options import OptionError, option


class UsageError(Exception):
    """A bad command-line choice: reported in one line, exit code 2."""


def usage_error(exc: OptionError) -> UsageError:
    """``exc`` in the command line's words: the flag instead of the option's name."""
    try:
        flag = option(exc.option).flag
    except KeyError:
        return UsageError(str(exc))
    text = str(exc)
    if text.startswith(exc.option + " "):  # "tile must be ..." -> "--tile must be ..."
        return UsageError(flag + text[len(exc.option):])
    return UsageError(f"{flag}: {text}")
