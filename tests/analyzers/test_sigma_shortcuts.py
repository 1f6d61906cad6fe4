"""Shortcuts the Sigma side takes for speed give exactly the reference results: a table filled
only in the columns its conditions read, rule files read with libyaml, and the quick test of
whether a rule file is about scheduled tasks."""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from importlib import resources
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from schedwarden.analyzers import log_sigma, log_sigma_linux
from schedwarden.analyzers.sigma_backend import JobQueryBackend, sigma_collection
from schedwarden.analyzers.sigma_table import JobTable, required_integers
from schedwarden.logs.reader import read_logs
from tests.conftest import corpus_path

RULE = """
title: t
id: {id}
logsource: {{product: windows, category: process_creation}}
detection:
  {detection}
level: high
"""
DETECTIONS = [
    "sel: {Image|endswith: '\\schtasks.exe'}\n  condition: sel",
    "sel: {CommandLine|contains|all: ['/create', '/ru system']}\n  condition: sel",
    "sel: {CommandLine|re: '(?i)/tn\\s+\\\\\\\\?Micro'}\n  condition: sel",
    "sel: {ParentImage|startswith: 'C:\\Windows'}\n  f: {User: 'NT AUTHORITY\\SYSTEM'}\n"
    "  condition: sel and not f",
    "sel: {EventID: 4698}\n  condition: sel",
    "sel: {Missing: null}\n  condition: sel",
    "sel: {Image: null}\n  condition: sel",
    "sel: {CommandLine|cased: '*SchTasks*'}\n  condition: sel",
    "sel: ['schtasks', 'ÄRGER']\n  condition: sel",
    "sel: {CommandLine|fieldref: Image}\n  condition: sel",
    "sel: {NeverSeen|re: 'x'}\n  condition: sel",
]


def conditions() -> list[str]:
    backend = JobQueryBackend()
    found: list[str] = []
    for number, detection in enumerate(DETECTIONS):
        text = RULE.format(id=f"00000000-0000-0000-0000-{number:012d}", detection=detection)
        for rule in SigmaCollection.from_yaml(text).rules:
            assert isinstance(rule, SigmaRule)
            found += [str(q) for q in backend.convert_rule(rule)]  # type: ignore[no-untyped-call]
    return found


ROWS: list[dict[str, object]] = [
    {"Image": "C:\\Windows\\System32\\SCHTASKS.EXE", "CommandLine": "schtasks /CREATE /RU SYSTEM",
     "ParentImage": "C:\\Windows\\explorer.exe", "User": "nt authority\\system", "EventID": 1},
    {"Image": None, "CommandLine": "ärger /tn \\Microsoft\\x", "EventID": 4698, "Extra": True},
    {"CommandLine": "C:\\x.exe", "Image": "C:\\x.exe", "ParentImage": "D:\\a", "User": "bob"},
    {"Unrelated": "value", "EventID": "4698"},
]  # fmt: skip


def test_filled_columns_give_the_same_rows() -> None:
    queries = conditions()
    fields = sorted({f for row in ROWS for f in row} | {"Missing"})
    full = JobTable(fields, ROWS)
    lean = JobTable(fields, ROWS, conditions=queries)
    try:
        for query in queries:
            try:
                expected: list[int] | str = sorted(full.select(query))
            except sqlite3.Error as error:
                expected = type(error).__name__
            try:
                got: list[int] | str = sorted(lean.select(query))
            except sqlite3.Error as error:
                got = type(error).__name__
            assert got == expected, query
        assert any(full.select(q) for q in queries)  # the rows do match something
    finally:
        full.close()
        lean.close()


def test_a_condition_reading_an_empty_column_is_refused() -> None:
    table = JobTable(["Image", "User"], ROWS, conditions=["`ci:Image` LIKE '%schtasks%'"])
    try:
        assert table.select("`ci:Image` LIKE '%schtasks%'") == [0]
        with pytest.raises(LookupError):
            table.select("User = 'bob'")
        with pytest.raises(LookupError):
            table.probe(["User = 'bob'"], 2)
    finally:
        table.close()


def _rule_texts() -> list[str]:
    root = resources.files("schedwarden") / "rules"
    found: list[str] = []
    pending = [root]
    while pending:
        for entry in pending.pop().iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif entry.name.endswith((".yml", ".yaml")):
                found.append(entry.read_text(encoding="utf-8"))
    return found


def _summary(collection: SigmaCollection) -> list[object]:
    return [
        (type(r).__name__, r.to_dict(), [str(e) for e in getattr(r, "errors", ())])
        for r in collection.rules
    ] + [str(e) for e in collection.errors]


def test_libyaml_reads_every_rule_of_the_package_as_from_yaml_does() -> None:
    texts = _rule_texts()
    assert len(texts) > 20
    for text in texts:
        expected = SigmaCollection.from_yaml(text, collect_errors=True)
        assert _summary(sigma_collection(text)) == _summary(expected)


@pytest.mark.parametrize(
    "text",
    [
        "title: [unclosed\n",
        "a: b\n c: d\n",
        "title: x\n\tdetection: y\n",
        "key: &a [*a]\n",
        "- !!python/object:os.system 'echo'\n",
        "title: ok\n---\n: :\n",
        "title: \x07bell\n",
        "title: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
        + "detection: {sel: {command: *a8}, condition: sel}\n",
    ],
)
def test_bad_yaml_fails_with_from_yamls_own_error(text: str) -> None:
    try:
        SigmaCollection.from_yaml(text, collect_errors=True)
    except Exception as error:
        with pytest.raises(type(error)) as caught:
            sigma_collection(text)
        assert str(caught.value) == str(error)
    else:
        assert _summary(sigma_collection(text)) == _summary(
            SigmaCollection.from_yaml(text, collect_errors=True)
        )


def test_relevance_of_a_real_rule() -> None:
    text = textwrap.dedent(
        """
        title: Scheduled Task Created
        tags: [attack.persistence, attack.T1053.005]
        """
    )
    assert windows_relevant(text)
    assert windows_relevant(text.replace("T1053.005", "t1059"))  # the title says it too
    other = text.replace("T1053.005", "t1059").replace("Scheduled Task", "Service")
    assert not windows_relevant(other)
    assert log_sigma.relevance(text.encode(), text) == (True, True)  # T1053: Linux's too
    assert log_sigma.relevance(b"cron", "cron") == (False, True)


def windows_relevant(text: str) -> bool:
    return log_sigma.relevance(text.encode(), text)[0]


_WORDS = ["t1053", "schtasks", "\\tasks\\", "taskcache", "atsvc", "4698", "4702", "44698",
          "scheduled task", "scheduled_task", "scheduledtask", "scheduled\ntask", "sched",
          "cron", "/at ", "/at'", "/at\"", "/at\t", "/atd", "/atdx", "/var/spool/at",
          "systemd-run", ".timer", ".timers"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_WORDS).map(lambda w: w.upper() if len(w) % 2 else w.title()),
            st.sampled_from(_WORDS),
            st.sampled_from(
                ["\u017f", "\u212a", "\u0130", "é", " ", "_", "1", "a", "\n", "\x0b", "\r"]
            ),
        ),
        max_size=12,
    ).map("".join)
)
@example("Scheduled\nTask /at\x0b")  # `.` stops at a newline; `\s` takes a vertical tab
@example('/AT"x\u212a')
def test_relevance_is_the_patterns(text: str) -> None:
    """Hyperscan's test of ASCII files is `re`'s, with the patterns' `\\b`, `\\s`, `.`."""
    expected = tuple(
        re.compile(pattern.pattern, re.IGNORECASE).search(text) is not None
        for pattern in (log_sigma._RELEVANT, log_sigma_linux.LINUX_RELEVANT)
    )
    assert log_sigma.relevance(text.encode(), text) == expected


class _StockOr(JobQueryBackend):
    """The backend with the stock OR: each value of a list its own LIKE."""

    def convert_condition_or(self, cond: Any, state: Any) -> Any:
        return sqliteBackend.convert_condition_or(self, cond, state)


_AFFIX_ALPHABET = "ab'%_\\*?ßSsİiK\u212a. é"
_AFFIX_TEXT = st.text(alphabet=_AFFIX_ALPHABET, min_size=1, max_size=5).map(
    lambda text: text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
)  # escaped: no wildcard inside the text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_AFFIX_TEXT, max_size=4),
    st.lists(_AFFIX_TEXT, max_size=4),
    st.lists(st.one_of(st.none(), st.text(alphabet=_AFFIX_ALPHABET, max_size=8)), max_size=8),
    st.booleans(),
)
def test_lists_of_affixes_select_the_rows_their_likes_select(
    starts: list[str], ends: list[str], values: list[str | None], negated: bool
) -> None:
    """`startswith`/`endswith` lists as `substr(...) IN (...)` (`sigma_backend._affix_lists`):
    the rows of the stock OR of LIKEs, under NOT too (where null matters)."""
    selections = {"s": {"Image|startswith": starts}, "e": {"Image|endswith": ends}}
    used = {name: sel for name, sel in selections.items() if next(iter(sel.values()))}
    assume(used)
    condition = " or ".join(used) if len(used) == 1 or len(starts + ends) % 2 else "1 of them"
    detection = "\n  ".join(f"{name}: {json.dumps(sel)}" for name, sel in used.items())
    detection += "\n  condition: " + (f"not ({condition})" if negated else condition)
    text = RULE.format(id="00000000-0000-0000-0000-000000000001", detection=detection)
    (rule,) = SigmaCollection.from_yaml(text).rules
    fast = [str(q) for q in JobQueryBackend().convert_rule(rule)]  # type: ignore[no-untyped-call]
    stock = [str(q) for q in _StockOr().convert_rule(rule)]  # type: ignore[no-untyped-call]
    if len(starts) >= 2 or len(ends) >= 2:
        assert "substr(" in fast[0] and "substr(" not in stock[0]
    table = JobTable(["Image"], [{"Image": value} for value in values])
    try:
        assert table.select(fast[0]) == table.select(stock[0])
    finally:
        table.close()


# `required_integers`: a row of another event id is never one a condition selects

_ids = st.sampled_from([1, 2, 3, 4698, -7])
_literals = st.sampled_from(
    ["'a'", "'x AND EventID=1'", "'(''OR EventID=2'", "`EventID`", "EventID", "eventid", "x", "y",
     "'EventID=3) OR (1'", "NULL", "1", "0"]
)  # fmt: skip


def _atoms() -> st.SearchStrategy[str]:
    equal = st.builds(
        lambda name, value, space: f"{name}{space}={space}{value}",
        st.sampled_from(["EventID", "`EventID`", "eventid", "EVENTID", "x"]),
        _ids,
        st.sampled_from(["", " ", "\n"]),
    )
    within = st.builds(
        lambda name, values: f"{name} IN ({', '.join(map(str, values))})",
        st.sampled_from(["EventID", "`EventID`", "y"]),
        st.lists(_ids, min_size=1, max_size=3),
    )
    other = st.builds(lambda a, b: f"{a}={b}", _literals, _literals)
    tricky = st.sampled_from(
        ["CASE WHEN EventID=1 THEN 1 ELSE 0 END", "x BETWEEN 1 AND 2", "EventID=1 IS NULL",
         "NOT EventID=2", "EventID=1 -- OR 1", "EventID=+1", "EventID=1 = 0", "x LIKE 'a%'"]
    )  # fmt: skip
    return equal | within | other | tricky


_conditions = st.recursive(
    _atoms(),
    lambda inner: (
        st.builds(
            lambda a, b, word, wrap, space: (f"({a})" if wrap else a) + f"{space}{word}{space}" + b,
            inner,
            inner,
            st.sampled_from(["AND", "OR", "and", "or"]),
            st.booleans(),
            st.sampled_from([" ", "\n  "]),
        )
        | st.builds(lambda a: f"({a})", inner)
        | st.builds(lambda a: f"NOT ({a})", inner)
    ),
    max_leaves=6,
)


@settings(max_examples=1500, deadline=None)
@given(_conditions)
@example("EventID=1 AND x=2 or y=2")
@example("EventID=1 AND x=2\nOR 1=1")
@example("(EventID=1)OR(EventID=2)")
@example("EventID=1 AND x='a'' AND EventID=2'")
def test_required_integers_hold_on_every_row_a_condition_selects(condition: str) -> None:
    required = required_integers(condition, "EventID")
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE jobs (EventID, x, y)")
    values = [1, 2, 3, 4698, -7, None, "1", 1.0, "a", 0]
    connection.executemany(
        "INSERT INTO jobs VALUES (?, ?, ?)",
        [(e, x, y) for e in values for x in values[:4] for y in (1, 2)],
    )
    try:
        rows = connection.execute(f"SELECT EventID FROM jobs WHERE {condition}").fetchall()
    except sqlite3.Error:
        return  # not SQL: never run
    if required is not None:
        assert all(type(e) is not int or e in required for (e,) in rows), (
            f"{condition!r}: {required} but selects {rows}"
        )
        assert all(e is not None for (e,) in rows)


def test_required_integers_of_real_conditions() -> None:
    cases = {
        "EventID=5145 AND `ci:ShareName` LIKE '\\\\\\\\*\\\\ipc$' ESCAPE '\\'": {5145},
        "((EventID=4699 OR EventID=4701) AND (`ci:TaskName` LIKE '%a%' ESCAPE '\\'))": {4699, 4701},
        "(EventID=5136 AND (`ci:x`='a')) AND (NOT COALESCE((`ci:y`='b'), 0))": {5136},
        "EventID IN (4698, 4702)": {4698, 4702},
    }
    for condition, expected in cases.items():
        assert required_integers(condition, "EventID") == expected
    for condition in ("`ci:Image` LIKE '%\\\\schtasks.exe' ESCAPE '\\'", "EventID=1 OR x=2"):
        assert required_integers(condition, "EventID") is None


def test_rows_left_out_by_event_id_change_no_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SigmaHQ rules of the corpus over its EVTX, with and without leaving rows out."""
    events, _ = read_logs([str(corpus_path("windows", "evtx"))])
    rules = log_sigma.load_log_rules([corpus_path("sigma", "rules")])
    possible = log_sigma._possible
    left_out: list[int] = []

    def counted(items: Any, conditions: Any) -> Any:
        kept = possible(items, conditions)
        left_out.append(len(items) - len(kept))
        return kept

    monkeypatch.setattr(log_sigma, "_possible", counted)
    found = list(log_sigma.evaluate(rules, events))
    monkeypatch.setattr(log_sigma, "_possible", lambda items, conditions: items)
    assert found == list(log_sigma.evaluate(rules, events))
    assert len(found) > 20 and sum(left_out) > 50  # most Security records are left out
