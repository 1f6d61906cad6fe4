"""Which records of an EVTX chunk the parser has to render, chosen from the binary records before
anything is rendered, and a view of the chunk in which the parser skips the others.

Most records of a real Security or Sysmon log are of no use to a task hunt (about 94% of the
replicated benchmark corpus: process creations without `schtasks`, share accesses other than
`atsvc`, logons...). The `evtx` binding renders every record to JSON, and that rendering, with
the Python loop over its output, was most of the cost of a hunt. It cannot be told which records
to skip, so the chunk it reads is changed instead: the first record of each run of records to
skip has its size stretched over the others of its run. The parser steps from record to record
by their sizes and stops reading a record at its end-of-fragment token, so it renders the kept
records exactly as before (their sizes are untouched) and of each run only its first record,
which the reader then drops. Template definitions and names are found by their chunk offsets, which do not
move: a kept record whose template is defined inside a skipped one renders the same. The tests
hold the rendered records equal to a full parse's, record for record, over the whole corpus.

A record is kept (rendered) unless it is certain that the reader would drop it:

- Its event id is read where its template says (the substitution inside `System/EventID`, or the
  template's literal text). A record whose event id cannot be read for any reason (no template
  instance, a template this reader does not understand, a value that is not a 16-bit number, an
  offset out of bounds) is kept.
- An id the reader takes only with a keyword (`schtasks` in a process creation, `atsvc` in a
  share access...) is kept when one of the words appears anywhere in the record's bytes, as
  UTF-16LE or single-byte text, in any ASCII case (and with the characters Python lowercases to
  an ASCII letter), or anywhere in its template: a superset of the reader's own test, which looks
  in some fields of the rendered text.

Reference: the EVTX and BinXML format of libyal's libevtx documentation ("Windows XML Event Log
(EVTX)"), and the `evtx` crate's deserializer.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING

from .evtx_guard import CHUNK_MAGIC, CHUNK_SIZE, HEADER_SIZE, RECORD_MAGIC
from .line_search import keyword_hits

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer as Buffer
else:
    Buffer = bytes

CHUNK_HEADER = 512
_ZEROS = bytes(CHUNK_SIZE)
# a record's magic, size, id, written time, then its BinXML: a fragment header's token and
# version, a template instance's token, a byte, the template's id and definition offset
_RECORD_START = struct.Struct("<IIQ8xB3xB5xI")
_RECORD_MIN = 28  # the header and the size's copy at the end
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_UINT16 = 0x06  # BinXML value type of an event id
_MAX_TOKENS = 4096  # a template longer than this is not understood: its records are kept
_MAX_INDEX = 1024  # nor one whose event id comes after this many values
_MAX_VALUES = 4096  # a record said to have more values may read anything: nothing after it moves
_RECORD_HEADER = 24  # magic, size, id, written time

# BinXML tokens (the 0x40 bit: "more data", an element with attributes or a value that follows)
_OPEN, _CLOSE_START, _CLOSE_EMPTY, _END_ELEMENT = 0x01, 0x02, 0x03, 0x04
_VALUE, _ATTRIBUTE, _CDATA, _CHAR_REF, _ENTITY_REF = 0x05, 0x06, 0x07, 0x08, 0x09
_PI_TARGET, _PI_DATA, _TEMPLATE = 0x0A, 0x0B, 0x0C
_SUBSTITUTION, _OPTIONAL_SUBSTITUTION, _FRAGMENT = 0x0D, 0x0E, 0x0F
_STRING = 0x01  # value type of a literal text


class _NotUnderstood(Exception):
    """A template this module does not read to the end: its records are kept."""


@dataclass(frozen=True, slots=True)
class _Template:
    """Where a template's records have their event id: written in the template (`literal`),
    or in the substitution value whose descriptor, and those before it, `reader` reads; neither
    when unknown. `offsets` remembers, for the descriptors a record has, where its event id is
    (after the descriptors), or -1 when that cannot be told."""

    literal: int | None = None
    reader: struct.Struct | None = None
    offsets: dict[tuple[int, ...], int] = field(default_factory=dict)


@cache
def _reader(index: int) -> struct.Struct:
    """Reads the number of values of a template instance, then the size and type of each of
    its first `index` + 1 values (each descriptor: size, type, a pad)."""
    return struct.Struct("<I" + "HBx" * (index + 1))


_UNKNOWN = _Template()  # no event id read: the records are kept


@dataclass(frozen=True, slots=True)
class Chosen:
    """A chunk as the parser should read it, and what was left out."""

    chunk: Buffer  # the chunk with kept records stretched over skipped ones (or as it was)
    skipped: int  # how many records the parser will not see
    # id of each stretched record -> id of the last record its size now covers
    spans: dict[int, int]
    needed: bool  # whether the parser has to read the chunk at all


@dataclass(frozen=True, slots=True)
class ChosenFile:
    """An EVTX file as the parser should read it."""

    data: Buffer  # the file itself when nothing is skipped
    spans: dict[int, int]  # as in `Chosen`, of every chunk
    # the chunk number in the file of each chunk of `data`; None when they are the file's
    numbers: list[int] | None


class RecordChooser:
    """Chooses the records of chunks: those of `always` ids, those of `searched` ids that hold
    one of the words (lowercase ASCII) given for their id, and every record whose id cannot be
    read."""

    def __init__(
        self,
        always: Collection[int],
        searched: Mapping[int, Iterable[str]],
        walked: WalkedTemplates | None = None,
    ):
        self.always = frozenset(always)
        word_sets = {id: tuple(sorted({w for w in words if w})) for id, words in searched.items()}
        groups = sorted(set(word_sets.values()))  # ids with the same words share their search
        self.group_of = {id: groups.index(words) for id, words in word_sets.items()}
        self.words = _Words.of(groups)
        self.walked = WalkedTemplates() if walked is None else walked  # may be shared

    @property
    def searched(self) -> frozenset[int]:
        """The ids whose records are chosen on their words."""
        return frozenset(self.group_of)

    def choose_in_file(self, data: bytes | bytearray) -> ChosenFile:
        """The file `data` as the parser should read it: its header, then its chunks in order
        without those the parser need not read, each with its records chosen. Parts that are
        not chunks (unused or unreadable) stay, but for the unused space at the end."""
        view = memoryview(data)
        parts: list[Buffer] = [view[:HEADER_SIZE]]
        numbers: list[int] = []
        spans: dict[int, int] = {}
        changed = False
        for number, position in enumerate(range(HEADER_SIZE, len(data), CHUNK_SIZE)):
            chunk = view[position : position + CHUNK_SIZE]
            if data.startswith(CHUNK_MAGIC, position) and len(chunk) >= CHUNK_HEADER:
                chosen = self.choose(chunk)
                changed = changed or bool(chosen.skipped) or not chosen.needed
                if not chosen.needed:
                    continue
                chunk = memoryview(chosen.chunk)
                spans.update(chosen.spans)
            parts.append(chunk)
            numbers.append(number)
        if not changed:
            return ChosenFile(data, {}, None)
        # the parser passes over a chunk of zeros (unused space): those at the end are left out
        while numbers:
            start = HEADER_SIZE + numbers[-1] * CHUNK_SIZE
            if not data.startswith(_ZEROS[: min(CHUNK_SIZE, len(data) - start)], start):
                break
            parts.pop()
            numbers.pop()
        return ChosenFile(b"".join(parts), spans, numbers)

    def choose(self, chunk: Buffer) -> Chosen:
        """The chunk with the records no reader needs skipped; unchanged when every record is
        needed. Records are walked from the chunk's first on, up to one the parser would fail
        on, which is left where it is with all after it (and the chunk is then needed)."""
        chunk = memoryview(chunk)
        free = min(_U32.unpack_from(chunk, 48)[0], len(chunk)) if len(chunk) >= 52 else 0
        marked = _Marked(chunk, free, self.words, self.walked)
        templates = marked.templates
        always, group_of = self.always, self.group_of
        records: list[tuple[int, int, int, bool]] = []  # offset, size, id, needed
        # where the keywords of each group end (`holds_word`), found when first asked, and how
        # many of each end before the record: records come in order
        ends: list[list[int]] | None = None
        passed: list[int] = []
        position = CHUNK_HEADER
        while position + _RECORD_START.size <= free:
            magic, size, record_id, fragment, token, definition = _RECORD_START.unpack_from(
                chunk, position
            )
            if magic != RECORD_MAGIC or size < _RECORD_MIN or position + size > free:
                break
            end = position + size
            event_id = None
            if fragment == _FRAGMENT and token == _TEMPLATE:
                template = templates.get(definition) or marked.template(definition)
                event_id = template.literal
                if event_id is None and template.reader is not None:
                    event_id = _event_id(chunk, position, end, definition, template)
            if event_id is None or event_id in always:
                needed = True
            elif event_id in group_of:
                group = group_of[event_id]
                if ends is None:
                    ends = marked.keyword_ends()
                    passed = [0] * len(ends)
                found, first = ends[group], passed[group]
                while first < len(found) and found[first] <= position:
                    first += 1
                passed[group] = first
                # a keyword of its id in the record (ending after its start, by its end), or in
                # its template
                needed = (first < len(found) and found[first] <= end) or marked.worded(
                    definition, group
                )
            else:
                needed = False
            records.append((position, size, record_id, needed))
            position = end
        walked = position == free  # every record read, none the parser would fail on
        if walked and not any(record[3] for record in records):
            return Chosen(chunk, len(records), {}, needed=False)
        return _stretch(chunk, records)


class _Marked:
    """A chunk's templates (definition offset -> where the event id is) and where the keywords
    of its records end, looked up by the records of one `choose`."""

    def __init__(self, chunk: memoryview, free: int, words: _Words, walked: WalkedTemplates):
        self.chunk, self.free, self.words, self.walked = chunk, free, words, walked
        self.templates: dict[int, _Template] = {}
        self.words_in_templates: dict[tuple[int, int], bool] = {}
        # where the keywords of each group end, found when first asked
        self.ends: list[list[int]] | None = None

    def template(self, definition: int) -> _Template:
        """The template defined at `definition`, read the first time."""
        found = self.templates[definition] = self.walked.read(self.chunk, definition)
        return found

    def worded(self, definition: int, group: int) -> bool:
        """Whether a keyword of the group appears in the template defined at `definition` (its
        text could show in a record's rendering); True when its size cannot be read."""
        found = self.words_in_templates.get((definition, group))
        if found is None:
            try:
                (size,) = _U32.unpack_from(self.chunk, definition + 20)
            except struct.error:
                found = True
            else:
                body = definition + 24
                found = body + size > len(self.chunk) or self.holds_word(body, body + size, group)
            self.words_in_templates[(definition, group)] = found
        return found

    def keyword_ends(self) -> list[list[int]]:
        """Where the keywords of each group end in the chunk's records, in order (found the
        first time)."""
        if self.ends is None:
            self.ends = self.words.ends(self.chunk, CHUNK_HEADER, self.free)
        return self.ends

    def holds_word(self, low: int, high: int, group: int) -> bool:
        """Whether a keyword of the group lies within `chunk[low:high]` (it ends after `low`, by
        `high`)."""
        if low < CHUNK_HEADER or high > self.free:
            return bool(self.words.ends(self.chunk, low, high)[group])
        ends = self.keyword_ends()[group]
        first = bisect.bisect_right(ends, low)
        return first < len(ends) and ends[first] <= high


_MAX_WALKED = 1024  # templates remembered across chunks (then forgotten all at once)


class WalkedTemplates:
    """Templates already walked, in any chunk of any file. A log defines the same few templates
    again in each of its chunks (the replicated benchmark corpus: 6,305 definitions, 29
    different), and a walk costs as much as choosing the records of a chunk's worth of them.

    What a walk finds depends only on the chunk's size, the definition's offset and its body's
    bytes, and on the names it reads outside the body (a template names its elements by chunk
    offset, and may use names another template of the chunk wrote): those are remembered with
    the result, which is reused only where they are the same."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int, bytes], tuple[_Template, _Outside]] = {}

    def read(self, chunk: memoryview, definition: int) -> _Template:
        """Where the template defined at chunk offset `definition` keeps the event id."""
        try:
            (size,) = _U32.unpack_from(chunk, definition + 20)
        except struct.error:
            return _UNKNOWN
        body = definition + 24
        if body + size > len(chunk):
            return _UNKNOWN
        key = (len(chunk), definition, bytes(chunk[body : body + size]))
        known = self._found.get(key)
        if known is not None and all(
            chunk[offset : offset + len(text)] == text for offset, text in known[1]
        ):
            return known[0]
        outside: _Outside = []
        try:
            template = _walk(chunk, body, body + size, outside)
        except (_NotUnderstood, IndexError, struct.error, ValueError):
            template = _UNKNOWN
        if len(self._found) >= _MAX_WALKED:
            self._found.clear()
        self._found[key] = (template, outside)
        return template


_Outside = list[tuple[int, bytes]]  # (offset, bytes) a walk read outside the template's body


def _stretch(chunk: memoryview, records: list[tuple[int, int, int, bool]]) -> Chosen:
    """`chunk` with the first record of each run of records to skip stretched over the others
    of its run. Records to render keep their size: a record whose end-of-fragment token is
    damaged is read up to its own end, as in the file, never into the next record. And no byte
    a rendered record may read is changed: a damaged record whose values are said to run past
    its end reads the records after it, which then stay as they are (`_reach`)."""
    spans: dict[int, int] = {}
    patched: bytearray | None = None
    skipped = 0
    reach = 0  # rendered records may read the chunk up to here: nothing before it is changed
    index = 0
    while index < len(records):
        position, size, _, needed = records[index]
        if needed:
            reach = max(reach, _reach(chunk, position, position + size))
            index += 1
            continue
        stop = index + 1  # past the run of records to skip
        while stop < len(records) and not records[stop][3]:
            stop += 1
        head = index
        while head < stop and records[head][0] + 4 < reach:  # its size may be read: kept
            reach = max(reach, _reach(chunk, records[head][0], records[head][0] + records[head][1]))
            head += 1
        if stop - head >= 2:
            if patched is None:
                patched = bytearray(chunk)
            offset, size, head_id, _ = records[head]
            last_offset, last_size, last_id, _ = records[stop - 1]
            end = last_offset + last_size
            _U32.pack_into(patched, offset + 4, end - offset)
            spans[head_id] = last_id
            skipped += stop - head - 1
            reach = max(reach, end, _reach(chunk, offset, offset + size))
        elif head < stop:
            offset, size, _, _ = records[head]
            reach = max(reach, _reach(chunk, offset, offset + size))
        index = stop
    return Chosen(chunk if patched is None else patched, skipped, spans, needed=True)


def _values(chunk: memoryview, position: int, definition: int) -> int:
    """Where the substitution values of the record at `position` start (their count first): right
    after its template instance, or after the template's definition when it is written there
    (next offset, GUID, size, then the body)."""
    values = position + _RECORD_START.size
    if definition == values:
        values += 24 + _U32.unpack_from(chunk, values + 20)[0]
    return values


def _reach(chunk: memoryview, position: int, end: int) -> int:
    """How far into the chunk the parser may read for the record at `position` (to `end`): past
    its end when its substitution values are said to be longer than the record (a damaged
    record); to the chunk's end when that cannot be told: a value of a fixed-size type whose
    size is not that type's, a SID whose size is not what its count of parts says (the parser
    reads what the type says, not what the size says: the values after it shift) or a type
    this module does not know."""
    start = position + _RECORD_HEADER
    try:
        if chunk[start] != _FRAGMENT or chunk[start + 4] != _TEMPLATE:
            return len(chunk)
        values = _values(chunk, position, _U32.unpack_from(chunk, start + 10)[0])
        (count,) = _U32.unpack_from(chunk, values)
        if count > _MAX_VALUES:
            return len(chunk)
        descriptors = _descriptors(count).unpack_from(chunk, values + 4)
        sizes, kinds = descriptors[::2], descriptors[1::2]
        fixed = _fixed_sizes(kinds)
        if fixed is None or fixed.read(sizes) != fixed.sizes:
            return len(chunk)
        value: int = values + 4 + 4 * count
        for index in fixed.others:  # SIDs (their size is in their text), arrays, sizes
            offset = value + sum(sizes[:index])
            if not _size_is_read(chunk, offset, sizes[index], kinds[index]):
                return len(chunk)
    except (IndexError, struct.error):
        return len(chunk)
    return max(end, value + int(sum(sizes)))


@dataclass(frozen=True, slots=True)
class _Fixed:
    """What values of some types must measure for the parser to read them as their sizes say:
    `read(sizes)` gives the sizes of those of a fixed-size type, which must equal `sizes`; those
    at `others` are checked one by one (`_size_is_read`: SIDs, whose size is in their text,
    arrays and sizes)."""

    read: Callable[[tuple[int, ...]], tuple[int, ...]]
    sizes: tuple[int, ...]
    others: tuple[int, ...]


@lru_cache(maxsize=4096)
def _fixed_sizes(kinds: tuple[int, ...]) -> _Fixed | None:
    """How to check the sizes of values of these types (None: a type this module does not know,
    or an array of one it cannot measure)."""
    fixed: list[int] = []
    sizes: list[int] = []
    others: list[int] = []
    for index, kind in enumerate(kinds):
        natural = _FIXED_SIZES.get(kind)
        if natural is not None:
            fixed.append(index)
            sizes.append(natural)
        elif kind in (_SID, _SIZE_T) or kind & 0x80:
            others.append(index)
        elif kind not in _SIZED:
            return None
    return _Fixed(_picker(tuple(fixed)), tuple(sizes), tuple(others))


def _picker(indices: tuple[int, ...]) -> Callable[[tuple[int, ...]], tuple[int, ...]]:
    """`values -> tuple(values[i] for i in indices)`, in one C call when it can be."""
    if not indices:
        return lambda values: ()
    getter = itemgetter(*indices)
    if len(indices) == 1:
        return lambda values: (getter(values),)
    return getter


def _size_is_read(chunk: memoryview, value: int, size: int, kind: int) -> bool:
    """Whether the parser reads exactly `size` bytes for a value of type `kind` at `value`."""
    natural = _FIXED_SIZES.get(kind & 0x7F)
    if kind & 0x80:  # an array: of fixed-size items, or of strings
        return (natural is not None and size % natural == 0) or kind & 0x7F in _SIZED
    if natural is not None:
        return size == natural
    if kind == _SID:  # revision, count of parts, authority (6 bytes), then 4 bytes a part
        return size == 8 + 4 * chunk[value + 1]
    return kind in _SIZED or (kind == _SIZE_T and size in (4, 8))


# BinXML value types read as the descriptor's size says (null, string, ANSI string, binary, a
# nested BinXML fragment), and those of a fixed size
_SIZED = frozenset({0x00, 0x01, 0x02, 0x0E, 0x21})
_FIXED_SIZES = {
    0x03: 1, 0x04: 1, 0x05: 2, 0x06: 2, 0x07: 4, 0x08: 4, 0x09: 8, 0x0A: 8,  # integers
    0x0B: 4, 0x0C: 8, 0x0D: 4, 0x0F: 16, 0x11: 8, 0x12: 16, 0x14: 4, 0x15: 8,  # reals, bool, GUID, times, hex
}  # fmt: skip
_SIZE_T, _SID = 0x10, 0x13


@cache
def _descriptors(count: int) -> struct.Struct:
    """Reads `count` substitution descriptors: size and type of each (then a pad byte)."""
    return struct.Struct("<" + "HBx" * count)


def _event_id(
    chunk: memoryview, position: int, end: int, definition: int, template: _Template
) -> int | None:
    """The event id of the record at `position` (an instance of the template defined at chunk
    offset `definition`), or None when it cannot be read for sure."""
    if template.reader is None:
        return None
    try:
        values = _values(chunk, position, definition)
        descriptors = template.reader.unpack_from(chunk, values)
        offset = template.offsets.get(descriptors)
        if offset is None:
            offset = _offset(chunk, values, descriptors)
            if not _has_sid(descriptors):  # else where it is depends on the SID's text
                template.offsets[descriptors] = offset
        if offset < 0 or values + offset + 2 > end:
            return None
        return int(_U16.unpack_from(chunk, values + offset)[0])
    except struct.error:
        return None


def _offset(chunk: memoryview, values: int, descriptors: tuple[int, ...]) -> int:
    """Where the last of `descriptors` (the number of values, then size and type of each up to
    the event id's) puts its value, from `values`; -1 when it is not a 16-bit number, or when
    the values before it are not read as their sizes say (the parser reads a fixed-size type at
    its own size, a SID as its count of parts says: a damaged size shifts what comes after)."""
    count, *pairs = descriptors
    sizes, kinds = pairs[::2], pairs[1::2]
    if len(sizes) > count or kinds[-1] != _UINT16 or sizes[-1] != 2:
        return -1
    offset = 4 + 4 * count
    for size, kind in zip(sizes[:-1], kinds[:-1], strict=True):
        if not _size_is_read(chunk, values + offset, size, kind):
            return -1
        offset += size
    return offset


def _has_sid(descriptors: tuple[int, ...]) -> bool:
    return _SID in descriptors[2::2]


_SYSTEM = "System".encode("utf-16-le")
_EVENT_ID = "EventID".encode("utf-16-le")


def _walk(chunk: memoryview, position: int, end: int, outside: _Outside) -> _Template:
    """Where `System/EventID` of a template body gets its text: one substitution, or literal
    text. The walk ends with that element. Names it reads outside the body (from `position` to
    `end`) are added to `outside`; any other read past `end` ends the walk without a result."""
    body = position
    names: list[memoryview] = []
    in_attribute = False
    substitution: int | None = None
    literal: int | None = None
    for _ in range(_MAX_TOKENS):
        if position >= end:
            break
        token = chunk[position]
        kind = token & 0x0F if token & 0xB0 == 0 else -1
        position += 1
        # in the text of System/EventID (not in one of its attributes)
        inside = not in_attribute and _is_event_id(names)
        if kind == _OPEN:
            position += 6  # dependency id, data size
            name, position = _name(chunk, position, body, end, outside)
            names.append(name)
            if token & 0x40:
                position += 4  # attribute list size
            in_attribute = False
        elif kind in (_CLOSE_START, _CLOSE_EMPTY, _END_ELEMENT):
            in_attribute = False
            if kind == _CLOSE_START:
                continue
            if not names:
                break
            if _is_event_id(names):
                # one substitution or one text (none, or two parts: not sure what is shown)
                if literal is not None and substitution is None:
                    return _Template(literal=literal)
                if substitution is not None and literal is None and substitution < _MAX_INDEX:
                    return _Template(reader=_reader(substitution))
                break
            names.pop()
        elif kind == _VALUE:
            if chunk[position] != _STRING:
                break
            (length,) = _U16.unpack_from(chunk, position + 1)
            text = chunk[position + 3 : position + 3 + 2 * length]
            position += 3 + 2 * length
            if inside:
                if literal is not None or substitution is not None:
                    break
                literal = int(str(text, "utf-16-le").strip())
        elif kind == _ATTRIBUTE:
            position = _skip_name(chunk, position)
            in_attribute = True
        elif kind in (_CDATA, _PI_DATA):
            position += 2 + 2 * _U16.unpack_from(chunk, position)[0]
        elif kind == _CHAR_REF:
            position += 2
        elif kind in (_ENTITY_REF, _PI_TARGET):
            position = _skip_name(chunk, position)
        elif kind in (_SUBSTITUTION, _OPTIONAL_SUBSTITUTION):
            (index,) = _U16.unpack_from(chunk, position)
            position += 3
            if inside:
                if literal is not None or substitution is not None:
                    break
                substitution = index
        elif kind == _FRAGMENT:
            position += 3
        else:  # the end, a template instance inside a template, or no token at all
            break
    raise _NotUnderstood


def _is_event_id(names: list[memoryview]) -> bool:
    return len(names) >= 2 and names[-1] == _EVENT_ID and names[-2] == _SYSTEM


def _name(
    chunk: memoryview, position: int, low: int, high: int, outside: _Outside
) -> tuple[memoryview, int]:
    """The element name (UTF-16LE) referenced at `position`, and the position after the
    reference (and after the name itself when it is written right there). The bytes read for
    it out of `chunk[low:high]` are added to `outside`."""
    (offset,) = _U32.unpack_from(chunk, position)
    (length,) = _U16.unpack_from(chunk, offset + 6)
    text = chunk[offset + 8 : offset + 8 + 2 * length]
    if offset + 6 < low or offset + 8 + 2 * length > high:
        outside.append((offset + 6, bytes(chunk[offset + 6 : offset + 8 + 2 * length])))
    if len(text) != 2 * length:
        raise _NotUnderstood
    return text, _skip_name(chunk, position)


def _skip_name(chunk: memoryview, position: int) -> int:
    """The position after a name reference, and after the name when it follows (next offset,
    hash, length, text, NUL)."""
    (offset,) = _U32.unpack_from(chunk, position)
    position += 4
    if offset == position:
        position += 10 + 2 * _U16.unpack_from(chunk, offset + 6)[0]
    return position


@dataclass(frozen=True, slots=True)
class _Words:
    """The keywords as single-byte text, and as UTF-16LE without their last byte (the high byte
    of their last character: a zero but for the Kelvin sign's and the dotted I's). Hyperscan
    finds a literal that ends with a zero three times slower (zeros are half of UTF-16 text),
    and keeping a record on a keyword whose last byte differs keeps more records, never fewer.
    `ends` counts such a keyword as ending where its whole last character would."""

    single: tuple[bytes, ...]
    wide: tuple[bytes, ...]
    # the group of words of each form, for `single` and `wide` (a form may be in several)
    single_groups: tuple[int, ...]
    wide_groups: tuple[int, ...]
    groups: int

    @classmethod
    def of(cls, groups: Sequence[tuple[str, ...]]) -> _Words:
        """The forms of groups of words, found in one pass for all the groups."""
        single: list[tuple[bytes, int]] = []
        wide: list[tuple[bytes, int]] = []
        for number, words in enumerate(groups):
            forms = _encodings(words)
            single += ((form, number) for form in forms[0])
            wide += ((form, number) for form in forms[1])
        return cls(
            tuple(form for form, _ in single),
            tuple(form for form, _ in wide),
            tuple(group for _, group in single),
            tuple(group for _, group in wide),
            len(groups),
        )

    def ends(self, chunk: memoryview, low: int, high: int) -> list[list[int]]:
        """Where each keyword in `chunk[low:high]` ends, in order, for each group."""
        found: list[list[int]] = [[] for _ in range(self.groups)]
        for end, form in keyword_hits(chunk, self.single, low, high):
            found[self.single_groups[form]].append(end)
        for end, form in keyword_hits(chunk, self.wide, low, high):
            found[self.wide_groups[form]].append(end + 1)
        for ends in found:
            ends.sort()
        return found


@cache
def _encodings(words: tuple[str, ...]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """Each word (lowercase ASCII) as single-byte text and as UTF-16LE without its last byte
    (`_Words`), matched in any ASCII case; and every form with a character that Python
    lowercases to one of its letters."""
    single: set[bytes] = set()
    wide: set[bytes] = set()
    for word in words:
        for spelling in _spellings(word):
            wide.add(spelling.encode("utf-16-le")[:-1])
            if spelling.isascii():
                single.add(spelling.encode("ascii"))
    return tuple(sorted(single)), tuple(sorted(wide))


def _spellings(word: str) -> list[str]:
    choices = [(letter, *FOLDING_TO.get(letter, ())) for letter in word[:-1]]
    last = word[-1:]
    choices.append((last, *FOLDING_TO.get(last, ()), *FOLDING_TO_FIRST.get(last, ())))
    return ["".join(letters) for letters in itertools.product(*choices)]


# Characters outside ASCII that Python lowercases to one ASCII letter (only the Kelvin sign), and
# to several characters of which the first is an ASCII letter (only the dotted capital I, to "i"
# and a combining dot: it can end a word, not be inside one). A test holds these to every code
# point.
FOLDING_TO = {"k": ("\u212a",)}
FOLDING_TO_FIRST = {"i": ("\u0130",)}
