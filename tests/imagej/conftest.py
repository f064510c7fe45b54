"""The ImageJ every in-process ImageJ test shares (one JVM per process, headless)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ij():
    """ImageJ 1.x, headless, with the "FM2S Denoise" command registered."""
    from fm2s.imagej.listener import register_command
    from fm2s.imagej.session import start_imagej

    session = start_imagej(headless=True)
    register_command()
    import jpype

    class Namespace:
        IJ = jpype.JClass("ij.IJ")
        ImagePlus = jpype.JClass("ij.ImagePlus")
        ImageStack = jpype.JClass("ij.ImageStack")
        CompositeImage = jpype.JClass("ij.CompositeImage")
        LUT = jpype.JClass("ij.process.LUT")
        WindowManager = jpype.JClass("ij.WindowManager")
        jpype_ = jpype
        info = session

    return Namespace
