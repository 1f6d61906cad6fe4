"""The SQLite side of Sigma: an in-memory table of rows (every field as it is and case-folded)
on which the conditions pySigma made (`sigma_backend`) are selected, and the REGEXP function
they call. Kept apart from `sigma_backend` so that rules already converted (the built-in log
pack, shipped converted) run without loading pySigma.

`REGEXP` is a Python function registered on the connection: RE2 (linear time) when it accepts
the pattern, Python's `re` otherwise (lookarounds, backreferences; `rules lint` warns about
those); the built-in pack's reviewed patterns run on `re`. Sigma's `re` is a search, not a full
match. Rows are inserted with bound parameters; nothing from a rule or the evidence is executed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

from ..model import json_safe

try:  # pySigma depends on google-re2; stay usable if a platform lacks its wheel
    import re2 as _re2
except ImportError:  # pragma: no cover
    _re2 = None

CI_PREFIX = "ci:"
TABLE = "jobs"
ROW_KEY = "_row"
MAX_PATTERN = 4096


class RegexError(ValueError):
    pass


_REVIEWED: set[str] = set()


def trust_patterns(patterns: Iterable[str]) -> None:
    """Patterns of the built-in pack: reviewed for linear-time matching and run with Python's
    faster `re`. Every other pattern (a user's rules) runs on RE2, which cannot backtrack."""
    _REVIEWED.update(patterns)


def compile_pattern(pattern: str) -> tuple[Any, bool]:
    """A compiled search pattern and whether it runs on a backtracking engine."""
    if pattern in _REVIEWED:
        return _compile_python(pattern), False
    return _compile_linear(pattern)


@lru_cache(maxsize=4096)
def _compile_python(pattern: str) -> Any:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RegexError(f"invalid regular expression: {exc}") from None


@lru_cache(maxsize=4096)
def _compile_linear(pattern: str) -> tuple[Any, bool]:
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"regular expression longer than {MAX_PATTERN} characters")
    if _re2 is not None:
        try:
            return _re2.compile(pattern), False
        except Exception:  # noqa: S110 - RE2 refuses lookarounds and backreferences
            pass
    return _compile_python(pattern), True


def _regexp(pattern: str | None, value: object) -> bool | None:
    if pattern is None or value is None:
        return None
    compiled, _ = compile_pattern(pattern)
    text = value if isinstance(value, str) else str(value)
    return compiled.search(text) is not None


def sql_value(value: object) -> object:
    """How a row value is stored: booleans as Sigma's `true`/`false`; undecodable evidence bytes
    as the four characters `\\xNN` (as in JSON output: SQLite text must be valid UTF-8)."""
    if value is None:
        return None
    if value.__class__ is str:
        return value if value.isascii() else json_safe(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def fold_value(value: object) -> str | None:
    if value is None:
        return None
    if value.__class__ is str:
        text: str = value
        return text.lower() if text.isascii() else json_safe(text).casefold()
    return str(sql_value(value)).casefold()


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class JobTable:
    """An in-memory SQLite table of rows: every field as it is, and case-folded where a rule
    compares it without regard to case (`folded`; all fields when not given).

    Given the `conditions` that will be selected, only the columns those conditions read are
    filled (SQLite's authorizer names them when each condition is prepared on the empty table);
    the other columns exist, so a condition compiles or fails as it would, but stay null. A
    condition not given then may only read filled columns: `select` raises if it reads another.
    """

    def __init__(
        self,
        fields: Iterable[str],
        rows: Sequence[Mapping[str, object]],
        folded: Iterable[str] | None = None,
        conditions: Iterable[str] | None = None,
    ) -> None:
        self.fields = tuple(dict.fromkeys(("Product", "Mechanism", *fields)))
        fold = set(self.fields) if folded is None else set(folded)
        self.folded = tuple(f for f in self.fields if f in fold)
        self.connection = sqlite3.connect(":memory:")
        self.connection.create_function("REGEXP", 2, _regexp, deterministic=True)
        columns = [f"{quote(ROW_KEY)} INTEGER PRIMARY KEY"]
        columns += [quote(name) for name in self.fields]
        columns += [f"{quote(CI_PREFIX + name)} TEXT" for name in self.folded]
        self.connection.execute(f"CREATE TABLE {TABLE} ({', '.join(columns)})")
        self._filled: frozenset[str] | None = None
        plain, cased = self.fields, self.folded
        if conditions is not None:
            read = self._columns_read(conditions)
            plain = tuple(f for f in self.fields if f in read)
            cased = tuple(f for f in self.folded if CI_PREFIX + f in read)
            self._filled = frozenset({ROW_KEY, *plain, *(CI_PREFIX + f for f in cased)})
        names = ", ".join(quote(n) for n in (ROW_KEY, *plain, *(CI_PREFIX + f for f in cased)))
        placeholders = ", ".join("?" * (1 + len(plain) + len(cased)))
        self.connection.executemany(
            f"INSERT INTO {TABLE} ({names}) VALUES ({placeholders})",  # noqa: S608 - bound values
            (self._values(i, row, plain, cased) for i, row in enumerate(rows)),
        )
        self.connection.execute(f"CREATE INDEX jobs_scope ON {TABLE} (Product, Mechanism)")

    @staticmethod
    def _values(
        index: int, row: Mapping[str, object], plain: Sequence[str], cased: Sequence[str]
    ) -> list[object]:
        get = row.get
        values: list[object] = [index]
        values += [sql_value(get(name)) for name in plain]
        values += [fold_value(get(name)) for name in cased]
        return values

    def _reads(self, sql: str, params: Sequence[object] = ()) -> tuple[list[Any], set[str]]:
        """The rows of a statement and the columns of the table it reads."""
        read: set[str] = set()

        def authorize(action: int, table: str | None, column: str | None, *_: object) -> int:
            if action == sqlite3.SQLITE_READ and table == TABLE and column:
                read.add(column)
            return sqlite3.SQLITE_OK

        self.connection.set_authorizer(authorize)
        try:
            return self.connection.execute(sql, params).fetchall(), read
        finally:
            self.connection.set_authorizer(None)

    def _columns_read(self, conditions: Iterable[str]) -> set[str]:
        read: set[str] = set()
        for condition in conditions:
            try:
                read |= self._reads(self._select_sql(condition, None, None))[1]
            except sqlite3.Error:
                continue  # fails the same way on the filled table
        return read

    @staticmethod
    def _select_sql(condition: str, product: str | None, service: str | None) -> str:
        # The log source filter first (an index lookup), then the rule. The condition is
        # pySigma's output: rule values in it are quoted, escaped literals.
        scope = ["Product = ?"] if product is not None else []
        scope += ["Mechanism = ?"] if service is not None else []
        where = " AND ".join([*scope, f"({condition})"])
        return f"SELECT {quote(ROW_KEY)} FROM {TABLE} WHERE {where}"  # noqa: S608

    def select(
        self, condition: str, product: str | None = None, service: str | None = None
    ) -> list[int]:
        """Row indexes where `condition` holds, within one product and mechanism if given."""
        sql = self._select_sql(condition, product, service)
        return [r[0] for r in self._checked(sql, [p for p in (product, service) if p is not None])]

    def _checked(self, sql: str, params: Sequence[object]) -> list[Any]:
        if self._filled is None:
            return self.connection.execute(sql, params).fetchall()
        found, read = self._reads(sql, params)
        if not read <= self._filled:
            raise LookupError(
                f"a condition reads columns left empty: {sorted(read - self._filled)}"
            )
        return found

    def probe(self, expressions: Sequence[str], index: int) -> list[bool]:
        """Which of `expressions` hold on one row (to name the part of a rule that matched)."""
        if not expressions:
            return []
        selected = ", ".join(f"COALESCE(({e}), 0)" for e in expressions)
        sql = f"SELECT {selected} FROM {TABLE} WHERE {quote(ROW_KEY)} = ?"  # noqa: S608
        found = self._checked(sql, (index,))
        return [bool(v) for v in found[0]] if found else [False] * len(expressions)

    def close(self) -> None:
        self.connection.close()


# ---------------------------------------------------------------------------------------------
# Which values of a column a condition can hold on at all, read from its text

_TOKEN = re.compile(
    r"""\s+|'(?:[^']|'')*'|`(?:[^`]|``)*`|"(?:[^"]|"")*"|\[[^\]]*\]|[A-Za-z_][\w$]*|\d+|.""",
    re.DOTALL,
)
_UNSURE = frozenset({"CASE", "BETWEEN"})  # words whose own AND, THEN... this reading ignores


def required_integers(condition: str, column: str) -> frozenset[int] | None:
    """The integers `column` must equal for `condition` (SQL as the backend writes it) to hold
    on a row, when its top says so: an AND with a term `column=n` or `column IN (n, ...)`, or
    an OR of such terms or ANDs, in parentheses or not; None when it does not. A row whose value
    there is another integer, or null, cannot be selected by the condition. Quoted text and
    names are read as SQLite reads them; what this reading is unsure of (a comment, CASE,
    BETWEEN, unbalanced quotes or parentheses) gives None: no restriction."""
    tokens = [t for t in _TOKEN.findall(condition) if not t.isspace()]
    if any(t in ("'", "`", '"', "[") for t in tokens):
        return None  # a quote left open (every other character is in a token)
    words = {t.upper() for t in tokens}
    if words & _UNSURE or any(a + b in ("--", "/*") for a, b in pairwise(tokens)):
        return None
    try:
        return _required(tokens, column.casefold())
    except ValueError:  # unbalanced parentheses
        return None


def _required(tokens: list[str], column: str) -> frozenset[int] | None:
    alternatives = _split_top(tokens, "OR")
    if len(alternatives) > 1:  # AND binds tighter than OR: every alternative must restrict
        found = [_required(part, column) for part in alternatives]
        if any(part is None for part in found):
            return None
        return frozenset().union(*(part for part in found if part is not None))
    terms = _split_top(tokens, "AND")
    if len(terms) > 1:  # a term that restricts restricts the whole
        restricted = [r for r in (_required(part, column) for part in terms) if r is not None]
        return frozenset.intersection(*restricted) if restricted else None
    if _wrapped(tokens):
        return _required(tokens[1:-1], column)
    if len(tokens) < 3 or _name(tokens[0]) != column:
        return None
    if tokens[1] == "=":
        value = _integer(tokens[2:])
        return None if value is None else frozenset({value})
    if tokens[1].upper() != "IN" or tokens[2] != "(" or tokens[-1] != ")":
        return None
    values = [_integer(part) for part in _split_top(tokens[3:-1], ",")]
    return None if any(v is None for v in values) else frozenset(v for v in values if v is not None)


def _name(piece: str) -> str | None:
    if piece.startswith("`") and piece.endswith("`") and len(piece) >= 2:
        return piece[1:-1].replace("``", "`").casefold()
    return piece.casefold() if re.fullmatch(r"[A-Za-z_][\w$]*", piece) else None


def _integer(tokens: list[str]) -> int | None:
    sign = -1 if tokens[:1] == ["-"] else 1
    digits = tokens[1:] if sign < 0 else tokens
    return sign * int(digits[0]) if len(digits) == 1 and digits[0].isdigit() else None


def _split_top(tokens: list[str], separator: str) -> list[list[str]]:
    """The tokens cut at `separator` (a keyword, or `,`) outside parentheses."""
    parts: list[list[str]] = [[]]
    depth = 0
    for piece in tokens:
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced")
        elif depth == 0 and piece.upper() == separator:
            parts.append([])
            continue
        parts[-1].append(piece)
    if depth:
        raise ValueError("unbalanced")
    return parts


def _wrapped(tokens: list[str]) -> bool:
    """Whether the tokens are one parenthesized expression."""
    if tokens[:1] != ["("] or tokens[-1:] != [")"]:
        return False
    depth = 0
    for index, piece in enumerate(tokens):
        depth += (piece == "(") - (piece == ")")
        if depth == 0 and index < len(tokens) - 1:
            return False
    return True
