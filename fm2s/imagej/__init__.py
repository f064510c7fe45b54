"""ImageJ and Fiji bridge for fm2s.

Three ways in, all running the same "FM2S Denoise" command (:mod:`fm2s.imagej.command`),
which calls :func:`fm2s.denoise`:

* **Fiji menu**: ``Plugins > FM2S > FM2S Denoise`` in Fiji's Python mode, set up by
  ``fm2s fiji install <Fiji.app>`` (:mod:`fm2s.imagej.fiji`).
* **Macro command**: ``run("FM2S Denoise", "preset=confocal noise_level=avg1 seed=0");`` from
  any ImageJ macro, served by :func:`fm2s.imagej.listener.register_command` (at Fiji's start,
  or in a JVM started by :func:`fm2s.imagej.session.start_imagej`).
* **Headless batch**: ``fm2s macro MACRO.ijm --arg ...`` (:mod:`fm2s.imagej.batch`).

Importing this package starts no JVM and imports neither JPype nor pyimagej; that happens only
when a function that needs them is called.
"""

from __future__ import annotations

from typing import Any

from .macro_options import COMMAND_NAME

__all__ = [
    "COMMAND_NAME",
    "denoise_imageplus",
    "from_imageplus",
    "parse_macro_options",
    "read_macro_options",
    "register_command",
    "run_macro",
    "run_macro_code",
    "start_imagej",
    "to_imageplus",
]

_LAZY = {
    "denoise_imageplus": "command",
    "from_imageplus": "convert",
    "to_imageplus": "convert",
    "parse_macro_options": "macro_options",
    "read_macro_options": "macro_options",
    "register_command": "listener",
    "run_macro": "batch.runner",
    "run_macro_code": "batch.runner",
    "start_imagej": "session",
}


def __getattr__(name: str) -> Any:
    """Import the public functions on first use, so that importing the package is cheap."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
