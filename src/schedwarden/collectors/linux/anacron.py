"""anacron (T1053.003): /etc/anacrontab jobs and their /var/spool/anacron timestamps.

anacron runs each job once per period (days) even on hosts that are not always on; RHEL runs the
cron.daily/weekly/monthly folders through it. An attacker adds a line to /etc/anacrontab (or a
user-level anacrontab run from a crontab) for persistence that survives downtime. The timestamp
file named by the job identifier holds the date of the last run (YYYYMMDD).

References: anacrontab(5), anacron(8); reference/linux.md §b item 6.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Effective,
    IntervalSchedule,
    Mechanism,
    ScheduledJob,
    make_job_id,
)
from ...sources import FileContent, SourceError
from ..base import CollectContext, Collector, CollectorOutput
from ..common import excerpt, exec_action
from .anacron_syntax import AnacronJob, parse_anacrontab

ANACRONTAB = "/etc/anacrontab"
STAMP_DIR = "/var/spool/anacron"


def collect(ctx: CollectContext) -> CollectorOutput:
    content = ctx.read(ANACRONTAB)
    if not isinstance(content, FileContent):
        if content is not None:
            yield content
        return
    info = content.info
    parsed = parse_anacrontab(content.data)
    for bad in parsed.errors:
        yield ctx.issue(
            "PARSE_ERROR",
            f"anacron skips this line: {bad.message}",
            info,
            line=bad.line,
            offset=bad.offset,
        )
    seen: Counter[tuple[str, str]] = Counter()
    for job in parsed.jobs:
        seen[job.job_id, job.command] += 1
        env = dict(job.environment)
        schedule = anacron_schedule(ctx, job)
        stamp_path = f"{STAMP_DIR}/{job.job_id}"
        related = (stamp_path,) if schedule.last_run is not None else ()
        yield ScheduledJob(
            job_id=make_job_id(
                Mechanism.ANACRON,
                ANACRONTAB,
                job.job_id,
                job.command,
                str(seen[job.job_id, job.command]),
            ),
            mechanism=Mechanism.ANACRON,
            technique=TECHNIQUE_OF_MECHANISM[Mechanism.ANACRON],
            name=job.job_id,
            run_as="root",
            schedule=schedule,
            actions=(exec_action(job.command, shell=env.get("SHELL", "/bin/sh")),),
            effective=Effective(
                True, "listed in /etc/anacrontab (run when anacron runs)", "anacron"
            ),
            evidence=ctx.source.evidence(
                info, line=job.line, offset=job.offset, sha256=content.sha256, related=related
            ),
            environment=job.environment,
            raw=excerpt(job.raw),
            extra={"anacron_job_id": job.job_id},
        )


def anacron_schedule(ctx: CollectContext, job: AnacronJob) -> IntervalSchedule:
    """The job's period, delay and anacron's own limits, with the last run from its stamp."""
    env = dict(job.environment)
    random_delay = env.get("RANDOM_DELAY")
    return IntervalSchedule(
        period=job.period,
        period_days=job.period_days,
        delay_minutes=job.delay_minutes,
        description=_describe(job, env),
        start_hours_range=env.get("START_HOURS_RANGE"),
        random_delay_minutes=int(random_delay) if random_delay and random_delay.isdigit() else None,
        last_run=_last_run(ctx, job.job_id),
    )


def _describe(job: AnacronJob, env: dict[str, str]) -> str:
    every = {1: "Once a day", 7: "Once a week", 30: "Once a month"}.get(
        job.period_days, f"Every {job.period_days} days"
    )
    if job.period == "@monthly":
        every = "Once a calendar month"
    text = f"{every}, {job.delay_minutes} min after anacron starts"
    if "START_HOURS_RANGE" in env:
        text += f", only between hours {env['START_HOURS_RANGE']}"
    return text


def _last_run(ctx: CollectContext, job_id: str) -> datetime | None:
    """The stamp holds the day (YYYYMMDD); its mtime, on that day, the time of the run."""
    try:
        content = ctx.source.read(f"{STAMP_DIR}/{job_id}", cap=64)
    except SourceError:
        return None
    text = content.data.decode("ascii", "replace").strip()
    try:
        day = datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return content.info.mtime
    mtime = content.info.mtime
    return mtime if mtime.date() == day.date() else day


COLLECTOR = Collector(
    name="anacron",
    mechanism=Mechanism.ANACRON,
    platform="linux",
    locations=(ANACRONTAB, STAMP_DIR),
    collect=collect,
)
