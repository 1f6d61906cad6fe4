"""One run's result, as every writer receives it (the output contract of DESIGN.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .enums import Severity
from .records import Finding, Issue, ScheduledJob

AUDIT_SCHEMA = "schedwarden.audit/1"


@dataclass(frozen=True, slots=True)
class AuditReport:
    tool: Mapping[str, object]
    source: Mapping[str, object]
    jobs: tuple[ScheduledJob, ...]
    findings: tuple[Finding, ...] = ()
    issues: tuple[Issue, ...] = ()
    schema: str = AUDIT_SCHEMA
    extra: Mapping[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        by_severity = Counter(f.severity.value for f in self.findings)
        by_mechanism = Counter(j.mechanism.value for j in self.jobs)
        return {
            "jobs": len(self.jobs),
            "findings": len(self.findings),
            "issues": len(self.issues),
            "by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
            "by_mechanism": dict(sorted(by_mechanism.items())),
            "effective": {
                "runs": sum(1 for j in self.jobs if j.effective.runs is True),
                "dormant": sum(1 for j in self.jobs if j.effective.runs is False),
                "undecided": sum(1 for j in self.jobs if j.effective.runs is None),
            },
        }
