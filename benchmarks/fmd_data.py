"""The shared FMD benchmark images: where they are, which preset each one takes, and the
message when they are missing. Used by the benchmark scripts beside it."""

from __future__ import annotations

from pathlib import Path

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
