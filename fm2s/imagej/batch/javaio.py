"""Java's standard output and error, passed through Python; display failures made macro errors.

In ``java.awt.headless`` mode, ImageJ 1.x commands that open a dialog fail with a
``HeadlessException`` that ImageJ prints and then carries on, which would make a lab macro
produce wrong results silently. :class:`HeadlessGuard` turns that into a macro error.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any

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
    clear message at its next statement (:meth:`watch_statements`) or command, or fails it when
    it ends. The ``HeadlessException``
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

        from ..listener import add_command_hook

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

    def watch_statements(self, interp: Any) -> None:
        """Stop the macro run by ``interp`` at the statement right after a command that failed
        for lack of a display, not at its next command: a built-in such as ``saveAs`` would
        otherwise run first and write a wrong file. ImageJ's debugger hook (``Debugger``, an
        interface) is called before every statement; it drains Java's output when there is
        some and stops the macro once a failure is noted."""
        import jpype

        guard = self

        @jpype.JImplements("ij.macro.Debugger")
        class _Watch:
            @jpype.JOverride
            def debug(self, interp: Any, mode: int) -> int:
                if guard.failure is None and (guard._out.size() or guard._err.size()):
                    guard.drain()
                if guard.failure is not None:
                    from ..listener import report_error

                    report_error(guard.failure)
                return 0

        self._watch = _Watch()  # kept alive while Java holds it
        interp.setDebugger(self._watch)
        interp.setDebugMode(int(jpype.JClass("ij.macro.Debugger").RUN_TO_COMPLETION))

    def _before_command(self, command: str) -> bool:
        self.drain()
        if self.failure is not None:
            from ..listener import report_error

            report_error(self.failure)
            return True  # the macro is stopped: do not run this command
        self._command = command
        return False
