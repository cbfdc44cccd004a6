"""Pausing Python's cyclic garbage collector while a report builds many objects at once.

A report of 100,000 tickets holds millions of small objects (each outcome is a tree of
pydantic models, datetimes, lists and dicts). Every few hundred allocations the collector looks
for reference cycles, and its older generations walk every live object again: measured here,
validating 100,000 outcomes took 12.5 s with the collector on and 2.4 s with it paused. None of
these objects forms a cycle, so pausing it loses nothing; reference counting frees them as
usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector inside the block; nested and threaded uses pause it once.

    The collector is process-wide, so the outermost block (in any thread) turns it off and the
    last one to leave turns it back on, and only if it was on before.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
