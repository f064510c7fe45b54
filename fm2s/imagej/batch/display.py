"""A screen for ImageJ in an unattended run: the existing ``$DISPLAY``, a private Xvfb, or none.

The private Xvfb only lets this process in: it listens on no TCP port and requires an
authorization cookie (MIT-MAGIC-COOKIE-1) that only this process's ``XAUTHORITY`` file (mode
0600, in a private temporary folder) holds, so another local user can neither read the screen
nor inject input. It ends with this process (Linux's parent-death signal, and :meth:`stop`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DISPLAY_MODES: tuple[str, ...] = ("auto", "xvfb", "headless", "display")
_FAMILY_WILD = 65535  # an Xauthority entry for any host


@dataclass
class VirtualDisplay:
    """A private Xvfb server started for this process."""

    process: subprocess.Popen
    display: str
    authority: Path

    def stop(self) -> None:
        """Terminate the server and remove its cookie (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.authority.parent, ignore_errors=True)


_XVFB: VirtualDisplay | None = None


def _die_with_parent() -> None:
    """In the Xvfb child: ask Linux to send SIGTERM when the parent process dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stop() still applies
        pass


def _xauth_entry(display_number: str, cookie: bytes) -> bytes:
    """One Xauthority entry: connections to ``:<display_number>`` (any if empty) with ``cookie``."""
    def field(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    return (struct.pack(">H", _FAMILY_WILD) + field(b"") + field(display_number.encode())
            + field(b"MIT-MAGIC-COOKIE-1") + field(cookie))


def start_xvfb(timeout: float = 10.0) -> VirtualDisplay:
    """Start a private ``Xvfb`` (see the module docstring) and point ``$DISPLAY`` at it.

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
    folder = Path(tempfile.mkdtemp(prefix="fm2s-xvfb-"))  # mode 0700
    authority = folder / "Xauthority"
    cookie = secrets.token_bytes(16)
    server_auth = folder / "server-auth"
    # The server needs the cookie before it knows its display number: an entry for any
    # display works for the server (it only compares the cookie's name and data).
    server_auth.write_bytes(_xauth_entry("", cookie))
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
         "-auth", str(server_auth)],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=_die_with_parent,
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
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError("Xvfb did not start (no display number reported)")
    display = str(int(number))
    fd = os.open(authority, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_xauth_entry(display, cookie))
    _XVFB = VirtualDisplay(proc, f":{display}", authority)
    os.environ["DISPLAY"] = _XVFB.display
    os.environ["XAUTHORITY"] = str(authority)
    return _XVFB


def stop_xvfb() -> None:
    """Stop the private Xvfb, if one was started."""
    if _XVFB is not None:
        _XVFB.stop()


def forget_xvfb_cookie() -> None:
    """Remove the private Xvfb's cookie files (the server itself ends with this process)."""
    if _XVFB is not None:
        shutil.rmtree(_XVFB.authority.parent, ignore_errors=True)


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
    return "headless"
