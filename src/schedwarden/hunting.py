"""`hunt`: job events from logs, tied to an inventory, with the findings of the log analytics,
of the inventory analyzers on task definitions the events carried, and of Sigma rules over logs.

Kept apart from `engine` so that a hunt loads the collectors (to tie events to an image) and the
inventory analyzers (for task definitions in 4698/4702) only when it needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar, overload

from . import TOOL
from .analyzers.log_base import EventIndex, LogContext, ScheduleClock
from .analyzers.log_registry import LOG_ANALYZERS
from .analyzers.log_rule_cache import RuleCache
from .analyzers.log_sigma import LogRuleSet, load_log_rules
from .analyzers.log_sigma_pack import (
    builtin_log_pack,
    evaluate_log_rules,
    with_builtin,
)
from .forked import ForkedValue
from .gc_pacing import few_collections
from .logs.correlate import attribute, name_task_processes, tie, without_creation
from .logs.reader import DEFAULT_BUDGET, read_logs
from .logs.report import HuntReport
from .model import Evidence, Finding, Issue, JobEvent, ScheduledJob, Severity, SourceKind
from .schedule_fit import runs_between, start_delay
from .sources import RootedSource

T = TypeVar("T")
SIGMA_FORKED_EVENTS = 2000  # events from which Sigma rules run in a child (a fork costs ~10 ms)


class LogRulesLoading(ForkedValue[LogRuleSet]):
    """`load_log_rules(paths)` done by a forked child, started now, while this process goes on
    (a hunt reads its logs meanwhile). Converting a rule folder through pySigma is long (about
    0.6 s for SigmaHQ's) and uses one processor: done beside the reading, it costs the hunt a
    share of the processors instead of its whole length; and only once while the files stay the
    same, when `cached` (`log_rule_cache`). `result()` is what `load_log_rules` gives; done here
    when no child could start or the child failed."""

    def __init__(self, paths: Sequence[Path], cached: bool = True) -> None:
        super().__init__(partial(_loaded, list(paths), cached))


def _loaded(paths: Sequence[Path], cached: bool) -> LogRuleSet:
    return load_log_rules(paths, RuleCache.default() if cached else None)


def hunt(
    paths: Iterable[str],
    *,
    source: RootedSource | None = None,
    inventory: list[ScheduledJob] | None = None,
    now: datetime | None = None,
    min_level: Severity = Severity.INFORMATIONAL,
    budget: float = DEFAULT_BUDGET,
    sigma: LogRuleSet | LogRulesLoading | None = None,
    builtin_rules: bool = True,
    deferred: bool = False,
) -> HuntReport:
    """Job events from the logs under `paths`, tied to the jobs of an image (`source`) or of an
    inventory file when given, and the findings of the log analytics and of the inventory
    analyzers run on the task definitions the events carried (4698/4702 TaskContent), and of
    our Sigma rules over logs (unless `builtin_rules` is False) and the `sigma` rules over the
    records the events came from. `deferred`: the report may be given while children still run
    the Sigma rules, its findings and issues waited for when first read (a writer writes the
    events first: a big hunt's events are then written meanwhile)."""
    with few_collections():
        return _hunt(
            list(paths), source, inventory, now, min_level, budget, sigma, builtin_rules, deferred
        )


def _hunt(
    paths: list[str],
    source: RootedSource | None,
    inventory: list[ScheduledJob] | None,
    now: datetime | None,
    min_level: Severity,
    budget: float,
    sigma: LogRuleSet | LogRulesLoading | None,
    builtin_rules: bool,
    deferred: bool,
) -> HuntReport:
    now = now or datetime.now(UTC)
    events, issues = read_logs(paths, budget=budget)
    described: dict[str, object] = {
        "logs": paths,
        "hunted_at": now.isoformat().replace("+00:00", "Z"),
    }
    jobs: list[ScheduledJob] | None = inventory
    if source is not None:
        from .inventory import collect

        report = collect(source, now=now)
        jobs = list(report.jobs)
        issues += report.issues
        described["inventory"] = dict(source.describe())
    index = EventIndex(events)  # what the analytics select on, found once for all of them
    if index.acting("logon"):  # else no event is in a logged logon's session
        index = EventIndex(attribute(index))
    if index.acting("task_process") and index.acting("process_created", "registered", "updated"):
        index = EventIndex(name_task_processes(index))  # the tasks of the processes they started
    if jobs is not None:
        index = EventIndex(tie(index, jobs))
    if isinstance(sigma, LogRulesLoading):  # loaded by a child while the logs were read
        sigma = sigma.result()
    rules = with_builtin(sigma) if builtin_rules else sigma
    evaluating = _RulesMeanwhile(rules, index) if rules is not None else None
    findings: list[Finding] = []
    context = LogContext(
        jobs=jobs,
        host_timezone=source.timezone if source is not None else None,
        clock=ScheduleClock(runs_between, start_delay, _task_fires_at),  # runs against schedules
    )
    for analyzer in LOG_ANALYZERS:
        try:
            findings.extend(analyzer.analyze(index, context))
        except Exception as exc:  # an analytic bug must not end the hunt
            issues.append(_stopped(f"log analyzer {analyzer.name}", exc, paths))
    try:
        findings.extend(_definition_findings(index))
    except Exception as exc:  # nor a bug of the inventory analyzers
        issues.append(_stopped("the inventory analyzers on task definitions", exc, paths))
    later = _FindingsLater(findings, issues, evaluating, min_level, paths)
    extra: dict[str, object] = {}
    if sigma is not None:
        extra["sigma_rules"] = len(sigma.rules)
    if builtin_rules:
        extra["sigma_builtin_log_rules"] = len(builtin_log_pack()[0])
    if jobs is not None:
        tied = {e.extra.get("job_id") for e in index.having("job_id") if e.extra.get("job_id")}
        extra["inventory_jobs"] = len(jobs)
        extra["inventory_jobs_with_events"] = len(tied)
        extra["inventory_tasks_without_creation_event"] = without_creation(index, jobs)
    deferred = deferred and evaluating is not None and evaluating.forked
    return HuntReport(
        tool=TOOL,
        source=described,
        events=tuple(_shown(index)),
        findings=_Later(lambda: later.findings) if deferred else later.findings,
        issues=_Later(lambda: later.issues) if deferred else later.issues,
        extra=extra,
    )


def _stopped(what: str, exc: Exception, paths: Sequence[str]) -> Issue:
    """The Issue of an analysis that stopped on a bug: the hunt goes on without it."""
    where = Evidence(SourceKind.FILE, "", paths[0] if paths else "")
    return Issue("ANALYZER_ERROR", f"{what} stopped: {exc!r}", where)


class _FindingsLater:
    """A hunt's findings and issues once the Sigma rules over logs are done (`_RulesMeanwhile`;
    none when `evaluating` is None): those found before them, theirs, and an Issue if they
    stopped; the findings below `min_level` left out. Made when first asked for."""

    def __init__(
        self,
        findings: list[Finding],
        issues: list[Issue],
        evaluating: _RulesMeanwhile | None,
        min_level: Severity,
        paths: Sequence[str],
    ) -> None:
        self._made: tuple[tuple[Finding, ...], tuple[Issue, ...]] | None = None
        self._parts = (findings, issues, evaluating, min_level, paths)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self._done()[0]

    @property
    def issues(self) -> tuple[Issue, ...]:
        return self._done()[1]

    def _done(self) -> tuple[tuple[Finding, ...], tuple[Issue, ...]]:
        if self._made is None:
            findings, issues, evaluating, min_level, paths = self._parts
            if evaluating is not None:
                try:
                    findings.extend(evaluating.findings())
                except Exception as exc:  # a rule engine bug must not end the hunt either
                    issues.append(_stopped("Sigma rules over logs", exc, paths))
            kept = tuple(f for f in findings if f.severity >= min_level)
            self._made = (kept, tuple(issues))
        return self._made


class _Later(Sequence[T]):
    """The findings or the issues of a `_FindingsLater`, waited for when first read."""

    def __init__(self, items: Callable[[], tuple[T, ...]]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[T]:
        return iter(self._items())

    def __eq__(self, other: object) -> bool:
        return self._items() == (tuple(other) if isinstance(other, Sequence) else other)

    def __hash__(self) -> int:
        return hash(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


class _RulesMeanwhile:
    """Sigma rules over the records of the events, run by a forked child (on big runs) while
    this process goes on with the analytics and writes the events: on two processors, one each.
    (Two children with half the rules each, a third process on two processors, were measured
    slower: 1.80 against 1.71 s for the benchmark's hunt with SigmaHQ's rules, as this process
    then had less than a processor for its own part.) `findings()` gives what
    `evaluate_log_rules` gives, made here when the child failed."""

    def __init__(self, rules: LogRuleSet, events: Sequence[JobEvent]) -> None:
        forked = len(events) >= SIGMA_FORKED_EVENTS
        self._made = ForkedValue(partial(_rule_findings, rules, events), fork=forked)
        self.forked = self._made.forked  # whether anything is done meanwhile

    def findings(self) -> Iterator[Finding]:
        try:
            yield from self._made.result()
        finally:
            self._made.cancel()


def _rule_findings(rules: LogRuleSet, events: Sequence[JobEvent]) -> list[Finding]:
    return list(evaluate_log_rules(rules, events))


def _task_fires_at(raw: str, moment: datetime, host_tz: str | None) -> bool | None:
    """`trigger_times.task_fires_at`, loaded when a hunt first judges a task launch."""
    from .collectors.windows.trigger_times import task_fires_at

    return task_fires_at(raw, moment, host_tz)


def _definition_findings(events: Iterable[JobEvent]) -> list[Finding]:
    """The inventory analyzers on the task definitions carried by events, once per definition."""
    seen: dict[str, ScheduledJob] = {}
    for event in EventIndex.of(events).having("definition"):
        definition = event.extra.get("definition")
        if isinstance(definition, ScheduledJob):
            seen.setdefault(definition.job_id, definition)
    if not seen:
        return []
    from .analyzers.registry import ANALYZERS  # the inventory analyzers

    found: list[Finding] = []
    for analyzer in ANALYZERS:
        found.extend(analyzer.analyze(tuple(seen.values()), ()))
    return found


def _shown(events: Iterable[JobEvent]) -> list[JobEvent]:
    """Events for the output: network logons only when a task event shares their session."""
    index = EventIndex.of(events)
    if not index.acting("logon"):
        return list(index)
    sessions = {
        (e.host, e.extra.get("logon_id"))
        for e in index.having("logon_id")
        if e.action != "logon" and e.extra.get("logon_id")
    }
    return [
        e for e in index if e.action != "logon" or (e.host, e.extra.get("logon_id")) in sessions
    ]
