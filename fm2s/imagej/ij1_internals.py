"""Every use fm2s makes of ImageJ 1.x internals (private fields, reached by reflection), in one place.

ImageJ 1.x has no public API for these few things; each function says why it needs one, and
fails with :class:`ImageJInternalsError` (naming the field, the ImageJ version found and the
versions it was checked on) instead of a Java stack trace when a future ImageJ changes them.

Checked on ImageJ 1.53t (Debian's ``libij-java``; run by the tests) and on the source of
1.54u7 (the fields below have the same names and types there).
"""

from __future__ import annotations

import os
import re
import zipfile
from typing import Any

#: The ImageJ 1.x versions the fields below were checked on.
CHECKED_ON: tuple[str, ...] = ("1.53t (tests)", "1.54u7 (source)")


class ImageJInternalsError(RuntimeError):
    """An ImageJ 1.x internal fm2s relies on is missing or different in this ImageJ."""


def _jclass(name: str) -> Any:
    import jpype

    return jpype.JClass(name)


def imagej_version() -> str:
    """The running ImageJ 1.x version, e.g. ``"1.53t"``."""
    return str(_jclass("ij.IJ").getFullVersion())


def _field(class_name: str, field_name: str, why: str) -> Any:
    try:
        field = _jclass(class_name).class_.getDeclaredField(field_name)
        field.setAccessible(True)
    except Exception as exc:  # noqa: BLE001 - any reflection failure means the same thing
        raise ImageJInternalsError(
            f"this ImageJ ({imagej_version()}) has no field {class_name}.{field_name}, which "
            f"fm2s reads to {why}; fm2s was checked on ImageJ {', '.join(CHECKED_ON)}. "
            "Please report this with your ImageJ version."
        ) from exc
    return field


# ---------------------------------------------------------------------- headless commands

#: Entries that ImageJ 1.x's ``Menus.addMenuBar()`` adds in code rather than from
#: ``IJ_Props.txt`` (so a headless ImageJ, which builds no menus, lacks them).
MENU_BAR_COMMANDS: dict[str, str] = {
    "Open...": 'ij.plugin.Commands("open")',
    "Open Next": "ij.plugin.NextImageOpener",
    "Close": 'ij.plugin.Commands("close")',
    "Close All": 'ij.plugin.Commands("close-all")',
    "Save": 'ij.plugin.Commands("save")',
    "Revert": 'ij.plugin.Commands("revert")',
    "Undo": 'ij.plugin.Commands("undo")',
    "Clear": 'ij.plugin.filter.Filler("clear")',
    "Clear Outside": 'ij.plugin.filter.Filler("outside")',
    "Fill": 'ij.plugin.filter.Filler("fill")',
    "Draw": 'ij.plugin.filter.Filler("draw")',
    "Invert": 'ij.plugin.filter.Filters("invert")',
    "Show Info...": "ij.plugin.ImageInfo",
    "Properties...": "ij.plugin.filter.ImageProperties",
    "Crop": 'ij.plugin.Resizer("crop")',
    "Duplicate...": "ij.plugin.Duplicator",
    "Rename...": 'ij.plugin.SimpleCommands("rename")',
    "Scale...": "ij.plugin.Scaler",
    "Smooth": 'ij.plugin.filter.Filters("smooth")',
    "Sharpen": 'ij.plugin.filter.Filters("sharpen")',
    "Find Edges": 'ij.plugin.filter.Filters("edge")',
    "Find Maxima...": "ij.plugin.filter.MaximumFinder",
    "Enhance Contrast...": "ij.plugin.ContrastEnhancer",
    "Image Calculator...": "ij.plugin.ImageCalculator",
    "Subtract Background...": "ij.plugin.filter.BackgroundSubtracter",
    "Measure": "ij.plugin.filter.Analyzer",
    "Analyze Particles...": "ij.plugin.filter.ParticleAnalyzer",
    "Summarize": 'ij.plugin.filter.Analyzer("sum")',
    "Distribution...": "ij.plugin.Distribution",
    "Label": 'ij.plugin.filter.Filler("label")',
    "Clear Results": 'ij.plugin.filter.Analyzer("clear")',
    "Set Measurements...": 'ij.plugin.filter.Analyzer("set")',
    "Set Scale...": "ij.plugin.filter.ScaleDialog",
    "Calibrate...": "ij.plugin.filter.Calibrator",
    "Histogram": "ij.plugin.Histogram",
    "Plot Profile": 'ij.plugin.Profiler("plot")',
}

_PROPS_ENTRY = re.compile(r'^[A-Za-z_]+\d+="([^"]+)",(\S.*)$', re.MULTILINE)


def headless_command_table(jar: str | os.PathLike) -> dict[str, str]:
    """Return ImageJ 1.x's command table (menu label -> plugin class) read from ``jar``.

    Parameters
    ----------
    jar : path
        An ImageJ 1.x jar; its ``IJ_Props.txt`` lists the menu commands.

    Returns
    -------
    dict of str to str
    """
    with zipfile.ZipFile(jar) as archive:
        text = archive.read("IJ_Props.txt").decode("latin-1")
    table = {label: cls.strip() for label, cls in _PROPS_ENTRY.findall(text)}
    table.update(MENU_BAR_COMMANDS)
    return table


def install_headless_commands(jar: str | os.PathLike) -> int:
    """Give a headless ImageJ 1.x its command table so macros can ``run()`` built-in commands.

    Headless, ImageJ 1.x builds no menus, so its private ``Menus.pluginsTable`` stays empty
    and ``run("Gaussian Blur...")`` would be an unknown command. Does nothing when ImageJ
    already has a table (with a display it builds its own menus).

    Returns
    -------
    int
        The number of commands installed (0 if the table already existed).
    """
    field = _field("ij.Menus", "pluginsTable", "give a headless ImageJ its command table")
    if field.get(None) is not None:
        return 0
    table = _jclass("java.util.Hashtable")()
    for label, cls in headless_command_table(jar).items():
        table.put(label, cls)
    field.set(None, table)
    return int(table.size())


# ------------------------------------------------------------------------------ macros


def macro_error_line(interp: Any) -> int:
    """The line of the statement where the macro run by ``interp`` failed (0 if unknown).

    ``Interpreter.getLineNumber()`` is one line late after an error (ImageJ's error message
    moves the interpreter to the next line's first token); the line it names in its own
    message is kept in the private field ``lineNumber``.
    """
    field = _field("ij.macro.Interpreter", "lineNumber", "report the line a macro failed on")
    return int(field.getInt(interp))


def macro_ended_by_plain_exit(interp: Any, exc: Any) -> bool:
    """Whether ``exc`` ended the macro run by ``interp`` at an ``exit`` without a message.

    ``exit;`` and ``exit()`` end a macro as its author meant, but throw the same "Macro
    canceled" exception as an abort (a dialog cancelled, ``exit("why")``). The exception's
    stack says it came from ``exit``; the interpreter's private program counter ``pc`` and
    program ``pgm`` say whether ``exit`` read a message: then the last token it read is ``)``
    after something other than ``(``.
    """
    trace = exc.getStackTrace()
    if len(trace) == 0 or (str(trace[0].getClassName()), str(trace[0].getMethodName())) != (
            "ij.macro.Functions", "exit"):
        return False
    why = "tell a macro's plain exit from an abort"
    pc = int(_field("ij.macro.Interpreter", "pc", why).getInt(interp))
    code = _field("ij.macro.Interpreter", "pgm", why).get(interp).getCode()
    return int(code[pc]) != ord(")") or int(code[pc - 1]) == ord("(")


def multiline_label_lines(component: Any) -> list[str]:
    """The text of an ``ij.gui.MultiLineLabel`` (ImageJ's message dialogs), line by line.

    The label draws its private ``lines`` and offers no getter; the batch runner logs what
    a dialog it closes said.
    """
    field = _field("ij.gui.MultiLineLabel", "lines", "log the text of a dialog it closes")
    return [str(line) for line in (field.get(component) or []) if line is not None]


def macro_ignores_errors(interp: Any) -> bool:
    """Whether the macro run by ``interp`` ignores errors (``Interpreter.setIgnoreErrors``).

    ImageJ 1.x has a setter but no getter; an error report must not change what the macro's
    runner asked for.
    """
    field = _field("ij.macro.Interpreter", "ignoreErrors", "stop a macro the way its runner asked")
    return bool(field.getBoolean(interp))


def forget_macro(interp: Any) -> None:
    """Clear ImageJ's "running macro" (``Interpreter.instance``) if it is still ``interp``.

    A macro stopped by an error can leave itself as the running macro, which would make the
    next error report think it belongs to a macro that is over.
    """
    interpreter = _jclass("ij.macro.Interpreter")
    if interpreter.getInstance() is not None and interpreter.getInstance().equals(interp):
        _field("ij.macro.Interpreter", "instance", "forget a macro that ended").set(None, None)
