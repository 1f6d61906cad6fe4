"""The garbage collector's pace during bulk scans, which allocate many records and no cycles."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_gc_lock = threading.Lock()
_gc_scans: list[tuple[int, int, int]] = []  # the thresholds to restore, while scans run


@contextmanager
def few_collections() -> Iterator[None]:
    """A scan (an inventory, a hunt) allocates hundreds of thousands of small records that
    never form cycles; the garbage collector's default pace re-examines them all again and
    again (a tenth of a big scan's time). Objects from before the scan are set aside and the
    youngest generation is collected less often until the last running scan ends (the monitor
    scans from threads)."""
    with _gc_lock:
        if not _gc_scans:
            threshold = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
        else:
            threshold = _gc_scans[0]
        _gc_scans.append(threshold)
    try:
        yield
    finally:
        with _gc_lock:
            _gc_scans.pop()
            if not _gc_scans:
                gc.set_threshold(*threshold)
                gc.unfreeze()
