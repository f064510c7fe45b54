"""ImageJ 1.x internals fm2s reads (fm2s.imagej.ij1_internals): the command table of a headless
ImageJ from the jar, and a clear error when a field is missing."""

from __future__ import annotations

import pytest

from fm2s.imagej import ij1_internals, session


@pytest.mark.skipif(not session.DEBIAN_IJ_JAR.is_file(), reason="Debian's ij.jar is not installed")
def test_headless_command_table_from_jar():
    table = ij1_internals.headless_command_table(session.DEBIAN_IJ_JAR)
    assert table["Gaussian Blur..."] == "ij.plugin.filter.GaussianBlur"
    assert table["Open..."] == 'ij.plugin.Commands("open")'
    assert table["Measure"] == "ij.plugin.filter.Analyzer"
    assert len(table) > 300


@pytest.mark.imagej
@pytest.mark.skipif(not session.DEBIAN_IJ_JAR.is_file(), reason="Debian's ij.jar is not installed")
def test_a_missing_field_is_a_clear_error():
    session.start_imagej(headless=True)
    with pytest.raises(ij1_internals.ImageJInternalsError) as info:
        ij1_internals._field("ij.macro.Interpreter", "noSuchField", "test a failure")
    message = str(info.value)
    assert "ij.macro.Interpreter.noSuchField" in message and "1.53t" in message
    assert "to test a failure" in message
    for name, field in (("ij.Menus", "pluginsTable"), ("ij.macro.Interpreter", "lineNumber"),
                        ("ij.macro.Interpreter", "ignoreErrors"), ("ij.macro.Interpreter", "instance"),
                        ("ij.gui.MultiLineLabel", "lines")):
        assert ij1_internals._field(name, field, "check") is not None
