"""The FM2S engine: network, noise synthesis, training schedules, tiled inference.

Nothing here knows about files, Java or the command line; it works on float32 planes
scaled to [0, 1]. Use :func:`fm2s.denoise` unless you need the pieces.
"""
