"""Many log files read by several processes, with the same result as one.

The files to share are cut into contiguous shares of about equal size on disk, one per usable
processor (at most MAX_PROCESSES). This process forks a child (`forked.Forked`) for every share
but the first, reads the first itself meanwhile, with the files it keeps, then takes the
children's results in order: one list of records per file, exactly what reading the file here
gives, put back in file order. A child that fails, dies or sends something that is not such a
list costs only time: this process then reads that share itself. Each file keeps its own time
budget wherever it is read; a child can hang only where reading here would (inside one parse).

Only worth it for much to read: from PARALLEL_MIN bytes on, at least half of that for each
process and shared (a fork and the transfer of a share's records cost milliseconds). Forks only
when `forked.can_fork()` allows: `fork` exists, two processors are usable, no other thread is
alive (the monitor hunts from threads; a fork copies the calling thread only, and a lock another
thread held would stay locked in the child). The native threads `evtx` leaves in this process
are idle: its record iterator parses chunk after chunk in the calling thread, in a child too.

Only EVTX files are shared (the reader says which); text stays here, its bytes counted in this
process's share. A child's records come back pickled, and for text that costs as much as reading
it. Measured on 2 cores: a syslog event costs ~15 µs to parse where the cron lines are many (25%
of the lines), ~10 µs to pickle in the child and ~7 µs to rebuild here, and 92 MB of such
files took 4 s alone and 7-9 s shared; with 1% cron lines (a real syslog: the keyword search
costs most) sharing gained nothing measurable. An EVTX event kept costs ~300 µs of parsing (most
records are parsed and dropped) and ~14 µs to rebuild here: 3,835 files, 2.4 s alone, 1.4 s
shared, of which ~0.1 s is pickling a share's 4,000 events there and here (pickling the model by
its fields would save ~30 ms of that: the model's default stays). Text staying here also means a big plain file keeps its own helper
(`syslog_reader.Tail`) and no child starts one: children read EVTX only. (Were a file to become
text between the look at its head and its reading, a child could start a helper all the same:
it is a plain fork, free to have children, so that file would still be read right.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial

from .. import forked
from ..forked import Forked
from ..model import Issue, JobEvent

FileRecords = list[JobEvent | Issue]
MAX_PROCESSES = 8
PARALLEL_MIN = 32 << 20  # bytes to read from which the files are shared out


def read_files(
    files: Sequence[str],
    read: Callable[[str], FileRecords],
    shareable: Callable[[str], bool],
    *,
    processes: int | None = None,
    minimum: int = PARALLEL_MIN,
) -> list[FileRecords]:
    """`read(path)` for every file, in order. The `shareable` files are shared out to up to
    `processes` processes (by default one per usable processor) when there are at least
    `minimum` bytes to read, at least half of that for each process and shareable."""
    sizes = [_size(path) for path in files]
    total = sum(sizes)
    count = min(processes or forked.processors(), MAX_PROCESSES, len(files))
    if minimum >= 2:
        count = min(count, total // (minimum // 2))
    if count < 2 or total < minimum or not forked.can_fork():
        return [read(path) for path in files]
    shared: list[int] = []
    mine: list[int] = []  # the files this process reads in any case
    for index, path in enumerate(files):
        (shared if shareable(path) else mine).append(index)
    kept = sum(sizes[index] for index in mine)
    if total - kept < minimum // 2:
        return [read(path) for path in files]
    first, *others = (
        [shared[i] for i in share] for share in plan([sizes[i] for i in shared], count, kept)
    )
    if not others:
        return [read(path) for path in files]
    results: list[FileRecords] = [[] for _ in files]
    children: list[Forked[list[FileRecords]] | None] = []
    try:
        for share in others:
            children.append(Forked.start(partial(_read_share, read, [files[i] for i in share])))
        for index in sorted(mine + first):
            results[index] = read(files[index])
        for number, share in enumerate(others):
            child, children[number] = children[number], None
            found = child.result() if child is not None else None
            if found is None or not _well_formed(found, len(share)):
                found = [read(files[index]) for index in share]  # read here instead
            for index, records in zip(share, found, strict=True):
                results[index] = records
    finally:
        for child in children:  # after an error here: the children are not waited for
            if child is not None:
                child.cancel()
    return results


def plan(sizes: Sequence[int], count: int, kept: int = 0) -> list[list[int]]:
    """The indices of `sizes` in up to `count` shares, contiguous and in order, of about equal
    total size when the first share also holds the `kept` bytes this process reads anyway (a
    file goes to the share its middle byte falls in, counting from `kept`). Only the first
    share may be empty, and only when `kept` is not."""
    total = sum(sizes) + kept or 1
    shares: list[list[int]] = [[] for _ in range(count)]
    before = kept
    for index, size in enumerate(sizes):
        shares[min(count - 1, (2 * before + size) * count // (2 * total))].append(index)
        before += size
    first, *others = shares
    others = [share for share in others if share]
    if not first and not kept and others:  # a big first file: this process reads it
        first = others.pop(0)
    return [first, *others]


def _read_share(read: Callable[[str], FileRecords], paths: list[str]) -> list[FileRecords]:
    """In the child: the records of every file of its share."""
    return [read(path) for path in paths]


def _well_formed(found: object, count: int) -> bool:
    """Whether a child's result is one list of events and issues per file of its share."""
    return (
        isinstance(found, list)
        and len(found) == count
        and all(
            isinstance(records, list)
            and all(isinstance(record, JobEvent | Issue) for record in records)
            for records in found
        )
    )


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the reader reports it
