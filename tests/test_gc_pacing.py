"""A scan changes the garbage collector's pace only while it runs, also when scans overlap."""

from __future__ import annotations

import gc
import threading

from schedwarden.gc_pacing import few_collections


def test_thresholds_come_back_after_overlapping_scans() -> None:
    before = gc.get_threshold()
    entered, release = threading.Barrier(3), threading.Event()

    def scan() -> None:
        with few_collections():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait()
    assert gc.get_threshold()[0] >= 50_000 and gc.get_freeze_count() > 0
    release.set()
    for thread in threads:
        thread.join()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
