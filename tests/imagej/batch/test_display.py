"""The private Xvfb of ``fm2s macro`` (fm2s.imagej.batch.display): only this process gets in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.imagej.fixtures import REPO, requires_xvfb

pytestmark = [pytest.mark.xvfb, requires_xvfb]

# Start the display, then try to open an X connection without a cookie and with the cookie
# from XAUTHORITY (the X11 connection set-up: byte 0 of the reply is 1 on success).
PROBE = r"""
import os, socket, struct
from fm2s.imagej.batch.display import start_xvfb, stop_xvfb

def connect(display, name=b"", data=b""):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(f"/tmp/.X11-unix/X{display.lstrip(':')}")
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    sock.sendall(struct.pack("<cxHHHHxx", b"l", 11, 0, len(name), len(data)) + pad(name) + pad(data))
    reply = sock.recv(8)
    sock.close()
    return reply[0]

def cookie(path):
    raw = open(path, "rb").read()
    fields, pos = [], 2
    for _ in range(4):
        n = struct.unpack(">H", raw[pos:pos + 2])[0]
        fields.append(raw[pos + 2:pos + 2 + n]); pos += 2 + n
    return fields[2], fields[3]

xvfb = start_xvfb()
print("MODE", oct(os.stat(xvfb.authority).st_mode & 0o777))
print("NO_COOKIE", connect(xvfb.display))
print("WRONG_COOKIE", connect(xvfb.display, b"MIT-MAGIC-COOKIE-1", os.urandom(16)))
print("COOKIE", connect(xvfb.display, *cookie(xvfb.authority)))
print("TCP", xvfb.process.args.count("tcp"))
stop_xvfb()
print("FOLDER_LEFT", os.path.exists(xvfb.authority.parent))
"""


def test_only_the_holder_of_the_cookie_can_connect():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert lines["MODE"] == "0o600"
    assert lines["NO_COOKIE"] == "0" and lines["WRONG_COOKIE"] == "0"  # refused
    assert lines["COOKIE"] == "1"  # accepted
    assert lines["TCP"] == "1"  # -nolisten tcp
    assert lines["FOLDER_LEFT"] == "False"
