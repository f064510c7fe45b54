"""Close the dialogs ImageJ opens during an unattended run, keeping what they said.

With a (virtual) display, ImageJ reports some problems, and macros ask questions, in modal
dialogs that would block an unattended run forever.
"""

from __future__ import annotations

import threading
from typing import Any

from ..ij1_internals import multiline_label_lines


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
        texts.extend(multiline_label_lines(component))
    if isinstance(component, jpype.JClass("java.awt.Container")):
        for child in component.getComponents():
            texts.extend(_component_text(child))
    return texts
