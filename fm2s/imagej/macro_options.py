"""The options of "FM2S Denoise" as an ImageJ macro passes them: one string of ``key=value``.

ImageJ passes a command's options as ``"key=value key=[value with spaces] flag"`` (what the
macro recorder writes and :func:`ij.Macro.getValue` reads). :func:`read_macro_options` turns
that string into validated :class:`fm2s.options.Options`: only the keys given are used, every
other option takes fm2s's documented default (never a value from an earlier run), and a bad
key or value is refused with a message in the macro's words. Needs no JVM.
"""

from __future__ import annotations

import re

from ..options import OptionError, Options, validate_options

COMMAND_NAME = "FM2S Denoise"

_TOKEN = re.compile(r"\s*([^\s=\[\]]+)(?:=(\[[^\]]*\]|\S*))?")


class CommandError(ValueError):
    """A bad "FM2S Denoise" call; the message starts with the command's name."""


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


def read_macro_options(text: str | None) -> Options:
    """Validate a macro option string (see the module docstring).

    Raises
    ------
    CommandError
        ``"FM2S Denoise: ..."``, naming the bad key or value and the valid choices.
    """
    try:
        values = parse_macro_options(text)
        return validate_options(**{key: value for key, value in values.items()})
    except OptionError as exc:
        raise CommandError(f"{COMMAND_NAME}: {exc}") from None
    except ValueError as exc:
        raise CommandError(f"{COMMAND_NAME}: {exc}") from None
