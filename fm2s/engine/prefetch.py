"""Run a batch generator in a background thread so batch making overlaps training.

On a CPU, drawing the synthetic noise (two Poisson samples per pixel, on one core) costs half
to all of a training step of the small FM2S network (the compiled sampler of ``poisson_cpu``
and ``torch.poisson`` respectively). Making the next batches in a second thread while the
current one trains overlaps the two. The generator
runs in order in one thread, so its random draws, and the results, are the same as running it
inline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` while a background thread computes up to ``depth`` of them ahead.

    Parameters
    ----------
    items : iterator
        Made lazily in the background thread (torch releases the GIL in its kernels).
    depth : int
        How many finished items may wait in the queue.

    Yields
    ------
    object
        The items of ``items``, in order. An exception raised while making one is raised here,
        in the consumer. If the consumer stops early, the thread is told to stop and joined.
    """
    if depth < 1:
        raise ValueError(f"prefetch depth must be >= 1, got {depth}")
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="fm2s-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
