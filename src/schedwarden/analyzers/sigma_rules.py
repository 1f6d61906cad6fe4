"""Sigma rules over the inventory: load, lint, test, evaluate.

The built-in pack is Sigma YAML shipped in the package (`schedwarden/rules/`); a user adds folders
of their own with `--rules DIR`. Every rule is parsed and converted by pySigma (SQLite backend) once,
then run against an in-memory table holding one row per job action (`sigma_fields`). A rule that
cannot be used — bad YAML, a Sigma error, a log source that is not ours, a conversion the backend
refuses, a broken regular expression — becomes a `RuleProblem` naming its file and rule, and the
other rules run. Nothing in a rule is ever executed.

A converted rule (`Rule`) is plain data: its SQL, and what the explanation of a match needs from
its comparisons (`Leaf`, `Value`). The built-in pack is shipped so converted (`compiled_pack`:
a `compiled.json` per folder of `rules/`), so an audit, or a hunt judging the task definitions of
its logs, runs it without loading pySigma; pySigma is imported only to convert rule files: a
user's, or ours when they changed since their `compiled.json` was made (remake it with
`python -m schedwarden.analyzers.sigma_rules`; a test fails until then).

Rule files may carry two fields of ours beside Sigma's: `remediation` (one line: what to do) and
`cases` (`match:` and `nomatch:` lists of rows, field → value), which `schedwarden rules test` runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from ..model import Finding, Issue, ScheduledJob, Severity
from . import compiled_pack
from .base import Analyzer, for_dormant
from .compiled_pack import COMPILED, rule_files, rule_paths
from .context import EMPTY_CONTEXT, AnalysisContext
from .sigma_fields import (
    CATEGORY,
    FIELDS,
    PRODUCTS,
    Row,
    complete_row,
    full_text,
    is_known_field,
    job_rows,
)
from .sigma_table import CI_PREFIX, JobTable, RegexError, compile_pattern, trust_patterns

if TYPE_CHECKING:  # pySigma is loaded to convert rules, not to run them
    from sigma.rule import SigmaRule
    from sigma.types import SigmaRegularExpression, SigmaString

    from .sigma_backend import JobQueryBackend

LOG_RULES = "logs"  # the folder of Sigma rules over logs, for `hunt` (analyzers/log_sigma_pack.py)
PACK_SCHEMA = "schedwarden.rule-pack/1"  # of each folder's compiled.json
MAX_RULE_BYTES = 1 << 20
MAX_RULE_FILES = 10_000
MAX_MESSAGE_PARTS = 3
EXCERPT = 60
SHORT_PATTERN = 40
ATTACK_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")
SERVICES = frozenset(m.value for m in PRODUCTS)
DEFAULT_MECHANISM = {"linux": "cron", "windows": "windows_task", "kubernetes": "k8s_cronjob"}
DEFAULT_REMEDIATION = "Review the job; remove it if it is not approved."


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule that could not be used (`error`: skipped) or is doubtful (`warning`)."""

    path: str
    rule: str | None
    level: str
    message: str

    def __str__(self) -> str:
        who = f" ({self.rule})" if self.rule else ""
        return f"{self.level}: {self.path}{who}: {self.message}"


ValueKind = Literal[
    "regex", "string", "exists", "compare", "reference", "scalar", "expansion", "other"
]
_KINDS: dict[str, ValueKind] = {kind: kind for kind in get_args(ValueKind)}


@dataclass(frozen=True, slots=True)
class Value:
    """What a comparison of a rule asks of a field, as far as the explanation of a match says it;
    plain data, so that the pack shipped converted holds it. By `kind`:

    - `regex`: `text` is the pattern, its flags in front (`(?i)...`);
    - `string`: `text` is what is sought, without a leading or trailing wildcard; `verb` says how
      (`is`, `contains`, `starts with`, `ends with`, or `matches` when wildcards are left inside
      and `text` is the whole string); `pattern` is a regular expression that finds it in a value
      (searched ignoring case);
    - `exists`: `verb` is `set` or `absent`;
    - `compare`: `text` is the operator and the number (`lte 60`);
    - `reference`: `text` is the other field (`|fieldref`);
    - `scalar`: a boolean, a number or null;
    - `expansion`: `items` are the values it stands for (`|windash`, `|base64offset`);
    - `other`: anything else (`|cidr`, the time modifiers): only the job's value is shown.
    """

    kind: ValueKind
    text: str = ""
    verb: str = ""
    pattern: str = ""
    items: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class Leaf:
    """One positive comparison of a rule and its SQL, to say which part matched."""

    field: str | None
    value: Value
    sql: str


@dataclass(frozen=True, slots=True)
class RuleCase:
    expect_match: bool
    row: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Rule:
    path: str
    rule_id: str
    sigma_id: str | None
    title: str
    description: str
    level: Severity
    techniques: tuple[str, ...]
    tags: tuple[str, ...]
    remediation: str
    falsepositives: tuple[str, ...]
    product: str | None
    service: str | None
    conditions: tuple[str, ...]
    condition_text: str
    leaves: tuple[Leaf, ...]
    fields: tuple[str, ...]
    cases: tuple[RuleCase, ...]
    builtin: bool
    folded_fields: tuple[str, ...]
    patterns: tuple[str, ...]  # its regular expressions, negated comparisons' too
    level_given: bool  # whether the file states a level (else `level` is medium)
    remediation_given: bool  # whether the file states a remediation (else a default one)
    source: str = field(default="", compare=False, repr=False)  # the text of its file


@dataclass(frozen=True, slots=True)
class RulePack:
    rules: tuple[Rule, ...]
    problems: tuple[RuleProblem, ...] = ()
    runtime_problems: list[RuleProblem] = field(default_factory=list, compare=False)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for r in self.rules for f in r.fields))

    @property
    def folded_fields(self) -> tuple[str, ...]:
        """The fields some rule compares without regard to case (it reads `ci:<field>`)."""
        return tuple(dict.fromkeys(f for r in self.rules for f in r.folded_fields))

    def find(self, key: str) -> Rule | None:
        return next((r for r in self.rules if key in (r.rule_id, r.sigma_id, r.title)), None)


# ---------------------------------------------------------------------------------------------
# loading


def pack_folders() -> list[tuple[str, Traversable]]:
    """(display path, folder) of each folder of the built-in pack: `rules/*/` but the log rules."""
    root = resources.files("schedwarden") / "rules"
    found = [(f"rules/{e.name}", e) for e in root.iterdir() if e.is_dir() and e.name != LOG_RULES]
    return sorted(found, key=lambda f: f[0] + "/")  # the order of their files' display paths


def folder_rule_files(shown: str, folder: Traversable) -> list[tuple[str, str]]:
    """(display path, text) of the rule files of one folder of the pack."""
    return [(f"{shown}/{f.name}", f.read_text(encoding="utf-8")) for f in rule_files(folder)]


def builtin_rule_files() -> list[tuple[str, str]]:
    """(display path, text) of every rule shipped in the package, in a stable order."""
    return [found for shown, folder in pack_folders() for found in folder_rule_files(shown, folder)]


@lru_cache(maxsize=1)
def builtin_pack() -> RulePack:
    """The rules shipped in the package: each folder's as shipped converted (`compiled.json`)
    when that file was made from the folder's rule files as they are now, else converted here
    through pySigma. Their regular expressions are the reviewed ones (`trust_patterns`)."""
    rules: list[Rule] = []
    problems: list[RuleProblem] = []
    for shown, folder in pack_folders():
        files = folder_rule_files(shown, folder)
        part = shipped_part(folder, files)
        found, trouble = part if part is not None else convert_files(files)
        rules += found
        problems += trouble
    trust_patterns(pattern for rule in rules for pattern in rule.patterns)
    return RulePack(tuple(rules), tuple(problems))


def convert_files(
    files: Sequence[tuple[str, str]],
) -> tuple[tuple[Rule, ...], tuple[RuleProblem, ...]]:
    """Our rule files, each (display path, text), converted through pySigma."""
    rules: list[Rule] = []
    problems: list[RuleProblem] = []
    backend = _backend()
    for shown, text in files:
        found, trouble = load_text(shown, text, builtin=True, backend=backend)
        rules += found
        problems += trouble
    return tuple(rules), tuple(problems)


def load_pack(user_paths: Sequence[Path] = (), *, builtin: bool = True) -> RulePack:
    """The built-in pack (unless `builtin` is False) plus every rule file under `user_paths`."""
    base = builtin_pack() if builtin else RulePack(())
    rules = list(base.rules)
    problems = list(base.problems)
    backend = _backend() if user_paths else None
    seen = {r.rule_id for r in rules} | {r.sigma_id for r in rules if r.sigma_id}
    for path, text_or_problem in user_rule_files(user_paths):
        if isinstance(text_or_problem, RuleProblem):
            problems.append(text_or_problem)
            continue
        found, trouble = load_text(path, text_or_problem, builtin=False, backend=backend)
        problems += trouble
        for rule in found:
            if rule.rule_id in seen or (rule.sigma_id and rule.sigma_id in seen):
                problems.append(
                    RuleProblem(
                        path, rule.rule_id, "warning", "a rule with this id is already loaded"
                    )
                )
            seen |= {rule.rule_id} | ({rule.sigma_id} if rule.sigma_id else set())
            rules.append(rule)
    return RulePack(tuple(rules), tuple(problems))


def user_rule_files(paths: Sequence[Path]) -> Iterator[tuple[str, str | RuleProblem]]:
    """Rule files under each path (a file or a folder walked recursively), as text or a problem."""
    count = 0
    for top in paths:
        if top.is_file():
            candidates: Iterable[Path] = [top]
        elif top.is_dir():
            candidates = [Path(path) for path in rule_paths(top)]
        else:
            yield str(top), RuleProblem(str(top), None, "error", "no such file or folder")
            continue
        for path in candidates:
            count += 1
            if count > MAX_RULE_FILES:
                yield (
                    str(path),
                    RuleProblem(
                        str(path),
                        None,
                        "error",
                        f"more than {MAX_RULE_FILES} rule files: rest skipped",
                    ),
                )
                return
            try:
                with open(path, "rb") as stream:
                    data = stream.read(MAX_RULE_BYTES + 1)
            except OSError as exc:
                yield (
                    str(path),
                    RuleProblem(str(path), None, "error", f"unreadable: {exc.strerror}"),
                )
                continue
            if len(data) > MAX_RULE_BYTES:
                yield (
                    str(path),
                    RuleProblem(str(path), None, "error", f"larger than {MAX_RULE_BYTES} bytes"),
                )
                continue
            try:
                yield str(path), data.decode("utf-8")
            except UnicodeDecodeError:
                yield str(path), RuleProblem(str(path), None, "error", "not UTF-8 text")


def _backend() -> JobQueryBackend:
    from .sigma_backend import JobQueryBackend

    return JobQueryBackend()


def load_text(
    path: str, text: str, *, builtin: bool, backend: JobQueryBackend | None = None
) -> tuple[list[Rule], list[RuleProblem]]:
    """Every usable rule of one file, and a problem for each rule that is not (through pySigma)."""
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

    from .sigma_backend import sigma_collection

    backend = backend or _backend()
    try:
        collection = sigma_collection(text)
    except Exception as exc:  # YAML syntax, alias bombs: the file as a whole is unusable
        return [], [RuleProblem(path, None, "error", f"not a Sigma file: {_first_line(exc)}")]
    rules: list[Rule] = []
    per_rule = {id(e) for item in collection.rules for e in getattr(item, "errors", ())}
    problems = [  # the collection's own errors (rule errors are reported with their rule)
        RuleProblem(path, None, "error", _first_line(e))
        for e in collection.errors
        if id(e) not in per_rule
    ]
    for item in collection.rules:
        label = _label(item)
        if isinstance(item, SigmaCorrelationRule):
            problems.append(
                RuleProblem(path, label, "error", "correlation rules need timed events: skipped")
            )
            continue
        if not isinstance(item, SigmaRule):
            problems.append(RuleProblem(path, label, "error", "not a detection rule: skipped"))
            continue
        if item.errors:
            for error in item.errors:
                problems.append(RuleProblem(path, label, "error", _first_line(error)))
            continue
        rule, trouble = _compile(path, item, builtin, backend, text)
        problems += trouble
        if rule is not None:
            rules.append(rule)
    if not collection.rules and not problems:
        problems.append(RuleProblem(path, None, "error", "no rule in the file"))
    return rules, problems


def _compile(
    path: str, item: SigmaRule, builtin: bool, backend: JobQueryBackend, text: str
) -> tuple[Rule | None, list[RuleProblem]]:
    from sigma.conditions import ConditionFieldEqualsValueExpression
    from sigma.conversion.state import ConversionState
    from sigma.types import SigmaFieldReference

    label = _label(item)
    problems: list[RuleProblem] = []
    patterns: list[str] = []
    logsource = item.logsource
    category = (logsource.category or "").casefold()
    product = logsource.product.casefold() if logsource.product else None
    service = logsource.service.casefold() if logsource.service else None
    if category != CATEGORY:
        why = f"log source category is {logsource.category or 'missing'}, not {CATEGORY}"
        return None, [RuleProblem(path, label, "error", why + ": skipped")]
    if product is not None and product not in DEFAULT_MECHANISM:
        why = f"product {logsource.product} is none of {', '.join(DEFAULT_MECHANISM)}"
        return None, [RuleProblem(path, label, "error", why + ": skipped")]
    if service is not None and service not in SERVICES:
        why = f"service {logsource.service} names no mechanism ({', '.join(sorted(SERVICES))})"
        return None, [RuleProblem(path, label, "error", why + ": skipped")]
    try:
        conditions = tuple(str(q) for q in backend.convert_rule(item))  # type: ignore[no-untyped-call]
    except Exception as exc:
        return None, [RuleProblem(path, label, "error", f"cannot be converted: {_first_line(exc)}")]
    leaves: list[Leaf] = []
    fields: list[str] = []
    for condition in item.detection.parsed_condition:
        for node, negated in _walk(condition.parsed):
            value = node.value
            name = node.field if isinstance(node, ConditionFieldEqualsValueExpression) else "Text"
            fields.append(name)
            if isinstance(value, SigmaFieldReference):
                fields.append(value.field)
            for pattern in _patterns(value):
                patterns.append(pattern)
                if builtin:
                    trust_patterns([pattern])
                try:
                    _, backtracking = compile_pattern(pattern)
                except RegexError as exc:
                    return None, [RuleProblem(path, label, "error", str(exc))]
                if backtracking:
                    problems.append(
                        RuleProblem(
                            path,
                            label,
                            "warning",
                            f"regular expression {pattern!r} needs backtracking (lookaround or "
                            "backreference): matched with Python's re, not in linear time",
                        )
                    )
            if negated:
                continue
            try:
                sql = str(backend.convert_condition(node, ConversionState()))
            except Exception:  # noqa: S112 - only used to explain a match; the rule still runs
                continue
            field_name = (
                node.field if isinstance(node, ConditionFieldEqualsValueExpression) else None
            )
            leaves.append(Leaf(field_name, _plain(value), sql))
    unknown = sorted({f for f in fields if not is_known_field(f)})
    if unknown:
        problems.append(
            RuleProblem(
                path,
                label,
                "warning",
                f"field(s) {', '.join(unknown)} are not in the scheduled_job log source: "
                "always null",
            )
        )
    cases, case_problems = _cases(path, label, item.custom_attributes.get("cases"))
    problems += case_problems
    tags = tuple(str(t) for t in item.tags)
    techniques = tuple(
        t.name.upper()
        for t in item.tags
        if t.namespace == "attack" and ATTACK_TECHNIQUE.match(t.name)
    )
    remediation = item.custom_attributes.get("remediation")
    rule = Rule(
        path=path,
        rule_id=_rule_id(item, path),
        sigma_id=str(item.id) if item.id else None,
        title=item.title,
        description=item.description or "",
        level=Severity.parse(str(item.level)) if item.level else Severity.MEDIUM,
        techniques=techniques,
        tags=tags,
        remediation=str(remediation).strip() if remediation else DEFAULT_REMEDIATION,
        falsepositives=tuple(str(f) for f in item.falsepositives or ()),
        product=product,
        service=service,
        conditions=conditions,
        condition_text=" | ".join(str(c) for c in item.detection.condition),
        leaves=tuple(leaves),
        fields=tuple(dict.fromkeys(fields)),
        cases=cases,
        builtin=builtin,
        folded_fields=_folded_columns(conditions, [leaf.sql for leaf in leaves]),
        patterns=tuple(dict.fromkeys(patterns)),
        level_given=item.level is not None,
        remediation_given="remediation" in item.custom_attributes,
        source=text,
    )
    return rule, problems


def _rule_id(item: SigmaRule, path: str) -> str:
    return item.name or (str(item.id) if item.id else Path(path).stem)


_FOLDED_COLUMN = re.compile(r"`" + re.escape(CI_PREFIX) + r"((?:[^`]|``)+)`")


def _folded_columns(*texts: Iterable[str]) -> tuple[str, ...]:
    found = (
        m.group(1).replace("``", "`") for t in texts for s in t for m in _FOLDED_COLUMN.finditer(s)
    )
    return tuple(dict.fromkeys(found))


def _walk(node: Any, negated: bool = False) -> Iterator[tuple[Any, bool]]:
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(node, ConditionNOT):
        for arg in node.args:
            yield from _walk(arg, not negated)
    elif isinstance(node, ConditionAND | ConditionOR):
        for arg in node.args:
            yield from _walk(arg, negated)
    elif isinstance(node, ConditionFieldEqualsValueExpression | ConditionValueExpression):
        yield node, negated


def _patterns(value: Any) -> Iterator[str]:
    from sigma.types import SigmaExpansion, SigmaRegularExpression

    if isinstance(value, SigmaRegularExpression):
        yield _regex_text(value)
    elif isinstance(value, SigmaExpansion):
        for item in value.values:
            yield from _patterns(item)


def _regex_text(value: SigmaRegularExpression) -> str:
    flags = "".join(value.sigma_to_re_flag[f] for f in sorted(value.flags, key=lambda f: f.value))
    text = str(value.regexp)
    return f"(?{flags}){text}" if flags else text


def _plain(value: Any) -> Value:
    """A pySigma value as the explanation of a match words it."""
    from sigma.types import (
        SigmaBool,
        SigmaCompareExpression,
        SigmaExists,
        SigmaExpansion,
        SigmaFieldReference,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaString,
    )

    if isinstance(value, SigmaExpansion):
        return Value("expansion", items=tuple(_plain(item) for item in value.values))
    if isinstance(value, SigmaRegularExpression):
        return Value("regex", _regex_text(value))
    if isinstance(value, SigmaString):
        plain, verb = _string_verb(value)
        return Value("string", plain, verb, _string_pattern(value))
    if isinstance(value, SigmaExists):
        return Value("exists", verb="set" if value.exists else "absent")
    if isinstance(value, SigmaCompareExpression):
        return Value("compare", f"{value.op.name.lower()} {value.number}")
    if isinstance(value, SigmaFieldReference):
        return Value("reference", value.field)
    if isinstance(value, SigmaBool | SigmaNumber | SigmaNull):
        return Value("scalar")
    return Value("other")


def _string_verb(value: SigmaString) -> tuple[str, str]:
    from sigma.types import SpecialChars

    wildcard = SpecialChars.WILDCARD_MULTI
    inner = value
    if value.startswith(wildcard) and value.endswith(wildcard) and len(value) > 1:
        inner, verb = value[1:-1], "contains"
    elif value.endswith(wildcard):
        inner, verb = value[:-1], "starts with"
    elif value.startswith(wildcard):
        inner, verb = value[1:], "ends with"
    else:
        verb = "is"
    if inner.contains_special():
        return str(value), "matches"
    return str(inner), verb


def _string_pattern(value: SigmaString) -> str:
    """A regular expression finding the string in a value, without its outer wildcards."""
    text = str(value.to_regex().regexp)
    while text.startswith(".*"):
        text = text[2:]
    while text.endswith(".*") and not text.endswith("\\.*"):
        text = text[:-2]
    return text


def _cases(path: str, label: str, spec: object) -> tuple[tuple[RuleCase, ...], list[RuleProblem]]:
    if spec is None:
        return (), []
    bad = [RuleProblem(path, label, "warning", "`cases` must map match/nomatch to lists of rows")]
    if not isinstance(spec, Mapping):
        return (), bad
    cases: list[RuleCase] = []
    for key, expect in (("match", True), ("nomatch", False)):
        rows = spec.get(key, [])
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            return (), bad
        cases += [RuleCase(expect, {str(k): v for k, v in r.items()}) for r in rows]
    return tuple(cases), []


def _label(item: object) -> str:
    name = getattr(item, "name", None)
    title = getattr(item, "title", None)
    return str(name or title or getattr(item, "id", None) or "?")


def _first_line(exc: object) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# ---------------------------------------------------------------------------------------------
# the pack as shipped converted: what `convert_files` returns for a folder, as a document
# (`compiled_pack`), with the digest of the folder's rule files (their display paths and texts)


def _digest(files: Sequence[tuple[str, str]]) -> str:
    """Of the display paths and texts the conversion reads (`folder_rule_files`)."""
    return compiled_pack.digest((shown, text.encode()) for shown, text in files)


def shipped_part(
    folder: Traversable, files: Sequence[tuple[str, str]]
) -> tuple[tuple[Rule, ...], tuple[RuleProblem, ...]] | None:
    """The rules and problems of a folder of the pack as shipped converted, if its
    `compiled.json` was made from its rule files as they are (`files`: display path, text)."""
    read = partial(_part_of, dict(files))
    return compiled_pack.shipped(folder / COMPILED, PACK_SCHEMA, _digest(files), read)


def pack_document(shown: str, folder: Traversable) -> dict[str, object]:
    """What a folder's `compiled.json` holds for its rule files as they are: each rule with all
    its fields but `builtin` (all are) and `source` (the text of its file, read beside it)."""
    files = folder_rule_files(shown, folder)
    rules, problems = convert_files(files)
    documents = [asdict(rule) | {"level": rule.level.value} for rule in rules]
    for document in documents:
        del document["builtin"], document["source"]
    content = {"rules": documents, "problems": [asdict(p) for p in problems]}
    return compiled_pack.document(PACK_SCHEMA, _digest(files), content)


def _part_of(
    texts: Mapping[str, str], document: Mapping[str, Any]
) -> tuple[tuple[Rule, ...], tuple[RuleProblem, ...]]:
    """The rules and problems of a folder's document; `texts`: its files' texts by path."""
    problems = tuple(
        RuleProblem(str(p["path"]), _optional(p["rule"]), str(p["level"]), str(p["message"]))
        for p in document["problems"]
    )
    return tuple(_rule_of(item, texts) for item in document["rules"]), problems


def _rule_of(item: Mapping[str, Any], texts: Mapping[str, str]) -> Rule:
    path = str(item["path"])
    return Rule(
        path=path,
        rule_id=str(item["rule_id"]),
        sigma_id=_optional(item["sigma_id"]),
        title=str(item["title"]),
        description=str(item["description"]),
        level=Severity(item["level"]),
        techniques=tuple(str(t) for t in item["techniques"]),
        tags=tuple(str(t) for t in item["tags"]),
        remediation=str(item["remediation"]),
        falsepositives=tuple(str(f) for f in item["falsepositives"]),
        product=_optional(item["product"]),
        service=_optional(item["service"]),
        conditions=tuple(str(c) for c in item["conditions"]),
        condition_text=str(item["condition_text"]),
        leaves=tuple(
            Leaf(_optional(leaf["field"]), _value_of(leaf["value"]), str(leaf["sql"]))
            for leaf in item["leaves"]
        ),
        fields=tuple(str(f) for f in item["fields"]),
        cases=tuple(
            RuleCase(bool(c["expect_match"]), {str(k): v for k, v in c["row"].items()})
            for c in item["cases"]
        ),
        builtin=True,
        folded_fields=tuple(str(f) for f in item["folded_fields"]),
        patterns=tuple(str(p) for p in item["patterns"]),
        level_given=bool(item["level_given"]),
        remediation_given=bool(item["remediation_given"]),
        source=texts[path],
    )


def _value_of(item: Mapping[str, Any]) -> Value:
    return Value(
        _KINDS[item["kind"]],
        str(item["text"]),
        str(item["verb"]),
        str(item["pattern"]),
        tuple(_value_of(i) for i in item["items"]),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# evaluating


def analyze(
    jobs: Sequence[ScheduledJob],
    issues: Sequence[Issue],
    context: AnalysisContext = EMPTY_CONTEXT,
) -> Iterator[Finding]:
    pack = context.rules if context.rules is not None else builtin_pack()
    yield from evaluate(pack, jobs)


def evaluate(pack: RulePack, jobs: Sequence[ScheduledJob]) -> Iterator[Finding]:
    """A finding for every (rule, job) pair where the rule matches one of the job's actions."""
    if not pack.rules or not jobs:
        return
    rows: list[Row] = []
    owners: list[ScheduledJob] = []
    fields = pack.fields
    wanted = frozenset(fields)
    for job in jobs:
        for row in job_rows(job, wanted):
            rows.append(row)
            owners.append(job)
    if "Text" in fields:
        for row in rows:
            row["Text"] = full_text(row)
    table = JobTable(fields, rows, pack.folded_fields)
    try:
        for rule in pack.rules:
            try:
                matched = _matches(table, rule)
            except (sqlite3.Error, RegexError) as exc:
                problem = RuleProblem(
                    rule.path, rule.rule_id, "error", f"failed: {_first_line(exc)}"
                )
                if problem not in pack.runtime_problems:  # a pack is reused by every audit
                    pack.runtime_problems.append(problem)
                continue
            by_job: dict[int, list[int]] = {}
            for index in matched:
                by_job.setdefault(id(owners[index]), []).append(index)
            for indexes in by_job.values():
                job = owners[indexes[0]]
                yield _finding(rule, job, table, rows, indexes)
    finally:
        table.close()


def _matches(table: JobTable, rule: Rule) -> list[int]:
    found: set[int] = set()
    for condition in rule.conditions:
        found.update(table.select(condition, rule.product, rule.service))
    return sorted(found)


def _finding(
    rule: Rule, job: ScheduledJob, table: JobTable, rows: Sequence[Row], indexes: list[int]
) -> Finding:
    first = indexes[0]
    row = rows[first]
    message = explain(rule, row, table.probe([leaf.sql for leaf in rule.leaves], first))
    count = row.get("ActionCount")
    if isinstance(count, int) and count > 1:
        others = len(indexes) - 1
        message += f" (action {row.get('ActionIndex')} of {count}"
        message += f", and {others} more matching)" if others else ")"
    techniques = (
        rule.techniques if job.technique in rule.techniques else (*rule.techniques, job.technique)
    )
    return Finding(
        rule_id=rule.rule_id,
        title=rule.title,
        severity=for_dormant(rule.level, job),
        techniques=techniques,
        job_id=job.job_id,
        evidence=job.evidence,
        message=message,
        remediation=rule.remediation,
    )


@dataclass(frozen=True, slots=True)
class _Part:
    text: str
    field: str | None
    span: tuple[int, int] | None


def explain(rule: Rule, row: Mapping[str, object], hits: Sequence[bool]) -> str:
    """One sentence naming the fields and values that made the rule match. A part whose
    matched text lies inside another part's match on the same field (a keyword pre-filter
    inside a pattern match) is left out."""
    parts = [describe(leaf, row) for leaf, hit in zip(rule.leaves, hits, strict=False) if hit]
    kept: list[str] = []
    for index, part in enumerate(parts):
        inside = part.span is not None and any(
            other.field == part.field
            and other.span is not None
            and other.span[0] <= part.span[0]
            and part.span[1] <= other.span[1]
            and (other.span != part.span or position < index)
            for position, other in enumerate(parts)
            if position != index
        )
        if not inside and part.text not in kept:
            kept.append(part.text)
    if not kept:
        return f"the job matches the rule's condition '{rule.condition_text}'"
    shown = "; ".join(kept[:MAX_MESSAGE_PARTS])
    if len(kept) > MAX_MESSAGE_PARTS:
        shown += f"; and {len(kept) - MAX_MESSAGE_PARTS} more"
    return shown


def describe(leaf: Leaf, row: Mapping[str, object]) -> _Part:
    """The field, the value the rule asked for and what the job has there, in words."""
    name = leaf.field or "text"
    actual = row.get(leaf.field) if leaf.field else full_text(row)
    value = leaf.value
    if value.kind == "expansion":
        found = (i for i in value.items if i.kind == "string" and _found(i, actual) is not None)
        value = next(found, value.items[0] if value.items else value)
    if value.kind == "regex":
        pattern = value.text
        span = _span(pattern, actual)
        shown = f" /{pattern}/" if len(pattern) <= SHORT_PATTERN else ""
        if span is None or actual is None:
            return _Part(f"{name} matches{shown}: {_excerpt(actual, None)}", leaf.field, None)
        matched = str(actual)[span[0] : span[1]]
        if len(matched) > 2 * EXCERPT:
            matched = matched[: 2 * EXCERPT] + "…"
        text = f"{name} matches{shown} at '{matched}': {_excerpt(actual, span)}"
        return _Part(text, leaf.field, span)
    if value.kind == "string":
        if value.verb == "is":
            return _Part(f"{name} is {_excerpt(actual, None)}", leaf.field, None)
        span = _found(value, actual)
        text = f"{name} {value.verb} '{value.text}': {_excerpt(actual, span)}"
        return _Part(text, leaf.field, span)
    if value.kind == "exists":
        text = f"{name} is {value.verb}" + (
            f": {_excerpt(actual, None)}" if value.verb == "set" else ""
        )
    elif value.kind == "compare":
        text = f"{name} is {_shown(actual)} ({value.text})"
    elif value.kind == "reference":
        text = f"{name} equals field {value.text}: {_excerpt(actual, None)}"
    elif value.kind == "scalar":
        text = f"{name} is {_shown(actual)}"
    else:
        text = f"{name}: {_excerpt(actual, None)}"
    return _Part(text, leaf.field, None)


def _found(value: Value, actual: object) -> tuple[int, int] | None:
    """Where a string value lies in the job's value."""
    return _span(value.pattern, actual, ignore_case=True)


def _span(pattern: str, actual: object, *, ignore_case: bool = False) -> tuple[int, int] | None:
    if actual is None:
        return None
    try:
        compiled, _ = compile_pattern(("(?i)" if ignore_case else "") + pattern)
        found = compiled.search(str(actual))
    except (RegexError, ValueError):
        return None
    return (found.start(), found.end()) if found else None


def _excerpt(actual: object, span: tuple[int, int] | None) -> str:
    if actual is None:
        return "(absent)"
    text = str(actual)
    if span is None or len(text) <= 2 * EXCERPT:
        return "'" + (text if len(text) <= 2 * EXCERPT else text[: 2 * EXCERPT] + "…") + "'"
    start = max(0, span[0] - EXCERPT // 2)
    end = min(len(text), max(span[1], start) + EXCERPT)
    return "'" + ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "") + "'"


def _shown(actual: object) -> str:
    if isinstance(actual, bool):
        return "true" if actual else "false"
    return "null" if actual is None else str(actual)


# ---------------------------------------------------------------------------------------------
# lint and cases


def lint(pack: RulePack) -> list[RuleProblem]:
    """Loading problems, plus what the pack asks of every rule: level, ATT&CK tags, a
    description, false positives, a remediation, and a positive and a negative case."""
    problems = list(pack.problems)
    for rule in pack.rules:
        level = "error" if rule.builtin else "warning"
        missing = []
        if not rule.level_given:
            missing.append("level")
        if not rule.techniques:
            missing.append("ATT&CK technique tag (attack.tNNNN)")
        if not rule.description:
            missing.append("description")
        if not rule.falsepositives:
            missing.append("falsepositives")
        if not rule.remediation_given:
            missing.append("remediation")
        if not any(c.expect_match for c in rule.cases):
            missing.append("a `cases: match:` row")
        if not any(not c.expect_match for c in rule.cases):
            missing.append("a `cases: nomatch:` row")
        if missing:
            problems.append(
                RuleProblem(rule.path, rule.rule_id, level, "no " + ", no ".join(missing))
            )
        if not rule.leaves:
            problems.append(
                RuleProblem(
                    rule.path, rule.rule_id, "warning", "no positive comparison to explain a match"
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class CaseResult:
    rule: Rule
    number: int
    case: RuleCase
    matched: bool

    @property
    def passed(self) -> bool:
        return self.matched == self.case.expect_match


def run_cases(rule: Rule) -> list[CaseResult]:
    """Run a rule's own cases: each row through the same SQL as an audit."""
    if not rule.cases:
        return []
    product = rule.product or "linux"
    rows: list[Row] = []
    for case in rule.cases:
        row: Row = {"Product": product, "Mechanism": rule.service or DEFAULT_MECHANISM[product]}
        row.update(case.row)
        rows.append(complete_row(row))
    if "Text" in rule.fields:
        for row in rows:
            row["Text"] = full_text(row)
    table = JobTable(rule.fields, rows, rule.folded_fields)
    try:
        matched = set(_matches(table, rule))
    finally:
        table.close()
    return [CaseResult(rule, i + 1, case, i in matched) for i, case in enumerate(rule.cases)]


def field_documentation() -> str:
    width = max(len(name) for name in FIELDS)
    lines = [f"{name.ljust(width)}  {meaning}" for name, meaning in FIELDS.items()]
    lines.append(f"{'Env.<NAME>'.ljust(width)}  an environment variable of the job")
    lines.append(f"{'Extra.<key>'.ljust(width)}  a mechanism-specific fact of the collector")
    return "\n".join(lines)


ANALYZER = Analyzer(
    name="sigma",
    description="Sigma rules over the inventory (the built-in T1053 pack and --rules folders)",
    analyze=analyze,
)


# ---------------------------------------------------------------------------------------------
# converting to other query languages


@dataclass(frozen=True, slots=True)
class Conversion:
    rule: Rule
    queries: tuple[str, ...]
    error: str | None = None


def installed_targets() -> tuple[dict[str, Any], dict[str, Any]]:
    """pySigma backends and processing pipelines installed as plugins (identifier → class)."""
    from sigma.plugins import InstalledSigmaPlugins

    try:
        plugins = InstalledSigmaPlugins.autodiscover(include_validators=False)
    except Exception:  # a broken plugin (built for another pySigma) must not end the command
        return {}, {}
    return dict(plugins.backends), dict(plugins.pipelines)


def convert(
    rules: Sequence[Rule],
    target: str,
    pipelines: Sequence[str] = (),
    output_format: str | None = None,
) -> list[Conversion]:
    """Each rule in another SIEM's language, through an installed pySigma backend. Only
    installed pipelines are used (a pipeline file could carry transformations we do not run)."""
    backends, known = installed_targets()
    if target not in backends:
        raise KeyError(target)
    unknown = [p for p in pipelines if p not in known]
    if unknown:
        raise LookupError(", ".join(unknown))
    from sigma.processing.resolver import ProcessingPipelineResolver

    pipeline = (
        ProcessingPipelineResolver(dict(known)).resolve(list(pipelines), target)
        if pipelines
        else None
    )
    results: list[Conversion] = []
    for rule in rules:
        backend = backends[target](processing_pipeline=pipeline)
        try:
            fresh = _fresh(rule)
            output = (
                backend.convert_rule(fresh, output_format)
                if output_format
                else backend.convert_rule(fresh)
            )
            results.append(Conversion(rule, tuple(_text_of(q) for q in output)))
        except Exception as exc:  # one rule a backend refuses does not stop the others
            results.append(Conversion(rule, (), _first_line(exc)))
    return results


def _fresh(rule: Rule) -> SigmaRule:
    """The rule parsed anew from its file (a converted rule keeps its backend's state)."""
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    collection = SigmaCollection.from_yaml(rule.source, collect_errors=True)
    for item in collection.rules:
        if (
            isinstance(item, SigmaRule)
            and _rule_id(item, rule.path) == rule.rule_id
            and item.title == rule.title
        ):
            return item
    raise LookupError(f"{rule.path} holds the rule no more")


def _text_of(query: object) -> str:
    if isinstance(query, str):
        return query
    return json.dumps(query, default=str, ensure_ascii=False)


if __name__ == "__main__":  # remake each folder's compiled.json from the rule files in it
    for _display, _folder in pack_folders():
        with resources.as_file(_folder) as _path:
            compiled_pack.write(_path, pack_document(_display, _folder))
