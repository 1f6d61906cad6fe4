"""The event index the log analytics share (`log_base.EventIndex`): its selections are those of a
plain pass over the events; every log analyzer, the Sigma rules over logs and the engine's own
passes find with it exactly what they find when every event reaches their own tests; and the
cadence analytic, which counts minutes as numbers, finds what the one that compared times did."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden import hunting
from schedwarden.analyzers import log_schedule
from schedwarden.analyzers.log_base import EventIndex, LogContext, ScheduleClock
from schedwarden.analyzers.log_registry import LOG_ANALYZERS
from schedwarden.analyzers.log_sigma import LogRuleSet
from schedwarden.analyzers.log_sigma import evaluate as evaluate_windows
from schedwarden.analyzers.log_sigma_linux import evaluate_linux
from schedwarden.analyzers.log_sigma_pack import builtin_log_pack, evaluate_log_rules, with_builtin
from schedwarden.analyzers.registry import ANALYZERS
from schedwarden.logs.correlate import attribute
from schedwarden.model import (
    CronSchedule,
    Effective,
    Evidence,
    ExecAction,
    Finding,
    JobEvent,
    Mechanism,
    ScheduledJob,
    Severity,
    SourceKind,
    TriggerSchedule,
)
from schedwarden.schedule_fit import runs_between, start_delay

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SECURITY = "Security"
OPERATIONAL = "Microsoft-Windows-TaskScheduler/Operational"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
ACTIONS = (
    "registered", "updated", "deleted", "logon", "launched", "action_completed", "failed",
    "registry_value_set", "registry_value_deleted", "ran", "starting", "started", "finished",
    "crontab_replaced", "insecure_mode", "orphan", "wrong_file_owner", "process_created",
)  # fmt: skip
ATEXEC = "cmd.exe /C whoami > %windir%\\Temp\\Abcdefgh.tmp 2>&1"
TASK = ScheduledJob(
    job_id="task1",
    mechanism=Mechanism.WINDOWS_TASK,
    technique="T1053.005",
    name="\\T1",
    run_as="SYSTEM",
    schedule=TriggerSchedule("boot", "at boot"),
    actions=(ExecAction("c:\\a.exe"),),
    effective=Effective(True, "enabled"),
    evidence=Evidence(SourceKind.FILE, "h1", "C:/Windows/System32/Tasks/T1"),
    raw="<Task/>",
)
CRON = ScheduledJob(
    job_id="cron1",
    mechanism=Mechanism.CRON,
    technique="T1053.003",
    name="/etc/crontab:3",
    run_as="root",
    schedule=CronSchedule("17 * * * *", "17", "*", "*", "*", "*", "hourly at 17"),
    actions=(ExecAction("/bin/x"),),
    effective=Effective(True, "cron"),
    evidence=Evidence(SourceKind.FILE, "h1", "/etc/crontab"),
)
DEFINITION = replace(TASK, job_id="task2", schedule=TriggerSchedule("logon", "at logon"))
CLOCK = ScheduleClock(runs_between, start_delay)
KEYS = ("channel", "definition", "job_id", "daemon", "missing")
MIN_HISTORY = log_schedule.MIN_HISTORY
LATE = log_schedule.LATE
CONTEXTS = (LogContext(), LogContext(jobs=[TASK, CRON], clock=CLOCK))

_extra = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.sampled_from((SECURITY, OPERATIONAL, SYSMON)),
        "logon_id": st.sampled_from(("", "0x1", "0x2")),
        "logon_type": st.sampled_from(("2", "3")),
        "source_address": st.just("10.0.0.9"),
        "value": st.sampled_from(("SD", "Index", "Other")),
        "details": st.sampled_from(("DWORD (0x00000000)", "DWORD (0x00000001)")),
        "event_id": st.sampled_from((107, 110, 118, 119, 200, 4698, 4702, 1)),
        "result_code": st.sampled_from(("0", "0x1", "2147942401")),
        "daemon": st.sampled_from(("CRON", "crontab")),
        "line_text": st.sampled_from(
            (
                "CRON[7]: (root) CMD (/bin/x^M)",
                "CRON[8]: (root) CMD (/bin/x)",
                "crontab[9]: (bob) AUTH (crontab command not allowed)",
                "host CRON: no tag",
            )
        ),
        "cursor": st.just("s=1"),
        "target_user": st.sampled_from(("root", "bob")),
        "local_time": st.just(True),
        "job_id": st.sampled_from(("task1", "cron1")),
        "unit_event": st.just(True),
        "definition": st.sampled_from((TASK, DEFINITION)),
        "event_data": st.sampled_from(
            ({"ActionName": "C:\\Users\\Public\\x.exe"}, {"CommandLine": "schtasks /query"})
        ),
        "record_id": st.integers(1, 9),
    },
)
_minutes = st.builds(lambda m: T0 + timedelta(minutes=m), st.integers(0, 30))
_where = st.builds(
    lambda line: Evidence(SourceKind.FILE, "h1", "/var/log/x", line=line), st.integers(1, 99)
)
_hosts = st.sampled_from(("h1", "H1", "h2"))
_any_event = st.builds(
    JobEvent,
    time=_minutes,
    host=_hosts,
    action=st.sampled_from(ACTIONS),
    job_name=st.sampled_from(("", "cron", "\\T1", "\\t1", "\\Abcdefgh", "crontab:bob", "x.timer")),
    evidence=_where,
    actor=st.sampled_from((None, "root", "bob")),
    command=st.sampled_from((None, ATEXEC, "/bin/x", "/bin/y")),
    extra=_extra,
)


def _task(
    time: datetime, host: str, action: str, name: str, command: str | None, extra: dict[str, object]
) -> JobEvent:
    return JobEvent(time, host, action, name, Evidence(SourceKind.FILE, host, "x.evtx"), "u",
                    command, extra)  # fmt: skip


# events of the kinds the Windows analytics pair up: task events, logons, failures
_task_event = st.builds(
    _task,
    _minutes,
    _hosts,
    st.sampled_from(("registered", "updated", "deleted", "launched", "failed", "logon")),
    st.sampled_from(("\\T1", "\\t1", "\\Abcdefgh")),
    st.sampled_from((ATEXEC, "c:\\a.exe", "c:\\b.exe", None)),
    st.fixed_dictionaries(
        {
            "channel": st.sampled_from((SECURITY, OPERATIONAL)),
            "logon_id": st.sampled_from(("0x1", "0x2")),
            "event_id": st.sampled_from((110, 107, 118, 119)),
        },
        optional={
            "logon_type": st.sampled_from(("3", "2")),
            "definition": st.sampled_from((TASK, DEFINITION)),
            "result_code": st.sampled_from(("0", "0x1")),
        },
    ),
)
_failure = st.builds(
    _task,
    _minutes,
    st.just("h1"),
    st.sampled_from(("failed", "action_completed")),
    st.sampled_from(("\\T1", "cron")),
    st.none(),
    st.fixed_dictionaries({"result_code": st.sampled_from(("0", "0x1"))}),
)
_event = st.one_of(_any_event, _task_event, _failure)
_events = st.lists(_event, min_size=8, max_size=80)


class Unselective(EventIndex):
    """Hands every event to every selection: each analyzer's own tests then decide alone."""

    def acting(self, *actions: str) -> Sequence[JobEvent]:
        return list(self)

    def having(self, key: str) -> Sequence[JobEvent]:
        return list(self)


@settings(max_examples=100, deadline=None)
@given(_events, st.lists(st.sampled_from(ACTIONS), max_size=4), st.sampled_from(KEYS))
def test_selections_are_those_of_a_plain_pass(
    events: list[JobEvent], actions: list[str], key: str
) -> None:
    index = EventIndex(events)
    assert list(index) == events and len(index) == len(events)
    assert list(index[1:3]) == events[1:3] and EventIndex.of(index) is index
    for _ in range(2):  # made once, then kept
        assert list(index.acting(*actions)) == [e for e in events if e.action in actions]
        assert list(index.having(key)) == [e for e in events if key in e.extra]


@settings(max_examples=150, deadline=None)
@given(_events)
def test_analyzers_find_with_the_index_what_they_find_in_every_event(
    events: list[JobEvent],
) -> None:
    for context in CONTEXTS:
        for analyzer in LOG_ANALYZERS:
            everything = list(analyzer.analyze(Unselective(events), context))
            assert list(analyzer.analyze(EventIndex(events), context)) == everything
            assert list(analyzer.analyze(events, context)) == everything, analyzer.name


@settings(max_examples=60, deadline=None)
@given(_events)
def test_sigma_and_the_engine_passes_find_what_a_plain_pass_finds(events: list[JobEvent]) -> None:
    rules = with_builtin(None)
    expected = _sigma_as_before(rules, events)
    assert list(evaluate_log_rules(rules, EventIndex(events))) == expected
    assert list(evaluate_log_rules(rules, events)) == expected
    assert list(evaluate_log_rules(rules, Unselective(events))) == expected
    windows_only = replace(rules, rules=tuple(r for r in rules.rules if "/" not in r.scope))
    assert list(evaluate_log_rules(windows_only, events)) == _sigma_as_before(windows_only, events)
    assert hunting._shown(EventIndex(events)) == _shown_as_before(events)
    assert hunting._definition_findings(EventIndex(events)) == _definitions_as_before(events)
    assert attribute(events) == _attribute_as_before(events)


def _sigma_as_before(rules: LogRuleSet, events: list[JobEvent]) -> list[Finding]:
    remedies = {r.rule.rule_id: r.remediation for r in builtin_log_pack()[0] if r.remediation}
    windows = [e for e in events if "channel" in e.extra]
    linux = [e for e in events if "channel" not in e.extra]
    found = (*evaluate_windows(rules, windows), *evaluate_linux(rules, linux))
    return [
        replace(f, remediation=remedies[f.rule_id]) if f.rule_id in remedies else f for f in found
    ]


def _shown_as_before(events: list[JobEvent]) -> list[JobEvent]:
    sessions = {
        (e.host, e.extra.get("logon_id"))
        for e in events
        if e.action != "logon" and e.extra.get("logon_id")
    }
    return [
        e for e in events if e.action != "logon" or (e.host, e.extra.get("logon_id")) in sessions
    ]


def _definitions_as_before(events: list[JobEvent]) -> list[Finding]:
    seen: dict[str, ScheduledJob] = {}
    for event in events:
        definition = event.extra.get("definition")
        if isinstance(definition, ScheduledJob):
            seen.setdefault(definition.job_id, definition)
    return [f for a in ANALYZERS for f in a.analyze(tuple(seen.values()), ())] if seen else []


def _attribute_as_before(events: list[JobEvent]) -> list[JobEvent]:
    logons: dict[tuple[str, str], JobEvent] = {}
    for event in events:
        logon_id = str(event.extra.get("logon_id") or "")
        if event.action == "logon" and logon_id:
            logons[(event.host.casefold(), logon_id)] = event
    out: list[JobEvent] = []
    for event in events:
        logon = logons.get((event.host.casefold(), str(event.extra.get("logon_id") or "")))
        if logon is None or event.action == "logon":
            out.append(event)
            continue
        added = {
            "logon_user": logon.actor,
            "logon_type": logon.extra.get("logon_type"),
            "source_address": logon.extra.get("source_address"),
        }
        out.append(replace(event, extra={**added, **event.extra}))
    return out


# the cadence analytic as it was: minutes as times, phases from each time's own wall clock

ZONES = (UTC, UTC, timezone(timedelta(hours=1)), ZoneInfo("Europe/Berlin"))


@st.composite
def _cron_runs(draw: st.DrawFn) -> list[JobEvent]:
    """Runs of a command on a cadence (5 minutes to a week), a few off it, of another command or
    user, or repeated, in one zone or several (which the count of minutes as numbers leaves to
    times)."""
    period = draw(st.sampled_from((5, 60, 1440, 7 * 1440)))
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2))
    rare = st.integers(0, 24).map(lambda n: n == 0)
    count = draw(st.integers(MIN_HISTORY, 4 * MIN_HISTORY))
    off = draw(st.sets(st.integers(MIN_HISTORY, count), max_size=2))
    local = draw(st.booleans())
    events: list[JobEvent] = []
    for number in range(count):
        late = draw(st.sampled_from((1, 2, 7, 33))) if number in off or draw(rare) else 0
        moment = T0 + timedelta(minutes=number * period + late, seconds=draw(st.integers(0, 59)))
        extra: dict[str, object] = {"daemon": "CRON"}
        if local != draw(rare):
            extra["local_time"] = True
        if draw(rare):
            extra["job_id"] = "cron1"
        event = JobEvent(
            moment.astimezone(draw(st.sampled_from(zones))),
            "H1" if draw(rare) else "h1",
            "finished" if draw(rare) else "ran",
            "crontab:x" if draw(rare) else "cron",
            Evidence(SourceKind.FILE, "h1", "/var/log/syslog", line=number + 1),
            None if draw(rare) else "root",
            draw(st.sampled_from((None, "/bin/x ", "/bin/y"))) if draw(rare) else "/bin/x",
            extra,
        )
        events += [event] * (2 if draw(rare) else 1)
    return draw(st.permutations(events)) if draw(rare) else events


@settings(max_examples=150, deadline=None)
@given(_cron_runs())
def test_cadence_counted_in_minute_numbers_finds_what_times_found(events: list[JobEvent]) -> None:
    found = list(log_schedule.off_cadence(EventIndex(events), LogContext()))
    assert found == list(_off_cadence_as_before(events))


def _off_cadence_as_before(events: list[JobEvent]) -> Iterator[Finding]:
    by_command: dict[tuple[str | None, str | None, str], dict[datetime, JobEvent]] = {}
    for event in events:
        if event.action == "ran" and event.job_name == "cron":
            by_command.setdefault((event.command, event.actor, event.host), {}).setdefault(
                event.time, event
            )
    groups: dict[tuple[str, str, str, bool], dict[datetime, JobEvent]] = {}
    for (command, actor, host), times in by_command.items():
        if command is None or len(times) < MIN_HISTORY + 2:
            continue
        for moment, event in times.items():
            if event.extra.get("job_id"):
                continue
            local = event.extra.get("local_time") is True
            key = (host.casefold(), actor or "", " ".join(command.split()), local)
            minute = moment.replace(second=0, microsecond=0)
            groups.setdefault(key, {}).setdefault(minute, event)
    for runs in groups.values():
        if len(runs) >= MIN_HISTORY + 2:
            yield from _cadence_breaks_as_before(sorted(runs.items()))


def _cadence_breaks_as_before(runs: list[tuple[datetime, JobEvent]]) -> Iterator[Finding]:
    cadence = _cadence_as_before([moment for moment, _ in runs])
    if cadence is None:
        return
    period, phase = cadence
    on = [_on_phase(moment, period, phase) for moment, _ in runs]
    for index, (_, event) in enumerate(runs):
        if on[index]:
            continue
        before = sum(on[:index])
        if before < MIN_HISTORY or not any(on[index + 1 :]):
            continue
        yield Finding(
            "JOB_RUN_OFF_CADENCE",
            log_schedule.RULES["JOB_RUN_OFF_CADENCE"],
            Severity.LOW,
            ("T1053.003",),
            None,
            event.evidence,
            f"cron ran {event.command!r} as {event.actor} at {log_schedule._when(event)} "
            f"({log_schedule._where(event)}), off the cadence of its other runs ({before} "
            f"before it and more after it all {log_schedule._cadence_text(period, phase)}): "
            "its table held another entry for a while, or the clock jumped",
            "Look for a crontab change around that time (crontab REPLACE/END EDIT lines, "
            "auditd writes to the table) and what the command did then.",
        )


def _cadence_as_before(moments: Sequence[datetime]) -> tuple[int, int] | None:
    for period in log_schedule.PERIODS:
        counts: dict[int, int] = {}
        for moment in moments:
            phase = _phase(moment, period)
            counts[phase] = counts.get(phase, 0) + 1
        best = max(counts, key=lambda p: (counts[p] + counts.get((p + LATE) % period, 0), -p))
        share = sum(1 for m in moments if _on_phase(m, period, best)) / len(moments)
        if share >= log_schedule.ON_CADENCE_SHARE and counts[best] >= MIN_HISTORY:
            return period, best
    return None


def _phase(moment: datetime, period: int) -> int:
    minutes = moment.hour * 60 + moment.minute
    if period > 1440:
        minutes += moment.weekday() * 1440
    return minutes % period


def _on_phase(moment: datetime, period: int, phase: int) -> bool:
    return (_phase(moment, period) - phase) % period <= LATE
