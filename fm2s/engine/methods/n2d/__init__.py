"""Noise2Detail (N2D, Chobola, Schnabel and Peng, MICCAI 2025, arXiv 2510.15611) for the engine.

Zero-shot: two small residual-free convolutional networks are trained on the image itself with
the pair-downsampling loss of Zero-Shot Noise2Noise (Mansour and Heckel, CVPR 2023).

Stage 1
    Zero-Shot Noise2Noise: a network ``f`` learns to predict the noise of the half-resolution
    pair images ``D1(x)``, ``D2(x)``; ``x - f(x)`` is the ZS-N2N estimate (method ``zsn2n``).
Stage 2
    No training: ``f`` is applied to the pixel-unshuffled sub-images of ``x`` (factors 2 and
    4), which breaks spatially correlated noise, and once more at full resolution; the mean of
    the three estimates is a smooth structure image ``y_hat``.
Stage 3
    A fresh network ``g`` maps ``D_i(y_hat)`` to the other noisy pair image, recovering the
    detail that stage 2 smoothed away; ``g(y_hat)`` is the output.

:mod:`.model` (networks, pair downsampling, pixel shuffles, the inference pipeline),
:mod:`.train` (losses and the two trained stages), :mod:`.schedules` (torch-free),
:mod:`.method` (the engine's interface). Importing this package imports none of them.

Implemented from the paper's description only: the authors' repository carries no licence.
"""
