"""The inventory flow: source → collectors → jobs and issues, with next run times.

Kept apart from `engine` (which adds the analyzers, the log readers and the store) so that
`schedwarden collect` and the monitor do not load what they never use.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from . import TOOL
from .collectors.base import CollectContext, Collector
from .collectors.registry import COLLECTORS
from .gc_pacing import few_collections
from .model import AuditReport, Issue, ScheduledJob
from .sources import RootedSource


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
    with few_collections():
        _run(collectors, context, jobs, issues)
    issues += [context.issue_from(problem) for problem in source.problems()]
    described = dict(source.describe())
    described["collected_at"] = now.isoformat().replace("+00:00", "Z")
    return AuditReport(tool=TOOL, source=described, jobs=tuple(jobs), issues=tuple(issues))


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
