"""Run an ImageJ macro file unattended with "FM2S Denoise" available (``fm2s macro``).

What :func:`run_macro` does:

1. Picks a display (:func:`.display.choose_display`): the existing ``$DISPLAY``; else a private
   ``Xvfb`` when one is installed (then every ImageJ 1.x command works); else
   ``java.awt.headless`` mode, where the command table is filled in by
   :func:`fm2s.imagej.ij1_internals.install_headless_commands` so that most built-in commands,
   ``open()`` and ``saveAs()`` still work (commands that need a window don't).
2. Starts ImageJ (:func:`fm2s.imagej.session.start_imagej`) and registers the command
   (:func:`fm2s.imagej.listener.register_command`).
3. Runs the macro in batch mode with ``ij.macro.Interpreter`` on a worker thread; the argument
   is what the macro's ``getArgument()`` returns. ImageJ's log goes to standard output as it is
   written. The macro stops at its first error, as in ImageJ (the interpreter is not told to
   ignore errors: that would let the statements after an error run, a ``saveAs`` among them),
   and the error is reported with the line ImageJ names. Dialogs are closed by
   :class:`.watchdog.DialogWatchdog`.
4. Returns 0, or 1 after printing the macro's error message to standard error.

The process is ours: SIGINT and SIGTERM end it at once with exit code 130 or 143 and a message
(the main thread only waits for the macro's thread, so it is always free to take a signal),
and :func:`finish` ends it without waiting for ImageJ's AWT threads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .display import choose_display, forget_xvfb_cookie, stop_xvfb
from .javaio import HeadlessGuard
from .watchdog import DialogWatchdog


class MacroError(RuntimeError):
    """The macro failed; the message is ImageJ's error message, with the line."""


def run_macro_code(code: str, argument: str = "", *, batch_mode: bool = True) -> str | None:
    """Run macro source in the already-started ImageJ; errors are raised, not shown.

    Parameters
    ----------
    code : str
        ImageJ macro language source.
    argument : str
        Returned by the macro's ``getArgument()``.
    batch_mode : bool
        Start in batch mode (images are not displayed; ``setBatchMode`` still works).

    Returns
    -------
    str or None
        The macro's ``return`` value, if any.

    Raises
    ------
    MacroError
        With ImageJ's error message and line when the macro fails or is aborted, or ends
        with ``exit("why")``; ``exit;`` and ``exit()`` end it normally.
    """
    import jpype

    from ..ij1_internals import macro_ended_by_plain_exit
    from ..listener import caller_reports_macro_errors

    interpreter = jpype.JClass("ij.macro.Interpreter")
    interp = interpreter()
    jpype.JClass("ij.IJ").redirectErrorMessages(True)
    if batch_mode:
        interpreter.batchMode = True
    headless = bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())
    guard = HeadlessGuard() if headless else contextlib.nullcontext()
    caller_reports_macro_errors(True)
    try:
        with guard, DialogWatchdog() as watchdog:
            if headless:
                guard.watch_statements(interp)
            result = interp.run(code, argument)
    except jpype.JException as exc:
        message = interp.getErrorMessage()
        if message is None and macro_ended_by_plain_exit(interp, exc) and not (
                headless and guard.failure is not None):
            return None  # `exit;` ends a macro normally, as in ImageJ's own runners
        if message is None:
            text = str(exc.getMessage() or exc.getClass().getName())
            message = "the macro was aborted" if text == "Macro canceled" else text
            if watchdog.messages:
                message = f"{message} ({watchdog.messages[-1]})"
        if headless and guard.failure is not None and str(message) == guard.failure:
            raise MacroError(guard.failure) from None
        raise MacroError(_with_line(interp, message)) from None
    finally:
        caller_reports_macro_errors(False)
        interpreter.batchMode = False
        _forget_interpreter(interp)
    message = interp.getErrorMessage()
    if message is not None:
        raise MacroError(_with_line(interp, message))
    if headless and guard.failure is not None:
        raise MacroError(guard.failure)
    return None if result is None else str(result)


def _forget_interpreter(interp: Any) -> None:
    """Clear ImageJ's "current macro" if it is still ``interp`` (left set after an abort)."""
    from ..ij1_internals import forget_macro

    forget_macro(interp)


def _with_line(interp: Any, message: Any) -> str:
    """``line N: message``, with the line ImageJ's own error message names."""
    from ..ij1_internals import macro_error_line

    line = macro_error_line(interp) or int(interp.getLineNumber())
    return f"line {line}: {message}" if line > 0 else str(message)


def run_macro(
    macro: str | os.PathLike,
    argument: str = "",
    *,
    fiji: str | os.PathLike | None = None,
    ij_jar: str | os.PathLike | None = None,
    display: str = "auto",
    max_heap: str | None = None,
) -> int:
    """Run a macro file with "FM2S Denoise" available; return the exit code.

    Parameters
    ----------
    macro : path
        The ``.ijm`` file.
    argument : str
        Passed to the macro's ``getArgument()``.
    fiji, ij_jar : path, optional
        Which ImageJ to use (see :func:`fm2s.imagej.session.start_imagej`).
    display : {"auto", "xvfb", "headless", "display"}
        See :func:`.display.choose_display`.
    max_heap : str, optional
        Java heap limit, e.g. ``"8g"``.

    Returns
    -------
    int
        0 on success, 1 if the macro failed (the message is printed to standard error), 2 if
        the macro file or ImageJ could not be found.
    """
    from ..listener import register_command
    from ..session import ImageJNotFoundError, find_fiji, start_imagej

    path = Path(macro)
    if not path.is_file():
        print(f"fm2s macro: no macro file {path}", file=sys.stderr)
        return 2
    code = path.read_text(encoding="utf-8")
    try:
        fiji_dir = None if ij_jar else find_fiji(fiji)
        if fiji_dir is not None and display == "auto" and not os.environ.get("DISPLAY"):
            display = "headless"  # Fiji's imagej-legacy runs ImageJ 1.x commands headless
        mode = choose_display(display)
        start_imagej(fiji=fiji_dir, ij_jar=ij_jar, headless=mode == "headless",
                     max_heap=max_heap)
    except (ImageJNotFoundError, ImportError, ValueError, RuntimeError) as exc:
        print(f"fm2s macro: {exc}", file=sys.stderr)
        return 2
    register_command()
    sys.stdout.flush()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = run_macro_code(code, argument)
        except MacroError as exc:
            outcome["error"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            outcome["crash"] = exc

    worker = threading.Thread(target=work, name="fm2s-macro", daemon=True)
    with _signals_end_the_process():
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    _flush_java()
    if "error" in outcome:
        print(f"fm2s macro: {path.name} failed: {outcome['error']}", file=sys.stderr)
        return 1
    if "crash" in outcome:
        exc = outcome["crash"]
        print(f"fm2s macro: {path.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if outcome.get("result"):
        print(outcome["result"])
    return 0


@contextlib.contextmanager
def _signals_end_the_process() -> Any:
    """While the macro runs, SIGINT and SIGTERM end the process at once (see the docstring)."""
    def end(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        print(f"\nfm2s macro: stopped by {name}; files the macro finished are kept",
              file=sys.stderr, flush=True)
        finish(128 + signum)

    previous = {s: signal.signal(s, end) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _flush_java() -> None:
    import jpype

    if jpype.isJVMStarted():
        jpype.JClass("java.lang.System").out.flush()
        jpype.JClass("java.lang.System").err.flush()
    sys.stdout.flush()
    sys.stderr.flush()


def finish(code: int) -> Any:
    """End the process now with ``code``: flush output, stop Xvfb, skip the JVM's shutdown wait.

    ImageJ's AWT threads are not daemons, so a normal interpreter exit would wait forever.
    """
    with contextlib.suppress(Exception):
        _flush_java()
    sys.stdout.flush()
    sys.stderr.flush()
    forget_xvfb_cookie()
    # Xvfb is not stopped first: Java's X11 toolkit would exit(1) on the lost connection
    # before we do. It gets SIGTERM from the kernel when this process is gone (parent death).
    os._exit(code)
    return None  # pragma: no cover


__all__ = ["MacroError", "finish", "run_macro", "run_macro_code", "stop_xvfb"]
