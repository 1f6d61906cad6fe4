"""What the `evtx` parser (pyevtx-rs 0.14, Rust evtx 0.13) cannot be left to find in a hostile
EVTX file (reference/reliability.md L03), checked around it by `evtx_reader`:

- Link cycles. A chunk keeps its element names in 64 chains and its template definitions in 32
  chains (heads in the chunk header at 0x80 and 0x180); each entry starts with the chunk offset
  of the next one. The parser stops on an entry that links to itself (evtx#263) but walks a
  longer cycle (A -> B -> A) of the name chains forever, in Rust and holding the GIL, so no time
  budget of ours can stop it and the hunt hangs. Every chain is walked here first, in Python; a
  link back to an entry already met on the same chain is a cycle: it is an Issue, and the parser
  reads a view of the file where that link ends the chain, so the chunk's records are still read
  (every entry of the cycle stays reachable). The chunk's checksums are recomputed in the view
  when they were right in the file.
- Offsets of the records the parser rejects ("Failed to parse record number N: ...").
- Nesting. The parser nests up to 512 elements per BinXML fragment and 65 fragments (about
  33,000 levels); `json.loads` gives up past about 1,000 (RecursionError) and the output and rule
  code recurse once or more per level, so a record nested deeper than MAX_DEPTH is an Issue.
  Real records nest 5 levels (the whole shared corpus).
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from ..model import Issue
from .files import issue

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 65536
HEADER_SIZE = 4096
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = 0x2A2A
STRING_CHAINS = 64
MAX_DEPTH = 64

_HEADS = struct.Struct("<96I")  # 64 string chains then 32 template chains, at chunk offset 0x80
_U32 = struct.Struct("<I")
_RECORD = struct.Struct("<IIQ")  # magic, size, record id
_RECORD_NUMBER = re.compile(r"record number (\d+)")


def cut_link_cycles(
    path: str, stream: BinaryIO, located: Callable[[int], int] = lambda position: position
) -> tuple[BinaryIO, list[Issue]]:
    """The stream for the parser (`stream` itself unless a chunk has a cycle) and an Issue per
    cycle, with the chunk's offset in the file (`located(offset in the stream)`: the stream may
    hold some of the file's chunks only). The stream is left where it was."""
    start = stream.tell()
    replaced: dict[int, bytes] = {}
    issues: list[Issue] = []
    for position, chunk in _chunks(stream):
        if chunk[:8] == CHUNK_MAGIC:
            cycles = _cycles(chunk)
            if cycles:
                replaced[position] = _cut(chunk, cycles)
                where = located(position)
                issues += [
                    issue(
                        "LOG_CORRUPT",
                        f"EVTX {'name' if chain < STRING_CHAINS else 'template'} table: the "
                        f"entry at file offset {where + entry} links back to {where + to} "
                        "(a cycle); the link is ignored and the chunk's records read",
                        path,
                        offset=where,
                    )
                    for chain, entry, to in cycles
                ]
    stream.seek(start)
    if not replaced:
        return stream, issues
    return io.BufferedReader(_Patched(stream, replaced)), issues


def _chunks(stream: BinaryIO) -> Iterator[tuple[int, bytes | memoryview]]:
    """(file offset, bytes) of each 64 KiB slot after the header, down to the last one of at
    least a chunk header's size; without a copy when the stream is in memory."""
    if isinstance(stream, io.BytesIO):  # its bytes, not copied while it was never written to
        with memoryview(stream.getvalue()) as view:
            for position in range(HEADER_SIZE, len(view) - 512 + 1, CHUNK_SIZE):
                with view[position : position + CHUNK_SIZE] as chunk:
                    yield position, chunk
        return
    position = HEADER_SIZE
    while True:
        stream.seek(position)
        data = stream.read(CHUNK_SIZE)
        if len(data) < 512:
            return
        yield position, data
        position += CHUNK_SIZE


def _cycles(chunk: bytes | memoryview) -> list[tuple[int, int, int]]:
    """(chain, entry, target) of each chain whose entry `entry` links back to `target`, an entry
    already met on that chain (chunk offsets); chains that leave the chunk end there."""
    found: list[tuple[int, int, int]] = []
    limit = len(chunk) - 4
    for chain, head in enumerate(_HEADS.unpack_from(chunk, 0x80)):
        if not 0 < head <= limit or not _U32.unpack_from(chunk, head)[0]:
            continue  # most chains are empty or have one entry
        entry, seen = head, {head}
        while 0 < entry <= limit:
            (target,) = _U32.unpack_from(chunk, entry)
            if target == 0:
                break
            if target in seen:
                found.append((chain, entry, target))
                break
            seen.add(target)
            entry = target
    return found


def _cut(chunk: bytes | memoryview, cycles: list[tuple[int, int, int]]) -> bytes:
    """`chunk` with each cycle's closing link set to 0 (the end of a chain), and the data and
    header checksums recomputed if they matched before."""
    chunk = bytes(chunk)
    data_end = min(_U32.unpack_from(chunk, 48)[0], len(chunk))
    data_ok = zlib.crc32(chunk[512:data_end]) == _U32.unpack_from(chunk, 52)[0]
    header_ok = zlib.crc32(chunk[:120] + chunk[128:512]) == _U32.unpack_from(chunk, 124)[0]
    patched = bytearray(chunk)
    for _, entry, _ in cycles:
        _U32.pack_into(patched, entry, 0)
    if data_ok:
        _U32.pack_into(patched, 52, zlib.crc32(patched[512:data_end]))
    if header_ok:
        _U32.pack_into(patched, 124, zlib.crc32(patched[:120] + patched[128:512]))
    return bytes(patched)


class _Patched(io.RawIOBase):
    """`base` read-only, with whole chunks (file offset -> bytes) read from memory instead."""

    def __init__(self, base: BinaryIO, chunks: Mapping[int, bytes]) -> None:
        super().__init__()
        self._base = base
        self._chunks = dict(chunks)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._base.seek(0, io.SEEK_END)
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        self._position = offset
        return offset

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        self._base.seek(self._position)
        data = self._base.read(len(target))
        size = len(data)
        target[:size] = data
        low, high = self._position, self._position + size
        for start, chunk in self._chunks.items():
            begin, end = max(low, start), min(high, start + len(chunk))
            if begin < end:
                target[begin - low : end - low] = chunk[begin - start : end - start]
        self._position = high
        return size


def failed_record_offset(stream: BinaryIO, message: str, chunks: Mapping[int, int]) -> int | None:
    """The offset of the record a parser error names ("record number N"), if any."""
    match = _RECORD_NUMBER.search(message)
    return None if match is None else record_offset(stream, chunks, int(match.group(1)))


def record_offset(stream: BinaryIO, chunks: Mapping[int, int], record_id: int) -> int | None:
    """The file offset of record `record_id`, found in the chunk whose records it belongs to
    (`chunks`: first record id -> chunk offset); that chunk's offset when the record is not
    found in it, and None when no chunk could hold it. The stream is left where it was."""
    firsts = [first for first in chunks if first <= record_id]
    if not firsts:
        return None
    chunk_offset = chunks[max(firsts)]
    start = stream.tell()
    try:
        stream.seek(chunk_offset)
        chunk = stream.read(CHUNK_SIZE)
    finally:
        stream.seek(start)
    position = 512
    while position + _RECORD.size <= len(chunk):
        magic, size, number = _RECORD.unpack_from(chunk, position)
        if magic != RECORD_MAGIC:
            break
        if number == record_id:  # even with a bad size: the record the parser failed on
            return chunk_offset + position
        if size < _RECORD.size:
            break
        position += size
    return chunk_offset


def check_depth(text: str, event: Any) -> None:
    """ValueError when the decoded record `event` (of JSON `text`) nests deeper than MAX_DEPTH
    objects and arrays; only records with that many brackets are walked."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return
    pending: list[tuple[Any, int]] = [(event, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)
