"""The background batch maker: order, errors and early stops behave like a plain loop."""

from __future__ import annotations

import threading
import time

import pytest

from fm2s.engine.prefetch import prefetch


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "fm2s-prefetch"}


def test_yields_every_item_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_items_are_made_in_another_thread():
    makers = []

    def gen():
        for i in range(3):
            makers.append(threading.current_thread().name)
            yield i

    assert list(prefetch(gen())) == [0, 1, 2]
    assert set(makers) == {"fm2s-prefetch"}


def test_error_while_making_an_item_reaches_the_consumer():
    def gen():
        yield 1
        raise RuntimeError("noise draw failed")

    out = []
    with pytest.raises(RuntimeError, match="noise draw failed"):
        for item in prefetch(gen()):
            out.append(item)
    assert out == [1]
    assert not _threads()


def test_consumer_stopping_early_stops_the_thread():
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    items = prefetch(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # what a `break` or an exception in the training loop does
    time.sleep(0.05)
    assert not _threads()
    assert len(made) <= 5 + 2 + 1  # at most `depth` items (plus one in hand) made ahead


def test_consumer_exception_stops_the_thread():
    def slow():
        yield from range(1000)

    with pytest.raises(KeyError):
        for item in prefetch(slow()):
            if item == 3:
                raise KeyError("cancelled by the user")
    assert not _threads()


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        list(prefetch(iter([1]), depth=0))
