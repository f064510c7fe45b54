"""fm2s: FM2S zero-shot denoising of fluorescence micrographs.

FM2S ("Fluorescence Micrograph to Self", Liu et al., arXiv 2412.10031) trains a ~3.5k-parameter
CNN on the noisy image itself and returns the denoised image. Start with :func:`denoise`::

    import fm2s
    clean = fm2s.denoise(noisy, preset="confocal", noise_level="avg1", seed=0)

Every option is listed in :data:`fm2s.options.OPTIONS`. Importing the package does no work:
torch is imported, devices are chosen and seeds are set only when you denoise.
"""

from ._version import __version__
from .api import denoise, denoise_with_metadata
from .options import OPTIONS, OptionError, validate_options
from .presets import NOISE_LEVELS, list_presets, resolve_params


def __getattr__(name: str) -> object:
    """``fm2s.io`` (file reading and writing) without ``import fm2s.io``, imported when first
    used: tifffile and xarray are not loaded by ``import fm2s``."""
    if name == "io":
        import importlib

        return importlib.import_module(".io", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NOISE_LEVELS",
    "OPTIONS",
    "OptionError",
    "__version__",
    "denoise",
    "denoise_with_metadata",
    "list_presets",
    "resolve_params",
    "validate_options",
]
