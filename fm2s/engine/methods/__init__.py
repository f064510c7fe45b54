"""The denoising methods behind the engine's one interface.

A method (:class:`fm2s.engine.pipeline.Method`) says how to prepare training data from planes,
how to train a model on it and how to apply a model to a plane; :mod:`fm2s.engine.pipeline`
does the rest for every method alike (stack modes, progress, inference, bias correction).

``fm2s``
    FM2S (:mod:`.fm2s`): a tiny CNN trained to map synthetic noisy copies of a median-filtered
    image back to it.

Importing this package imports neither torch nor any method.
"""
