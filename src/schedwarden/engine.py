"""The whole flow, one short function per verb: source → collectors → analyzers → report."""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from . import __version__
from .analyzers.allowlist import Allowlist, silence
from .analyzers.registry import ANALYZERS
from .analyzers.sigma_rules import RulePack
from .collectors.base import CollectContext, Collector
from .collectors.registry import COLLECTORS
from .enrich import analysis_context
from .model import AuditReport, Finding, Issue, ScheduledJob, Severity
from .sources import RootedSource
from .store import Document, Drift, compare, document

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
    issues += [context.issue_from(problem) for problem in source.problems()]
    described = dict(source.describe())
    described["collected_at"] = now.isoformat().replace("+00:00", "Z")
    return AuditReport(tool=TOOL, source=described, jobs=tuple(jobs), issues=tuple(issues))


def audit(
    source: RootedSource,
    *,
    now: datetime | None = None,
    min_level: Severity = Severity.INFORMATIONAL,
    rules: RulePack | None = None,
    allowlist: Allowlist | None = None,
) -> AuditReport:
    """Inventory plus findings at or above `min_level`: the analyzers judge the jobs with the
    file facts they asked for, the Sigma `rules` (the built-in pack when None) and the
    `allowlist` (jobs not on it are findings; findings it silences are dropped)."""
    report = collect(source, now=now)
    context = analysis_context(source, report.jobs, rules=rules, allowlist=allowlist)
    findings: list[Finding] = []
    for analyzer in ANALYZERS:
        findings.extend(analyzer.analyze(report.jobs, report.issues, context))
    findings = silence(findings, report.jobs, context)
    kept = tuple(f for f in findings if f.severity >= min_level)
    return replace(report, findings=kept)


def drift(
    baseline: Iterable[Document], source: RootedSource, *, now: datetime | None = None
) -> tuple[AuditReport, Drift]:
    """The inventory now, and how it differs from a baseline: jobs added, removed, changed."""
    report = collect(source, now=now)
    return report, compare(baseline, [document(job) for job in report.jobs])
