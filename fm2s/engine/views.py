"""Views of a plane that inference averages over (free of torch, so options can be checked cheaply).

The networks are not symmetric, so averaging the prediction over mirrored or rotated copies of
the plane is a small ensemble. Each entry of :data:`VIEW_TRANSFORMS` lists the dihedral
transforms (indices understood by :func:`fm2s.engine.infer.dihedral`) averaged for that number of
views: the plane itself; with its left-right mirror image; its four rotations; all eight flips
and rotations.
"""

from __future__ import annotations

VIEW_TRANSFORMS: dict[int, tuple[int, ...]] = {1: (0,), 2: (0, 4), 4: (0, 1, 2, 3), 8: tuple(range(8))}


def check_views(views: int, context: str = "") -> int:
    """Return ``views`` if it is a number of views inference can average over, else raise.

    ``context`` prefixes the error message (e.g. ``"schedule 'fast': "``).
    """
    if isinstance(views, bool) or views not in VIEW_TRANSFORMS:
        raise ValueError(f"{context}views must be one of {sorted(VIEW_TRANSFORMS)}, got {views!r}")
    return views
