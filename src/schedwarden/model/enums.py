"""Closed vocabularies shared by every part: severities, mechanisms, evidence source kinds."""

from __future__ import annotations

from enum import Enum, StrEnum


class Severity(Enum):
    """Finding severity, ordered informational < low < medium < high < critical (Sigma's levels)."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept a level name, case-insensitive; `info` is short for informational."""
        key = text.strip().lower()
        if key == "info":
            key = "informational"
        return cls(key)


_SEVERITY_ORDER = (
    Severity.INFORMATIONAL,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
)


class Mechanism(StrEnum):
    CRON = "cron"
    ANACRON = "anacron"
    PERIODIC = "periodic"
    AT = "at"
    SYSTEMD_TIMER = "systemd_timer"
    WINDOWS_TASK = "windows_task"
    K8S_CRONJOB = "k8s_cronjob"


class SourceKind(StrEnum):
    LIVE = "live"
    IMAGE = "image"
    ARCHIVE = "archive"
    FILE = "file"
