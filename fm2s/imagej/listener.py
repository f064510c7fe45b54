"""Make ``run("FM2S Denoise", "...")`` work in ImageJ 1.x macros without compiling Java.

:func:`register_command` adds a JPype proxy implementing ``ij.CommandListener`` to
``ij.Executer``. ImageJ asks every listener before it looks a command up; ours answers for
"FM2S Denoise": it reads the options with ``ij.Macro.getOptions()``, runs
:func:`fm2s.imagej.command.run_command` on the current image, shows the result (in batch mode
that makes it the macro's current image) and returns ``null`` so ImageJ does nothing more.
Every other command is passed through untouched.

Errors never escape as Python exceptions: inside a macro they become the macro's error (the
standard macro error dialog in the GUI; with ``Interpreter.setIgnoreErrors(true)``, as in
:mod:`fm2s.imagej.macro`, the macro is aborted and the message is kept for the caller), outside
a macro they become ``IJ.error``. The listener stays registered and serves later commands.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from .command import COMMAND_NAME, run_command

_LISTENER: Any = None
_BEFORE_COMMAND: list[Callable[[str], None]] = []


def add_command_hook(hook: Callable[[str], None]) -> Callable[[], None]:
    """Call ``hook(command)`` before ImageJ runs ANY command (the batch runner uses this to
    stop a macro whose previous command failed for lack of a display).

    ``hook`` may call :func:`report_error` to abort the macro. Returns a function that removes
    the hook.
    """
    _BEFORE_COMMAND.append(hook)
    return lambda: _BEFORE_COMMAND.remove(hook) if hook in _BEFORE_COMMAND else None


def report_error(message: str) -> None:
    """Show ``message`` as ImageJ shows errors: abort the running macro, else ``IJ.error``.

    Raises
    ------
    Exception
        A Java ``RuntimeException("Macro canceled")`` when the running macro ignores errors
        (batch runner): that is how ImageJ itself stops a macro. Let it propagate to Java.
    """
    import jpype

    interpreter = jpype.JClass("ij.macro.Interpreter")
    interp = interpreter.getInstance()
    ij = jpype.JClass("ij.IJ")
    if interp is None:
        prefix = f"{COMMAND_NAME}: "
        ij.error(COMMAND_NAME, message[len(prefix):] if message.startswith(prefix) else message)
        return
    cls = interpreter.class_
    error = cls.getDeclaredMethod("error", jpype.JClass("java.lang.String"))
    error.setAccessible(True)
    ignore = cls.getDeclaredField("ignoreErrors")
    ignore.setAccessible(True)
    if bool(ignore.get(interp)):
        error.invoke(interp, message)  # records the message for getErrorMessage()
        ij.log(f"ERROR: {message}")
        raise jpype.JClass("java.lang.RuntimeException")(jpype.JClass("ij.Macro").MACRO_CANCELED)
    error.invoke(interp, message)  # the macro error dialog; stops the macro


def _message(exc: BaseException) -> str:
    text = str(exc)
    if hasattr(exc, "stacktrace"):  # a Java exception
        text = str(exc.getMessage() or exc.getClass().getName())
    return text if text.startswith(COMMAND_NAME) else f"{COMMAND_NAME}: {text}"


def handle_command(command: str, options: str | None) -> None:
    """Run "FM2S Denoise" for ImageJ and report any failure the ImageJ way.

    Parameters
    ----------
    command : str
        The command name (only "FM2S Denoise" is handled).
    options : str or None
        The macro options, e.g. ``"preset=confocal noise_level=avg1 seed=0"``.
    """
    try:
        run_command(None if options is None else str(options), show=True)
    except (ValueError, RuntimeError, TypeError, MemoryError) as exc:
        report_error(_message(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must not kill the ImageJ session
        # print() may have no stream inside Fiji: log through logging and ImageJ instead
        logging.getLogger(__name__).exception("%s failed", command)
        jpype_log(traceback.format_exc())
        report_error(_message(exc))


def jpype_log(text: str) -> None:
    """Write ``text`` to ImageJ's log."""
    import jpype

    jpype.JClass("ij.IJ").log(text)


def register_command() -> Any:
    """Register the "FM2S Denoise" command listener with ImageJ 1.x (idempotent).

    The JVM must be running with ImageJ on its class path (see
    :func:`fm2s.imagej.jvm.start_imagej`).

    Returns
    -------
    ij.CommandListener
        The registered proxy (kept alive by this module).
    """
    global _LISTENER
    import jpype

    if _LISTENER is not None:
        return _LISTENER

    @jpype.JImplements("ij.CommandListener")
    class FM2SCommandListener:
        @jpype.JOverride
        def commandExecuting(self, command: Any) -> Any:  # noqa: N802 - Java interface
            for hook in list(_BEFORE_COMMAND):
                hook(str(command))
            if command is None or str(command) != COMMAND_NAME:
                return command
            options = jpype.JClass("ij.Macro").getOptions()
            handle_command(str(command), None if options is None else str(options))
            return None

    _LISTENER = FM2SCommandListener()
    jpype.JClass("ij.Executer").addCommandListener(_LISTENER)
    return _LISTENER


def unregister_command() -> None:
    """Remove the listener added by :func:`register_command` (if any)."""
    global _LISTENER
    if _LISTENER is None:
        return
    import jpype

    jpype.JClass("ij.Executer").removeCommandListener(_LISTENER)
    _LISTENER = None
