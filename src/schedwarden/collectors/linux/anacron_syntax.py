"""The anacrontab language as anacron(8) 2.3 reads it.

Lines are `period delay job-identifier command` (period in days or `@daily`, `@weekly`,
`@monthly`, `@yearly`/`@annually`; delay in minutes; the identifier names the timestamp file in
/var/spool/anacron), or environment assignments `NAME=value` that apply to later lines, of which
`START_HOURS_RANGE` (hours when jobs may start) and `RANDOM_DELAY` (extra minutes, at most) steer
anacron itself. Blank lines and lines starting with `#` are ignored; a bad line is skipped with
"Invalid syntax in anacrontab line N".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PERIOD_NAMES: dict[str, int] = {
    "@daily": 1,
    "@weekly": 7,
    "@monthly": 30,
    "@yearly": 365,
    "@annually": 365,
}
_ENV = re.compile(r"^[ \t]*([^ \t=]+)[ \t]*=(.*)$")
_JOB = re.compile(r"^[ \t]*([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+(.*)$")


@dataclass(frozen=True, slots=True)
class AnacronJob:
    line: int
    offset: int
    raw: str
    period: str
    period_days: int
    delay_minutes: int
    job_id: str
    command: str
    environment: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AnacronError:
    line: int
    offset: int
    raw: str
    message: str


@dataclass(slots=True)
class ParsedAnacrontab:
    jobs: list[AnacronJob] = field(default_factory=list)
    errors: list[AnacronError] = field(default_factory=list)


def parse_anacrontab(data: bytes) -> ParsedAnacrontab:
    result = ParsedAnacrontab()
    env: dict[str, str] = {}
    offset = 0
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        text = raw_line.decode("utf-8", "surrogateescape")
        line_offset = offset
        offset += len(raw_line) + 1
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        env_match = _ENV.match(text)
        if env_match:
            env[env_match.group(1)] = env_match.group(2).strip()
            continue
        job_match = _JOB.match(text)
        if job_match is None:
            fields = stripped.split()
            what = "missing command" if len(fields) == 3 else "missing fields"
            result.errors.append(AnacronError(number, line_offset, text, what))
            continue
        period, delay, job_id, command = job_match.groups()
        period_days = _period_days(period)
        if period_days is None:
            result.errors.append(
                AnacronError(number, line_offset, text, f"invalid period {period!r}")
            )
            continue
        if not delay.isdigit():
            result.errors.append(
                AnacronError(number, line_offset, text, f"invalid delay {delay!r}")
            )
            continue
        if "/" in job_id:
            result.errors.append(
                AnacronError(number, line_offset, text, f"job identifier {job_id!r} contains '/'")
            )
            continue
        if not command.strip():
            result.errors.append(AnacronError(number, line_offset, text, "missing command"))
            continue
        result.jobs.append(
            AnacronJob(
                number,
                line_offset,
                text,
                period,
                period_days,
                int(delay),
                job_id,
                command.strip(),
                tuple(env.items()),
            )
        )
    return result


def _period_days(period: str) -> int | None:
    if period.startswith("@"):
        return PERIOD_NAMES.get(period)
    if period.isascii() and period.isdigit():
        return int(period)
    return None
