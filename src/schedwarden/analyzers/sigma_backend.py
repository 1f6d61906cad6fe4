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

Nothing from a rule or from the evidence is ever executed: rule values reach SQL only as quoted,
escaped literals produced by the backend, and rows are inserted with bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conversion.state import ConversionState
from sigma.modifiers import modifier_mapping
from sigma.types import SigmaCasedString

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
