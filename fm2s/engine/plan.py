"""The engine's choices that options name, torch-free so that options are checked cheaply:
devices, the default tile, and how the planes of a stack share models (see
:mod:`fm2s.engine.pipeline` for what each stack mode does).
"""

from __future__ import annotations

#: What ``device`` may name (``cuda:N`` picks one of several GPUs).
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

#: Default tile side at inference: 1024 x 1024 x 24 hidden channels x 4 bytes is about 100 MB.
DEFAULT_TILE = 1024

#: How the planes of one channel share models.
STACK_MODES: tuple[str, ...] = ("auto", "shared", "per_plane", "warm_start")

#: ``shared`` trains on crops from at most this many evenly spaced planes.
MAX_SHARED_PLANES = 32
#: ``warm_start``: the share of the schedule each plane after the first trains for.
WARM_FRACTION = 0.25


def resolve_stack_mode(stack_mode: str, crop_training: bool, schedule: str, n_planes: int) -> str:
    """Validate ``stack_mode`` and turn ``"auto"`` into a concrete mode.

    Parameters
    ----------
    stack_mode : str
        One of :data:`STACK_MODES` (``-`` and ``_`` alike, any case).
    crop_training : bool
        Whether the schedule trains on crops (so one model can learn from many planes).
    schedule : str
        The schedule's name, for the message.
    n_planes : int
        Planes per channel.

    Returns
    -------
    str
        ``auto`` is ``shared`` for crop-based schedules and ``per_plane`` for whole-plane ones
        (the reference schedule trains one model per image, as the authors do).

    Raises
    ------
    ValueError
        For an unknown mode, or ``shared`` with a whole-plane schedule on a stack.
    """
    mode = str(stack_mode).strip().lower().replace("-", "_")
    if mode not in STACK_MODES:
        raise ValueError(f"unknown stack_mode {stack_mode!r}; choose one of: {', '.join(STACK_MODES)}")
    if mode == "auto":
        return "shared" if crop_training else "per_plane"
    if mode == "shared" and not crop_training and n_planes > 1:
        raise ValueError(
            f"schedule {schedule!r} trains on whole planes, one model per plane; "
            "use stack_mode='per_plane' or 'warm_start' with it, or a crop-based schedule "
            "such as 'fast' for stack_mode='shared'"
        )
    return mode
