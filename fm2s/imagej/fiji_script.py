"""The Fiji menu command: the ``FM2S_Denoise.py`` SciJava script, its header, and its body.

Fiji in Python mode runs scripts whose first line is ``#@script(language="Python")`` in CPython
(through pyimagej/scyjava). :func:`render_script` writes such a script: ``#@`` parameters whose
choices are the presets and noise levels of this fm2s version, an ``#@output ImagePlus``, and a
body that only calls :func:`run_fiji_script`. The file shipped in
``fiji_scripts/Plugins/FM2S/FM2S_Denoise.py`` is this text (a test checks it), and
``fm2s fiji install`` writes it into ``Fiji.app/scripts/Plugins/FM2S/``. The underscore in the
file name makes the command "FM2S Denoise", which ImageJ 1.x macros can ``run()`` and the macro
recorder records with the parameter names as keys.
"""

from __future__ import annotations

import re
from typing import Any

SCRIPT_RELPATH = "scripts/Plugins/FM2S/FM2S_Denoise.py"
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

_PARAM = re.compile(r"^#@\s*(\w+)\s*(?:\((.*)\))?\s+(\w+)\s*$")
_ATTR = re.compile(r'(\w+)\s*=\s*(\{[^}]*\}|"[^"]*"|[^,]+)')


def _choices(values: Any) -> str:
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


def render_script() -> str:
    """Return the text of ``FM2S_Denoise.py`` for this fm2s version's presets."""
    from ..presets import NOISE_LEVELS, list_presets
    from .options import SCHEDULES

    return f'''#@script(language="Python")
#@ ImagePlus imp
#@ String (label="Preset (microscope)", choices={_choices(list_presets())}, value="confocal") preset
#@ String (label="Noise level (avgN = mean of N captures)", choices={_choices(NOISE_LEVELS)}, value="avg1") noise_level
#@ Integer (label="Seed (-1 = random)", value=0, min=-1) seed
#@ String (label="Device", choices={_choices(DEVICES)}, value="auto") device
#@ String (label="Schedule", choices={_choices(SCHEDULES)}, value="fast") schedule
#@output ImagePlus result
"""FM2S Denoise: zero-shot denoising of the current image with fm2s (Plugins > FM2S).

Needs Fiji in Python mode (Edit > Options > Python) with fm2s installed in its Python
environment. Macro: run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0");
"""
from fm2s.imagej.fiji_script import run_fiji_script

result = run_fiji_script(
    imp,
    preset=preset,
    noise_level=noise_level,
    seed=seed,
    device=device,
    schedule=schedule,
)
'''


def parse_script_header(text: str) -> dict[str, dict[str, Any]]:
    """Parse the ``#@`` parameter lines of a SciJava script.

    Parameters
    ----------
    text : str
        Script source.

    Returns
    -------
    dict
        Parameter name -> ``{"type": ..., "output": bool, **attributes}``; ``choices`` become a
        list of str, quoted values str, other values as written.

    Raises
    ------
    ValueError
        If the first line is not ``#@script(language="Python")`` or a ``#@`` line is malformed.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != '#@script(language="Python")':
        raise ValueError('the first line must be #@script(language="Python")')
    params: dict[str, dict[str, Any]] = {}
    for line in lines[1:]:
        if not line.startswith("#@"):
            continue
        output = line.startswith("#@output")
        body = "#@ " + line[len("#@output"):].strip() if output else line
        match = _PARAM.match(body.strip())
        if match is None:
            raise ValueError(f"malformed script parameter line: {line!r}")
        kind, attrs, name = match.groups()
        entry: dict[str, Any] = {"type": kind, "output": output}
        for key, value in _ATTR.findall(attrs or ""):
            value = value.strip()
            if value.startswith("{"):
                entry[key] = [v.strip().strip('"') for v in value[1:-1].split(",") if v.strip()]
            else:
                entry[key] = value.strip('"')
        params[name] = entry
    return params


def run_fiji_script(imp: Any, **options: Any) -> Any:
    """Body of the Fiji script: denoise ``imp`` and return the new ImagePlus (not shown).

    Parameters
    ----------
    imp : ij.ImagePlus
        The image the user selected (SciJava fills ``#@ ImagePlus imp`` with the active image).
    **options
        ``preset``, ``noise_level``, ``seed`` (-1 = random), ``device``, ``schedule`` and any
        other "FM2S Denoise" option.

    Returns
    -------
    ij.ImagePlus or None
        The denoised image (SciJava displays it as the script's output), or None after an error
        was reported the ImageJ way (error dialog, or macro abort when called from a macro).
    """
    from .command import COMMAND_NAME, NoImageError, denoise_imageplus

    try:
        if imp is None:
            raise NoImageError(f"{COMMAND_NAME}: there is no image open; open or select one first")
        return denoise_imageplus(imp, {k: v for k, v in options.items() if v is not None})
    except (ValueError, NoImageError, MemoryError) as exc:
        from .listener import report_error

        message = str(exc) if str(exc).startswith(COMMAND_NAME) else f"{COMMAND_NAME}: {exc}"
        report_error(message)
        return None
