"""Many log files read by several processes, with the same result as one.

The files to share are read by forked children only (`forked.ForkedStream`): never by this
process when a child can start, so that a parser stalled inside one call (holding the GIL, out
of reach of any check of ours) or crashing the process (a signal) on a hostile file costs that
file, never the whole hunt. They are handed out one at a time, in order, from one queue every
child takes from (`_Queue`: a pipe of file numbers): a child takes the next file as soon as it
is done with one, so the faster one takes more. Shares fixed in advance were equal by bytes on
disk, not by work: EVTX files are preallocated, and their size says little of their records.

Before reading a file a child sends "starting file n", then the file's records (one list of
records per file, exactly what reading the file here gives); this process puts them back in file
order, and always knows which file each child is on, and since when. Meanwhile it reads the
files it keeps (text, below), taking what the children have sent after each of them (a child
with a full pipe would wait), then waits for the children with `select`. Each file keeps its own
time budget wherever it is read, checked between records; a parser that stalls inside one call,
or crashes, is beyond that budget's reach: a child over its file's limit (`time_limit`, from the
file's budget) counted from its "starting" frame, or killed by a signal while on a file, is
ended, that file becomes an Issue (LOG_TIME_BUDGET, LOG_PARSER_CRASHED) and a new child, forked
from this process, goes on taking files from the same queue (it inherits the queue's read end,
kept open here to the end); one that exits while on a file is replaced too, and leaves that
file to this process. A child that fails otherwise (it sends something it should not, or dies
between files, with numbers it took and never said it started) is not replaced. Whatever is not
done when the children are all gone (those files, and those left in the queue when no new child
could start) is read here at the end: a file is never lost, and the result never depends on
whether a child helped.

How many children: one per usable processor (at most MAX_PROCESSES, or `processes`) for much to
read: from PARALLEL_MIN bytes on, at least half of that for each child and shared (a fork and
the transfer of the records cost milliseconds). Forks for that only when `forked.can_fork()`
allows: `fork` exists, two processors are usable, no other thread is alive (the monitor hunts
from threads; a fork copies the calling thread only, and a lock another thread held would stay
locked in the child). For safety alone, fewer bytes are read by one child all the same
(`forked.can_isolate`: on one processor too). When no child can start at all (another thread
alive, no `fork`) or `processes` is 1, this process reads everything itself. The native threads
`evtx` leaves in this process are idle: its record iterator parses chunk after chunk in the
calling thread, in a child too.

Only EVTX files are shared (the reader says which); text stays here. A child's records come
back pickled, and for text that costs as much as reading it. Measured on 2 cores: a syslog
event costs ~15 µs to parse where the cron lines are many (25% of the lines), ~10 µs to pickle
in the child and ~7 µs to rebuild here, and 92 MB of such files took 4 s alone and 7-9 s shared;
with 1% cron lines (a real syslog: the keyword search costs most) sharing gained nothing
measurable. 3,835 EVTX files (744 MB on disk, 8,255 events kept), 2 cores, runs of each
alternated: 1.7 s of CPU read here alone. Shares fixed by size, this process parsing the first:
1.13 s (median; 1.05 s of CPU here, 1.01 s in the child); done with its share, this process
took another 0.18-0.28 s over the child's (waiting for it, rebuilding its records). The queue:
1.33 s (0.28 s of CPU here, 2.09 s in the two children), the children ending within ~2 ms of
each other. Since records pickle by their fields and an EVTX event's field names and short
values are one string object each (a file's events pickle them once): fixed shares 1.05-1.11 s,
the queue 1.18-1.25 s (0.23 s of CPU here). So on 2 cores balance does not pay for what never
parsing here costs: the half this process parsed is now pickled there and rebuilt here, and
this process competes for the 2 processors while it rebuilds. Safety is the point. While it waits, this
process takes what the children sent at most every POLL seconds when nothing is on its way
(woken by every frame, ~3,000 times, it spent ~0.47 s of CPU; now ~0.29 s). Each file costs
the queue and its two frames ~10 µs in all. Text staying here also means a big plain file
keeps its own helper (`syslog_reader.Tail`) and no child starts one: children read EVTX only.
(Were a file to become text between the look at its head and its reading, a child could start a
helper all the same: it is a plain fork, free to have children, so that file would still be read
right.)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial

from .. import forked
from ..forked import ForkedStream
from ..model import Issue, JobEvent
from .files import issue

FileRecords = list[JobEvent | Issue]
MAX_PROCESSES = 8
PARALLEL_MIN = 32 << 20  # bytes to read from which the files are shared out
END_WAIT = 30.0  # seconds a child may send nothing while it is not parsing a file
POLL = 0.01  # seconds this process lets the children's frames gather before it takes them
_NUMBER = struct.Struct(">I")  # a file's number in the queue
_WRITE = 512  # bytes of numbers per write: whole numbers, at most PIPE_BUF (POSIX: >= 512)

Sent = int | tuple[int, FileRecords]  # from a child: "starting file n", then (n, its records)


def read_files(
    files: Sequence[str],
    read: Callable[[str], FileRecords],
    shareable: Callable[[str], bool],
    *,
    processes: int | None = None,
    minimum: int = PARALLEL_MIN,
    time_limit: Callable[[int], float | None] = lambda size: None,
) -> list[FileRecords]:
    """`read(path)` for every file, in order. The `shareable` files are read by forked children
    taking them one at a time from a queue: up to `processes` of them (by default one per usable
    processor) when there are at least `minimum` bytes to read, at least half of that for each
    child and shareable; else one, so that a parser crash or stall costs this process nothing.
    This process reads the others meanwhile, and everything when `processes` is 1 or no child
    can start. A child that takes longer than `time_limit(size)` seconds over one file of `size`
    bytes (a parser
    stalled inside one call, where the reader's own budget cannot stop it) or is killed by a
    signal on it (a crash) is ended: that file is an Issue, and a new child goes on taking
    files."""
    if processes == 1:
        return [read(path) for path in files]
    shared = [index for index, path in enumerate(files) if shareable(path)]
    sizes = [_size(path) for path in files]
    count = _children(sizes, shared, processes, minimum)
    if count == 0:
        return [read(path) for path in files]
    try:
        queue = _Queue(shared)
    except OSError:  # no pipe to be had (out of descriptors): no child either
        return [read(path) for path in files]
    limits = [time_limit(size) for size in sizes]
    results = _Run(files, read, shared, limits, queue).run(count)
    return [
        read(path) if found is None else found for path, found in zip(files, results, strict=True)
    ]


def _children(
    sizes: Sequence[int], shared: Sequence[int], processes: int | None, minimum: int
) -> int:
    """How many children read the shared files: one per process there is work for when sharing
    them out is worth it (see `read_files`), else one to keep this process safe when one may
    start, else none."""
    if not shared:
        return 0
    total = sum(sizes)
    count = min(processes or forked.processors(), MAX_PROCESSES, len(shared))
    if minimum >= 2:
        count = min(count, total // (minimum // 2))
    if (
        count >= 2
        and total >= minimum
        and sum(sizes[index] for index in shared) >= minimum // 2
        and forked.can_fork()
    ):
        return count
    return 1 if forked.can_isolate() else 0


class _Queue:
    """The numbers of the files to share, taken one at a time by whichever child is free: a
    pipe made before the children are forked, which every child reads 4 bytes (one number) at a
    time from, up to its end (this process closes its write end once every number is in). The
    numbers go in whole, non-blocking, at most 512 bytes at a time: a write of up to PIPE_BUF
    bytes (512 at least, by POSIX) is atomic, all or nothing, so the pipe only ever holds whole
    numbers and a read of 4 bytes takes exactly one. When there are more numbers than the pipe
    holds (64 KiB on Linux: 16,384 files) this process tops it up (`fill`) as it waits. Its read
    end stays open here to the end: a new child inherits it; and a write never fails for want
    of a reader."""

    def __init__(self, numbers: Sequence[int]) -> None:
        self.reading, write = os.pipe()
        os.set_blocking(write, False)
        self.writing: int | None = write  # open while numbers are left to write
        self._left = memoryview(b"".join(_NUMBER.pack(number) for number in numbers))
        self.fill()

    def fill(self) -> None:
        """Write the numbers the pipe has room for; close the write end after the last one."""
        while self.writing is not None:
            if not self._left:
                self._close_writing()
                return
            try:
                written = os.write(self.writing, self._left[:_WRITE])
            except BlockingIOError:
                return  # full: the children have not taken enough yet
            except OSError:  # the numbers not written are read here at the end
                self._close_writing()
                return
            self._left = self._left[written:]

    def close(self) -> None:
        self._close_writing()
        with contextlib.suppress(OSError):
            os.close(self.reading)

    def _close_writing(self) -> None:
        if self.writing is not None:
            with contextlib.suppress(OSError):
                os.close(self.writing)
            self.writing = None


class _Child:
    """A child taking files from the queue, the file it is on (since it said it started it)
    and that file's time limit."""

    def __init__(self, stream: ForkedStream[Sent]) -> None:
        self.stream = stream
        self.file: int | None = None
        self.started = 0.0
        self.limit: float | None = None
        self.stalled = False  # ended for taking longer than `limit` over its file

    def deadline(self, since: float | None) -> float | None:
        """When it is taken for stalled: `limit` after it started its file, while nothing of
        the file's records has come; END_WAIT after it last sent anything, counted from `since`
        at the earliest, between files or while it sends (None: not counted while this process
        reads its own files, and may have kept it waiting)."""
        if self.file is not None and not self.stream.partial:
            return None if self.limit is None else self.started + self.limit
        return None if since is None else max(self.stream.heard, since) + END_WAIT


class _Run:
    """One `read_files` with children: the queue, the children, what they sent."""

    def __init__(
        self,
        files: Sequence[str],
        read: Callable[[str], FileRecords],
        shared: Sequence[int],
        limits: Sequence[float | None],
        queue: _Queue,
    ) -> None:
        self.files = files
        self.read = read
        self.shared = set(shared)
        self.limits = limits  # each file's time limit
        self.queue = queue
        self.results: list[FileRecords | None] = [None] * len(files)  # the first found
        self.children: list[_Child] = []

    def run(self, count: int) -> list[FileRecords | None]:
        """The records of every file, None for those left to read (no child could)."""
        try:
            for _ in range(count):
                self._fork()
            for index, path in enumerate(self.files):
                if index not in self.shared:
                    self.results[index] = self.read(path)
                    self._take(None)
            self._wait()
        finally:
            for child in self.children:  # after an error here: the children are not waited for
                child.stream.cancel()
            self.queue.close()
        return self.results

    def _fork(self) -> None:
        """One more child taking files from the queue (none when none can start: the files it
        would have read are read here at the end)."""
        work = partial(_take_files, self.read, self.files, self.queue.reading, self.queue.writing)
        stream = ForkedStream.start(work, isolate=True)
        if stream is not None:
            self.children.append(_Child(stream))

    def _wait(self) -> None:
        """Until every child is done: the queue topped up, what they send taken, each child
        waited for up to its deadline."""
        since = time.monotonic()
        while self.children:
            writing = [] if self.queue.writing is None else [self.queue.writing]
            deadlines = [d for c in self.children if (d := c.deadline(since)) is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = select.select([child.stream for child in self.children], writing, [], wait)
            if ready != ([], [], []) and not any(child.stream.partial for child in self.children):
                time.sleep(POLL)  # frames come in together: fewer wake-ups, taken from the CPUs
            self._take(since)

    def _take(self, since: float | None) -> None:
        """Without waiting: the queue topped up, what the children sent taken, the children
        over their deadline (see `_Child.deadline`) ended, and those ended replaced as due."""
        self.queue.fill()
        for child in list(self.children):
            for sent in child.stream.ready():
                if not self._note(child, sent):  # nonsense: whatever it did, no file's fault
                    child.stream.cancel()
                    child.file = None  # what it was on is read here at the end
                    break
            if not child.stream.ended:
                deadline = child.deadline(since)
                if deadline is None or time.monotonic() < deadline:
                    continue
                child.stalled = child.file is not None and not child.stream.partial
                child.stream.expire()
            self.children.remove(child)
            self._ended(child)

    def _note(self, child: _Child, sent: object) -> bool:
        """Whether `sent` is what the child should send next: a file's start, then its records.
        (A file another child started too, were the queue ever to hand it out twice, is read
        twice: the first result is kept.)"""
        if type(sent) is int:
            if child.file is not None or sent not in self.shared:
                return False
            child.file, child.started = sent, child.stream.heard
            child.limit = self.limits[sent]
            return True
        if not (isinstance(sent, tuple) and len(sent) == 2 and child.file is not None):
            return False
        number, records = sent
        if number != child.file or not _well_formed(records):
            return False
        if self.results[number] is None:
            self.results[number] = records
        child.file = None
        return True

    def _ended(self, child: _Child) -> None:
        """After a child ended: when it stalled on a file or died on it, a new child goes on,
        and the file is an Issue if it stalled or was killed by a signal (a crash); else (it
        exited) the file is left to this process. Other ends (all done; nonsense; nothing sent
        for too long between files or within a frame) start no child: whatever is not done is
        read here at the end."""
        stream, number = child.stream, child.file
        if number is None or not (child.stalled or stream.died):
            return
        path = self.files[number]
        if self.results[number] is not None:
            pass  # read all the same by another child
        elif child.stalled:
            self.results[number] = [_stalled(path, child.limit)]
        elif stream.signal is not None:
            self.results[number] = [_crashed(path, stream.signal)]
        self._fork()


def _take_files(
    read: Callable[[str], FileRecords], files: Sequence[str], queue: int, writing: int | None
) -> Iterator[Sent]:
    """In a child: for every number it takes from the queue up to its end, "starting file n"
    (the number), then (n, the file's records)."""
    if writing is not None:
        os.close(writing)  # the parent's: held here too, the queue would never end
    while (number := _next_number(queue)) is not None:
        yield number
        yield number, read(files[number])


def _next_number(queue: int) -> int | None:
    """The next number from the queue, None at its end. Reads are of whole numbers (see
    `_Queue`); a short one is completed all the same."""
    data = b""
    while len(data) < _NUMBER.size:
        chunk = os.read(queue, _NUMBER.size - len(data))
        if not chunk:
            return None
        data += chunk
    number: int = _NUMBER.unpack(data)[0]
    return number


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
