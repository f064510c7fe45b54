"""Serve ``run("FM2S Denoise", "...")`` in ImageJ 1.x and Fiji without compiling Java.

:func:`register_command` adds a JPype proxy implementing ``ij.CommandListener`` to
``ij.Executer``. ImageJ asks every listener before it looks a command up, records it or hands
it to Fiji's SciJava layer (``ij.Executer.run``), on the thread that runs the command: for a
macro's ``run()``, the macro's own thread. Ours answers for "FM2S Denoise" there
(:func:`fm2s.imagej.command.run_command`: the macro's current image in, the result shown as the
macro's new current image, in batch mode too) and returns ``null`` so ImageJ does nothing
more. Every other command is passed through untouched.

Errors never escape as Python exceptions (:func:`report_error`): inside a macro they abort the
macro with fm2s's one-line message, as ImageJ's own errors do (the "Macro Error" dialog with a
display; on standard error, once, without one); outside a macro they are an ImageJ error
dialog. A failure that is not the user's (a bug, a CUDA error) also writes its traceback to
the Log window. The listener stays registered and serves later commands.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from .macro_options import COMMAND_NAME, CommandError

_LISTENER: Any = None
_BEFORE_COMMAND: list[Callable[[str], bool]] = []
#: Set by a caller that reports a macro's errors itself (the ``fm2s macro`` runner).
_CALLER_REPORTS = {"macro errors": False}


def add_command_hook(hook: Callable[[str], bool]) -> Callable[[], None]:
    """Call ``hook(command)`` before ImageJ runs ANY command (the batch runner uses this to
    stop a macro whose previous command failed for lack of a display).

    ``hook`` may call :func:`report_error` to abort the macro and return True: the command
    is then not run. Returns a function that removes the hook.
    """
    _BEFORE_COMMAND.append(hook)
    return lambda: _BEFORE_COMMAND.remove(hook) if hook in _BEFORE_COMMAND else None


def caller_reports_macro_errors(value: bool) -> None:
    """Whether the code that runs macros prints their errors itself (then fm2s does not)."""
    _CALLER_REPORTS["macro errors"] = bool(value)


def report_error(message: str) -> None:
    """Show ``message`` as ImageJ shows errors: abort the running macro, else ``IJ.error``.

    Inside a macro with a display, the interpreter's ``abort(message)`` shows ImageJ's "Macro
    Error" dialog (with the line) and raises ``RuntimeException("Macro canceled")``, which this
    function lets propagate (ImageJ's command runner expects it). Headless, or when the macro's
    runner ignores errors, the interpreter is stopped without a dialog (which cannot open
    there), keeping the message for its runner; the message is also written to standard
    error, once, unless the runner reports it (:func:`caller_reports_macro_errors`).
    """
    import jpype

    from .ij1_internals import macro_ignores_errors

    interp = jpype.JClass("ij.macro.Interpreter").getInstance()
    if interp is None:
        prefix = f"{COMMAND_NAME}: "
        text = message[len(prefix):] if message.startswith(prefix) else message
        jpype.JClass("ij.IJ").error(COMMAND_NAME, text)
        return
    headless = bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())
    ignoring = macro_ignores_errors(interp)
    if not headless and not ignoring:
        interp.abort(message)  # the "Macro Error" dialog; raises "Macro canceled"
        return
    interp.setIgnoreErrors(True)
    try:
        interp.abort(message)  # errors ignored: keeps the message and stops, no dialog
    finally:
        interp.setIgnoreErrors(ignoring)
    if not _CALLER_REPORTS["macro errors"]:
        print(f"Macro Error: {message} in line {interp.getLineNumber()}", file=sys.stderr,
              flush=True)


def _message(exc: BaseException) -> str:
    from ..errors import ImageError

    text = exc.for_front_end("macro") if isinstance(exc, ImageError) else str(exc)
    if hasattr(exc, "stacktrace"):  # a Java exception
        text = str(exc.getMessage() or exc.getClass().getName())
    return text if text.startswith(COMMAND_NAME) else f"{COMMAND_NAME}: {text}"


def _is_macro_canceled(exc: BaseException) -> bool:
    return hasattr(exc, "getMessage") and str(exc.getMessage()) == "Macro canceled"


def handle_command(options: str | None, *, interactive: bool = False, source: Any = None) -> None:
    """Run "FM2S Denoise" for ImageJ and report any failure the ImageJ way.

    Parameters
    ----------
    options : str or None
        The macro options (``ij.Macro.getOptions()``).
    interactive : bool
        A person chose the menu item: ask for the options (:func:`.command.run_interactive`).
    source : ij.ImagePlus, optional
        The image (default: the calling thread's current image).
    """
    from .command import Cancelled, NoImageError, current_image, run_command, run_interactive

    try:
        if interactive:
            run_interactive(current_image() if source is None else source)
        else:
            run_command(options, source)
    except Cancelled as exc:
        if interactive:
            jpype_status(str(exc))
        else:  # a macro must not go on as if it had the result
            report_error(str(exc))
    except (CommandError, NoImageError, ValueError, MemoryError) as exc:
        report_error(_message(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must not kill the ImageJ session
        if _is_macro_canceled(exc):
            raise
        log_traceback()
        report_error(_message(exc) + " (details in the Log window)")


def jpype_status(text: str) -> None:
    """Show ``text`` in ImageJ's status bar and Log window."""
    import jpype

    ij = jpype.JClass("ij.IJ")
    ij.showStatus(text)
    ij.log(text)


def log_traceback() -> None:
    """Write the current exception's traceback to ImageJ's Log window."""
    import jpype

    jpype.JClass("ij.IJ").log(traceback.format_exc())


def serve(options: Any) -> None:
    """Serve one "FM2S Denoise" request (called by the listener, on the requesting thread).

    A macro (or a script, through ``IJ.run``) waits for the result on its own thread, so the
    command runs right there: the macro's current image in, the result its current image.
    A person's menu click is answered on a thread of its own (dialog, run, recording), so
    that ImageJ, which asks its listeners while holding a lock every command needs, stays free
    for other commands in the meantime.
    """
    import jpype

    thread = jpype.JClass("java.lang.Thread").currentThread()
    by_macro = options is not None or str(thread.getName()).startswith("Run$_")
    if by_macro:
        handle_command(None if options is None else str(options))
        return
    from .command import NoImageError, current_image

    try:
        source = current_image()  # the image the person selected (the menu thread's)
    except NoImageError as exc:
        report_error(str(exc))
        return
    worker = threading.Thread(target=handle_command, args=(None,),
                              kwargs={"interactive": True, "source": source},
                              name=COMMAND_NAME, daemon=True)
    worker.start()


def register_command() -> Any:
    """Register the "FM2S Denoise" command listener with ImageJ 1.x (idempotent).

    The JVM must be running with ImageJ on its class path (plain ImageJ:
    :func:`fm2s.imagej.session.start_imagej`; Fiji: done at start-up by
    :mod:`fm2s.imagej.fiji_startup`).

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
                if hook(str(command)):
                    return None
            if command is None or str(command) != COMMAND_NAME:
                return command
            serve(jpype.JClass("ij.Macro").getOptions())
            return None

    _LISTENER = FM2SCommandListener()
    jpype.JClass("ij.Executer").addCommandListener(_LISTENER)
    return _LISTENER


def is_registered() -> bool:
    """True when this process's listener serves "FM2S Denoise"."""
    return _LISTENER is not None


def unregister_command() -> None:
    """Remove the listener added by :func:`register_command` (if any)."""
    global _LISTENER
    if _LISTENER is None:
        return
    import jpype

    jpype.JClass("ij.Executer").removeCommandListener(_LISTENER)
    _LISTENER = None
