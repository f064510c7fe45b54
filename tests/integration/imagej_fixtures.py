"""Shared helpers for the ImageJ integration tests (real JVM, real ImageJ 1.x jar, no mocks).

The JVM starts once per process, so the in-process tests share one headless ImageJ (the
``imagej_session`` fixture in the test modules); tests that need their own JVM (the ``fm2s
macro`` command, Xvfb) run ``python -m fm2s.cli`` in a subprocess.

Every denoise uses ``schedule=quick num_threads=1`` and small images: the CI machines have two
shared CPU cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
QUICK = "schedule=quick num_threads=1 seed=0"


def imagej_missing_reason() -> str | None:
    """Why the ImageJ tests cannot run here, or None if they can."""
    from fm2s.imagej import jvm

    try:
        import jpype  # noqa: F401
        import scyjava  # noqa: F401
    except ImportError:
        return 'jpype1/scyjava are not installed (pip install "fm2s[imagej]")'
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install default-jre-headless)"
    try:
        if jvm.find_ij_jar() is None:
            return "no ImageJ 1.x jar (apt-get install libij-java, or set FM2S_IJ_JAR)"
    except jvm.ImageJNotFoundError as exc:
        return str(exc)
    return None


requires_imagej = pytest.mark.skipif(
    imagej_missing_reason() is not None, reason=str(imagej_missing_reason())
)
requires_xvfb = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)"
)


def run_fm2s(
    *args: str, timeout: float = 300, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m fm2s.cli ARGS`` with this checkout first on the path; capture output.

    ``env_extra`` adds (or replaces) environment variables for that run.
    """
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "fm2s.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_tiff_stack(path: Path, seed: int, planes: int = 2, size: int = 48) -> np.ndarray:
    """Write a small noisy 16-bit ImageJ TIFF stack (0.2 um pixels, 0.5 um z) and return it."""
    import tifffile

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    blob = np.exp(-((yy - size / 3) ** 2 + (xx - size / 2) ** 2) / (size / 3))
    clean = 200 + 800 * blob[None].repeat(planes, 0)
    data = rng.poisson(clean).astype(np.uint16)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"unit": "um", "axes": "ZYX", "spacing": 0.5},
    )
    return data
