"""Hostile inputs L01-L05 of reference/reliability.md: corrupt chunks, truncated files, a header
that lies, a 1 MB line, NUL and invalid UTF-8; each an Issue with file and offset, within a
time budget, and the rest of the hunt goes on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from schedwarden.logs.reader import read_logs
from tests.conftest import DONPAPI, corpus_path

BUDGET_SECONDS = 5.0


@pytest.fixture
def evtx_bytes() -> bytes:
    return corpus_path("windows", "evtx", "task", "velociraptor", "TaskScheduler.evtx").read_bytes()


def _read(*paths: Path) -> tuple[list, list]:  # type: ignore[type-arg]
    started = time.monotonic()
    events, issues = read_logs([str(p) for p in paths], budget=BUDGET_SECONDS)
    assert time.monotonic() - started < BUDGET_SECONDS
    return events, issues


def test_corrupt_chunk_is_an_issue_with_offset(tmp_path: Path, evtx_bytes: bytes) -> None:
    damaged = bytearray(evtx_bytes)
    damaged[4096 + 600 : 4096 + 2000] = b"\xff" * 1400  # string/template tables of chunk 0
    path = tmp_path / "corrupt.evtx"
    path.write_bytes(bytes(damaged))
    good = tmp_path / "good.log"
    good.write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    events, issues = _read(path, good)
    assert [i.code for i in issues] == ["LOG_CORRUPT"]
    assert issues[0].evidence.path == str(path) and issues[0].evidence.offset == 4096
    assert [e.evidence.path for e in events] == [str(good)]  # the hunt went on


def test_bad_chunk_header(tmp_path: Path, evtx_bytes: bytes) -> None:
    damaged = bytearray(evtx_bytes)
    damaged[4096:4104] = b"garbage!"
    path = tmp_path / "chunk.evtx"
    path.write_bytes(bytes(damaged))
    _, issues = _read(path)
    assert issues and {i.code for i in issues} == {"LOG_CORRUPT"}
    assert 4096 in {i.evidence.offset for i in issues}


def test_truncated_file(tmp_path: Path, evtx_bytes: bytes) -> None:
    path = tmp_path / "cut.evtx"
    path.write_bytes(evtx_bytes[:30000])
    _, issues = _read(path)
    assert [(i.code, i.evidence.offset) for i in issues] == [("LOG_TRUNCATED", 30000)]


def test_header_announcing_more_chunks_than_present(tmp_path: Path, evtx_bytes: bytes) -> None:
    lying = bytearray(evtx_bytes)
    lying[0x2A:0x2C] = (1000).to_bytes(2, "little")
    path = tmp_path / "lying.evtx"
    path.write_bytes(bytes(lying))
    events, issues = _read(path)
    assert len(events) == 20  # the real chunk is still read
    assert [i.code for i in issues] == ["LOG_TRUNCATED"]


def test_magic_and_zeros_and_empty_file(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.evtx"
    zeros.write_bytes(b"ElfFile\x00" + bytes(8192))
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    events, issues = _read(zeros, empty)
    assert not events
    assert [(i.code, i.evidence.path) for i in issues] == [("LOG_CORRUPT", str(zeros))]


def test_megabyte_line_nul_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(
        b"Nov 27 10:00:01 h CRON[1]: (root) CMD (" + b"A" * (1 << 20) + b")\n"
        b"Nov 27 10:00:02 h CRON[2]: (root) CMD (ok\xff\x00)\n"
    )
    events, issues = _read(path)
    assert [(i.code, i.evidence.line, i.evidence.offset) for i in issues] == [
        ("LOG_LINE_TOO_LONG", 1, 0)
    ]
    assert len(events) == 1
    assert events[0].command == "ok\udcff\x00"  # kept exactly; escaped only on output
    assert events[0].evidence.line == 2 and events[0].evidence.offset == (1 << 20) + 41


def test_time_budget_stops_a_file(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n" * 200_000)
    path.write_bytes(b"Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n" * 200_000)  # 9 MB: 3 blocks
    events, issues = read_logs([str(path)], budget=0.0)
    assert [i.code for i in issues] == ["LOG_TIME_BUDGET"]
    assert 0 < len(events) < 200_000  # the first block only
    assert issues[0].evidence.line == len(events) + 1


def test_later_chunks_are_read_after_a_corrupt_one(tmp_path: Path) -> None:
    source = corpus_path(*DONPAPI)
    intact, _ = _read(source)
    damaged = bytearray(source.read_bytes())
    damaged[4096 + 600 : 4096 + 2000] = b"\xff" * 1400
    path = tmp_path / "donpapi.evtx"
    path.write_bytes(bytes(damaged))
    events, issues = _read(path)
    assert [(i.code, i.evidence.offset) for i in issues] == [("LOG_CORRUPT", 4096)]
    assert 0 < len(events) <= len(intact)
    assert not any(e.action == "updated" for e in events)  # the 4702 was in the damaged chunk
    assert any(int(str(e.extra["record_id"])) > 300 for e in events)  # later chunks were read


@pytest.mark.parametrize("size", [0, 0xB8B8B8B8])  # L01 (evtx#264), L02 (evtx#288)
def test_record_with_a_size_of_zero_or_past_the_chunk(
    tmp_path: Path, evtx_bytes: bytes, size: int
) -> None:
    damaged = bytearray(evtx_bytes)
    first = 4096 + 512  # the first record of chunk 0
    second = first + int.from_bytes(damaged[first + 4 : first + 8], "little")
    assert damaged[second : second + 4] == b"\x2a\x2a\x00\x00"
    damaged[second + 4 : second + 8] = size.to_bytes(4, "little")
    path = tmp_path / "record.evtx"
    path.write_bytes(bytes(damaged))
    events, issues = _read(path)
    assert [(i.code, i.evidence.offset) for i in issues] == [("LOG_CORRUPT", second)]
    assert [e.extra["record_id"] for e in events] == [1]  # the parser skips the rest of the chunk


class PanicException(BaseException):  # as pyo3 raises a Rust panic: not an Exception
    pass


@pytest.mark.parametrize("when", ["open", "record"])
def test_a_panic_of_the_parser_ends_the_file_not_the_hunt(
    tmp_path: Path, evtx_bytes: bytes, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedwarden.logs import evtx_reader

    real = evtx_reader.evtx.PyEvtxParser

    class Panicking:
        def __init__(self, source: object) -> None:
            if when == "open":
                raise PanicException("called `Option::unwrap()` on a `None` value")
            self.parser = real(source)

        def records_json(self) -> object:
            records = self.parser.records_json()
            yield next(records)
            raise PanicException("index out of bounds")

    monkeypatch.setattr(evtx_reader.evtx, "PyEvtxParser", Panicking)
    path = tmp_path / "panic.evtx"
    path.write_bytes(evtx_bytes)
    good = tmp_path / "good.log"
    good.write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    events, issues = _read(path, good)
    assert [i.code for i in issues] == ["LOG_CORRUPT"]
    assert "PanicException" in issues[0].message and issues[0].evidence.path == str(path)
    second = 4096 + 512 + int.from_bytes(evtx_bytes[4096 + 516 : 4096 + 520], "little")
    assert issues[0].evidence.offset == (None if when == "open" else second)
    assert [e.evidence.path for e in events] == [str(path)] * (when == "record") + [str(good)]


def test_an_interrupt_in_the_parser_is_not_an_issue(
    tmp_path: Path, evtx_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedwarden.logs import evtx_reader

    def interrupted(source: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(evtx_reader.evtx, "PyEvtxParser", interrupted)
    path = tmp_path / "x.evtx"
    path.write_bytes(evtx_bytes)
    with pytest.raises(KeyboardInterrupt):
        read_logs([str(path)])
