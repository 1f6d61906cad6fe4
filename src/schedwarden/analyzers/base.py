"""What an analyzer is: records in, findings out. Analyzers import only the model.

An analyzer may also read an `AnalysisContext`: facts about files and accounts that the engine
looked up for it, the Sigma rules to run, the allowlist. Callers that have none pass nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..model import Finding, Issue, ScheduledJob, Severity
from .context import EMPTY_CONTEXT, AnalysisContext


class AnalyzerFunction(Protocol):
    def __call__(
        self,
        jobs: Sequence[ScheduledJob],
        issues: Sequence[Issue],
        context: AnalysisContext = EMPTY_CONTEXT,
        /,
    ) -> Iterator[Finding]: ...


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


PRIVILEGED_ACCOUNTS = frozenset(
    {
        "root",
        "0",
        "system",
        "s-1-5-18",
        "localsystem",
        "nt authority\\system",
        "nt authority\\localsystem",
    }
)


def is_privileged(run_as: str | None) -> bool:
    """root (uid 0) or Windows' LocalSystem, however the collector spelled it."""
    return run_as is not None and run_as.strip().casefold() in PRIVILEGED_ACCOUNTS
