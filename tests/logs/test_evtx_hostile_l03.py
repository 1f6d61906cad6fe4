"""Hostile input L03 of reference/reliability.md: EVTX links that point back at themselves, and
deep BinXML nesting.

The files are crafted at test time from the corpus sample TaskScheduler.evtx (one chunk, 20
records, all of them task events): it is doubled into two chunks (records 1-20 and 21-40, the
second chunk's checksums recomputed) and one chunk is then damaged, its checksums recomputed
too, so that the parser cannot tell the damage from a checksum. Each file is hunted by
`schedwarden hunt` in a child process: a hang is a timeout and an abort a signal, both test
failures, never the end of pytest.

What the parser (evtx 0.14, Rust evtx 0.13) did with each, found when they were made:
- a name-table entry linking to itself: ignored (evtx#263); linking to another entry that links
  back (a two-entry cycle): an endless loop in Rust holding the GIL (the hunt hung);
- template-table cycles: ignored; a TemplateInstance whose definition offset points at the
  instance itself: "template data out of bounds"; a template whose body instantiates itself:
  "template instance inside template definition" (records rejected one by one);
- elements nested deeper than 512, or BinXML values nested deeper than 64 fragments: "nested
  too deeply"; within those limits the parser renders records nested up to ~33,000 levels, which
  made `json.loads` raise RecursionError (the rest of the file was lost) and, from ~500 levels,
  the JSON output of the hunt crash.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schedwarden.logs.evtx_guard import cut_link_cycles
from tests.conftest import corpus_path

HEADER, CHUNK = 4096, 65536
SECOND = HEADER + CHUNK
BUDGET_SECONDS = 10.0  # the hunt's per-file budget
TIMEOUT_SECONDS = 60.0  # the child's: far above the budget, so a hang shows as a timeout
ALL = set(range(1, 41))


# --- reading and crafting EVTX bytes ---------------------------------------------------------


def _u32(data: bytes | bytearray, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _fix_chunk(data: bytearray, base: int) -> None:
    """Recompute the data and header checksums of the chunk at `base`."""
    free = _u32(data, base + 48)
    struct.pack_into("<I", data, base + 52, zlib.crc32(data[base + 512 : base + free]))
    header = data[base : base + 120] + data[base + 128 : base + 512]
    struct.pack_into("<I", data, base + 124, zlib.crc32(header))


def _chains(chunk: bytes | bytearray, first: int, count: int) -> list[list[int]]:
    """The entries (chunk offsets) of each non-empty chain whose heads are at `first`."""
    chains = []
    for head in struct.unpack_from(f"<{count}I", chunk, first):
        chain = []
        while head:
            chain.append(head)
            head = _u32(chunk, head)
        if chain:
            chains.append(chain)
    return chains


def _names(chunk: bytes | bytearray) -> dict[str, int]:
    """Element name -> chunk offset of its entry in the name table."""
    found = {}
    for chain in _chains(chunk, 0x80, 64):
        for entry in chain:
            (length,) = struct.unpack_from("<H", chunk, entry + 6)
            found[chunk[entry + 8 : entry + 8 + 2 * length].decode("utf-16-le")] = entry
    return found


def _records(chunk: bytes | bytearray) -> list[tuple[int, int]]:
    """(chunk offset, record id) of each record."""
    records, position = [], 512
    while position < _u32(chunk, 48):
        magic, size, number = struct.unpack_from("<IIQ", chunk, position)
        assert magic == 0x2A2A
        records.append((position, number))
        position += size
    return records


@pytest.fixture(scope="module")
def sample() -> bytes:
    data = corpus_path("windows", "evtx", "task", "velociraptor", "TaskScheduler.evtx").read_bytes()
    assert struct.unpack_from("<H", data, 0x2A)[0] == 1  # one chunk, as crafted below
    assert [n for _, n in _records(data[HEADER:SECOND])] == list(range(1, 21))
    return data


def _two_chunks(sample: bytes) -> bytearray:
    """The sample with a second chunk holding the same records as numbers 21-40."""
    second = bytearray(sample[HEADER:SECOND])
    struct.pack_into("<QQQQ", second, 8, 21, 40, 21, 40)
    for position, number in _records(second):
        struct.pack_into("<Q", second, position + 8, number + 20)
    data = bytearray(sample[:SECOND]) + second
    struct.pack_into("<H", data, 0x2A, 2)
    struct.pack_into("<QQ", data, 16, 1, 41)  # last chunk number, next record id
    struct.pack_into("<I", data, 124, zlib.crc32(data[:120]))
    _fix_chunk(data, SECOND)
    return data


def _linked(sample: bytes, table: str, cycle: int, base: int) -> bytearray:
    """A chain of the name (`table` "name") or template table of the chunk at `base` closed
    into a cycle: its head links to itself (`cycle` 1) or its second entry to its head (2)."""
    data = _two_chunks(sample)
    chunk = data[base : base + CHUNK]
    first, count = (0x80, 64) if table == "name" else (0x180, 32)
    chain = next(c for c in _chains(chunk, first, count) if len(c) >= cycle)
    struct.pack_into("<I", data, base + chain[cycle - 1], chain[0])
    _fix_chunk(data, base)
    return data


def _last_record(sample: bytes, binxml: Callable[[int, dict[str, int]], bytes]) -> bytearray:
    """Record 20 (the last of the first chunk) replaced by one with the BinXML built by
    `binxml(chunk offset of that BinXML, names of the chunk)`; it may fill the chunk."""
    data = _two_chunks(sample)
    chunk = data[HEADER:SECOND]
    position, number = _records(chunk)[-1]
    assert number == 20
    body = binxml(position + 24, _names(chunk))
    size = 24 + len(body) + 4
    assert position + size <= CHUNK
    timestamp = bytes(chunk[position + 16 : position + 24])
    record = struct.pack("<IIQ", 0x2A2A, size, 20) + timestamp + body + struct.pack("<I", size)
    data[HEADER + position : HEADER + position + size] = record
    struct.pack_into("<I", data, HEADER + 48, position + size)  # free space offset
    _fix_chunk(data, HEADER)
    return data


FRAGMENT = b"\x0f\x01\x01\x00"


def _open(name: int, template: bool = False) -> bytes:
    """An element start, its name at chunk offset `name` (in a template: with a dependency id)."""
    return b"\x01" + (b"\xff\xff" if template else b"") + struct.pack("<II", 0, name) + b"\x02"


def _text(value: str) -> bytes:
    return b"\x05\x01" + struct.pack("<H", len(value)) + value.encode("utf-16-le")


def _nested_elements(depth: int) -> Callable[[int, dict[str, int]], bytes]:
    """<Event> inside <Event> ... `depth` times."""

    def build(start: int, names: dict[str, int]) -> bytes:
        return FRAGMENT + _open(names["Event"]) * depth + b"\x04" * depth + b"\x00"

    return build


def _nested_templates(
    per_template: int, fragments: int, security: bool = True
) -> Callable[[int, dict[str, int]], bytes]:
    """A Security 4698 record (`security`) or a bare one, whose body is a template nesting
    `per_template` <Data> elements around a BinXML substitution, whose value is an instance of
    the same template, and so on `fragments` times: 3 + per_template * (fragments + 1) levels."""

    def build(start: int, names: dict[str, int]) -> bytes:
        head = FRAGMENT
        if security:
            head += (
                _open(names["Event"])
                + _open(names["System"])
                + _open(names["EventID"])
                + _text("4698")
                + b"\x04"
                + _open(names["Channel"])
                + _text("Security")
                + b"\x04\x04"
                + _open(names["EventData"])
            )
        definition_offset = start + len(head) + 10  # right after the instance token: inline
        body = (
            FRAGMENT
            + _open(names["Data"], template=True) * per_template
            + b"\x0e\x00\x00\x21"  # optional substitution 0, a BinXML value
            + b"\x04" * per_template
            + b"\x00"
        )
        definition = struct.pack("<I", 0) + bytes(range(16)) + struct.pack("<I", len(body)) + body
        instance = b"\x0c\x01\x11\x22\x33\x44" + struct.pack("<I", definition_offset)
        value = b""
        for _ in range(fragments):
            value = (
                FRAGMENT
                + instance
                + struct.pack("<IHBB", 1, len(value), 0x21, 0)  # one value, a BinXML one
                + value
            )
        tail = b"\x04\x04\x00" if security else b"\x00"
        return (
            head
            + instance
            + definition
            + struct.pack("<IHBB", 1, len(value), 0x21, 0)
            + value
            + tail
        )

    return build


# --- hunting in a child process --------------------------------------------------------------


def _hunt(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, issues) of `schedwarden hunt PATH -f json`, run in a child process."""
    command = [sys.executable, "-m", "schedwarden", "hunt", str(path), "-f", "json", "-q"]
    command += ["--budget", str(BUDGET_SECONDS)]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the hunt of {path.name} hung (killed after {TIMEOUT_SECONDS:g} s)")
    elapsed = time.monotonic() - started
    assert done.returncode >= 0, f"the hunt of {path.name} died of signal {-done.returncode}"
    assert done.returncode in (0, 3), done.stderr.decode(errors="replace")[-2000:]
    assert elapsed < BUDGET_SECONDS, f"the hunt took {elapsed:.1f} s"
    document = json.loads(done.stdout)
    events, issues = document["events"], document["issues"]
    assert done.returncode == (3 if issues else 0)  # 3: some evidence could not be read
    assert all(i["evidence"]["path"] == str(path) for i in issues)
    return events, issues


def _ids(events: list[dict[str, Any]]) -> set[int]:
    return {int(e["extra"]["record_id"]) for e in events}


def _write(tmp_path: Path, name: str, data: bytes | bytearray) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


# --- the cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "cycle", "base"),
    [
        ("name", 1, HEADER),
        ("name", 2, HEADER),  # the one the parser loops on
        ("name", 2, SECOND),
        ("template", 1, HEADER),
        ("template", 2, HEADER),
    ],
    ids=["name-self", "name-two", "name-two-second-chunk", "template-self", "template-two"],
)
def test_link_cycle_is_an_issue_and_every_record_is_read(
    tmp_path: Path, sample: bytes, table: str, cycle: int, base: int
) -> None:
    path = _write(tmp_path, f"{table}{cycle}.evtx", _linked(sample, table, cycle, base))
    events, issues = _hunt(path)
    assert [(i["code"], i["evidence"]["offset"]) for i in issues] == [("LOG_CORRUPT", base)]
    assert f"EVTX {table} table" in issues[0]["message"] and "cycle" in issues[0]["message"]
    assert _ids(events) == ALL  # the names and templates of the cycle are all still found


def test_template_instance_pointing_at_itself(tmp_path: Path, sample: bytes) -> None:
    data = _two_chunks(sample)
    (position, number) = _records(data[HEADER:SECOND])[1]
    instance = HEADER + position + 24 + len(FRAGMENT)
    assert (number, data[instance]) == (2, 0x0C)  # record 2 starts with a TemplateInstance
    struct.pack_into("<I", data, instance + 6, instance - HEADER)  # its definition: itself
    _fix_chunk(data, HEADER)
    events, issues = _hunt(_write(tmp_path, "instance.evtx", data))
    assert [(i["code"], i["evidence"]["offset"]) for i in issues] == [
        ("LOG_CORRUPT", HEADER + position)
    ]
    assert "record number 2" in issues[0]["message"]
    assert "template data out of bounds" in issues[0]["message"]  # the parser followed it
    assert _ids(events) == ALL - {2}


def test_template_whose_body_instantiates_itself(tmp_path: Path, sample: bytes) -> None:
    data = _two_chunks(sample)
    chunk = data[HEADER:SECOND]
    first = _records(chunk)[0][0] + 24 + len(FRAGMENT)  # record 1's TemplateInstance
    template = _u32(chunk, first + 6)
    assert template == first + 10  # defined right there, used by all 20 records of the chunk
    body = template + 24 + len(FRAGMENT)
    data[HEADER + body : HEADER + body + 10] = chunk[first : first + 10]  # the same instance
    _fix_chunk(data, HEADER)
    events, issues = _hunt(_write(tmp_path, "recursive.evtx", data))
    assert [(i["code"], i["evidence"]["offset"]) for i in issues] == [
        ("LOG_CORRUPT", HEADER + position) for position, _ in _records(chunk)
    ]
    assert all("template instance inside template definition" in i["message"] for i in issues)
    assert _ids(events) == set(range(21, 41))  # the other chunk's records


@pytest.mark.parametrize(
    ("builder", "reason"),
    [
        (_nested_elements(1000), "BinXML elements nested too deeply"),
        (_nested_templates(2, 100, security=False), "BinXML fragments nested too deeply"),
        (_nested_templates(300, 1), "nested deeper than 64 levels"),  # ours: 603 levels
        (_nested_templates(500, 30), "maximum recursion depth exceeded"),  # 15,503 levels
    ],
    ids=["elements-1000", "fragments-100", "levels-603", "levels-15503"],
)
def test_deep_nesting_is_an_issue_at_the_record(
    tmp_path: Path,
    sample: bytes,
    builder: Callable[[int, dict[str, int]], bytes],
    reason: str,
) -> None:
    data = _last_record(sample, builder)
    events, issues = _hunt(_write(tmp_path, "deep.evtx", data))
    position = _records(data[HEADER:SECOND])[-1][0]
    assert [(i["code"], i["evidence"]["offset"]) for i in issues] == [
        ("LOG_CORRUPT", HEADER + position)
    ]
    assert reason in issues[0]["message"]
    assert _ids(events) == ALL - {20}  # before and after it, the second chunk too


def test_shallow_crafted_record_is_an_event(tmp_path: Path, sample: bytes) -> None:
    """The control: the same crafted record, nested 7 levels, is a task event of record 20."""
    events, _ = _hunt(
        _write(tmp_path, "shallow.evtx", _last_record(sample, _nested_templates(2, 1)))
    )
    (event,) = [e for e in events if e["extra"]["record_id"] == 20]
    assert (event["extra"]["channel"], event["extra"]["event_id"]) == ("Security", 4698)
    assert _ids(events) == ALL


def test_cut_view_changes_only_the_link_and_checksums(tmp_path: Path, sample: bytes) -> None:
    data = _linked(sample, "name", 2, HEADER)
    path = _write(tmp_path, "view.evtx", data)
    with path.open("rb") as stream:
        view, issues = cut_link_cycles(str(path), stream)
        assert stream.tell() == 0
        seen = view.read()
    assert len(issues) == 1 and len(seen) == len(data)
    changed = [i for i in range(len(data)) if seen[i] != data[i]]
    link = [i - HEADER for i in changed if i - HEADER not in range(52, 56)]
    link = [i for i in link if i not in range(124, 128)]
    assert len(link) <= 4 and _u32(seen, HEADER + min(link)) == 0  # the cycle's closing link
    free = _u32(seen, HEADER + 48)
    assert zlib.crc32(seen[HEADER + 512 : HEADER + free]) == _u32(seen, HEADER + 52)
    header = seen[HEADER : HEADER + 120] + seen[HEADER + 128 : HEADER + 512]
    assert zlib.crc32(header) == _u32(seen, HEADER + 124)


def test_file_without_cycles_is_read_as_it_is(tmp_path: Path, sample: bytes) -> None:
    path = _write(tmp_path, "two.evtx", _two_chunks(sample))
    with path.open("rb") as stream:
        assert cut_link_cycles(str(path), stream) == (stream, [])
