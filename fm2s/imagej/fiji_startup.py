"""Registers "FM2S Denoise" when Fiji starts in Python mode (imported by ``fm2s_fiji.pth``).

``fm2s fiji install`` writes ``fm2s_fiji.pth`` into the site-packages of Fiji's Python
environment, so Python imports this module whenever that environment starts. It asks pyimagej
to call :func:`on_imagej_start` once ImageJ is up (Fiji's ``config/fiji.py`` calls
``imagej.init``, which runs such callbacks after the SciJava context, imagej-legacy and Python
scripting exist, before the window opens): the command listener is then registered, and
version problems are written to ImageJ's Log window. Nothing here may fail Python's start-up:
every error is reported and swallowed.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any


def on_imagej_start(gateway: Any = None) -> None:
    """Register the listener and log version problems (pyimagej's start-up callback)."""
    try:
        import jpype

        from . import versions
        from .listener import register_command

        register_command()
        findings = versions.check_python() + [versions.check("java", versions.running_java())]
        problems = versions.problems(findings)
        log = jpype.JClass("ij.IJ").log
        for problem in problems:
            log(f"FM2S Denoise: {problem}")
    except Exception:  # noqa: BLE001 - must not stop Fiji from starting
        print("fm2s: could not register FM2S Denoise:\n" + traceback.format_exc(),
              file=sys.stderr)


def _install() -> None:
    try:
        import imagej
    except Exception:  # noqa: BLE001 - no pyimagej in this Python: nothing to do
        return
    try:
        imagej.when_imagej_starts(on_imagej_start)
    except Exception:  # noqa: BLE001
        print("fm2s: could not ask pyimagej to register FM2S Denoise:\n"
              + traceback.format_exc(), file=sys.stderr)


_install()
