"""What an analyzer is: records in, findings out. Analyzers import only the model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..model import Finding, Issue, ScheduledJob, Severity

AnalyzerFunction = Callable[[Sequence[ScheduledJob], Sequence[Issue]], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Analyzer:
    name: str
    description: str
    analyze: AnalyzerFunction


def for_dormant(severity: Severity, job: ScheduledJob) -> Severity:
    """One level lower when the scheduler would not run the job: still evidence, less urgent."""
    if job.effective.runs is False and severity is not Severity.INFORMATIONAL:
        order = list(Severity)
        return order[order.index(severity) - 1]
    return severity
