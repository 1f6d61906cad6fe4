"""The built-in log analytics on hand-made events: thresholds and negatives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedwarden.analyzers.log_base import LogContext
from schedwarden.analyzers.log_registry import LOG_ANALYZERS
from schedwarden.analyzers.log_t1053 import failed_runs, short_lived
from schedwarden.model import Evidence, JobEvent, SourceKind

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WHERE = Evidence(SourceKind.FILE, "h", "TaskScheduler.evtx")
OPERATIONAL = "Microsoft-Windows-TaskScheduler/Operational"


def _event(action: str, minutes: float, name: str = "\\T", **extra: object) -> JobEvent:
    return JobEvent(
        T0 + timedelta(minutes=minutes),
        "h",
        action,
        name,
        WHERE,
        "u",
        "c.exe",
        {"channel": OPERATIONAL, **extra},
    )


def test_failed_run_spike() -> None:
    events = [_event("failed", i * 5) for i in range(5)]
    assert [f.rule_id for f in failed_runs(events, LogContext())] == ["JOB_FAILED_RUNS"]
    spread = [_event("failed", i * 30) for i in range(5)]  # 2 hours: no spike
    assert not list(failed_runs(spread, LogContext()))
    completed = [_event("action_completed", i, result_code="2147942401") for i in range(5)]
    assert len(list(failed_runs(completed, LogContext()))) == 1
    ok = [_event("action_completed", i, result_code="0") for i in range(5)]
    assert not list(failed_runs(ok, LogContext()))


def test_short_lived_window() -> None:
    quick = [_event("registered", 0), _event("deleted", 3)]
    assert [f.rule_id for f in short_lived(quick, LogContext())] == ["TASK_SHORT_LIVED"]
    slow = [_event("registered", 0), _event("deleted", 60)]
    assert not list(short_lived(slow, LogContext()))
    assert list(short_lived(slow, LogContext(short_lived=timedelta(hours=2))))


def test_every_log_analyzer_accepts_no_events() -> None:
    for analyzer in LOG_ANALYZERS:
        assert list(analyzer.analyze([], LogContext())) == []
        assert list(analyzer.analyze([], LogContext(jobs=[]))) == []
