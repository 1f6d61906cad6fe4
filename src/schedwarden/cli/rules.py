"""`schedwarden rules list|lint|test|convert|fields`: the Sigma rule pack (built-in + --rules).

Exit codes: 0 fine, 1 a lint error / a failing case / a rule a backend refused, 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from ..analyzers.allowlist import RULES as ALLOWLIST_RULES
from ..analyzers.cron_hygiene import RULES as CRON_RULES
from ..analyzers.log_sigma import LogRule, load_log_rules
from ..analyzers.log_sigma_pack import (
    BuiltinLogRule,
    builtin_log_pack,
    lint_log_rules,
    run_log_cases,
)
from ..analyzers.privilege import RULES as PRIVILEGE_RULES
from ..analyzers.sigma_rules import (
    Rule,
    RulePack,
    convert,
    field_documentation,
    installed_targets,
    lint,
    load_pack,
    run_cases,
)
from ..model import render_untrusted

F = TypeVar("F", bound=Callable[..., Any])
PYTHON_RULES = (
    ("cron_hygiene", CRON_RULES),
    ("privilege", PRIVILEGE_RULES),
    ("allowlist", ALLOWLIST_RULES),
)


def pack_options(func: F) -> F:
    func = click.option(
        "--rules",
        "rules_dirs",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Add the Sigma rules in this folder or file (repeatable).",
    )(func)
    return click.option("--no-builtin", is_flag=True, help="Leave out the built-in rule pack.")(
        func
    )


def _pack(rules_dirs: Sequence[Path], no_builtin: bool) -> RulePack:
    return load_pack(list(rules_dirs), builtin=not no_builtin)


def _selected(pack: RulePack, names: Sequence[str]) -> list[Rule]:
    if not names:
        return list(pack.rules)
    chosen = []
    for name in names:
        rule = pack.find(name)
        if rule is None:
            raise click.UsageError(f"no rule {render_untrusted(name)} in the pack")
        chosen.append(rule)
    return chosen


def _out(text: str) -> None:
    """Rule files are input like evidence: a line with a control, bidi or undecodable character
    is escaped before the terminal; other lines (queries to copy) are printed as they are."""
    click.echo("\n".join(_safe(line) for line in text.split("\n")))


def _safe(line: str) -> str:
    bare = line.replace("\\", "")
    return line if render_untrusted(bare) == bare else render_untrusted(line)


@click.group("rules")
def rules_command() -> None:
    """The Sigma rules schedwarden runs over scheduled jobs (log source category
    scheduled_job; see `schedwarden rules fields`)."""


LOGS_OPTION = click.option(
    "--logs",
    is_flag=True,
    help="The rules `hunt` runs over logs instead: our own (rules/logs) and, with --rules, those "
    "of a folder that `hunt --sigma` would use.",
)


@rules_command.command("list")
@pack_options
@LOGS_OPTION
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(rules_dirs: tuple[Path, ...], no_builtin: bool, logs: bool, fmt: str) -> None:
    """Every rule with its level, ATT&CK techniques and product; then the Python rules."""
    if logs:
        _list_log_rules(_log_rules(rules_dirs, no_builtin), fmt)
        return
    pack = _pack(rules_dirs, no_builtin)
    if fmt == "json":
        rows = [
            {
                "rule_id": r.rule_id,
                "sigma_id": r.sigma_id,
                "title": r.title,
                "level": r.level.value,
                "techniques": list(r.techniques),
                "product": r.product,
                "service": r.service,
                "builtin": r.builtin,
                "path": r.path,
            }
            for r in pack.rules
        ]
        rows += [
            {"rule_id": rule_id, "title": title, "analyzer": analyzer, "kind": "python"}
            for analyzer, table in PYTHON_RULES
            for rule_id, title in table.items()
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    width = max((len(r.rule_id) for r in pack.rules), default=10)
    for rule in pack.rules:
        scope = rule.product or "any"
        if rule.service:
            scope += f"/{rule.service}"
        origin = "" if rule.builtin else f"  [{rule.path}]"
        _out(
            f"{rule.rule_id.ljust(width)}  {rule.level.value:<13} {scope:<11} "
            f"{','.join(rule.techniques):<28} {rule.title}{origin}"
        )
    click.echo(f"\n{len(pack.rules)} Sigma rules; Python rules (severity set per finding):")
    for analyzer, table in PYTHON_RULES:
        for rule_id, title in table.items():
            click.echo(f"{rule_id.ljust(width)}  {analyzer:<13} {title}")
    _report_problems(pack, lint_level=False)


@rules_command.command("lint")
@pack_options
@LOGS_OPTION
def lint_command(rules_dirs: tuple[Path, ...], no_builtin: bool, logs: bool) -> None:
    """Parse and convert every rule with pySigma; check what the pack asks of a rule (level,
    ATT&CK tags, description, false positives, remediation, a match and a nomatch case). With
    --logs: our log rules so, and the rules of --rules folders as `hunt --sigma` reads them,
    with why any is left out (not about scheduled tasks files are not counted)."""
    if logs:
        usable, found = lint_log_rules(list(rules_dirs), builtin=not no_builtin)
        for line in found:
            _out(line)
        log_errors = sum(1 for line in found if line.startswith("error:"))
        click.echo(
            f"{usable} rules over logs usable, {log_errors} error(s), "
            f"{len(found) - log_errors} warning(s)"
        )
        raise SystemExit(1 if log_errors else 0)
    pack = _pack(rules_dirs, no_builtin)
    problems = lint(pack)
    for problem in problems:
        _out(str(problem))
    errors = sum(1 for p in problems if p.level == "error")
    warnings = len(problems) - errors
    click.echo(f"{len(pack.rules)} rules usable, {errors} error(s), {warnings} warning(s)")
    raise SystemExit(1 if errors else 0)


@rules_command.command("test")
@pack_options
@LOGS_OPTION
@click.argument("names", nargs=-1)
def test_command(
    rules_dirs: tuple[Path, ...], no_builtin: bool, logs: bool, names: tuple[str, ...]
) -> None:
    """Run each rule's own cases (`cases: match:` / `nomatch:` rows) through the same SQL as an
    audit (with --logs: as a hunt). NAMES picks rules by id, name or title."""
    if logs:
        if rules_dirs or no_builtin:
            raise click.UsageError("--logs tests our own log rules: no --rules, no --no-builtin")
        _test_log_rules(names)
        return
    pack = _pack(rules_dirs, no_builtin)
    _report_problems(pack, lint_level=False)
    _report_cases((rule.rule_id, run_cases(rule)) for rule in _selected(pack, names))


class _Case(Protocol):  # a case of the inventory pack or of the log pack
    @property
    def expect_match(self) -> bool: ...
    @property
    def row(self) -> Mapping[str, object]: ...


class _CaseResult(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def case(self) -> _Case: ...
    @property
    def passed(self) -> bool: ...


def _report_cases(results_by_rule: Iterable[tuple[str, Sequence[_CaseResult]]]) -> None:
    """A line per rule, the cases that failed, the totals; exit 1 when a case failed."""
    passed = failed = untested = 0
    for rule_id, results in results_by_rule:
        if not results:
            untested += 1
            _out(f"NO CASES {rule_id}")
            continue
        bad = [r for r in results if not r.passed]
        passed += len(results) - len(bad)
        failed += len(bad)
        _out(f"{'FAIL' if bad else 'ok  '} {rule_id} ({len(results)} cases)")
        for result in bad:
            want = "match" if result.case.expect_match else "not match"
            _out(f"     case {result.number} should {want}: {dict(result.case.row)}")
    click.echo(
        f"{passed} passed, {failed} failed" + (f", {untested} without cases" if untested else "")
    )
    raise SystemExit(1 if failed else 0)


@rules_command.command("convert")
@pack_options
@click.option("-t", "--target", required=True, help="pySigma backend (splunk, lucene, sqlite...).")
@click.option("-p", "--pipeline", "pipelines", multiple=True, help="Installed pipeline to apply.")
@click.option("--output-format", default=None, help="Backend output format (backend-specific).")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.argument("names", nargs=-1)
def convert_command(
    rules_dirs: tuple[Path, ...],
    no_builtin: bool,
    target: str,
    pipelines: tuple[str, ...],
    output_format: str | None,
    fmt: str,
    names: tuple[str, ...],
) -> None:
    """Turn rules into another SIEM's query language through an installed pySigma backend
    (pip install 'schedwarden[splunk]' or '[elasticsearch]'). The queries use our field names:
    point them at an index of schedwarden's inventory."""
    pack = _pack(rules_dirs, no_builtin)
    chosen = _selected(pack, names)
    try:
        results = convert(chosen, target, pipelines, output_format)
    except KeyError:
        backends, _ = installed_targets()
        raise click.UsageError(
            f"no pySigma backend {render_untrusted(target)}; installed: "
            f"{', '.join(sorted(backends)) or 'none'}"
        ) from None
    except LookupError as exc:
        raise click.UsageError(f"no installed pipeline {render_untrusted(str(exc))}") from None
    failed = [r for r in results if r.error]
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {"rule_id": r.rule.rule_id, "title": r.rule.title, "queries": list(r.queries)}
                    | ({"error": r.error} if r.error else {})
                    for r in results
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for result in results:
            if result.error:
                continue
            _out(f"# {result.rule.rule_id}: {result.rule.title}")
            for query in result.queries:
                _out(query)
            click.echo()
    for result in failed:
        sys.stderr.write(
            f"schedwarden: {render_untrusted(result.rule.rule_id)}: {target} refused it: "
            f"{render_untrusted(result.error or '')}\n"
        )
    raise SystemExit(1 if failed else 0)


@rules_command.command("fields")
def fields_command() -> None:
    """The fields of the scheduled_job log source that rules can test."""
    click.echo(field_documentation())


def _report_problems(pack: RulePack, *, lint_level: bool) -> None:
    for problem in pack.problems:
        if lint_level or problem.level == "error":
            sys.stderr.write(f"schedwarden: rule skipped: {render_untrusted(str(problem))}\n")


def _log_rules(rules_dirs: Sequence[Path], no_builtin: bool) -> list[tuple[LogRule, bool]]:
    """(rule, built in) of the rules over logs: ours unless left out, then a folder's."""
    rules = [] if no_builtin else [(r.rule, True) for r in _log_pack()]
    if rules_dirs:
        loaded = load_log_rules(list(rules_dirs))
        rules += [(rule, False) for rule in loaded.rules]
        for problem in loaded.skipped:
            sys.stderr.write(f"schedwarden: rule skipped: {render_untrusted(problem)}\n")
    return rules


def _log_pack() -> tuple[BuiltinLogRule, ...]:
    rules, problems = builtin_log_pack()
    for problem in problems:
        sys.stderr.write(f"schedwarden: rule skipped: {render_untrusted(problem)}\n")
    return rules


def _list_log_rules(rules: Sequence[tuple[LogRule, bool]], fmt: str) -> None:
    if fmt == "json":
        rows = [
            {
                "rule_id": r.rule_id,
                "title": r.title,
                "level": r.level.value,
                "techniques": list(r.techniques),
                "scope": r.scope,
                "fields": list(r.fields),
                "builtin": builtin,
                "path": r.path,
            }
            for r, builtin in rules
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    width = max((len(r.rule_id) for r, _ in rules), default=10)
    for rule, builtin in rules:
        origin = "" if builtin else f"  [{rule.path}]"
        _out(
            f"{rule.rule_id.ljust(width)}  {rule.level.value:<13} {rule.scope:<24} "
            f"{','.join(rule.techniques):<20} {rule.title}{origin}"
        )
    click.echo(f"\n{len(rules)} Sigma rules over logs")


def _test_log_rules(names: Sequence[str]) -> None:
    pack = _log_pack()
    wanted = {n.casefold() for n in names}
    chosen = [
        r
        for r in pack
        if not wanted or {r.rule.rule_id.casefold(), r.rule.title.casefold()} & wanted
    ]
    if wanted and not chosen:
        raise click.UsageError(f"no such log rule: {render_untrusted(', '.join(names))}")
    _report_cases((rule.rule.rule_id, run_log_cases(rule)) for rule in chosen)
