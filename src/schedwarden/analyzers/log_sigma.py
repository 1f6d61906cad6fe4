"""Sigma rules over the log records the readers kept (`hunt --sigma DIR`).

Only rules for the log sources those records come from are used: Windows `process_creation`
(Sysmon 1, Security 4688 mapped to Sysmon's field names), `file_event` (Sysmon 11), the registry
categories (Sysmon 12/13/14), and the `security`, `taskscheduler` and `sysmon` services; and of
those only rules about scheduled tasks (tagged T1053, or naming schtasks, the Tasks folders, the
TaskCache, atsvc or the task event ids). Every other rule is skipped with a reason. The records
are the ones the readers filtered for task activity, so a rule sees no unrelated record.

Rules run through the same pySigma SQLite backend and table as the inventory rules: values from
a rule reach SQL only as quoted literals, rows are bound parameters, nothing is executed.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import re2

from ..model import Finding, JobEvent, ScheduledJob, Severity
from .compiled_pack import rule_paths
from .log_sigma_linux import LINUX_RELEVANT, linux_scope
from .sigma_table import CI_PREFIX, JobTable, required_integers

if TYPE_CHECKING:
    from sigma.rule import SigmaRule

MAX_RULE_BYTES = 256 * 1024
MAX_RULE_FILES = 20_000
SERVICES = {
    "Security": "security",
    "Microsoft-Windows-TaskScheduler/Operational": "taskscheduler",
    "Microsoft-Windows-Sysmon/Operational": "sysmon",
}
CATEGORIES = frozenset(
    {"process_creation", "file_event", "registry_event", "registry_add", "registry_delete",
     "registry_set", "registry_rename"}
)  # fmt: skip
_RELEVANT = re.compile(
    r"t1053|schtasks|\\tasks\\|taskcache|atsvc|\b(?:4698|4699|4700|4701|4702)\b|scheduled.?task",
    re.IGNORECASE,
)
_FIELD = re.compile(r"`([^`]+)`")


@dataclass(frozen=True, slots=True)
class LogRule:
    rule_id: str
    title: str
    level: Severity
    techniques: tuple[str, ...]
    scope: str
    conditions: tuple[str, ...]
    fields: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class LogRuleSet:
    rules: tuple[LogRule, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileRules:
    """What one rule file converts to: its usable rules (their `path` left empty: the same
    bytes convert the same wherever they are) and why some of it is not usable."""

    rules: tuple[LogRule, ...]
    problems: tuple[str, ...]


class RememberedRules(Protocol):
    """Conversions kept between runs, by the bytes of the rule file (`log_rule_cache`)."""

    def get(self, data: bytes) -> FileRules | None: ...

    def put(self, data: bytes, found: FileRules) -> None: ...

    def save(self) -> None: ...


def load_log_rules(paths: Sequence[Path], cache: RememberedRules | None = None) -> LogRuleSet:
    """The usable rules in these files or folders (`.yml`/`.yaml`), and why the others are not.
    A file whose conversion `cache` remembers is not converted again."""
    rules: list[LogRule] = []
    skipped: list[str] = []
    converter: _Converter | None = None  # made for the first file to convert
    for path in _rule_files(paths)[:MAX_RULE_FILES]:
        try:
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_size > MAX_RULE_BYTES:
                    skipped.append(f"{path}: larger than {MAX_RULE_BYTES} bytes")
                    continue
                data = stream.read()
        except OSError as exc:
            skipped.append(f"{path}: {_problem(exc)}")
            continue
        found = cache.get(data) if cache is not None else None
        if found is None:
            converter = converter or _Converter()
            found = converter.convert(data)
            if cache is not None:
                cache.put(data, found)
        rules += (replace(rule, path=path) for rule in found.rules)
        skipped += (f"{path}: {problem}" for problem in found.problems)
    if cache is not None:
        cache.save()
    return LogRuleSet(tuple(rules), tuple(skipped))


def _rule_files(paths: Sequence[Path]) -> list[str]:
    """The files given, and the rule files in the folders given."""
    files: list[str] = []
    for given in paths:
        files += rule_paths(given) if given.is_dir() else [str(given)]
    return files


def _problem(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class _Converter:
    """Rule files through pySigma (loaded only when a file has to be converted)."""

    def __init__(self) -> None:
        from .sigma_backend import JobQueryBackend

        self.backend = JobQueryBackend()

    def convert(self, data: bytes) -> FileRules:
        from sigma.rule import SigmaRule

        from .sigma_backend import sigma_collection

        try:
            text = data.decode("utf-8")
            windows, linux = relevance(data, text)
            if not windows and not linux:
                return FileRules((), ())  # not about scheduled tasks: not even parsed
            collection = sigma_collection(text)
        except Exception as exc:  # not UTF-8 or not YAML: that file only
            return FileRules((), (_problem(exc),))
        rules: list[LogRule] = []
        problems: list[str] = []
        for item in collection.rules:
            if not isinstance(item, SigmaRule) or item.errors:
                continue
            scope = _scope(item) if windows else None
            if scope is None and linux:
                scope = linux_scope(item)  # Linux log sources: log_sigma_linux
            if scope is None:
                continue
            try:
                conditions = tuple(str(q) for q in self.backend.convert_rule(item))  # type: ignore[no-untyped-call]
            except Exception as exc:
                problems.append(f"{item.title}: cannot be converted: {exc}")
                continue
            fields = tuple(
                sorted({f.removeprefix(CI_PREFIX) for c in conditions for f in _FIELD.findall(c)})
            )
            techniques = tuple(
                sorted(
                    {
                        t.name.upper()
                        for t in item.tags
                        if t.namespace == "attack" and t.name.lower().startswith("t")
                    }
                )
            )
            rules.append(
                LogRule(
                    rule_id=f"SIGMA_{item.id}" if item.id else f"SIGMA_{item.title}",
                    title=str(item.title),
                    level=Severity.parse(str(item.level)) if item.level else Severity.MEDIUM,
                    techniques=techniques,
                    scope=scope,
                    conditions=conditions,
                    fields=fields,
                    path="",
                )
            )
        return FileRules(tuple(rules), tuple(problems))


def rule_document(rule: LogRule) -> dict[str, object]:
    """A rule as JSON keeps it (a converted pack, the cache)."""
    return {
        "rule_id": rule.rule_id,
        "title": rule.title,
        "level": rule.level.value,
        "techniques": list(rule.techniques),
        "scope": rule.scope,
        "conditions": list(rule.conditions),
        "fields": list(rule.fields),
        "path": rule.path,
    }


def rule_of(item: Mapping[str, Any]) -> LogRule:
    """The rule of a `rule_document`; KeyError, TypeError or ValueError if it is not one."""
    texts = {key: item[key] for key in ("rule_id", "title", "scope", "path")}
    lists = {key: item[key] for key in ("techniques", "conditions", "fields")}
    if not all(isinstance(v, str) for v in texts.values()) or not all(
        isinstance(v, list) and all(isinstance(e, str) for e in v) for v in lists.values()
    ):
        raise TypeError("not a converted rule")
    return LogRule(
        rule_id=texts["rule_id"],
        title=texts["title"],
        level=Severity(item["level"]),
        techniques=tuple(lists["techniques"]),
        scope=texts["scope"],
        conditions=tuple(lists["conditions"]),
        fields=tuple(lists["fields"]),
        path=texts["path"],
    )


def relevance(data: bytes, text: str) -> tuple[bool, bool]:
    """Whether a rule file (its bytes, and them decoded) may be about scheduled tasks on Windows,
    and on Linux, checked before it is parsed: whether it holds `_RELEVANT`, `LINUX_RELEVANT`.
    Most files of a rule folder are ASCII; RE2 tests their bytes five times as fast as `re`
    tests the text (and the same way: no letter outside ASCII folds to one inside it there)."""
    if not data.isascii():  # IGNORECASE folds some letters to ASCII ones (Kelvin sign: k)
        return _RELEVANT.search(text) is not None, LINUX_RELEVANT.search(text) is not None
    windows, linux = _relevance_patterns()
    return windows.search(data) is not None, linux.search(data) is not None


@cache
def _relevance_patterns() -> tuple[re2._Regexp, re2._Regexp]:
    return re2.compile(b"(?i)" + _RELEVANT.pattern.encode()), re2.compile(
        b"(?i)" + LINUX_RELEVANT.pattern.encode()
    )


def _scope(rule: SigmaRule) -> str | None:
    source = rule.logsource
    if (source.product or "").casefold() != "windows":
        return None
    if source.category:
        category = source.category.casefold()
        return category if category in CATEGORIES else None
    service = (source.service or "").casefold()
    return service if service in SERVICES.values() else None


def rows_of(
    event: JobEvent, wanted: Set[str] | None = None
) -> tuple[list[str], dict[str, object]] | None:
    """The scopes a record belongs to and its fields (Sysmon's names), or None if not a record
    (or, given the `wanted` scopes, if it belongs to none of them)."""
    channel = str(event.extra.get("channel") or "")
    service = SERVICES.get(channel)
    data = event.extra.get("event_data")
    if service is None or not isinstance(data, Mapping):
        return None
    event_id = event.extra.get("event_id")
    scopes = [service]
    process = (service, event_id) in (("sysmon", 1), ("security", 4688))
    if process:
        scopes.append("process_creation")
    elif (service, event_id) == ("sysmon", 11):
        scopes.append("file_event")
    elif service == "sysmon" and event_id in (12, 13, 14):
        scopes.append("registry_event")
        kind = str(_value(data.get("EventType")) or "").casefold()
        scopes.append(
            {
                12: "registry_delete" if kind.startswith("delete") else "registry_add",
                13: "registry_set",
                14: "registry_rename",
            }[int(str(event_id))]
        )
    if wanted is not None and wanted.isdisjoint(scopes):
        return None
    row: dict[str, object] = {
        k if k.__class__ is str else str(k): v if v.__class__ in _PLAIN else _value(v)
        for k, v in data.items()
    }
    row["EventID"] = event_id
    row["Channel"] = channel
    row["Computer"] = event.host
    definition = event.extra.get("definition")
    if isinstance(definition, ScheduledJob):
        row["TaskContentNew" if event_id == 4702 else "TaskContent"] = definition.raw
    if process:
        row.setdefault("Image", row.get("NewProcessName"))
        row.setdefault("ParentImage", row.get("ParentProcessName"))
        row.setdefault("User", row.get("SubjectUserName"))
    return scopes, row


_PLAIN = frozenset({str, int, float, bool, type(None)})  # kept as they are, as `_value` keeps them


def _value(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float) else str(value)


def evaluate(rules: LogRuleSet, events: Sequence[JobEvent]) -> Iterator[Finding]:
    if not rules.rules:
        return
    scoped: dict[str, list[tuple[JobEvent, dict[str, object]]]] = {}
    wanted = {rule.scope for rule in rules.rules}
    for event in events:
        found = rows_of(event, wanted)
        if found is not None:
            for scope in found[0]:
                scoped.setdefault(scope, []).append((event, found[1]))
    by_scope: dict[str, list[LogRule]] = {}
    for rule in rules.rules:
        by_scope.setdefault(rule.scope, []).append(rule)
    for scope, scope_rules in by_scope.items():
        items = _possible(scoped.get(scope) or [], [c for r in scope_rules for c in r.conditions])
        if not items:
            continue
        fields = {f for _, row in items for f in row} | {f for r in scope_rules for f in r.fields}
        conditions = [c for r in scope_rules for c in r.conditions]
        table = JobTable(sorted(fields), [row for _, row in items], conditions=conditions)
        try:
            for rule in scope_rules:
                hits: set[int] = set()
                for condition in rule.conditions:
                    try:
                        hits.update(table.select(condition))
                    except sqlite3.Error:
                        continue
                for index in sorted(hits):
                    event = items[index][0]
                    yield Finding(
                        rule_id=rule.rule_id,
                        title=rule.title,
                        severity=rule.level,
                        techniques=rule.techniques,
                        job_id=_job_id(event),
                        evidence=event.evidence,
                        message=f"Sigma rule {rule.title!r} matched {event.action} of "
                        f"{event.job_name or 'a record'} (record {event.extra.get('record_id')})",
                        remediation=f"See the rule in {rule.path}.",
                    )
        finally:
            table.close()


def _possible(
    items: list[tuple[JobEvent, dict[str, object]]], conditions: Sequence[str]
) -> list[tuple[JobEvent, dict[str, object]]]:
    """The rows some condition may select, as far as their event id says: when each condition
    holds only on some ids (`required_integers`; the rules of a service name theirs), a row of
    another id is left out of the table (most of a Security log's records: logons)."""
    allowed: set[int] = set()
    for condition in conditions:
        ids = required_integers(condition, "EventID")
        if ids is None:
            return items
        allowed |= ids
    return [item for item in items if _may_be(item[1].get("EventID"), allowed)]


def _may_be(event_id: object, allowed: set[int]) -> bool:
    """Whether a row of this event id may hold one of `allowed` as SQLite compares it (null
    never does; a value of another type is left to SQLite)."""
    if event_id is None:
        return False
    return type(event_id) is not int or event_id in allowed


def _job_id(event: JobEvent) -> str | None:
    value = event.extra.get("job_id")
    return value if isinstance(value, str) else None
