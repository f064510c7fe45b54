"""Java's output passed through Python (fm2s.imagej.batch.javaio): the HeadlessException traces
that the headless guard leaves out, and everything else passed on unchanged."""

from __future__ import annotations

# --- the headless guard's filter of HeadlessException traces (no JVM needed) ---------------

_TRACE = (
    "java.awt.HeadlessException\n"
    "\tat java.desktop/java.awt.GraphicsEnvironment.checkHeadless(GraphicsEnvironment.java:164)\n"
    "\tat ij.gui.GenericDialog.<init>(GenericDialog.java:106)\n"
    "\t... 12 more\n"
    "Caused by: java.lang.Error: x\n"
    "\tat ij.plugin.Duplicator.run(Duplicator.java:69)\n"
    "\n"
)


def test_headless_traces_are_dropped_even_across_drains(monkeypatch):
    from fm2s.imagej.batch.javaio import HeadlessGuard

    monkeypatch.delenv("FM2S_JAVA_TRACES", raising=False)
    guard = HeadlessGuard()
    before, cut = "FM2S: training a.tif\n", _TRACE.index("\tat ij.gui")
    first = guard._without_headless_traces(before + _TRACE[:cut], "out")
    second = guard._without_headless_traces(_TRACE[cut:] + "next log line\n", "out")
    assert first == before
    assert second == "next log line\n"


def test_other_java_output_and_traces_pass_unchanged(monkeypatch):
    from fm2s.imagej.batch.javaio import HeadlessGuard

    monkeypatch.delenv("FM2S_JAVA_TRACES", raising=False)
    guard = HeadlessGuard()
    other = "java.lang.NullPointerException\n\tat ij.IJ.run(IJ.java:319)\n\nplain line\n"
    assert guard._without_headless_traces(other, "err") == other
    # a HeadlessException on one stream does not hide the other stream's lines
    guard._without_headless_traces(_TRACE[:40], "out")
    assert guard._without_headless_traces("\tat x.y(Z.java:1)\n", "err") == "\tat x.y(Z.java:1)\n"
