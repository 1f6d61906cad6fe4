"""Many log files read by several processes, with the same result as one.

The files to share are cut into contiguous shares of about equal size on disk, one per usable
processor (at most MAX_PROCESSES). This process forks a child (`forked.ForkedStream`) for every
share but the first, reads the first itself meanwhile, with the files it keeps, then takes the
children's results in order: one list of records per file, sent file by file, exactly what
reading the file here gives, put back in file order; this process takes what they have sent
after each file of its own (`drain`: a child with a full pipe would wait for it). A child that
fails, exits early or sends something that is not such a list costs only time: this process
reads the rest of that share itself.

Each file keeps its own time budget wherever it is read, checked between records. A parser that
stalls inside one call, or crashes the process (a signal), is beyond that budget's reach; in a
child it costs that file only: waiting for a file's records has a limit (`time_limit`, from the
file's budget), and a child over it, or killed by a signal, is ended, the file it was on becomes
an Issue (LOG_TIME_BUDGET, LOG_PARSER_CRASHED) and a new child reads the files after it. For
that safety alone, shareable files too few to be worth sharing out are read by one child all
the same (`forked.can_isolate`: on one processor too), while this process reads the others.

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
import signal
from collections.abc import Callable, Iterator, Sequence
from functools import partial

from .. import forked
from ..forked import ForkedStream
from ..model import Issue, JobEvent
from .files import issue

FileRecords = list[JobEvent | Issue]
MAX_PROCESSES = 8
PARALLEL_MIN = 32 << 20  # bytes to read from which the files are shared out
END_WAIT = 30.0  # seconds a child may take to end once it sent its last file


def read_files(
    files: Sequence[str],
    read: Callable[[str], FileRecords],
    shareable: Callable[[str], bool],
    *,
    processes: int | None = None,
    minimum: int = PARALLEL_MIN,
    time_limit: Callable[[str], float | None] = lambda path: None,
) -> list[FileRecords]:
    """`read(path)` for every file, in order. The `shareable` files are shared out to up to
    `processes` processes (by default one per usable processor) when there are at least
    `minimum` bytes to read, at least half of that for each process and shareable; else, unless
    `processes` is 1, they are read by one child, so that a parser crash or stall costs this
    process nothing. A child that takes longer than `time_limit(path)` seconds over one file (a
    parser stalled inside one call, where the reader's own budget cannot stop it) or dies on it
    (a crash) is ended: that file is an Issue, and a new child reads the files after it."""
    if processes == 1:
        return [read(path) for path in files]
    shared: list[int] = []
    mine: list[int] = []  # the files this process reads in any case
    for index, path in enumerate(files):
        (shared if shareable(path) else mine).append(index)
    sizes = [_size(path) for path in files]
    planned = _plan_processes(sizes, shared, mine, processes, minimum)
    if planned is not None:
        first, others = planned
    elif shared and forked.can_isolate():
        first, others = [], [shared]  # one child for all of them, to keep this process safe
    else:
        return [read(path) for path in files]
    results: list[FileRecords] = [[] for _ in files]
    children: list[ForkedStream[FileRecords] | None] = []
    try:
        for share in others:
            paths = [files[i] for i in share]
            children.append(ForkedStream.start(partial(_read_share, read, paths), isolate=True))
        for index in sorted(mine + first):
            results[index] = read(files[index])
            for child in children:  # a child with a full pipe waits: it is read meanwhile
                if child is not None:
                    child.drain()
        for number, share in enumerate(others):
            child, children[number] = children[number], None
            found = _collect(child, [files[i] for i in share], read, time_limit)
            for index, records in zip(share, found, strict=True):
                results[index] = records
    finally:
        for child in children:  # after an error here: the children are not waited for
            if child is not None:
                child.cancel()
    return results


def _plan_processes(
    sizes: Sequence[int],
    shared: Sequence[int],
    mine: Sequence[int],
    processes: int | None,
    minimum: int,
) -> tuple[list[int], list[list[int]]] | None:
    """The shared files this process reads and those of each child, when sharing them out is
    worth it (see `read_files`); None when not."""
    total = sum(sizes)
    count = min(processes or forked.processors(), MAX_PROCESSES, len(sizes))
    if minimum >= 2:
        count = min(count, total // (minimum // 2))
    if count < 2 or total < minimum or not forked.can_fork():
        return None
    kept = sum(sizes[index] for index in mine)
    if total - kept < minimum // 2:
        return None
    first, *others = (
        [shared[i] for i in share] for share in plan([sizes[i] for i in shared], count, kept)
    )
    return (first, others) if others else None


def _collect(
    child: ForkedStream[FileRecords] | None,
    paths: Sequence[str],
    read: Callable[[str], FileRecords],
    time_limit: Callable[[str], float | None],
) -> list[FileRecords]:
    """The records of every file of a child's share: as the child sent them; after a file it
    stalled or died on (an Issue), from a new child; the rest read here when no child can go on
    (none could start, or one failed otherwise)."""
    found: list[FileRecords] = []
    while child is not None:
        received, failure = _received(child, paths[len(found) :], time_limit)
        found += received
        if failure is None:
            break
        found.append([failure])
        rest = list(paths[len(found) :])
        child = ForkedStream.start(partial(_read_share, read, rest), isolate=True) if rest else None
    return found + [read(path) for path in paths[len(found) :]]


def _received(
    child: ForkedStream[FileRecords],
    paths: Sequence[str],
    time_limit: Callable[[str], float | None],
) -> tuple[list[FileRecords], Issue | None]:
    """The records of the first files of `paths`, as the child sent them (all of them, or those
    before anything malformed), and the Issue of the file after them if the child stalled or
    died on it."""
    received: list[FileRecords] = []

    def limit(number: int) -> float | None:
        return time_limit(paths[number]) if number < len(paths) else END_WAIT

    for records in child.items(limit):
        if len(received) == len(paths) or not _well_formed(records):  # more, or garbage
            child.cancel()
            return received, None
        received.append(records)
    if child.complete or len(received) == len(paths):
        return received, None
    path = paths[len(received)]
    if child.timed_out:
        return received, _stalled(path, time_limit(path))
    if child.died and child.signal is not None:
        return received, _crashed(path, child.signal)
    return received, None


def _stalled(path: str, seconds: float | None) -> Issue:
    return issue(
        "LOG_TIME_BUDGET",
        f"the parser did not return within {seconds or 0:g} s (stalled inside one call): the "
        "process reading this file was stopped and its records are lost; the other files were "
        "read",
        path,
    )


def _crashed(path: str, number: int) -> Issue:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return issue(
        "LOG_PARSER_CRASHED",
        f"the process reading this file died ({name}): the parser crashed on it and its records "
        "are lost; the other files were read",
        path,
    )


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


def _read_share(read: Callable[[str], FileRecords], paths: list[str]) -> Iterator[FileRecords]:
    """In the child: the records of each file of its share, file by file."""
    for path in paths:
        yield read(path)


def _well_formed(records: object) -> bool:
    """Whether what a child sent for a file is a list of events and issues."""
    return isinstance(records, list) and all(
        isinstance(record, JobEvent | Issue) for record in records
    )


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the reader reports it
