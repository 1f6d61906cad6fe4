"""Periodic folders (T1053.003): /etc/cron.{hourly,daily,weekly,monthly,yearly} and Alpine's
/etc/periodic/<cadence>, whose scripts run-parts runs from a crontab or anacrontab line.

Dropping an executable script into cron.daily is the quietest cron persistence (Rocke, ART
T1053.003 #2, PANIX): no table changes, and the cron log names only `run-parts`, never the script.
Each file is a job: its schedule is the line that drives the folder (found by parsing the tables
and /etc/anacrontab for `run-parts <folder>`), its command the script with a summary of what it
contains, and `effective` follows run-parts' name rule and the exec bit.

References: run-parts(8) (Debian and RHEL), busybox run-parts; reference/linux.md §b item 5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    DrivenSchedule,
    Issue,
    Mechanism,
    Schedule,
    ScheduledJob,
    make_job_id,
)
from ...sources import FileContent, FileKind, SourceError
from ..base import CollectContext, Collector, CollectorOutput
from ..common import combine_verdicts, excerpt, exec_action
from .anacron import anacron_schedule
from .anacron_syntax import parse_anacrontab
from .cron_jobs import cron_schedule, host_flavours
from .cron_rules import SPOOLS
from .cron_syntax import parse_table
from .run_parts import run_parts_objection

CRON_FOLDERS = tuple(
    (f"/etc/cron.{cadence}", cadence)
    for cadence in ("hourly", "daily", "weekly", "monthly", "yearly")
)
ALPINE_PERIODIC = "/etc/periodic"
SUMMARY_LINES = 6
SUMMARY_CAP = 400
SCRIPT_READ_CAP = 1 << 20


@dataclass(frozen=True, slots=True)
class Driver:
    where: str
    schedule: Schedule
    anacron: bool


def collect(ctx: CollectContext) -> CollectorOutput:
    folders = list(CRON_FOLDERS)
    alpine = ctx.list_dir(ALPINE_PERIODIC)
    if isinstance(alpine, Issue):
        yield alpine
    else:
        folders += [
            (f"{ALPINE_PERIODIC}/{name}", name)
            for name in alpine
            if ctx.source.is_dir(f"{ALPINE_PERIODIC}/{name}")
        ]
    drivers: dict[str, list[Driver]] | None = None
    for folder, cadence in folders:
        names = ctx.list_dir(folder)
        if isinstance(names, Issue):
            yield names
            continue
        if not names:
            continue
        if drivers is None:
            drivers = _find_drivers(ctx)
        yield from _folder_jobs(ctx, folder, cadence, names, drivers.get(folder, []))


def _folder_jobs(
    ctx: CollectContext, folder: str, cadence: str, names: list[str], drivers: list[Driver]
) -> CollectorOutput:
    driver = _active_driver(ctx, drivers)
    where = "; ".join(d.where for d in drivers) or None
    if driver is None:
        schedule = DrivenSchedule(
            cadence=cadence,
            description=f"{cadence.capitalize()} through run-parts, but no crontab or "
            "anacrontab line runs this folder",
            driver=None,
        )
    else:
        schedule = DrivenSchedule(
            cadence=cadence,
            description=f"{cadence.capitalize()} through run-parts from {driver.where}: "
            f"{_describe(driver.schedule)}",
            driver=where,
            driver_schedule=driver.schedule,
        )
    for name in names:
        path = f"{folder}/{name}"
        if ctx.source.is_dir(path):
            continue  # run-parts does not descend into folders
        content = ctx.read(path, SCRIPT_READ_CAP)
        if content is None:
            continue
        if isinstance(content, Issue):
            yield content
            continue
        info = content.info
        verdicts = {
            flavour.value: run_parts_objection(flavour, name, info)
            for flavour in host_flavours(ctx)
        }
        effective = combine_verdicts(verdicts, "run by run-parts")
        if effective.runs and driver is None:
            effective = type(effective)(
                None,
                f"run-parts would run it, but nothing runs run-parts on {folder}",
                effective.daemon,
            )
        text = content.data.decode("utf-8", "surrogateescape")
        interpreter, summary = summarize_script(text)
        related = tuple(p for p in ((info.real_path if info.real_path != path else None),) if p)
        yield ScheduledJob(
            job_id=make_job_id(Mechanism.PERIODIC, path, content.sha256 or ""),
            mechanism=Mechanism.PERIODIC,
            technique=TECHNIQUE_OF_MECHANISM[Mechanism.PERIODIC],
            name=path,
            run_as="root",
            schedule=schedule,
            actions=(exec_action(path),),
            effective=effective,
            evidence=ctx.source.evidence(info, sha256=content.sha256, related=related),
            raw=excerpt(text),
            extra={
                "interpreter": interpreter,
                "content_summary": summary,
                "truncated": content.truncated,
            },
        )


def summarize_script(text: str) -> tuple[str | None, str]:
    """The shebang interpreter and the first meaningful lines of a script."""
    lines = text.splitlines()
    interpreter = None
    if lines and lines[0].startswith("#!"):
        interpreter = lines[0][2:].strip() or None
    meaningful: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            meaningful.append(stripped)
            if len(meaningful) >= SUMMARY_LINES:
                break
    summary = " ; ".join(meaningful)
    return interpreter, summary if len(summary) <= SUMMARY_CAP else summary[:SUMMARY_CAP] + "…"


def _describe(schedule: Schedule) -> str:
    return schedule.description[:1].lower() + schedule.description[1:]


def _active_driver(ctx: CollectContext, drivers: list[Driver]) -> Driver | None:
    """Debian's /etc/crontab defers to anacron (`test -x /usr/sbin/anacron ||`) when installed."""
    if not drivers:
        return None
    anacron_installed = ctx.source.exists("/usr/sbin/anacron")
    for driver in drivers:
        if driver.anacron == anacron_installed:
            return driver
    return drivers[0]


_RUN_PARTS = re.compile(r"run-parts\b[^;&|]*?[ \t](/[^ \t;&|)}]+)")


def _find_drivers(ctx: CollectContext) -> dict[str, list[Driver]]:
    """Folder → the table and anacrontab lines that run run-parts on it."""
    found: dict[str, list[Driver]] = {}
    for path, system in _tables(ctx):
        content = ctx.read(path)
        if not isinstance(content, FileContent):
            continue  # the table collector reports it
        for entry in parse_table(content.data, system=system).entries:
            for folder in _run_parts_targets(entry.command):
                found.setdefault(folder, []).append(
                    Driver(f"{path}:{entry.line}", cron_schedule(entry, None), False)
                )
    anacrontab = ctx.read("/etc/anacrontab")
    data = anacrontab.data if isinstance(anacrontab, FileContent) else b""
    for job in parse_anacrontab(data).jobs:
        for folder in _run_parts_targets(job.command):
            found.setdefault(folder, []).append(
                Driver(f"/etc/anacrontab:{job.line}", anacron_schedule(ctx, job), True)
            )
    return found


def _run_parts_targets(command: str) -> Iterator[str]:
    for match in _RUN_PARTS.finditer(command):
        yield match.group(1).rstrip("/")


def _tables(ctx: CollectContext) -> Iterator[tuple[str, bool]]:
    yield "/etc/crontab", True
    for directory, system in (("/etc/cron.d", True), *((s, False) for s in SPOOLS)):
        names = ctx.list_dir(directory)
        for name in names if isinstance(names, list) else ():
            path = f"{directory}/{name}"
            try:
                if ctx.source.stat(path).kind is FileKind.REGULAR:
                    yield path, system
            except SourceError:
                continue


COLLECTOR = Collector(
    name="periodic",
    mechanism=Mechanism.PERIODIC,
    platform="linux",
    locations=(*(f for f, _ in CRON_FOLDERS), ALPINE_PERIODIC),
    collect=collect,
)
