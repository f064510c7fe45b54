"""Run an ImageJ macro file headlessly with "FM2S Denoise" available (``fm2s macro``).

What :func:`run_macro` does:

1. Picks a display: the existing ``$DISPLAY``; else a private ``Xvfb`` server when one is
   installed (then every ImageJ 1.x command works); else ``java.awt.headless`` mode, where the
   command table is filled in by :func:`fm2s.imagej.jvm.install_headless_commands` so that most
   built-in commands, ``open()`` and ``saveAs()`` still work (commands that need a window don't).
2. Starts ImageJ (:func:`fm2s.imagej.jvm.start_imagej`) and registers the command
   (:func:`fm2s.imagej.listener.register_command`).
3. Runs the macro in batch mode with ``ij.macro.Interpreter``, errors ignored (so no modal
   dialog can block) and ``IJ.redirectErrorMessages``; the argument is what the macro's
   ``getArgument()`` returns. ImageJ's log goes to standard output as it is written.
4. Returns 0, or 1 after printing the macro's error message to standard error.

The JVM cannot be restarted and ImageJ's AWT threads keep it alive, so the command-line entry
point ends the process with :func:`finish` as soon as the macro is over.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DISPLAY_MODES: tuple[str, ...] = ("auto", "xvfb", "headless", "display")


class MacroError(RuntimeError):
    """The macro failed; the message is ImageJ's error message."""


@dataclass
class VirtualDisplay:
    """A private Xvfb server started for this process."""

    process: subprocess.Popen
    display: str

    def stop(self) -> None:
        """Terminate the server (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


_XVFB: VirtualDisplay | None = None


def _die_with_parent() -> None:
    """In the Xvfb child: ask Linux to send SIGTERM when the parent process dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: -terminate still applies
        pass


def start_xvfb(timeout: float = 10.0) -> VirtualDisplay:
    """Start ``Xvfb`` on a free display number and set ``$DISPLAY`` to it.

    Raises
    ------
    RuntimeError
        If Xvfb is not installed or does not come up within ``timeout`` seconds.
    """
    global _XVFB
    if _XVFB is not None:
        return _XVFB
    exe = shutil.which("Xvfb")
    if exe is None:
        raise RuntimeError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    # -terminate: the server exits when its last client (our JVM) disconnects, so it never
    # outlives us; _die_with_parent covers a JVM that never connected.
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
         "-terminate"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + timeout
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(16)
            if not chunk:
                break
            number += chunk
    if not number.strip().isdigit():
        proc.kill()
        raise RuntimeError("Xvfb did not start (no display number reported)")
    _XVFB = VirtualDisplay(proc, f":{int(number)}")
    os.environ["DISPLAY"] = _XVFB.display
    return _XVFB


def choose_display(mode: str = "auto") -> str:
    """Decide how ImageJ gets a display and prepare it.

    Parameters
    ----------
    mode : {"auto", "xvfb", "headless", "display"}
        ``auto``: the current ``$DISPLAY`` if set, else Xvfb if installed, else headless.

    Returns
    -------
    str
        ``"display"``, ``"xvfb"`` or ``"headless"``.
    """
    if mode not in DISPLAY_MODES:
        raise ValueError(f"unknown display mode {mode!r}; choose one of: {', '.join(DISPLAY_MODES)}")
    if mode == "display" or (mode == "auto" and os.environ.get("DISPLAY")):
        if not os.environ.get("DISPLAY"):
            raise RuntimeError("--display display needs $DISPLAY to be set")
        return "display"
    if mode == "xvfb":
        start_xvfb()
        return "xvfb"
    if mode == "auto" and shutil.which("Xvfb"):
        try:
            start_xvfb()
            return "xvfb"
        except RuntimeError as exc:
            print(f"fm2s: {exc}; running headless instead", file=sys.stderr)
    os.environ.pop("DISPLAY", None)
    return "headless"


class DialogWatchdog:
    """Close any dialog ImageJ opens while a batch macro runs, logging its title and text.

    With a (virtual) display, ImageJ reports some problems in modal dialogs that would block an
    unattended run forever; this thread disposes them within ``interval`` seconds. Messages are
    kept in :attr:`messages` (the last one is used when a macro ends with ``exit("...")``).
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fm2s-dialog-watchdog", daemon=True)

    def __enter__(self) -> DialogWatchdog:
        import jpype

        if not jpype.JClass("java.awt.GraphicsEnvironment").isHeadless():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.interval)
        self.close_dialogs()

    def _run(self) -> None:

        while not self._stop.wait(self.interval):
            self.close_dialogs()

    def close_dialogs(self) -> None:
        """Dispose every visible AWT dialog now, logging what it said."""
        import jpype

        dialog_cls = jpype.JClass("java.awt.Dialog")
        for window in jpype.JClass("java.awt.Window").getWindows():
            if isinstance(window, dialog_cls) and window.isShowing():
                text = " ".join(_component_text(window)).strip()
                title = str(window.getTitle() or "")
                message = f"{title}: {text}" if text else title
                self.messages.append(message)
                jpype.JClass("ij.IJ").log(f"[dialog closed] {message}")
                event = jpype.JClass("java.awt.event.WindowEvent")
                window.dispatchEvent(event(window, event.WINDOW_CLOSING))  # = Cancel/close
                if window.getClass().getName() == "ij.gui.WaitForUserDialog":
                    window.close()  # releases waitForUser()
                if window.isShowing():
                    window.dispose()


def _component_text(component: Any) -> list[str]:
    """Collect the text shown by an AWT component tree (labels, text fields, ImageJ labels)."""
    import jpype

    texts: list[str] = []
    for getter in ("getText",):
        if hasattr(component, getter) and not isinstance(
            component, jpype.JClass("java.awt.Button")
        ):
            try:
                value = getattr(component, getter)()
                if value:
                    texts.append(str(value))
            except Exception:  # noqa: BLE001 - best effort
                pass
    if component.getClass().getName() == "ij.gui.MultiLineLabel":
        try:
            field = component.getClass().getDeclaredField("lines")
            field.setAccessible(True)
            texts.extend(str(line) for line in field.get(component) if line is not None)
        except Exception:  # noqa: BLE001 - best effort
            pass
    if isinstance(component, jpype.JClass("java.awt.Container")):
        for child in component.getComponents():
            texts.extend(_component_text(child))
    return texts


HEADLESS_HINT = (
    "it needs a display (it opens a dialog: java.awt.HeadlessException); install Xvfb "
    "(apt-get install xvfb) and run with --display auto or --display xvfb"
)


_HEADLESS_EXCEPTION = "java.awt.HeadlessException"
#: Lines of a Java stack trace after its first: frames, "... n more", causes and their frames.
_TRACE_LINE = re.compile(r"^(\s+at |\s+\.\.\. \d+ (more|common frames omitted)|Caused by: |Suppressed: )")


class HeadlessGuard:
    """In ``java.awt.headless`` mode, pump Java's stdout/stderr through Python and stop the
    macro when an ImageJ command failed for lack of a display.

    ImageJ 1.x prints such failures (a ``HeadlessException`` from its dialog code) and carries
    on, which would make a lab macro produce wrong results silently. The guard replaces
    ``System.out``/``System.err`` with in-memory streams drained to ``sys.stdout``/``sys.stderr``
    every ``interval`` seconds (so the log still streams, in order), remembers the command that
    was running (via :func:`fm2s.imagej.listener.add_command_hook`) and aborts the macro with a
    clear message at its next command, or fails it when it ends. The ``HeadlessException``
    stack trace ImageJ logs is left out, since that message explains it; other Java output,
    traces of other exceptions included, is passed on unchanged. ``FM2S_JAVA_TRACES=1`` in the
    environment passes everything on.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.failure: str | None = None
        self._command: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fm2s-java-output", daemon=True)
        self._in_trace = {"out": False, "err": False}
        self._partial = {"out": "", "err": ""}
        self._show_traces = os.environ.get("FM2S_JAVA_TRACES", "0") not in ("", "0")

    def __enter__(self) -> HeadlessGuard:
        import jpype

        from .listener import add_command_hook

        system = jpype.JClass("java.lang.System")
        stream = jpype.JClass("java.io.PrintStream")
        buffer = jpype.JClass("java.io.ByteArrayOutputStream")
        self._saved = (system.out, system.err)
        self._out, self._err = buffer(), buffer()
        system.setOut(stream(self._out, True, "UTF-8"))
        system.setErr(stream(self._err, True, "UTF-8"))
        self._remove_hook = add_command_hook(self._before_command)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import jpype

        self._stop.set()
        self._thread.join(timeout=5)
        self._remove_hook()
        system = jpype.JClass("java.lang.System")
        system.out.flush()
        system.err.flush()
        system.setOut(self._saved[0])
        system.setErr(self._saved[1])
        self.drain(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.drain()

    def drain(self, *, final: bool = False) -> None:
        """Copy the lines Java printed so far to Python's streams; note display failures.

        A line still being written is kept for the next drain (so a message is never looked
        at in two pieces); ``final=True`` writes it out too.
        """
        import jpype

        with self._lock:  # keeps the output in order between the pump and the macro thread
            for name, buffer, target in (("out", self._out, sys.stdout), ("err", self._err, sys.stderr)):
                with jpype.synchronized(buffer):
                    text = self._partial[name] + str(buffer.toString("UTF-8"))
                    buffer.reset()
                cut = len(text) if final else text.rfind("\n") + 1
                text, self._partial[name] = text[:cut], text[cut:]
                if text:
                    if _HEADLESS_EXCEPTION in text and self.failure is None:
                        self.failure = f'"{self._command}": {HEADLESS_HINT}'
                    if not self._show_traces:
                        text = self._without_headless_traces(text, name)
                    target.write(text)
                    target.flush()

    def _without_headless_traces(self, text: str, stream: str) -> str:
        """Drop ``java.awt.HeadlessException`` stack traces (which may span several drains of
        whole lines).

        ImageJ writes them to its log, which headless ImageJ prints on standard output.
        """
        kept = []
        for line in text.splitlines(keepends=True):
            if line.startswith(_HEADLESS_EXCEPTION):
                self._in_trace[stream] = True
            elif not (self._in_trace[stream] and (_TRACE_LINE.match(line) or not line.strip())):
                self._in_trace[stream] = False
                kept.append(line)
        return "".join(kept)

    def _before_command(self, command: str) -> None:
        self.drain()
        if self.failure is not None:
            from .listener import report_error

            report_error(self.failure)
        self._command = command


def run_macro_code(code: str, argument: str = "", *, batch_mode: bool = True) -> str | None:
    """Run macro source in the already-started ImageJ, with errors captured, not shown.

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
        With ImageJ's error message when the macro fails or is aborted.
    """
    import jpype

    interpreter = jpype.JClass("ij.macro.Interpreter")
    ij = jpype.JClass("ij.IJ")
    interp = interpreter()
    interp.setIgnoreErrors(True)
    ij.redirectErrorMessages(True)
    if batch_mode:
        interpreter.batchMode = True
    headless = bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())
    guard = HeadlessGuard() if headless else contextlib.nullcontext()
    try:
        with guard, DialogWatchdog() as watchdog:
            result = interp.run(code, argument)
    except jpype.JException as exc:
        message = interp.getErrorMessage()
        if message is None:
            text = str(exc.getMessage() or exc.getClass().getName())
            message = "the macro was aborted" if text == "Macro canceled" else text
            if watchdog.messages:
                message = f"{message} ({watchdog.messages[-1]})"
        if headless and guard.failure is not None and str(message) == guard.failure:
            raise MacroError(guard.failure) from None
        raise MacroError(_with_line(interp, message)) from None
    finally:
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
    import jpype

    interpreter = jpype.JClass("ij.macro.Interpreter")
    if interpreter.getInstance() is not None and interpreter.getInstance().equals(interp):
        field = interpreter.class_.getDeclaredField("instance")
        field.setAccessible(True)
        field.set(None, None)


def _with_line(interp: Any, message: Any) -> str:
    try:
        line = int(interp.getLineNumber())
    except Exception:  # noqa: BLE001 - the line number is a nicety
        line = 0
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
        Which ImageJ to use (see :func:`fm2s.imagej.jvm.start_imagej`).
    display : {"auto", "xvfb", "headless", "display"}
        See :func:`choose_display`.
    max_heap : str, optional
        Java heap limit, e.g. ``"8g"``.

    Returns
    -------
    int
        0 on success, 1 if the macro failed (the message is printed to standard error), 2 if
        the macro file or ImageJ could not be found.
    """
    from .jvm import ImageJNotFoundError, find_fiji, start_imagej
    from .listener import register_command

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
        start_imagej(
            fiji=fiji_dir, ij_jar=ij_jar, headless=mode == "headless", max_heap=max_heap
        )
    except (ImageJNotFoundError, ImportError, ValueError, RuntimeError) as exc:
        print(f"fm2s macro: {exc}", file=sys.stderr)
        return 2
    register_command()
    sys.stdout.flush()
    try:
        result = run_macro_code(code, argument)
    except MacroError as exc:
        _flush_java()
        print(f"fm2s macro: {path.name} failed: {exc}", file=sys.stderr)
        return 1
    _flush_java()
    if result:
        print(result)
    return 0


def _flush_java() -> None:
    import jpype

    jpype.JClass("java.lang.System").out.flush()
    jpype.JClass("java.lang.System").err.flush()
    sys.stdout.flush()
    sys.stderr.flush()


def finish(code: int) -> Any:
    """End the process now with ``code``: flush output, stop Xvfb, skip the JVM's shutdown wait.

    ImageJ's AWT threads are not daemons, so a normal interpreter exit would wait forever.
    A private Xvfb started by :func:`start_xvfb` ends by itself once this process is gone.
    """
    try:
        import jpype

        if jpype.isJVMStarted():
            _flush_java()
    except ImportError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    # Xvfb is NOT stopped first: Java's X11 toolkit would exit(1) on the lost connection
    # before we do. It ends by itself when our JVM disconnects (-terminate, PDEATHSIG).
    os._exit(code)
