"""numba's ``njit`` for fm2s's compiled CPU code, with an on-disk cache where one can be written.

numba is a dependency of fm2s, but a broken or missing install must not stop denoising:
:data:`njit` is None then and :data:`IMPORT_ERROR` says why, and callers fall back to torch.
"""

from __future__ import annotations

import logging

log = logging.getLogger("fm2s")

try:
    from numba import njit
except Exception as exc:  # pragma: no cover - exercised only where numba is missing
    njit = None
    IMPORT_ERROR: Exception | None = exc
else:
    IMPORT_ERROR = None


def compiled(**options):
    """``numba.njit`` with an on-disk cache when numba finds a writable place for one.

    Without one (a read-only install and no writable user cache directory) numba refuses
    ``cache=True`` when the function is defined; then the functions are compiled on every run
    (a few seconds) instead of failing the import.
    """

    def wrap(function):
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError as exc:
            log.debug("fm2s: numba cannot cache %s (%s); compiling it on every run", function.__name__, exc)
            return njit(**options)(function)

    return wrap
