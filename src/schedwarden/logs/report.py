"""One hunt's result (`schedwarden.hunt/1`): job events from logs, findings, issues."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..model import Finding, Issue, JobEvent, Severity

HUNT_SCHEMA = "schedwarden.hunt/1"


@dataclass(frozen=True, slots=True)
class HuntReport:
    """A hunt's result. Its findings and issues may be still in the making when it is made
    (`hunting.hunt(deferred=True)`: Sigma rules run by children while the events are written):
    they are then sequences that wait for them when first read."""

    tool: Mapping[str, object]
    source: Mapping[str, object]
    events: tuple[JobEvent, ...]
    findings: Sequence[Finding] = ()
    issues: Sequence[Issue] = ()
    schema: str = HUNT_SCHEMA
    extra: Mapping[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        by_severity = Counter(f.severity.value for f in self.findings)
        by_action = Counter(e.action for e in self.events)
        return {
            "events": len(self.events),
            "findings": len(self.findings),
            "issues": len(self.issues),
            "by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
            "by_action": dict(sorted(by_action.items())),
            "jobs_tied": sum(1 for e in self.events if e.extra.get("job_id")),
            **{k: v for k, v in self.extra.items() if k.startswith(("inventory_", "sigma_"))},
        }
