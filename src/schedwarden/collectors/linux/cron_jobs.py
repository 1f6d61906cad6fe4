"""Turn one parsed crontab file into jobs and issues; shared by every table location."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    CronSchedule,
    Effective,
    Issue,
    MacroSchedule,
    Mechanism,
    ScheduledJob,
    make_job_id,
    zone,
)
from ...sources import CronFlavour, FileContent
from ...timing import MACRO_DESCRIPTIONS, describe_cron
from ..base import CollectContext
from ..common import combine_verdicts, excerpt, exec_action
from .cron_rules import TableKind, entry_verdict, file_verdict, whole_file_verdict
from .cron_syntax import MACROS, CronEntry, parse_table

ALL_FLAVOURS = (CronFlavour.DEBIAN, CronFlavour.CRONIE, CronFlavour.BUSYBOX)


def host_flavours(ctx: CollectContext) -> tuple[CronFlavour, ...]:
    """The host's cron daemon, or every candidate when the distribution is unknown."""
    flavour = ctx.source.os_info.cron_flavour
    return (flavour,) if flavour else ALL_FLAVOURS


def cron_schedule(
    entry: CronEntry, timezone: str | None, describe: Callable[[str], str] = describe_cron
) -> CronSchedule | MacroSchedule:
    text = entry.schedule_text
    if text.startswith("@"):
        return _macro_schedule(text, timezone)
    return _schedule(text, entry.randomized, timezone, describe(text))


@lru_cache(maxsize=64)
def _macro_schedule(text: str, timezone: str | None) -> MacroSchedule:
    return MacroSchedule(
        macro=text, description=MACRO_DESCRIPTIONS[text], expression=MACROS[text], timezone=timezone
    )


@lru_cache(maxsize=16384)
def _schedule(text: str, randomized: bool, timezone: str | None, description: str) -> CronSchedule:
    """Schedules are immutable and hosts repeat a few thousand of them: build each once."""
    minute, hour, day_of_month, month, day_of_week = text.split(" ")
    if randomized:
        description += " (fields with '~' take a random value when cron loads the table)"
    return CronSchedule(
        expression=text,
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month=month,
        day_of_week=day_of_week,
        description=description,
        timezone=timezone,
        randomized=randomized,
    )


def table_jobs(
    ctx: CollectContext,
    content: FileContent,
    kind: TableKind,
    directory: str,
    *,
    user: str | None = None,
    dormant_reason: str | None = None,
    extra: dict[str, object] | None = None,
) -> Iterator[ScheduledJob | Issue]:
    """Jobs of one crontab file; `user` for user tables; `dormant_reason` overrides the daemon."""
    source = ctx.source
    info = content.info
    path = info.path
    name = path.rsplit("/", 1)[-1]
    system = kind is not TableKind.USER_SPOOL
    table = parse_table(content.data, system=system)
    accounts = source.accounts
    if content.truncated:
        yield ctx.issue(
            "OVERSIZED_FILE",
            f"read only the first {len(content.data)} bytes; the rest was not examined",
            info,
        )
    for error in table.errors:
        field = f" (field {error.field})" if error.field else ""
        yield ctx.issue(
            "PARSE_ERROR",
            f"cron would reject this line: {error.message}{field}",
            info,
            line=error.line,
            offset=error.offset,
        )
    flavours = host_flavours(ctx)
    file_objection: dict[CronFlavour, str | None] = {}
    for flavour in flavours:
        objection = file_verdict(
            flavour, kind, directory, name, info, user, accounts, source.os_info
        )
        if objection is None:
            objection = whole_file_verdict(
                flavour,
                kind,
                table.errors,
                table.entries,
                accounts,
                table.user_table_rejections() if kind is TableKind.USER_SPOOL else [],
            )
        file_objection[flavour] = objection
    user_uid = accounts.users[user].uid if user in accounts.users else None
    related = (info.real_path,) if info.real_path != path else ()
    evidence = source.evidence(info, sha256=content.sha256, related=related)
    file_level = tuple(file_objection[flavour] for flavour in flavours)
    file_rejected = None not in file_level  # then no entry needs its own verdict
    seen: Counter[tuple[str, ...]] = Counter()
    effective_memo: dict[tuple[str | None, ...], Effective] = {}
    # entries after the same environment lines share one snapshot: read it once per snapshot
    env_memo: dict[int, tuple[dict[str, str], str | None, bool]] = {}
    cron, technique, table_kind = Mechanism.CRON, TECHNIQUE_OF_MECHANISM[Mechanism.CRON], kind.value
    cronie = CronFlavour.CRONIE in flavours
    for entry in table.entries:
        run_as = entry.user if system else user
        known = env_memo.get(id(entry.environment))
        if known is None:
            env = dict(entry.environment)
            timezone = env.get("CRON_TZ") if cronie else None
            if timezone is not None and zone(timezone) is None:
                timezone = None
            bad_tz = "CRON_TZ" in env and zone(env["CRON_TZ"]) is None
            known = env_memo[id(entry.environment)] = (env, timezone, bad_tz)
        env, timezone, bad_tz = known
        key = (entry.schedule_text, run_as or "", entry.command_raw, str(entry.no_log))
        seen[key] += 1
        if dormant_reason is not None:
            effective = Effective(False, dormant_reason, None)
        else:
            objections = file_level if file_rejected else tuple([
                file_objection[flavour] or entry_verdict(flavour, kind, entry, accounts, user_uid)
                for flavour in flavours
            ])  # fmt: skip
            memo = effective_memo.get(objections)
            if memo is None:  # most entries of a file share one verdict: build it once
                verdicts = {f.value: o for f, o in zip(flavours, objections, strict=True)}
                memo = effective_memo[objections] = combine_verdicts(
                    verdicts, "loaded by the cron daemon"
                )
            effective = memo
        job_extra: dict[str, object] = {"table": table_kind}
        if entry.no_log:
            job_extra["no_log"] = True
        if entry.after_nul is not None:
            job_extra["after_nul"] = entry.after_nul
        if entry.overlong:
            job_extra["overlong_command"] = True
        if entry.command != entry.command_raw:
            job_extra["command_raw"] = entry.command_raw
        if bad_tz:
            job_extra["cron_tz_invalid"] = True
        if extra:
            job_extra.update(extra)
        raw = entry.command_raw
        hidden_text = "\r" in raw or "\x1b" in raw or entry.after_nul is not None
        schedule = cron_schedule(entry, timezone, ctx.describe_cron)
        yield ScheduledJob(
            job_id=make_job_id(cron, path, *key, str(seen[key])),
            mechanism=cron,
            technique=technique,
            name=f"{path}:{entry.line}",
            run_as=run_as,
            schedule=schedule,
            actions=(
                exec_action(entry.command, stdin=entry.stdin, shell=env.get("SHELL", "/bin/sh")),
            ),
            effective=effective,
            evidence=evidence.at(entry.line, entry.offset),
            environment=entry.environment,
            hidden=hidden_text or entry.no_log,
            raw=excerpt(entry.raw),
            next_runs=ctx.next_runs(schedule),
            extra=job_extra,
        )
