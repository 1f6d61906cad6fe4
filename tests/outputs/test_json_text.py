"""`json_text` writes what the standard library writes, shared parts and streams included: exactly,
but for floats, which may be written in orjson's form (the same numbers), and NaN and infinities,
written as null where the standard library writes what is not JSON."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden.model import (
    CronSchedule,
    Effective,
    Evidence,
    ExecAction,
    JobEvent,
    Mechanism,
    ScheduledJob,
    Severity,
    SourceKind,
)
from schedwarden.outputs.json_text import compact, compact_record, indented_chunks
from schedwarden.outputs.serialize import plain


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def _stdlib_indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _stdlib_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_text = st.text(
    alphabet=st.characters(codec=None)
    | st.sampled_from(['"', "\\", "\n", "\x00", "\x7f", "\u2028", "\udcff", "\ud800", "é"])
)
_exact_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | _text
    | st.sampled_from([Colour.RED, Level.HIGH, 2**70, 2**64 - 1, -(2**63)])
)
_scalars = (
    _exact_scalars
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([-0.0, 1e300, 1e-7, 1e16])
)
_keys = _text | st.integers() | st.floats() | st.booleans() | st.none()


def _containing(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.lists(inner, max_size=4).map(tuple)
            | st.dictionaries(_keys, inner, max_size=4)
        ),
        max_leaves=30,
    )


_values = _containing(_scalars)


@settings(max_examples=600, deadline=None)
@given(_containing(_exact_scalars), st.integers(min_value=0, max_value=4))
def test_indented_is_the_standard_library_s(value: Any, stream_depth: int) -> None:
    assert "".join(indented_chunks(value, stream_depth=stream_depth)) == _stdlib_indented(value)


@settings(max_examples=600, deadline=None)
@given(_values, st.integers(min_value=0, max_value=4))
def test_floats_are_the_same_numbers(value: Any, stream_depth: int) -> None:
    text = "".join(indented_chunks(value, stream_depth=stream_depth))
    assert json.loads(text) == json.loads(_stdlib_indented(value))


@pytest.mark.parametrize("stream_depth", [0, 1, 2, 3])
def test_nan_and_infinities_are_null_at_any_depth(stream_depth: int) -> None:
    value = {"a": [math.nan, math.inf, {"b": -math.inf}, 1.5], "c": math.nan}
    text = "".join(indented_chunks(value, stream_depth=stream_depth))
    assert json.loads(text) == {"a": [None, None, {"b": None}, 1.5], "c": None}


@settings(max_examples=600, deadline=None)
@given(_values)
def test_compact_is_the_standard_library_s(value: Any) -> None:
    assert compact(value) == _stdlib_compact(value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(_text, _containing(_exact_scalars), max_size=3), max_size=3), st.data()
)
def test_shared_containers_reused_at_any_level_give_the_same_text(
    parts: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A shared part appears many times, at one or at several indentation levels."""
    picks = st.sampled_from(parts) if parts else st.just({})
    document = {
        "jobs": [{"schedule": data.draw(picks), "n": i} for i in range(4)],
        "deeper": [[{"x": data.draw(picks)}], data.draw(picks)],
        "top": data.draw(picks),
    }
    shared = {id(p) for p in parts}
    text = "".join(indented_chunks(document, shared))
    assert text == _stdlib_indented(document)


def test_iterators_are_written_as_lists_item_by_item() -> None:
    document = {"jobs": iter([{"a": 1}, {"b": [1, 2]}]), "none": iter([]), "n": 3}
    chunks = list(indented_chunks(document))
    expected = {"jobs": [{"a": 1}, {"b": [1, 2]}], "none": [], "n": 3}
    assert "".join(chunks) == _stdlib_indented(expected)
    assert '{\n      "a": 1\n    }' in chunks  # a job is one chunk at the default depth


def test_special_keys_as_the_standard_library_writes_them() -> None:
    value = {1.5: 2.5, True: 1, None: -1, 7: [], "e": {}, False: (), math.nan: 0, -math.inf: 0}
    assert "".join(indented_chunks(value)) == _stdlib_indented(value)
    special = {1.5: math.nan, True: math.inf, None: -math.inf}
    assert compact(special) == _stdlib_compact(special)


def test_what_the_standard_library_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        "".join(indented_chunks({"a": {"b": object()}}))
    with pytest.raises(TypeError):
        "".join(indented_chunks({"a": {(1, 2): 1}}))


# Records of the model in a value: written as their `plain` form is (`serialize.native_default`)

_zones = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(minutes=-90)),
     timezone(timedelta(seconds=3601)), ZoneInfo("UTC"), ZoneInfo("Europe/Paris")]
)  # fmt: skip
_times = st.builds(
    lambda when, zone: when.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    _zones,
)
_small = st.integers(min_value=0, max_value=2**70)
_evidence = st.builds(
    Evidence,
    st.sampled_from(SourceKind),
    _text,
    _text,
    st.lists(_text, max_size=2).map(tuple),
    st.none() | _small,
    mtime=st.none() | _times,
)
_schedules = st.builds(
    CronSchedule, _text, _text, _text, _text, _text, _text, _text, st.none() | _text
)
_odd = st.sampled_from([b"bytes\xff", Path("/etc/cron.d/x"), frozenset({"a"}), {1, 2},
                        MappingProxyType({"k": "v"}), OrderedDict(b=1), Severity.HIGH])  # fmt: skip
_in_records = _containing(_exact_scalars | _times | _schedules | _odd | _evidence)
_events = st.builds(
    JobEvent,
    _times,
    _text,
    _text,
    _text,
    _evidence,
    st.none() | _text,
    st.none() | _text,
    st.dictionaries(_text, _in_records, max_size=4),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_events | _schedules, max_size=3), st.integers(min_value=0, max_value=3))
def test_records_are_written_as_their_plain_form(records: list[Any], stream_depth: int) -> None:
    document = {"events": records, "deeper": [{"record": records[:1]}]}
    text = "".join(indented_chunks(document, stream_depth=stream_depth))
    mapped = {"events": plain(records), "deeper": [{"record": plain(records[:1])}]}
    assert text == _stdlib_indented(mapped)


def test_a_job_s_environment_is_an_object_as_plain_makes_it() -> None:
    job = ScheduledJob(
        "0" * 20, Mechanism.CRON, "T1053.003", "/etc/crontab:1", "root",
        CronSchedule("* * * * *", "*", "*", "*", "*", "*", "Every minute"),
        (ExecAction("run \udcfe", "run", ()),), Effective(True, "loaded", "cronie"),
        Evidence(SourceKind.IMAGE, "h", "/etc/crontab"),
        environment=(("SHELL", "/bin/sh"), ("MAILTO", "r\u00e9mi")),
        next_runs=(datetime(2026, 11, 28, tzinfo=UTC),),
    )  # fmt: skip
    for value in (job, replace(job, actions=(ExecAction("run", "run", ()),))):
        text = "".join(indented_chunks({"jobs": [value]}))
        assert text == _stdlib_indented({"jobs": [plain(value)]})
        assert '"environment": {' in text and '"kind": "cron"' in text


@settings(max_examples=300, deadline=None)
@given(_events | _schedules, st.sampled_from(["event", "finding", '\u00e9"x']))
def test_a_record_s_line_is_the_compact_line_of_its_plain_form(record: Any, kind: str) -> None:
    first = {"type": kind, "timeline": kind, "n": 1}
    assert compact_record(record, first) == _stdlib_compact({**first, **plain(record)})


@dataclass(frozen=True)
class _Empty:
    pass


def test_a_record_without_fields_is_its_type_alone() -> None:
    assert compact_record(_Empty(), {"type": "x"}) == '{"type":"x"}'


def test_a_field_named_as_a_first_key_takes_its_place_as_in_the_plain_form() -> None:
    schedule = CronSchedule("* * * * *", "*", "*", "*", "*", "*", "Every minute")
    first = {"type": "event", "minute": "first", "kind": "k"}
    line = compact_record(schedule, first)
    assert line == _stdlib_compact({**first, **plain(schedule)})
    assert line.startswith('{"type":"event","minute":"*","kind":"cron"')
