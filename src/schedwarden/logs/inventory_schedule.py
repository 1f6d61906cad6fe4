"""A job's schedule read back from a `schedwarden.audit/1` document (`audit -f json`), so that
`hunt --inventory FILE` can compare the runs in the logs with it as `hunt --root IMAGE` does.

The document is input like any other evidence: a value of the wrong type, an unknown `kind` or a
bad date gives an `UnknownSchedule` naming the problem (the analytic then leaves the job alone),
never an exception. Nesting is bounded (a composite of composites of ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..model import (
    CalendarSchedule,
    CompositeSchedule,
    CronSchedule,
    DrivenSchedule,
    IntervalSchedule,
    MacroSchedule,
    MonotonicSchedule,
    OneShotSchedule,
    Schedule,
    TriggerSchedule,
    UnknownSchedule,
)

MAX_DEPTH = 4
MAX_PARTS = 256


def schedule_from_document(value: object, depth: int = 0) -> Schedule:
    """The schedule of one job object's `schedule` member."""
    if not isinstance(value, Mapping):
        return UnknownSchedule("from an inventory file: no schedule")
    kind = value.get("kind")
    description = _text(value.get("description")) or ""
    try:
        if kind == "cron":
            fields = [_text(value.get(k)) for k in _CRON_FIELDS]
            expression = _text(value.get("expression"))
            if expression is None or None in fields:
                raise ValueError("incomplete cron schedule")
            minute, hour, dom, month, dow = (f or "" for f in fields)
            return CronSchedule(
                expression,
                minute,
                hour,
                dom,
                month,
                dow,
                description,
                _text(value.get("timezone")),
                value.get("randomized") is True,
            )
        if kind == "macro":
            return MacroSchedule(
                _text(value.get("macro")) or "",
                description,
                _text(value.get("expression")),
                _text(value.get("timezone")),
            )
        if kind == "calendar":
            return CalendarSchedule(
                _texts(value.get("expressions")),
                _texts(value.get("normalized")),
                description,
                value.get("persistent") is True,
                _text(value.get("randomized_delay")),
                _text(value.get("accuracy")),
                value.get("wake_system") is True,
                _time(value.get("last_trigger")),
            )
        if kind == "driven":
            driver = value.get("driver_schedule")
            return DrivenSchedule(
                _text(value.get("cadence")) or "",
                description,
                _text(value.get("driver")),
                schedule_from_document(driver, depth + 1) if driver is not None else None,
            )
        if kind == "composite" and depth < MAX_DEPTH:
            parts = value.get("parts")
            if not isinstance(parts, list) or len(parts) > MAX_PARTS:
                raise ValueError("bad composite schedule")
            return CompositeSchedule(
                tuple(schedule_from_document(p, depth + 1) for p in parts), description
            )
        if kind == "one_shot":
            at = _time(value.get("at"))
            if at is None:
                raise ValueError("one-shot schedule without a time")
            return OneShotSchedule(at, description)
        if kind == "trigger":
            return TriggerSchedule(
                _text(value.get("trigger")) or "",
                description,
                _text(value.get("detail")),
                _text(value.get("delay")),
            )
        if kind == "monotonic":
            return MonotonicSchedule((), description, _text(value.get("randomized_delay")))
        if kind == "interval":
            days = value.get("period_days")
            return IntervalSchedule(
                _text(value.get("period")) or "",
                days if isinstance(days, int) and not isinstance(days, bool) else None,
                0,
                description,
            )
    except ValueError as error:
        return UnknownSchedule(f"from an inventory file: {error}")
    return UnknownSchedule(f"from an inventory file: schedule of kind {kind!r} not read")


def environment_from_document(value: object) -> tuple[tuple[str, str], ...]:
    """A job's `environment` member (an object of names and values) as the model's pairs."""
    if not isinstance(value, Mapping):
        return ()
    return tuple((str(k), v) for k, v in value.items() if isinstance(v, str))


_CRON_FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value[:MAX_PARTS] if isinstance(v, str))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
