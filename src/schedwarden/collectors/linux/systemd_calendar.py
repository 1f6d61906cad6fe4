"""systemd calendar events (`OnCalendar=`) and time spans: parse, normalise, next elapse.

Grammar (systemd.time(7)): `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]`, each
component `*`, a value, a list `a,b`, a range `a..b` and a repetition `/n`; `~` in the day counts
from the month's end (`*-02~01` is the last day of February). Shorthands: minutely, hourly, daily,
monthly, weekly, yearly/annually, quarterly, semiannually. A missing date is `*-*-*`, a missing
time `00:00:00`, missing seconds `00`. No library parses this grammar, so it is done here, with
bounds on every list; next elapses are found by walking days (at most five years ahead).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

SHORTHANDS = {
    "minutely": "*-*-* *:*:00",
    "hourly": "*-*-* *:00:00",
    "daily": "*-*-* 00:00:00",
    "monthly": "*-*-01 00:00:00",
    "weekly": "Mon *-*-* 00:00:00",
    "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00",
    "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i
    for i, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
MAX_VALUES = 10_000
SEARCH_DAYS = 5 * 366


class CalendarError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    weekdays: frozenset[int] | None
    years: frozenset[int] | None
    months: frozenset[int]
    days: frozenset[int]
    last_days: frozenset[int]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]
    timezone: str | None
    normalized: str


def _values(text: str, low: int, high: int, what: str) -> frozenset[int]:
    """`*`, `a`, `a,b`, `a..b`, `a/n`, `*/n`, `a..b/n` within [low, high]."""
    result: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CalendarError(f"empty {what} in {text!r}")
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CalendarError(f"bad repetition in {what} {item!r}")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        elif ".." in body:
            a, _, b = body.partition("..")
            start, end = _number(a, what), _number(b, what)
        else:
            start = _number(body, what)
            end = high if slash else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CalendarError(f"{what} {item!r} out of range {low}..{high}")
        result.update(range(start, end + 1, step))
        if len(result) > MAX_VALUES:
            raise CalendarError(f"too many {what} values")
    return frozenset(result)


def _number(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise CalendarError(f"bad {what} {text!r}")
    return int(text)


def _weekdays(text: str) -> frozenset[int]:
    result: set[int] = set()
    for item in text.split(","):
        first, dots, last = item.partition("..")
        try:
            start = _WEEKDAY_NAMES[first.lower()]
            end = _WEEKDAY_NAMES[last.lower()] if dots else start
        except KeyError:
            raise CalendarError(f"bad weekday {item!r}") from None
        if start <= end:
            result.update(range(start, end + 1))
        else:
            result.update(range(start, 7))
            result.update(range(0, end + 1))
    return frozenset(result)


_TIME = re.compile(r"^[0-9*/,.]+:[0-9*/,.]+(:[0-9*/,.]+)?$")
_DATE = re.compile(r"^([0-9*/,.]+-)?[0-9*/,.]+-[0-9*/,.~]+$")


@lru_cache(maxsize=2048)
def parse_calendar(text: str, known_zone: str | None = None) -> CalendarSpec:
    """Parse one OnCalendar value; CalendarError says why systemd would refuse it."""
    words = text.strip().split()
    if not words:
        raise CalendarError("empty calendar specification")
    if len(words) == 1 and words[0].lower() in SHORTHANDS:
        words = SHORTHANDS[words[0].lower()].split()
    timezone = None
    if len(words) > 1 and not _TIME.match(words[-1]) and not _DATE.match(words[-1]):
        timezone = words.pop()
        if timezone.upper() == "UTC":
            timezone = "UTC"
    weekdays = None
    if words and re.match(r"^[A-Za-z]", words[0]):
        weekdays = _weekdays(words.pop(0))
    date_text, time_text = "*-*-*", "00:00:00"
    for word in words:
        if _TIME.match(word):
            time_text = word
        elif _DATE.match(word):
            date_text = word
        else:
            raise CalendarError(f"cannot read {word!r}")
    if len(words) > 2:
        raise CalendarError("too many components")
    head, tilde, back = date_text.partition("~")
    parts = head.split("-")
    if tilde:
        parts.append("~" + back)  # `MONTH~DAY`: the day counted from the month's end
    if len(parts) == 2:
        parts.insert(0, "*")
    if len(parts) != 3:
        raise CalendarError(f"bad date {date_text!r}")
    year_text, month_text, day_text = parts
    years = None if year_text == "*" else _values(year_text, 1970, 2199, "year")
    months = _values(month_text, 1, 12, "month")
    last_days: frozenset[int] = frozenset()
    if "~" in day_text:
        last_days = _values(day_text[1:], 1, 31, "day")
        days: frozenset[int] = frozenset()
    else:
        days = _values(day_text, 1, 31, "day")
    clock = time_text.split(":")
    if len(clock) == 2:
        clock.append("00")
    hours = tuple(sorted(_values(clock[0], 0, 23, "hour")))
    minutes = tuple(sorted(_values(clock[1], 0, 59, "minute")))
    seconds = tuple(sorted(_values(clock[2].split(".")[0], 0, 59, "second")))
    weekday_text = "" if weekdays is None else _weekday_ranges(weekdays) + " "
    day_sep = "" if day_text.startswith("~") else "-"
    normalized = (
        f"{weekday_text}{_fmt(year_text, 4)}-{_fmt(month_text, 2)}{day_sep}"
        f"{_fmt(day_text, 2)} {_fmt(clock[0], 2)}:{_fmt(clock[1], 2)}:{_fmt(clock[2], 2)}"
        + (f" {timezone}" if timezone else "")
    )
    return CalendarSpec(
        weekdays, years, months, days, last_days, hours, minutes, seconds, timezone, normalized
    )


def _weekday_ranges(days: frozenset[int]) -> str:
    """`{0,1,2,3,4}` → `Mon..Fri`, `{0,2}` → `Mon,Wed`, as systemd prints them."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [WEEKDAYS[d].capitalize() for d in range(7)]
    return ",".join(
        f"{names[r[0]]}..{names[r[-1]]}" if len(r) > 2 else ",".join(names[d] for d in r)
        for r in runs
    )


def _fmt(text: str, width: int) -> str:
    return re.sub(r"\d+", lambda m: m.group(0).zfill(width), text)


def next_elapses(
    spec: CalendarSpec, after: datetime, zone: tzinfo, count: int = 3
) -> list[datetime]:
    """The next `count` times (UTC) strictly after `after` when the event elapses."""
    local = after.astimezone(zone)
    found: list[datetime] = []
    day = local.date()
    for _ in range(SEARCH_DAYS):
        if _day_matches(spec, day):
            for moment in _times(spec):
                candidate = datetime.combine(day, moment, tzinfo=zone)
                if candidate > local:
                    found.append(candidate.astimezone(UTC))
                    if len(found) >= count:
                        return found
        day += timedelta(days=1)
    return found


def _day_matches(spec: CalendarSpec, day: date) -> bool:
    if spec.years is not None and day.year not in spec.years:
        return False
    if day.month not in spec.months:
        return False
    if spec.weekdays is not None and day.weekday() not in spec.weekdays:
        return False
    if spec.last_days:
        length = calendar.monthrange(day.year, day.month)[1]
        return (length - day.day + 1) in spec.last_days
    return day.day in spec.days


def _times(spec: CalendarSpec) -> list[time]:
    return [time(h, m, s) for h in spec.hours for m in spec.minutes for s in spec.seconds][:2000]


_SPAN_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2629800, "month": 2629800, "months": 2629800,
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
_SPAN_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)")


def parse_timespan(text: str) -> float:
    """Seconds in a systemd time span (`5min`, `1h 30min`, `2d`; a bare number is seconds)."""
    position, total = 0, 0.0
    text = text.strip()
    if not text:
        raise CalendarError("empty time span")
    while position < len(text):
        match = _SPAN_PART.match(text, position)
        if not match or match.end() == position:
            raise CalendarError(f"bad time span {text!r}")
        unit = match.group(2) or "s"
        if unit not in _SPAN_UNITS:
            raise CalendarError(f"bad time unit {unit!r} in {text!r}")
        total += float(match.group(1)) * _SPAN_UNITS[unit]
        position = match.end()
    return total


def describe_span(seconds: float) -> str:
    """`5400` → `1h 30min`, as systemd prints spans."""
    if seconds == 0:
        return "0"
    parts = []
    remaining = int(seconds)
    for name, size in (("y", 31557600), ("month", 2629800), ("w", 604800), ("d", 86400),
                       ("h", 3600), ("min", 60), ("s", 1)):  # fmt: skip
        if remaining >= size:
            parts.append(f"{remaining // size}{name}")
            remaining %= size
    return " ".join(parts) or f"{seconds}s"
