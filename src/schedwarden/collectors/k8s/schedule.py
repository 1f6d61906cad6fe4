"""CronJob schedules as the Kubernetes API server validates them and the CronJob controller runs them.

Both use robfig/cron v3 `ParseStandard`: five fields, or a descriptor (`@yearly` `@annually`
`@monthly` `@weekly` `@daily` `@midnight` `@hourly`, and `@every <Go duration>`, which the API
accepts although the CronJob documentation never mentions it), optionally after a `TZ=<zone> ` or
`CRON_TZ=<zone> ` prefix. robfig differs from cron(8) in details kept here: `?` means `*`, `N/step`
means `N-max/step`, empty list items are skipped, day of week is 0-6 (7 is refused), and neither
`@reboot` nor cronie's `a~b` exists. Each field is checked by the cron parser's own validator
(`cron_syntax.check_field`) once robfig's forms are rewritten into cron's.

The API server refuses a schedule robfig cannot parse, and, since Kubernetes 1.29, the creation of
any CronJob whose schedule contains `TZ`; objects created before keep theirs and the controller
honours the prefix (it wins over `spec.timeZone`). `spec.timeZone` must name an IANA zone, not
`Local` (GA in 1.27).

References: kubernetes pkg/apis/batch/validation (validateScheduleFormat, validateTimeZone);
pkg/controller/cronjob (formatSchedule); robfig/cron v3 parser.go; linux.md §b item 31.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...model import CronSchedule, MacroSchedule, UnknownSchedule, zone
from ...timing import MACRO_DESCRIPTIONS, describe_cron
from ..linux.cron_syntax import MACROS, FieldError, check_field

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MAXIMA = (59, 23, 31, 12, 6)  # robfig's upper bounds; day of week stops at 6
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")  # Go's units
_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")

K8sScheduleKind = CronSchedule | MacroSchedule | UnknownSchedule


@dataclass(frozen=True, slots=True)
class K8sSchedule:
    """The schedule, and why the API server would refuse it (`error`), if it would. `inline_zone`
    is a `TZ=`/`CRON_TZ=` prefix; `note` says what is unusual about a schedule that is valid."""

    schedule: K8sScheduleKind
    error: str | None = None
    inline_zone: str | None = None
    note: str | None = None


def parse_schedule(text: str, time_zone: str | None) -> K8sSchedule:
    """`spec.schedule` with the zone the controller would use: the prefix, else `time_zone` (the
    caller passes it only when it is valid), else the controller's own (None)."""
    spec = text
    inline: str | None = None
    if not spec:
        return _refused(text, "empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            return _refused(text, "a TZ= prefix with no schedule after it")
        inline = spec[spec.index("=") + 1 : space]
        if zone(inline) is None:
            return _refused(text, f"provided bad location {inline}", inline)
        spec = spec[space:].strip()
    timezone = inline or time_zone
    if spec.startswith("@"):
        return _descriptor(text, spec, timezone, inline)
    fields = spec.split()
    if len(fields) != 5:
        return _refused(text, f"expected exactly 5 fields, found {len(fields)}: {spec}", inline)
    try:
        parts = [_field(index, token) for index, token in enumerate(fields)]
    except FieldError as error:
        return _refused(text, str(error), inline)
    expression = " ".join(parts)
    return K8sSchedule(
        CronSchedule(
            expression=expression,
            minute=parts[0],
            hour=parts[1],
            day_of_month=parts[2],
            month=parts[3],
            day_of_week=parts[4],
            description=describe_cron(expression),
            timezone=timezone,
        ),
        inline_zone=inline,
    )


def _descriptor(text: str, spec: str, timezone: str | None, inline: str | None) -> K8sSchedule:
    if spec in DESCRIPTORS:
        return K8sSchedule(
            MacroSchedule(
                macro=spec,
                description=MACRO_DESCRIPTIONS[spec],
                expression=MACROS[spec],
                timezone=timezone,
            ),
            inline_zone=inline,
        )
    if spec.startswith("@every "):
        duration = spec[len("@every ") :]
        seconds = go_duration_seconds(duration)
        if seconds is None:
            return _refused(text, f"failed to parse duration {spec}", inline)
        return K8sSchedule(
            MacroSchedule(
                macro=spec,
                description=(
                    f"Every {duration} (at least 1 second), counted from the last run, "
                    "not on the clock"
                ),
            ),
            inline_zone=inline,
            note="@every is accepted by the API server (robfig/cron) but is not documented "
            "for CronJobs",
        )
    return _refused(text, f"unrecognized descriptor: {spec}", inline)


def _refused(text: str, error: str, inline: str | None = None) -> K8sSchedule:
    return K8sSchedule(
        UnknownSchedule(f"the API server refuses this schedule: {error}", text or None),
        error=error,
        inline_zone=inline,
    )


def _field(index: int, token: str) -> str:
    """One robfig field rewritten in cron's syntax, then checked by cron's field validator."""
    parts = []
    for element in token.split(","):
        if not element:
            continue  # robfig skips empty list items
        span, slash, step = element.partition("/")
        if "/" in step or "~" in element:
            raise FieldError(index, token)
        ends = span.split("-")
        if ends[0] in ("*", "?"):
            span = "*"  # robfig reads no further than the star
        elif span.startswith(("*", "?")) or len(ends) > 2:
            raise FieldError(index, token)
        elif slash and len(ends) == 1:
            span = f"{span}-{_MAXIMA[index]}"  # `N/step` is `N-max/step`
        parts.append(span + slash + step)
    if not parts:
        raise FieldError(index, token)
    rewritten = ",".join(parts)
    try:
        check_field(index, rewritten)
    except FieldError:
        raise FieldError(index, token) from None
    if index == 4 and any(
        end.isdigit() and int(end) > _MAXIMA[4]
        for part in parts
        for end in part.partition("/")[0].split("-")
    ):
        raise FieldError(index, token)
    return rewritten


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration (`90s`, `1h30m`, `1.5h`, `0`); None when Go would refuse it."""
    body, sign = text, 1.0
    if body[:1] in ("+", "-") and body:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    total, position = 0.0, 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            return None
        total += float(match.group(1)) * scale[match.group(2)]
        position = match.end()
    return sign * total


def time_zone_error(name: str) -> str | None:
    """Why the API server refuses `spec.timeZone`, or None when it accepts it."""
    if not name:
        return "timeZone must be nil or non-empty string"
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _ZONE_PART.fullmatch(part):
            return f"unknown time zone {name}"
    if name.lower() == "local":
        return (
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        )
    if zone(name) is None:
        return f"unknown time zone {name}"
    return None
