"""The shared FMD benchmark images: where they are, which preset each one takes, and the
message when they are missing. Used by the benchmark scripts beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

#: Default location: ``../shared/data/fmd`` seen from the repository root.
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "fmd"

#: Preset named by a file name's microscope prefix.
PRESET_BY_PREFIX = {"confocal": "confocal", "twophoton": "twophoton", "widefield": "widefield"}


def preset_for(name: str) -> str:
    """Preset named by the file's microscope prefix (``Confocal_BPAE_B_1`` -> ``confocal``)."""
    prefix = name.split("_")[0].lower()
    if prefix not in PRESET_BY_PREFIX:
        raise ValueError(f"{name}: cannot tell the microscope from the prefix {prefix!r}")
    return PRESET_BY_PREFIX[prefix]


def missing(data: Path) -> str | None:
    """Why ``data`` is not a usable FMD folder, or None when it is."""
    if (data / "raw").is_dir() and (data / "gt").is_dir():
        return None
    return (f"benchmark data not found: {data} needs raw/ and gt/ folders of PNG pairs "
            "(the shared FMD images live in ../shared/data/fmd)")


def fields(data: Path = DATA) -> list[str]:
    """The fields of view in ``data``: ``Confocal_BPAE_B`` etc. (file stems without ``_<capture>``)."""
    return sorted({p.stem.rsplit("_", 1)[0] for p in (data / "raw").glob("*.png")})


def averaged_capture(data: Path, field: str, n: int) -> tuple[np.ndarray, int]:
    """The "avg<n>" image of ``field``: the mean of its first ``n`` distinct captures, rounded
    to 8 bits, and the number of captures it averages.

    This is how the FMD dataset makes its own avgN images from raw captures (mean of N
    captures of one field, stored as 8-bit), so the result is a real lower-noise image of the
    same field, scored against the same ground truth. A capture identical to an earlier one
    (``WideField_BPAE_B_2`` is a copy of ``_1``) is skipped, so that field's "avg4" averages
    the three distinct captures there are.
    """
    captures: list[np.ndarray] = []
    for path in sorted((data / "raw").glob(f"{field}_*.png")):
        image = np.asarray(Image.open(path), dtype=np.float64)
        if not any(np.array_equal(image, seen) for seen in captures):
            captures.append(image)
        if len(captures) == n:
            break
    mean = np.clip(np.rint(np.mean(captures, axis=0)), 0, 255).astype(np.uint8)
    return mean, len(captures)


def ground_truth(data: Path, field: str) -> np.ndarray:
    """The ground truth of ``field`` (shared by all its captures)."""
    return np.asarray(Image.open(data / "gt" / f"{field}_1.png"))
