"""systemd timers (T1053.006): every timer of the system manager and of the user managers, with
the service it really starts, merged with every drop-in, as systemd would load it offline.

Timers are the least watched Linux persistence: a `.timer` + `.service` pair in /etc/systemd/system
or /usr/local/lib/systemd/system, a user timer in ~/.config/systemd/user that runs without login
when the user lingers, a transient `systemd-run --on-calendar` unit that exists only in /run, or no
new timer at all but a drop-in that rewrites the ExecStart of a stock service (apt-daily). Each job
is one timer: `evidence.path` is the timer file; the service, drop-ins, enablement links and the
persistent stamp are in `evidence.related`.

References: systemd.timer(5), systemd.unit(5), systemd.service(5), systemd.time(7);
reference/linux.md §b items 21–30; https://attack.mitre.org/techniques/T1053/006/
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Action,
    CalendarSchedule,
    CompositeSchedule,
    Effective,
    Issue,
    Mechanism,
    MonotonicSchedule,
    OtherAction,
    Schedule,
    ScheduledJob,
    UnknownSchedule,
    make_job_id,
)
from ...sources import FileContent, SourceError
from ...timing import describe_cron
from ..base import CollectContext, Collector, CollectorOutput
from ..common import excerpt
from .systemd_calendar import CalendarError, describe_span, parse_calendar, parse_timespan
from .systemd_service import (
    EXEC_KEYS,
    UnitContext,
    environment_assignments,
    environment_file_assignments,
    exec_actions,
)
from .systemd_syntax import MergedUnit, parse_unit
from .systemd_units import (
    GENERATED_DIRS,
    GLOBAL_USER_PATHS,
    SYSTEM_PATHS,
    LoadedFile,
    Scope,
    UnitIndex,
    UnitLookup,
    instance_of,
    template_of,
    user_paths,
)

MONOTONIC = {
    "OnBootSec": "after boot",
    "OnStartupSec": "after the service manager started",
    "OnActiveSec": "after the timer was activated",
    "OnUnitActiveSec": "after the unit last started",
    "OnUnitInactiveSec": "after the unit last stopped",
}
LINGER_DIR = "/var/lib/systemd/linger"
SYSTEM_STAMPS = "/var/lib/systemd/timers"


def collect(ctx: CollectContext) -> CollectorOutput:
    issues: list[Issue] = []
    for scope in scopes(ctx):
        index = UnitIndex(ctx, scope, issues)
        own = scope.own_paths or None
        for name in index.units_with_suffix(".timer", only=own):
            if template_of(name) == name or name.endswith("@.timer"):
                instances = index.instances_enabled(name)
                for instance in instances:
                    yield from _timer_job(ctx, index, scope, instance, issues)
                if not instances:
                    yield from _timer_job(ctx, index, scope, name, issues)
            else:
                yield from _timer_job(ctx, index, scope, name, issues)
    yield from issues


def scopes(ctx: CollectContext) -> Iterator[Scope]:
    """The system manager, the global user units, and each user with units of their own."""
    yield Scope("system", SYSTEM_PATHS, own_paths=SYSTEM_PATHS)
    yield Scope("user:*", GLOBAL_USER_PATHS, user="%u", own_paths=GLOBAL_USER_PATHS)
    seen_homes: set[str] = set()
    for user in sorted(ctx.source.accounts.users.values(), key=lambda u: u.uid):
        home = user.home.rstrip("/")
        if not home.startswith("/") or home in ("", "/") or home in seen_homes:
            continue
        seen_homes.add(home)
        paths = user_paths(home, user.uid)
        own = tuple(p for p in paths if p not in GLOBAL_USER_PATHS)
        runtime = f"/run/user/{user.uid}"
        if not ctx.source.is_dir(home) and not ctx.source.is_dir(runtime):
            continue  # no home and no session: nothing of this user's own to load
        if any(ctx.source.is_dir(p) for p in own):
            yield Scope(f"user:{user.name}", paths, user.name, user.uid, home, own)


def _load(ctx: CollectContext, lookup: UnitLookup, issues: list[Issue]) -> MergedUnit | None:
    """Fragment then drop-ins, with systemd's line rules; None when systemd would not load it."""
    merged = MergedUnit()
    files: list[LoadedFile] = [lookup.fragment] if lookup.fragment else []
    for loaded in [*files, *lookup.drop_ins]:
        parsed = parse_unit(loaded.content.data)
        for problem in parsed.problems:
            issues.append(
                ctx.issue(problem.code, problem.message, loaded.content.info, line=problem.line)
            )
        if parsed.rejected and loaded is lookup.fragment:
            return None
        merged.apply(parsed)
    return merged


def _timer_job(
    ctx: CollectContext, index: UnitIndex, scope: Scope, name: str, issues: list[Issue]
) -> Iterator[ScheduledJob]:
    timer = index.find(name)
    if timer.fragment is None and timer.masked_by is None:
        return
    source = ctx.source
    context = _context(ctx, scope, name)
    timer_unit = _load(ctx, timer, issues) if timer.fragment else None
    unit_name = name.removesuffix(".timer") + ".service"
    if timer_unit is not None and timer_unit.last("Timer", "Unit"):
        unit_name = context.expand(timer_unit.last("Timer", "Unit") or "")
    service = index.find(unit_name)
    service_unit = _load(ctx, service, issues) if service.fragment else None
    service_context = _context(ctx, scope, unit_name)
    actions: list[Action] = []
    if service_unit is not None:
        for key in EXEC_KEYS:
            for value in service_unit.all("Service", key):
                actions.extend(exec_actions(key, value, service_context))
        if not unit_name.endswith(".service"):
            actions.append(OtherAction("start_unit", unit_name))
    environment, env_files = _environment(ctx, service_unit, service_context)
    links = index.enablement_links(name)
    transient = timer.found_in is not None and timer.found_in.endswith("/transient")
    generated = timer.found_in in GENERATED_DIRS or (
        timer.found_in is not None and "/generator" in timer.found_in
    )
    schedule = _schedule(ctx, scope, name, timer_unit, issues, timer)
    effective = _effective(ctx, scope, name, timer, timer_unit, service, service_unit, links,
                           transient, generated)  # fmt: skip
    primary = timer.fragment or None
    related = _related(timer, service, links, schedule)
    info = primary.content.info if primary else source.lstat(timer.masked_by or name)
    run_as = _run_as(scope, service_unit, service_context)
    content = primary.content if primary else None
    extra: dict[str, object] = {
        "scope": scope.name,
        "unit": unit_name,
        "load_path": timer.found_in,
        "enabled_by": links,
    }
    if unit_name != name.removesuffix(".timer") + ".service":
        extra["foreign_unit"] = True
    if timer.alias_of:
        extra["alias_of"] = timer.alias_of
    if transient:
        extra["transient"] = True
    if generated:
        extra["generated"] = True
    if instance_of(name):
        extra["instance"] = instance_of(name)
    if timer.drop_ins or service.drop_ins:
        extra["drop_ins"] = [d.path for d in (*timer.drop_ins, *service.drop_ins)]
    if env_files:
        extra["environment_files"] = env_files
    if service_unit is not None:
        for key, label in (("Type", "service_type"), ("Group", "group"),
                           ("DynamicUser", "dynamic_user"), ("Restart", "restart")):  # fmt: skip
            setting = service_unit.last("Service", key)
            if setting:
                extra[label] = setting
    if scope.is_user and scope.uid is not None:
        extra["linger"] = source.exists(f"{LINGER_DIR}/{scope.user}")
    if timer.masked_by:
        extra["masked"] = True
    if service.masked_by:
        extra["service_masked"] = True
    description = timer_unit.last("Unit", "Description") if timer_unit else None
    if description:
        extra["description"] = description
    text = content.data.decode("utf-8", "surrogateescape") if content else ""
    yield ScheduledJob(
        job_id=make_job_id(
            Mechanism.SYSTEMD_TIMER,
            info.path,
            scope.name,
            name,
            unit_name,
            *(a.command_line if hasattr(a, "command_line") else a.detail for a in actions),  # type: ignore[union-attr]
        ),
        mechanism=Mechanism.SYSTEMD_TIMER,
        technique=TECHNIQUE_OF_MECHANISM[Mechanism.SYSTEMD_TIMER],
        name=name if scope.name == "system" else f"{scope.name}/{name}",
        run_as=run_as,
        schedule=schedule,
        actions=tuple(actions),
        effective=effective,
        evidence=source.evidence(info, sha256=content.sha256 if content else None, related=related),
        environment=tuple(environment),
        enabled=bool(links) or transient or generated,
        hidden=bool(any(getattr(a, "argv0", None) for a in actions)),
        raw=excerpt(text),
        extra=extra,
    )


def _context(ctx: CollectContext, scope: Scope, unit: str) -> UnitContext:
    if scope.name == "system":
        return UnitContext(unit, "root", 0, "/root", ctx.source.host, False)
    return UnitContext(unit, scope.user if scope.uid is not None else None, scope.uid,
                       scope.home, ctx.source.host, True)  # fmt: skip


def _run_as(scope: Scope, service: MergedUnit | None, context: UnitContext) -> str:
    user = service.last("Service", "User") if service else None
    if service is not None and service.flag("Service", "DynamicUser"):
        return f"dynamic user {context.expand(user)}" if user else "dynamic user"
    if user:
        return context.expand(user)
    if scope.name == "system":
        return "root"
    return scope.user or "every user"


def _environment(
    ctx: CollectContext, service: MergedUnit | None, context: UnitContext
) -> tuple[list[tuple[str, str]], list[str]]:
    if service is None:
        return [], []
    pairs = environment_assignments(service.all("Service", "Environment"), context)
    files = []
    for value in service.all("Service", "EnvironmentFile"):
        path = context.expand(value.lstrip("-"))
        files.append(path)
        content = ctx.read(path, 1 << 20)
        if isinstance(content, FileContent):
            pairs += environment_file_assignments(content.data.decode("utf-8", "surrogateescape"))
    merged: dict[str, str] = {}
    for key, value in pairs:
        merged.pop(key, None)
        merged[key] = value
    return list(merged.items()), files


def _schedule(
    ctx: CollectContext,
    scope: Scope,
    name: str,
    timer: MergedUnit | None,
    issues: list[Issue],
    lookup: UnitLookup,
) -> Schedule:
    if timer is None:
        return UnknownSchedule("timer is masked or could not be loaded")
    last = _last_trigger(ctx, scope, name)
    where = lookup.fragment.content.info if lookup.fragment else name
    randomized = timer.last("Timer", "RandomizedDelaySec")
    parts: list[Schedule] = []
    expressions = timer.all("Timer", "OnCalendar")
    normalized, described = [], []
    for expression in expressions:
        try:
            spec = parse_calendar(expression)
        except CalendarError as error:
            issues.append(ctx.issue("PARSE_ERROR", f"OnCalendar={expression}: {error}; systemd "
                                    "ignores it", where,
                                    line=timer.lines.get(("Timer", "OnCalendar"))))  # fmt: skip
            continue
        normalized.append(spec.normalized)
        described.append(_describe_calendar(spec.normalized))
    if normalized:
        text = "; ".join(described)
        if timer.flag("Timer", "Persistent"):
            text += " (persistent: a run missed while off happens at boot)"
        parts.append(
            CalendarSchedule(
                expressions=tuple(e for e in expressions),
                normalized=tuple(normalized),
                description=text,
                persistent=timer.flag("Timer", "Persistent"),
                randomized_delay=randomized,
                accuracy=timer.last("Timer", "AccuracySec"),
                wake_system=timer.flag("Timer", "WakeSystem"),
                last_trigger=last,
            )
        )
    monotonic: list[tuple[str, str]] = []
    for key, meaning in MONOTONIC.items():
        for value in timer.all("Timer", key):
            try:
                seconds = parse_timespan(value)
            except CalendarError as error:
                issues.append(ctx.issue("PARSE_ERROR", f"{key}={value}: {error}", where,
                                        line=timer.lines.get(("Timer", key))))  # fmt: skip
                continue
            monotonic.append((key, f"{describe_span(seconds)} {meaning}"))
    if monotonic:
        parts.append(
            MonotonicSchedule(
                triggers=tuple(monotonic),
                description="; ".join(text for _, text in monotonic),
                randomized_delay=randomized,
                last_trigger=last,
            )
        )
    for key, text in (("OnClockChange", "when the system clock jumps"),
                      ("OnTimezoneChange", "when the time zone changes")):  # fmt: skip
        if timer.flag("Timer", key):
            parts.append(UnknownSchedule(text, key))
    if not parts:
        return UnknownSchedule("timer has no trigger: it never elapses on its own")
    if len(parts) == 1:
        return parts[0]
    return CompositeSchedule(tuple(parts), "; or ".join(p.description for p in parts))


def _describe_calendar(normalized: str) -> str:
    """A cron-shaped event gets cron-descriptor's words; anything else its normalised form."""
    words = normalized.split()
    weekdays = words.pop(0) if len(words) == 3 or (len(words) == 2 and "-" not in words[0]) \
        else "*"  # fmt: skip
    if len(words) == 2 and words[1].endswith(":00") and words[0].startswith("*-"):
        date_part, clock = words
        _, month, day = date_part.split("-")
        hour, minute, _ = clock.split(":")
        if "~" not in day and ".." not in f"{month}{day}{hour}{minute}{weekdays}":
            cron = " ".join(
                re.sub(r"\d+", lambda m: str(int(m.group(0))), field)
                for field in (minute, hour, day, month, weekdays.replace("..", "-"))
            )
            described = describe_cron(cron)
            if described != cron:
                return described
    return f"On calendar {normalized}"


def _last_trigger(ctx: CollectContext, scope: Scope, name: str) -> datetime | None:
    folder = SYSTEM_STAMPS if not scope.is_user else f"{scope.home}/.local/share/systemd/timers"
    try:
        return ctx.source.stat(f"{folder}/stamp-{name}").mtime
    except SourceError:
        return None


def _related(timer: UnitLookup, service: UnitLookup, links: list[str],
             schedule: Schedule) -> tuple[str, ...]:  # fmt: skip
    paths: list[str] = []
    if timer.fragment and timer.links:
        paths += timer.links
    if timer.fragment and timer.fragment.content.info.real_path != timer.fragment.path:
        paths.append(timer.fragment.content.info.real_path)
    paths += [d.path for d in timer.drop_ins]
    if service.fragment:
        paths.append(service.fragment.path)
    if service.masked_by:
        paths.append(service.masked_by)
    paths += [d.path for d in service.drop_ins]
    paths += links
    return tuple(dict.fromkeys(paths))


def _effective(
    ctx: CollectContext,
    scope: Scope,
    name: str,
    timer: UnitLookup,
    timer_unit: MergedUnit | None,
    service: UnitLookup,
    service_unit: MergedUnit | None,
    links: list[str],
    transient: bool,
    generated: bool,
) -> Effective:
    manager = "systemd" if scope.name == "system" else "systemd --user"
    if timer.masked_by:
        return Effective(False, f"timer is masked ({timer.masked_by} links to /dev/null)", manager)
    if timer_unit is None:
        return Effective(False, "systemd refuses to load the timer file", manager)
    if service.masked_by:
        return Effective(False, f"its unit is masked ({service.masked_by} links to /dev/null)",
                         manager)  # fmt: skip
    if service.fragment is None:
        return Effective(False, f"its unit {service.name} does not exist", manager)
    if service_unit is None:
        return Effective(False, f"systemd refuses to load {service.name}", manager)
    if template_of(name) == name or name.endswith("@.timer"):
        return Effective(False, "template without an enabled instance", manager)
    if transient:
        return Effective(True, "transient timer (systemd-run): active until reboot", manager)
    if generated:
        return Effective(True, "generated at boot by a systemd generator", manager)
    if not links:
        return Effective(False, "not enabled: no link in a .wants or .requires folder (it runs "
                         "only if started by hand or by another unit)", manager)  # fmt: skip
    if scope.is_user and scope.uid is not None:
        if ctx.source.exists(f"{LINGER_DIR}/{scope.user}"):
            return Effective(True, f"enabled; {scope.user} lingers, so it runs without a login",
                             manager)  # fmt: skip
        return Effective(True, f"enabled; runs only while {scope.user} is logged in (no linger)",
                         manager)  # fmt: skip
    if scope.is_user:
        return Effective(True, "enabled for every user's manager (while they are logged in, or "
                         "always for lingering users)", manager)  # fmt: skip
    return Effective(True, "enabled (" + ", ".join(links) + ")", manager)


COLLECTOR = Collector(
    name="systemd_timer",
    mechanism=Mechanism.SYSTEMD_TIMER,
    platform="linux",
    locations=(
        *SYSTEM_PATHS,
        *GLOBAL_USER_PATHS,
        "{home}/.config/systemd/user",
        "{home}/.local/share/systemd/user",
        "/run/user",
        LINGER_DIR,
        SYSTEM_STAMPS,
    ),
    collect=collect,
)
