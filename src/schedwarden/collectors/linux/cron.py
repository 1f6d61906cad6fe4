"""Cron tables (T1053.003): /etc/crontab, /etc/cron.d/*, and every user spool layout.

Attackers add a line to a table to run a payload on a schedule or at every boot (`@reboot`), often
as root, in files admins seldom read. Spools by distribution: Debian/Ubuntu
/var/spool/cron/crontabs/<user>, RHEL/Fedora/Arch /var/spool/cron/<user>, SUSE
/var/spool/cron/tabs/<user>, busybox/Alpine /etc/crontabs/<user>. Every table on the host is
reported, including those the host's daemon would not read (with the reason in `effective`):
a dormant table is still evidence, and a different cron package can wake it up.
`/etc/cron.allow` and `/etc/cron.deny` (who may run crontab(1)) are recorded on user jobs.

References: crontab(5) and cron(8) of cronie and Debian; busybox crond.c;
https://attack.mitre.org/techniques/T1053/003/
"""

from __future__ import annotations

from dataclasses import replace

from ...model import Issue, Mechanism
from ...sources import FileKind, SourceError
from ..base import CollectContext, Collector, CollectorOutput
from ..schedule_prefetch import prefetched
from .cron_jobs import table_jobs
from .cron_rules import SPOOLS, TableKind

SYSTEM_CRONTAB = "/etc/crontab"
CRON_D = "/etc/cron.d"
ACCESS_FILES = ("/etc/cron.allow", "/etc/cron.deny")


def collect(ctx: CollectContext) -> CollectorOutput:
    timezone = ctx.host_timezone or "UTC"
    with prefetched(ctx.source, _table_paths(ctx), ctx.now, timezone) as facts:
        yield from _tables(replace(ctx, schedule_facts=facts) if facts else ctx)


def _table_paths(ctx: CollectContext) -> list[str]:
    """Every table a scan may read (a cheap listing, for the schedule helper)."""
    paths = [SYSTEM_CRONTAB]
    for directory in (CRON_D, *SPOOLS):
        names = ctx.list_dir(directory)
        if not isinstance(names, Issue):
            paths += [f"{directory}/{name}" for name in names]
    return paths


def _tables(ctx: CollectContext) -> CollectorOutput:
    yield from _one_table(ctx, SYSTEM_CRONTAB, TableKind.SYSTEM_CRONTAB, "/etc")
    yield from _folder(ctx, CRON_D, TableKind.CRON_D)
    access = _crontab_access(ctx)
    for spool in ctx.distinct_folders(SPOOLS):
        if isinstance(spool, Issue):
            yield spool
        else:
            yield from _folder(ctx, spool, TableKind.USER_SPOOL, access)


def _folder(
    ctx: CollectContext,
    directory: str,
    kind: TableKind,
    access: dict[str, str] | None = None,
) -> CollectorOutput:
    names = ctx.list_dir(directory)
    if isinstance(names, Issue):
        yield names
        return
    for name in names:
        path = f"{directory}/{name}"
        if kind is TableKind.USER_SPOOL and _other_layout_folder(ctx, path):
            continue
        extra: dict[str, object] | None = None
        if access is not None:
            extra = {"crontab_access": access.get(name, access["*"])}
        yield from _one_table(
            ctx,
            path,
            kind,
            directory,
            user=name if kind is TableKind.USER_SPOOL else None,
            extra=extra,
        )


def _other_layout_folder(ctx: CollectContext, path: str) -> bool:
    """/var/spool/cron holds the other layouts' folders (crontabs, atjobs, or Alpine's link to
    /etc/crontabs); anything else that is not a file goes on to be reported."""
    try:
        if ctx.source.lstat(path).kind is FileKind.DIRECTORY:
            return True
        target = ctx.source.stat(path)
    except SourceError:
        return False
    return path in SPOOLS and target.kind is FileKind.DIRECTORY


def _one_table(
    ctx: CollectContext,
    path: str,
    kind: TableKind,
    directory: str,
    *,
    user: str | None = None,
    extra: dict[str, object] | None = None,
) -> CollectorOutput:
    content = ctx.read(path)
    if isinstance(content, Issue):
        yield content
    elif content is not None:
        yield from table_jobs(ctx, content, kind, directory, user=user, extra=extra)


def _crontab_access(ctx: CollectContext) -> dict[str, str]:
    """Who may use crontab(1), by user name; `*` is everybody else."""
    lists: dict[str, list[str] | None] = {}
    for path in ACCESS_FILES:
        text = ctx.source.read_text(path)
        lists[path] = (
            None
            if text is None
            else [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        )
    allow, deny = lists["/etc/cron.allow"], lists["/etc/cron.deny"]
    if allow is not None:
        result = {user: "allowed (listed in /etc/cron.allow)" for user in allow}
        result["*"] = "denied (not in /etc/cron.allow)"
        return result
    if deny is not None:
        result = {user: "denied (listed in /etc/cron.deny)" for user in deny}
        result["*"] = "allowed (not in /etc/cron.deny)"
        return result
    return {"*": "undetermined (neither /etc/cron.allow nor /etc/cron.deny exists)"}


COLLECTOR = Collector(
    name="cron",
    mechanism=Mechanism.CRON,
    platform="linux",
    locations=(SYSTEM_CRONTAB, CRON_D, *SPOOLS, *ACCESS_FILES),
    collect=collect,
)
