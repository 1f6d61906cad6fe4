"""The whole flow, one short function per verb: source → collectors → analyzers → report.

The inventory step itself (`collect`) is in `inventory`, which loads no analyzer; the hunt in
logs (`hunt`) is in `hunting`, which loads the collectors only to tie events to an image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from .analyzers.allowlist import Allowlist, silence
from .analyzers.registry import ANALYZERS
from .analyzers.sigma_rules import RulePack
from .enrich import analysis_context
from .hunting import hunt as hunt  # the hunt verb, re-exported
from .inventory import collect as collect  # the inventory step of every verb, re-exported
from .model import AuditReport, Finding, Severity
from .sources import RootedSource
from .store import Document, Drift, compare, document


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
