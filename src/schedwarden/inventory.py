"""The inventory flow: source → collectors → jobs and issues, with next run times.

Kept apart from `engine` (which adds the analyzers, the log readers and the store) so that
`schedwarden collect` and the monitor do not load what they never use.
"""

from __future__ import annotations

import gc
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from . import __version__
from .collectors.base import CollectContext, Collector
from .collectors.registry import COLLECTORS
from .model import AuditReport, Issue, ScheduledJob
from .sources import RootedSource

TOOL = {"name": "schedwarden", "version": __version__}


def collect(
    source: RootedSource,
    *,
    now: datetime | None = None,
    collectors: Iterable[Collector] = COLLECTORS,
) -> AuditReport:
    """Inventory only: every job of every mechanism, with issues, and next run times."""
    now = now or datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)  # schedules have minute resolution
    context = CollectContext(source=source, now=minute, host_timezone=source.timezone)
    jobs: list[ScheduledJob] = []
    issues: list[Issue] = []
    with _few_collections():
        _run(collectors, context, jobs, issues)
    issues += [context.issue_from(problem) for problem in source.problems()]
    described = dict(source.describe())
    described["collected_at"] = now.isoformat().replace("+00:00", "Z")
    return AuditReport(tool=TOOL, source=described, jobs=tuple(jobs), issues=tuple(issues))


_gc_lock = threading.Lock()
_gc_scans: list[tuple[int, int, int]] = []  # the thresholds to restore, while scans run


@contextmanager
def _few_collections() -> Iterator[None]:
    """A scan allocates hundreds of thousands of small records that never form cycles; the
    garbage collector's default pace re-examines them all again and again (a tenth of a big
    scan's time). Objects from before the scan are set aside and the youngest generation is
    collected less often until the last running scan ends (the monitor scans from threads)."""
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


def _run(
    collectors: Iterable[Collector],
    context: CollectContext,
    jobs: list[ScheduledJob],
    issues: list[Issue],
) -> None:
    source = context.source
    for collector in collectors:
        try:
            for record in collector.collect(context):
                if isinstance(record, ScheduledJob):
                    if not record.next_runs:  # collectors may fill it themselves (cheaper)
                        upcoming = context.next_runs(record.schedule)
                        if upcoming:
                            record = replace(record, next_runs=upcoming)
                    jobs.append(record)
                else:
                    issues.append(record)
        except Exception as exc:  # a collector bug must not end the scan
            where = traceback.extract_tb(exc.__traceback__)[-1]
            issues.append(
                Issue(
                    "COLLECTOR_ERROR",
                    f"collector {collector.name} stopped: {type(exc).__name__}: {exc} "
                    f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
                    source.path_evidence("/"),
                )
            )
