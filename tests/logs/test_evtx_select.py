"""The EVTX records chosen before rendering (`evtx_select`): the parser renders the chosen
records exactly as a full parse does, every record the reader would keep is among them, and what
cannot be read for sure is kept. Errors of the parser are still located in the file."""

from __future__ import annotations

import io
import json
import random
import re
import struct
import sys
from pathlib import Path

import evtx
import pytest

from schedwarden.logs import evtx_reader
from schedwarden.logs.evtx_guard import cut_link_cycles
from schedwarden.logs.evtx_reader import _EVENT_ID, CHOOSER, KEYWORDS, WANTED, _mentions
from schedwarden.logs.evtx_select import (
    FOLDING_TO,
    FOLDING_TO_FIRST,
    Chosen,
    ChosenFile,
    RecordChooser,
)
from schedwarden.logs.reader import read_logs
from tests.conftest import CORPUS, DONPAPI, corpus_path

HEADER, CHUNK = 4096, 65536
EVTX_FILES = sorted((CORPUS / "windows" / "evtx").rglob("*.evtx"))


def _records(data: bytes) -> dict[int, str]:
    """Record id -> JSON text of every record the parser renders from `data`."""
    return {
        int(r["event_record_id"]): str(r["data"])
        for r in evtx.PyEvtxParser(io.BytesIO(data)).records_json()
    }


def _kept_by_reader(text: str) -> bool:
    """The reader's own test on a rendered record (event id, then keywords)."""
    match = _EVENT_ID.search(text)
    if match is None or int(match.group(1)) not in WANTED:
        return False
    keywords = KEYWORDS.get(int(match.group(1)))
    return keywords is None or _mentions(text, *keywords)


@pytest.mark.parametrize("path", EVTX_FILES, ids=lambda p: p.name)
def test_chosen_records_render_as_in_a_full_parse(path: Path) -> None:
    data = path.read_bytes()
    full = _records(data)
    chosen = CHOOSER.choose_in_file(data)
    rendered = _records(bytes(chosen.data))
    assert all(full[number] == text for number, text in rendered.items())
    assert {n for n, t in full.items() if _kept_by_reader(t)} == {
        n for n, t in rendered.items() if _kept_by_reader(t)
    }


def test_most_records_of_the_corpus_are_not_rendered() -> None:
    if not EVTX_FILES:
        pytest.skip("shared corpus not available")
    full = rendered = 0
    for path in EVTX_FILES:
        data = path.read_bytes()
        full += len(_records(data))
        rendered += len(_records(bytes(CHOOSER.choose_in_file(data).data)))
    assert rendered < full / 5  # measured: 256 of 2,324


def test_hunt_gives_the_same_events_and_issues_as_without_choosing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = corpus_path("windows", "evtx")
    chosen = read_logs([str(folder)], processes=1)

    class Everything(RecordChooser):
        def choose_in_file(self, data: bytes) -> ChosenFile:
            return ChosenFile(data, {}, None)

    monkeypatch.setattr(evtx_reader, "CHOOSER", Everything((), {}))
    assert read_logs([str(folder)], processes=1) == chosen


def test_the_folding_tables_hold_every_code_point() -> None:
    single: dict[str, set[str]] = {}
    first: dict[str, set[str]] = {}
    for code in range(0x80, sys.maxunicode + 1):
        lower = chr(code).lower()
        if lower[0].isascii() and lower[0].isalpha():
            table = single if len(lower) == 1 else first
            table.setdefault(lower[0], set()).add(chr(code))
    assert single == {k: set(v) for k, v in FOLDING_TO.items()}
    assert first == {k: set(v) for k, v in FOLDING_TO_FIRST.items()}


def _donpapi() -> bytes:
    return corpus_path(*DONPAPI).read_bytes()


def _ids(texts: dict[int, str]) -> list[int]:
    return [int(m.group(1)) for m in map(_EVENT_ID.search, texts.values()) if m is not None]


def test_a_template_without_a_readable_event_id_keeps_its_records() -> None:
    data = bytearray(_donpapi())
    old, new = "EventID".encode("utf-16-le"), "EventIX".encode("utf-16-le")
    assert old in data
    data = bytearray(data.replace(old, new))  # every template: no System/EventID to read
    assert len(_records(bytes(CHOOSER.choose_in_file(bytes(data)).data))) == len(
        _records(bytes(data))
    )


def test_a_keyword_in_a_template_keeps_the_records_of_searched_ids() -> None:
    data = _donpapi()
    before = _ids(_records(bytes(CHOOSER.choose_in_file(data).data))).count(5145)
    # the template's own text now holds "atsvc" (the word 5145 records are kept for)
    old = "schemas.microsoft.com".encode("utf-16-le")
    worded = data.replace(old, "atsvcas.microsoft.com".encode("utf-16-le"))
    assert worded != data
    kept = _ids(_records(bytes(CHOOSER.choose_in_file(worded).data))).count(5145)
    assert kept == _ids(_records(worded)).count(5145) > before


def test_a_template_walked_in_another_chunk_is_reused_only_with_the_same_names() -> None:
    """A template may name its elements with names another template of its chunk wrote. In the
    DonPAPI log's first chunk, the template at 2638 reads `System` and `EventID` from the body of
    the one at 550: in a chunk where that `EventID` is another name, its records must not be
    chosen as in the chunk walked before, though its own bytes are the same."""
    chunk = _donpapi()[HEADER : HEADER + CHUNK]
    name = "EventID".encode("utf-16-le")
    assert chunk[1026 : 1026 + len(name)] == name
    changed = bytearray(chunk)
    changed[1026 : 1026 + len(name)] = "EventIX".encode("utf-16-le")

    def choice(chooser: RecordChooser, data: bytes | bytearray) -> tuple[object, ...]:
        chosen = chooser.choose(data)
        return bytes(chosen.chunk), chosen.skipped, chosen.spans, chosen.needed

    def chooser() -> RecordChooser:
        return RecordChooser(CHOOSER.always, dict.fromkeys(CHOOSER.searched, ("atsvc",)))

    expected = choice(chooser(), changed)
    assert expected != choice(chooser(), chunk)  # the name matters here
    warmed = chooser()
    choice(warmed, chunk)  # its templates walked, in the chunk as it was
    assert choice(warmed, changed) == expected


@pytest.mark.parametrize("spelling", ["ATSVC", "AtSvC"])
def test_a_keyword_in_any_case_keeps_the_record(spelling: str) -> None:
    data = _donpapi()
    full = _records(data)
    number = next(n for n, t in full.items() if '"RelativeTargetName":"' in t and "atsvc" not in t)
    chooser = RecordChooser((), {5145: {"winreg", "atsvc"}})
    assert number not in _records(bytes(chooser.choose_in_file(data).data))
    target = full[number].split('"RelativeTargetName":"')[1].split('"')[0]
    assert len(target) >= 5
    renamed = data.replace(
        target.encode("utf-16-le"), (spelling + target[5:]).encode("utf-16-le"), 1
    )
    assert number in _records(bytes(chooser.choose_in_file(renamed).data))


def test_a_record_is_kept_on_the_words_of_its_own_id_only() -> None:
    data = _donpapi()
    full = _records(data)

    def target_of(text: str) -> str:
        if '"RelativeTargetName":"' not in text:
            return ""
        return str(json.loads('"' + text.split('"RelativeTargetName":"')[1].split('"')[0] + '"'))

    number = next(  # a share access whose target is written once in the file, 8 letters or more
        n
        for n, t in full.items()
        if len(target_of(t)) >= 8 and data.count(target_of(t).encode("utf-16-le")) == 1
    )
    target = target_of(full[number])
    renamed = data.replace(
        target.encode("utf-16-le"), ("schtasks" + target[8:]).encode("utf-16-le"), 1
    )
    # "schtasks" is a word for process creations: a share access holding it is not kept
    others = RecordChooser((), {5145: {"atsvc"}, 1: {"schtasks"}, 4688: {"schtasks"}})
    assert number not in _records(bytes(others.choose_in_file(renamed).data))
    own = RecordChooser((), {5145: {"atsvc", "schtasks"}, 1: {"schtasks"}})
    assert number in _records(bytes(own.choose_in_file(renamed).data))


def test_a_chunk_with_nothing_to_render_is_left_out_and_errors_keep_their_offset(
    tmp_path: Path,
) -> None:
    source = corpus_path(
        "windows",
        "evtx",
        "negative",
        "EVTX-ATTACK-SAMPLES",
        "Lateral Movement",
        "LM_Remote_Service02_7045.evtx",
    ).read_bytes()
    chunk = source[HEADER : HEADER + CHUNK]
    assert chunk.startswith(b"ElfChnk\x00")
    # chunk 0: service installations only (nothing a task hunt reads); chunk 1: not a chunk
    data = source[:HEADER] + chunk + b"garbage!" + chunk[8:]
    chosen = CHOOSER.choose_in_file(data)
    assert chosen.numbers == [1]  # the parser reads the second slot alone
    path = tmp_path / "two.evtx"
    path.write_bytes(data)
    events, issues = read_logs([str(path)], processes=1)
    assert not events
    assert issues and {i.evidence.offset for i in issues} == {HEADER + CHUNK}
    # the parser names the first chunk it read: the message names it as the file does
    assert all("chunk number 0" not in i.message for i in issues)
    assert any("chunk number 1" in i.message for i in issues)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_files_read_in_windows_give_what_reading_them_whole_gives(
    seed: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    data = bytearray(_donpapi())
    for _ in range(rng.randint(1, 30)):
        position = rng.randrange(HEADER, len(data))
        data[position] ^= 1 << rng.randrange(8)
    path = tmp_path / "damaged.evtx"
    path.write_bytes(bytes(data))
    whole = read_logs([str(path)], processes=1)
    monkeypatch.setattr(evtx_reader, "IN_MEMORY", 0)
    monkeypatch.setattr(evtx_reader, "WINDOW_CHUNKS", 2)
    assert read_logs([str(path)], processes=1) == whole


def _chunk_records(data: bytes | bytearray, base: int) -> list[tuple[int, int, int]]:
    """(file offset, size, id) of each record of the chunk at `base`."""
    found, position = [], base + 512
    (free,) = struct.unpack_from("<I", data, base + 48)
    while position < base + free:
        magic, size, number = struct.unpack_from("<IIQ", data, position)
        if magic != 0x2A2A:
            break
        found.append((position, size, number))
        position += size
    return found


def test_a_size_of_zero_after_skipped_records_is_located(tmp_path: Path) -> None:
    data = bytearray(_donpapi())
    records = _chunk_records(data, HEADER)
    full = _records(bytes(data))
    kept = {n for n, t in full.items() if _kept_by_reader(t)}
    # a record after a run of records the reader drops, which the chooser skips
    index = next(
        i for i in range(3, len(records)) if all(records[j][2] not in kept for j in (i - 1, i - 2))
    )
    position = records[index][0]
    data[position + 4 : position + 8] = bytes(4)  # L01: a record size of 0
    path = tmp_path / "zero.evtx"
    path.write_bytes(bytes(data))
    _, issues = read_logs([str(path)], processes=1)
    assert ("LOG_CORRUPT", position) in {(i.code, i.evidence.offset) for i in issues}


def _parse(data: bytes) -> dict[int, str | None]:
    """Record id -> JSON text of what the parser renders (None for an id met twice), going on
    after errors, the link cycles cut first as the reader does."""
    stream, _ = cut_link_cycles("x", io.BytesIO(data))
    found: dict[int, str | None] = {}
    records = evtx.PyEvtxParser(stream).records_json()
    while True:
        try:
            record = next(records)
        except StopIteration:
            return found
        except (RuntimeError, OSError, ValueError):
            continue
        number = int(record["event_record_id"])
        found[number] = None if number in found else str(record["data"])


def _spans(data: bytes) -> dict[int, tuple[int, int] | None]:
    """Record id -> (start, end) in the file of each record met walking the chunks (None for
    an id met twice)."""
    spans: dict[int, tuple[int, int] | None] = {}
    for base in range(HEADER, len(data) - 512 + 1, CHUNK):
        if not data.startswith(b"ElfChnk\x00", base):
            continue
        (free,) = struct.unpack_from("<I", data, base + 48)
        for position, size, number in _chunk_records(data, base):
            if position + size > base + min(free, CHUNK):
                break
            spans[number] = None if number in spans else (position, position + size)
    return spans


@pytest.mark.parametrize("seed", range(8))
def test_damaged_files_lose_no_intact_record_to_the_choice(seed: int) -> None:
    """Bits flipped at random in the chunks of corpus files: every record the reader keeps from
    a full parse, and whose own bytes are intact, is rendered the same from the chosen file.
    (A damaged record may come out otherwise: the parser may read past its end, into bytes the
    choice changed, or not render it at all when it is skipped.) Measured beforehand over 40,000
    such files."""
    rng = random.Random(seed)
    files = sorted(p for p in EVTX_FILES if p.stat().st_size > HEADER)
    if not files:
        pytest.skip("shared corpus not available")
    for _ in range(60):
        data = bytearray(rng.choice(files).read_bytes()[: HEADER + 2 * CHUNK])
        flips = {rng.randrange(HEADER + 512, len(data)) for _ in range(rng.choice((1, 4, 16, 64)))}
        for position in flips:
            data[position] ^= 1 << rng.randrange(8)
        damaged = bytes(data)
        full = _parse(damaged)
        chosen = _parse(bytes(CHOOSER.choose_in_file(damaged).data))
        spans = _spans(damaged)
        for number, text in full.items():
            span = spans.get(number)
            if text is None or span is None or not _kept_by_reader(text):
                continue
            if not any(span[0] <= flip < span[1] for flip in flips):
                assert chosen.get(number) == text, (seed, number)


def _values(chunk: bytes | bytearray, position: int) -> tuple[int, int]:
    """(chunk offset of the value count, number of values) of the record at `position`."""
    start = position + 24
    (definition,) = struct.unpack_from("<I", chunk, start + 10)
    values = start + 14
    if definition == values:  # the template is defined in this record
        values += 24 + struct.unpack_from("<I", chunk, values + 20)[0]
    return values, struct.unpack_from("<I", chunk, values)[0]


def _task_chunk() -> tuple[bytes, list[tuple[int, int, int]], set[int]]:
    """The first chunk of a corpus file with records kept and skipped, its records (chunk
    offsets) and the ids the reader keeps."""
    data = corpus_path(
        "windows",
        "evtx",
        "task",
        "EVTX-ATTACK-SAMPLES",
        "AutomatedTestingTools",
        "Malware",
        "DE_timestomp_and_dll_sideloading_and_RunPersist.evtx",
    ).read_bytes()
    full = _records(data)
    kept = {n for n, t in full.items() if _kept_by_reader(t)}
    records = [(p - HEADER, s, n) for p, s, n in _chunk_records(data, HEADER)]
    return data[HEADER : HEADER + CHUNK], records, kept


def test_records_to_render_keep_their_size() -> None:
    """A record whose end-of-fragment token is damaged is read to its own end in the file: a
    kept record stretched over the next ones was read into them."""
    chunk, records, kept = _task_chunk()
    chosen = bytes(CHOOSER.choose(chunk).chunk)
    assert chosen != chunk and kept
    for position, size, number in records:
        if number in kept:
            assert struct.unpack_from("<I", chosen, position + 4)[0] == size


def test_a_record_whose_values_run_past_its_end_leaves_the_next_records_as_they_are() -> None:
    chunk, records, kept = _task_chunk()
    index = next(
        i
        for i, (_, _, number) in enumerate(records[:-2])
        if number in kept and not {records[i + 1][2], records[i + 2][2]} & kept
    )
    untouched = bytes(CHOOSER.choose(chunk).chunk)
    assert (
        untouched[records[index + 1][0] + 4 : records[index + 1][0] + 8]
        != chunk[records[index + 1][0] + 4 : records[index + 1][0] + 8]
    )  # the record after it was stretched, as it may be
    damaged = bytearray(chunk)
    values, count = _values(damaged, records[index][0])
    last = values + 4 + 4 * (count - 1)
    (size,) = struct.unpack_from("<H", damaged, last)
    struct.pack_into("<H", damaged, last, size + 16)  # the last value now runs 16 bytes on
    chosen = bytes(CHOOSER.choose(bytes(damaged)).chunk)
    after = records[index + 1][0]
    assert chosen[after : after + 8] == chunk[after : after + 8]


def test_a_value_before_the_event_id_whose_size_is_not_its_type_s_keeps_the_record() -> None:
    """The parser reads a fixed-size value at its type's size: a record whose descriptor says
    otherwise has its event id where the sizes do not say."""
    chunk, records, kept = _task_chunk()
    position, _, _ = next(r for r in records if r[2] not in kept and r[0] > 512)
    damaged = bytearray(chunk)
    values, _ = _values(damaged, position)
    size, kind = struct.unpack_from("<HB", damaged, values + 4)  # the first value: Level, UInt8
    assert (size, kind) == (1, 0x04)
    struct.pack_into("<H", damaged, values + 4, 0)
    skipped = CHOOSER.choose(chunk).skipped
    assert CHOOSER.choose(bytes(damaged)).skipped < skipped  # it is rendered now


def test_big_files_read_in_windows_give_what_reading_them_whole_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file bigger than IN_MEMORY is read WINDOW_CHUNKS chunks at a time, each part chosen
    and parsed as a file of its own: the same events and issues, located in the file."""
    folder = corpus_path("windows", "evtx")
    whole = read_logs([str(folder)], processes=1)
    assert len(whole[0]) > 100
    monkeypatch.setattr(evtx_reader, "IN_MEMORY", 0)
    monkeypatch.setattr(evtx_reader, "WINDOW_CHUNKS", 2)
    assert read_logs([str(folder)], processes=1) == whole


@pytest.mark.parametrize("how", ["first chunk left out", "windows of one chunk"])
def test_a_cycle_in_a_chunk_not_first_in_what_is_parsed_is_located_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from tests.logs.test_evtx_hostile_l03 import SECOND, _linked

    sample = corpus_path("windows", "evtx", "task", "velociraptor", "TaskScheduler.evtx")
    path = tmp_path / "cycle.evtx"
    path.write_bytes(bytes(_linked(sample.read_bytes(), "name", 2, SECOND)))

    class FirstLeftOut(RecordChooser):
        def choose(self, chunk: bytes | bytearray | memoryview) -> Chosen:
            chosen = super().choose(chunk)
            if struct.unpack_from("<Q", chunk, 8)[0] != 1:  # not the chunk of records 1-20
                return chosen
            return Chosen(chosen.chunk, chosen.skipped, chosen.spans, needed=False)

    if how == "first chunk left out":
        chooser = FirstLeftOut(CHOOSER.always, dict.fromkeys(CHOOSER.searched, ("taskcache",)))
        monkeypatch.setattr(evtx_reader, "CHOOSER", chooser)
    else:
        monkeypatch.setattr(evtx_reader, "IN_MEMORY", 0)
        monkeypatch.setattr(evtx_reader, "WINDOW_CHUNKS", 1)
    issues = read_logs([str(path)], processes=1)[1]
    cycles = [i for i in issues if "cycle" in i.message]
    assert [i.evidence.offset for i in cycles] == [SECOND]
    entry, to = map(int, re.findall(r"\b\d{5,}\b", cycles[0].message))
    assert SECOND < entry < SECOND + CHUNK and SECOND < to < SECOND + CHUNK
