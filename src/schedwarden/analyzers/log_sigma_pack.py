"""Our own Sigma rules over logs (`schedwarden/rules/logs/`), run by `hunt` by default beside a
user's `--sigma` folders, and their test cases.

The files are Sigma rules for the Windows and Linux log sources `log_sigma` and
`log_sigma_linux` read, with the pack's own fields as in the inventory pack (`rules/README.md`):
`name` (the finding's rule id), `remediation`, and `cases` (`match:`/`nomatch:` rows in the log
source's field names) which `run_log_cases` runs through the same SQL a hunt runs. They only
cover what the built-in analytics do not report already: cron's own tampering lines
(INSECURE MODE, WRONG FILE OWNER, ...) are `log_t1053` findings, and a task definition carried
by 4698/4702 is judged by the inventory rules, so neither has a rule here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from ..model import Finding, JobEvent
from . import compiled_pack
from .compiled_pack import COMPILED, rule_files
from .log_base import EventIndex
from .log_sigma import LogRule, LogRuleSet, load_log_rules, rule_document, rule_of
from .log_sigma import evaluate as evaluate_windows
from .log_sigma_linux import linux_findings, prepare_linux
from .sigma_table import JobTable, RegexError

FOLDER = ("rules", "logs")


@dataclass(frozen=True, slots=True)
class LogCase:
    expect_match: bool
    row: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class BuiltinLogRule:
    """A rule of the pack as loaded, with what the pack adds to Sigma."""

    rule: LogRule
    remediation: str
    falsepositives: tuple[str, ...]
    cases: tuple[LogCase, ...]
    missing: tuple[str, ...] = ()  # what the pack asks of a rule and this one lacks (`lint`)


@lru_cache(maxsize=1)
def builtin_log_pack() -> tuple[tuple[BuiltinLogRule, ...], tuple[str, ...]]:
    """Every rule of the pack, and the problems that kept any rule out (none is expected): as
    shipped converted (`compiled.json`) when that file was made from the rule files as they are
    now, else converted here, through pySigma."""
    folder = resources.files("schedwarden").joinpath(*FOLDER)
    with resources.as_file(folder) as path:
        sources = rule_files(path)
        shipped = _shipped(path / COMPILED, _digest(sources))
        return shipped if shipped is not None else compile_pack(path, sources)


def compile_pack(
    folder: Path, sources: Sequence[Traversable]
) -> tuple[tuple[BuiltinLogRule, ...], tuple[str, ...]]:
    """The pack converted from its rule files (`sources`, in `folder`) through pySigma."""
    import yaml  # only to convert: a hunt reads the pack as shipped

    extras: dict[str, tuple[str, str, tuple[str, ...], tuple[LogCase, ...], tuple[str, ...]]] = {}
    problems: list[str] = []
    for item in sources:
        try:
            document = yaml.safe_load(item.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{item.name}: {exc}")
            continue
        if not isinstance(document, Mapping) or not document.get("id"):
            problems.append(f"{item.name}: not a rule with an id")
            continue
        cases = _cases(document.get("cases"))
        extras[f"SIGMA_{document['id']}"] = (
            str(document.get("name") or document["id"]),
            str(document.get("remediation") or "").strip(),
            tuple(str(f) for f in document.get("falsepositives") or ()),
            cases,
            _missing(document, cases),
        )
    loaded = load_log_rules([folder])
    problems += loaded.skipped
    rules: list[BuiltinLogRule] = []
    for rule in loaded.rules:
        name, remediation, falsepositives, cases, missing = extras.get(
            rule.rule_id, (rule.rule_id, "", (), (), ())
        )
        rules.append(
            BuiltinLogRule(
                replace(
                    rule, rule_id=name, path=f"{'/'.join(FOLDER)}/{rule.path.rsplit('/', 1)[-1]}"
                ),
                remediation,
                falsepositives,
                cases,
                missing,
            )
        )
    absent = set(extras) - {r.rule_id for r in loaded.rules}
    problems += [
        f"{extras[m][0]}: not loaded (log source not read by hunt?)" for m in sorted(absent)
    ]
    return tuple(rules), tuple(problems)


# ---------------------------------------------------------------------------------------------
# The pack as shipped converted (`compiled_pack`): `hunt` runs our rules without loading pySigma.
# `compiled.json` holds what `compile_pack` returns and the digest of the rule files it was made
# from. Remake it with `python -m schedwarden.analyzers.log_sigma_pack`.

COMPILED_SCHEMA = "schedwarden.log-pack/1"


def _digest(sources: Sequence[Traversable]) -> str:
    return compiled_pack.digest((source.name, source.read_bytes()) for source in sources)


def _shipped(
    path: Traversable, digest: str
) -> tuple[tuple[BuiltinLogRule, ...], tuple[str, ...]] | None:
    """The pack in `path` if it was made from rule files of this digest; None if not, or if it
    cannot be read."""
    return compiled_pack.shipped(path, COMPILED_SCHEMA, digest, _pack_of)


def _pack_of(document: Mapping[str, Any]) -> tuple[tuple[BuiltinLogRule, ...], tuple[str, ...]]:
    return (
        tuple(_rule_of(item) for item in document["rules"]),
        tuple(str(p) for p in document["problems"]),
    )


def pack_document(folder: Path) -> dict[str, object]:
    """What `compiled.json` holds for the rule files in `folder`."""
    sources = rule_files(folder)
    rules, problems = compile_pack(folder, sources)
    content = {"rules": [_document_of(rule) for rule in rules], "problems": list(problems)}
    return compiled_pack.document(COMPILED_SCHEMA, _digest(sources), content)


def _document_of(rule: BuiltinLogRule) -> dict[str, object]:
    return {
        **rule_document(rule.rule),
        "remediation": rule.remediation,
        "falsepositives": list(rule.falsepositives),
        "cases": [{"match": c.expect_match, "row": dict(c.row)} for c in rule.cases],
        "missing": list(rule.missing),
    }


def _rule_of(item: Mapping[str, Any]) -> BuiltinLogRule:
    return BuiltinLogRule(
        rule_of(item),
        str(item["remediation"]),
        tuple(str(f) for f in item["falsepositives"]),
        tuple(LogCase(bool(c["match"]), dict(c["row"])) for c in item["cases"]),
        tuple(str(m) for m in item["missing"]),
    )


def with_builtin(user: LogRuleSet | None) -> LogRuleSet:
    """The pack's rules, then a user's (`--sigma`)."""
    ours = tuple(r.rule for r in builtin_log_pack()[0])
    if user is None:
        return LogRuleSet(ours, ())
    return LogRuleSet(ours + user.rules, user.skipped)


def evaluate_log_rules(rules: LogRuleSet, events: Sequence[JobEvent]) -> Iterator[Finding]:
    """Every rule, Windows and Linux, over the records of the events; findings of the pack's
    rules carry the rule's own remediation."""
    remedies = {r.rule.rule_id: r.remediation for r in builtin_log_pack()[0] if r.remediation}
    # each side only sees its own records: the Windows ones (with a channel) are found in the
    # pass that makes the Linux rows, or in one of their own when no rule is for Linux logs
    windows: list[JobEvent] = []
    linux = prepare_linux(rules, events, aside=windows)
    found = (
        *evaluate_windows(
            rules, windows if linux is not None else EventIndex.of(events).having("channel")
        ),
        *(linux_findings(linux) if linux is not None else ()),
    )
    for finding in found:
        remedy = remedies.get(finding.rule_id)
        yield replace(finding, remediation=remedy) if remedy else finding


@dataclass(frozen=True, slots=True)
class LogCaseResult:
    rule: BuiltinLogRule
    number: int
    case: LogCase
    matched: bool

    @property
    def passed(self) -> bool:
        return self.matched == self.case.expect_match


def run_log_cases(rule: BuiltinLogRule) -> list[LogCaseResult]:
    """A rule's own cases, each row through the rule's SQL as a hunt runs it."""
    if not rule.cases:
        return []
    names: dict[str, str] = {}
    for name in (*rule.rule.fields, *(k for c in rule.cases for k in c.row)):
        names.setdefault(name.casefold(), name)
    table = JobTable(sorted(names.values()), [dict(c.row) for c in rule.cases])
    matched: set[int] = set()
    try:
        for condition in rule.rule.conditions:
            try:
                matched.update(table.select(condition))
            except (sqlite3.Error, RegexError):
                continue
    finally:
        table.close()
    return [LogCaseResult(rule, i + 1, case, i in matched) for i, case in enumerate(rule.cases)]


def _missing(document: Mapping[str, object], cases: Sequence[LogCase]) -> tuple[str, ...]:
    """What the pack asks of every rule (as of the inventory pack: `rules lint`) and `document`
    lacks."""
    tags = document.get("tags")
    wanted = {
        "level": bool(document.get("level")),
        "ATT&CK technique tag (attack.tNNNN)": isinstance(tags, list)
        and any(str(t).lower().startswith("attack.t") for t in tags),
        "description": bool(str(document.get("description") or "").strip()),
        "falsepositives": bool(document.get("falsepositives")),
        "remediation": bool(str(document.get("remediation") or "").strip()),
        "a `cases: match:` row": any(c.expect_match for c in cases),
        "a `cases: nomatch:` row": any(not c.expect_match for c in cases),
    }
    return tuple(what for what, present in wanted.items() if not present)


def lint_log_rules(folders: Sequence[Path], builtin: bool = True) -> tuple[int, list[str]]:
    """How many rules `hunt` would run, and the problems: of our pack (`error: ...`: a rule
    kept out, or lacking what the pack asks), and of the rules in `folders` as `hunt --sigma`
    reads them (`warning: ...`: a rule or file left out, and why)."""
    usable = 0
    problems: list[str] = []
    if builtin:
        rules, kept_out = builtin_log_pack()
        usable += len(rules)
        problems += [f"error: {'/'.join(FOLDER)}: {p}" for p in kept_out]
        problems += [
            f"error: {r.rule.path} ({r.rule.rule_id}): no " + ", no ".join(r.missing)
            for r in rules
            if r.missing
        ]
    if folders:
        loaded = load_log_rules(folders)
        usable += len(loaded.rules)
        problems += [f"warning: {p}" for p in loaded.skipped]
    return usable, problems


def _cases(spec: object) -> tuple[LogCase, ...]:
    if not isinstance(spec, Mapping):
        return ()
    cases: list[LogCase] = []
    for key, expect in (("match", True), ("nomatch", False)):
        rows = spec.get(key) or []
        if isinstance(rows, list):
            cases += [
                LogCase(expect, {str(k): v for k, v in row.items()})
                for row in rows
                if isinstance(row, Mapping)
            ]
    return tuple(cases)


if __name__ == "__main__":  # remake compiled.json from the rule files beside it
    with resources.as_file(resources.files("schedwarden").joinpath(*FOLDER)) as _folder:
        compiled_pack.write(_folder, pack_document(_folder))
