"""FM2S ("Fluorescence Micrograph to Self", Liu et al., arXiv 2412.10031) for the engine.

:mod:`.model` (the network), :mod:`.noise` and :mod:`.poisson_cpu` (synthetic noise),
:mod:`.train` (stages 1 and 2), :mod:`.schedules` and :mod:`.starts` (how long and from where
training runs; torch-free), :mod:`.method` (the engine's interface). Importing this package
imports none of them.
"""
