"""``fm2s macro``: ImageJ macros run unattended, with "FM2S Denoise" available.

:mod:`.display` gives ImageJ a screen (a private Xvfb) or none, :mod:`.watchdog` closes the
dialogs an unattended run cannot answer, :mod:`.javaio` passes Java's output through Python
and stops a macro whose command failed for lack of a display, :mod:`.runner` runs the macro and
turns its end into an exit code. The runner owns its process: it sets ``DISPLAY`` for the
JVM it starts and ends the process itself (:func:`.runner.finish`).
"""
