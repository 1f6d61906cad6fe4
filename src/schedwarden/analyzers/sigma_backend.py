"""Sigma → SQL through pySigma's SQLite backend, run on the stdlib `sqlite3` (the Zircolite way).

Two things the stock backend leaves to its user are done here:

- Sigma compares strings without regard to case, for every alphabet; SQLite's `LIKE` and `NOCASE`
  fold ASCII only (`Ä` ≠ `ä`). Each field is therefore stored twice: as it is, and case-folded
  (`str.casefold`, Unicode's full folding) in a `ci:<field>` column. Case-insensitive comparisons
  (equality, `contains`, `startswith`, `endswith`, wildcards, field references, keywords) read
  the folded column with a folded pattern; `|cased` (GLOB), `|re`, numbers, booleans, `exists`
  and the time modifiers read the value as it is.
- `REGEXP` (`sigma_table`, where the conditions run) is a Python function: RE2 when it accepts
  the pattern, Python's `re` otherwise.

And one thing for speed: SigmaHQ's process rules hold lists of tens of `endswith` (or
`startswith`) values of one field, which the stock backend makes an OR of as many `LIKE`s,
each costing SQLite an expression per row. Such a list, without case and of plain text, is one
`substr(field, -n) IN (...)` per length of the values instead (`_affix_lists`): the same rows
(both sides are folded; null only where the field is null), twenty times faster for a list of
fifty.

Nothing from a rule or from the evidence is ever executed: rule values reach SQL only as quoted,
escaped literals produced by the backend, and rows are inserted with bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.modifiers import modifier_mapping
from sigma.types import SigmaCasedString, SigmaString, SpecialChars

from .sigma_table import CI_PREFIX, TABLE


def _resolve_modifier_annotations() -> None:
    """pySigma type-checks each modifier against the annotation of its `modify` method, which
    `typing` resolves (compiles) from pySigma's own source text the first time. Do it here, at
    import, so that loading and running rules later compiles nothing at all."""
    for modifier in modifier_mapping.values():
        try:
            modifier.__new__(modifier)._get_modify_type_hint()
        except Exception:  # noqa: S112 - a pySigma without the cache: resolved on first use
            continue


_resolve_modifier_annotations()


def sigma_collection(text: str) -> SigmaCollection:
    """`SigmaCollection.from_yaml(text, collect_errors=True)`, read with libyaml's parser when
    PyYAML has it (as pySigma's own `SigmaRule.from_yaml` does): the same documents, several
    times faster than the pure-Python reader `from_yaml` uses. Text libyaml refuses goes through
    `from_yaml`, so a bad file fails with that reader's own error."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            documents = list(yaml.load_all(text, Loader=loader))
        except Exception:  # noqa: S110 - read again below, for the reference error
            pass
        else:
            return SigmaCollection.from_dicts(documents, collect_errors=True)
    return SigmaCollection.from_yaml(text, collect_errors=True)


def _affix_lists(
    args: Sequence[object],
) -> tuple[str, dict[tuple[bool, int], list[str]]] | None:
    """The field of an OR of case-insensitive `startswith` / `endswith` values of plain text
    (`text*`, `*text`) on one field, and those texts folded and quoted for SQL by (starts, their
    length), in order; None for any other OR, or one of fewer than two values."""
    if len(args) < 2:
        return None
    field: str | None = None
    groups: dict[tuple[bool, int], list[str]] = {}
    star = SpecialChars.WILDCARD_MULTI
    for arg in args:
        if not isinstance(arg, ConditionFieldEqualsValueExpression):
            return None
        value = arg.value
        if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
            return None
        parts = value.s
        if len(parts) != 2:
            return None
        first, second = parts
        if second is star and isinstance(first, str):
            start, text = True, first.casefold()
        elif first is star and isinstance(second, str):
            start, text = False, second.casefold()
        else:
            return None
        if not text or (field is not None and arg.field != field):
            return None
        field = arg.field
        groups.setdefault((start, len(text)), []).append("'" + text.replace("'", "''") + "'")
    return (field, groups) if field is not None else None


class JobQueryBackend(sqliteBackend):
    """The SQLite backend, reading case-folded columns for Sigma's case-insensitive matches.

    `convert_rule` returns bare WHERE conditions; `JobTable` adds the log source filter."""

    table = TABLE
    fulltext_field = "Text"
    # A null never matches a pattern: test that in SQL, before calling into Python.
    re_expression = "({field} IS NOT NULL AND {field} REGEXP '{regex}')"

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._fold = False

    @contextmanager
    def _folding(self) -> Iterator[None]:
        previous, self._fold = self._fold, True
        try:
            yield
        finally:
            self._fold = previous

    def escape_and_quote_field(self, field: str) -> str:
        if self._fold:
            field = CI_PREFIX + field
        return str(super().escape_and_quote_field(field))  # type: ignore[no-untyped-call]

    def convert_value_str(
        self,
        s: Any,
        state: ConversionState,
        no_quote: bool = False,
        glob_wildcards: bool = False,
    ) -> str:
        text = str(super().convert_value_str(s, state, no_quote, glob_wildcards))
        return text.casefold() if self._fold and not glob_wildcards else text

    def convert_condition_field_eq_val_str(self, cond: Any, state: ConversionState) -> Any:
        with self._folding():
            return super().convert_condition_field_eq_val_str(cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        with self._folding():
            return super().convert_condition_field_eq_field(cond, state)  # type: ignore[no-untyped-call]

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        lists = _affix_lists(cond.args)
        if lists is None:
            return super().convert_condition_or(cond, state)
        field, groups = lists
        with self._folding():
            column = self.escape_and_quote_field(field)
        return f" {self.or_token} ".join(
            f"substr({column}, {1 if start else -length}{f', {length}' if start else ''}) IN "
            f"({', '.join(texts)})"
            for (start, length), texts in groups.items()
        )

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> Any:
        if isinstance(cond.value, SigmaCasedString):
            return super().convert_condition_val_str(cond, state)
        with self._folding():
            return super().convert_condition_val_str(cond, state)

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> Any:
        with self._folding():
            return super().convert_condition_val_num(cond, state)

    def finalize_query_default(self, rule: Any, query: str, index: int, state: Any) -> Any:
        return query
