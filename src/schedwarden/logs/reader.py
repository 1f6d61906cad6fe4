"""All the log evidence under some paths → (events, issues): EVTX by its magic, text otherwise,
each file read-only, decompressed when gzip/bz2/xz, with a per-file time budget; one file's
failure is an Issue and the hunt goes on. Many files are read by several processes (`shares`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import partial

from ..model import Issue, JobEvent
from .audit_reader import looks_like_audit, read_audit
from .evtx_reader import read_evtx
from .files import EVTX_MAGIC, compression, issue, log_files, open_log
from .journal_reader import looks_like_journal, read_journal
from .shares import PARALLEL_MIN, read_files
from .syslog_reader import read_syslog

DEFAULT_BUDGET = 60.0
SECONDS_PER_MB = 1.0  # a big file gets at least this much time per megabyte stored
# A worker process over one file longer than its budget by this much is stalled (`stall_limit`)
STALL_FACTOR, STALL_GRACE = 1.5, 10.0
TEXT_SNIFF = 4096


def read_logs(
    paths: Iterable[str],
    *,
    budget: float = DEFAULT_BUDGET,
    processes: int | None = None,
    parallel_min: int = PARALLEL_MIN,
) -> tuple[list[JobEvent], list[Issue]]:
    """Every event and issue under `paths`, the events in time order (stable: file order, then
    the order of each file). From `parallel_min` bytes on, the EVTX files are shared out to up
    to `processes` processes (by default one per usable processor; see `shares`), text is read
    here: the same result."""
    items = list(log_files(list(paths)))
    files = [item for item in items if not isinstance(item, Issue)]
    read = partial(read_whole_file, budget=budget)
    per_file = iter(
        read_files(
            files,
            read,
            is_evtx,
            processes=processes,
            minimum=parallel_min,
            time_limit=partial(stall_limit, budget=budget),
        )
    )
    events: list[JobEvent] = []
    issues: list[Issue] = []
    for item in items:
        if isinstance(item, Issue):
            issues.append(item)
            continue
        for record in next(per_file):
            if isinstance(record, JobEvent):
                events.append(record)
            else:
                issues.append(record)
    events.sort(key=lambda e: e.time)
    return events, issues


def read_whole_file(path: str, budget: float) -> list[JobEvent | Issue]:
    """The events and issues of one file; when reading fails, what came before and an Issue."""
    records: list[JobEvent | Issue] = []
    try:
        for record in read_file(path, budget):
            records.append(record)
    except (OSError, EOFError, ValueError) as error:  # unreadable or corrupt compressed data
        records.append(issue("LOG_UNREADABLE", f"{type(error).__name__}: {error}", path))
    except Exception as error:  # a reader bug must not end the hunt
        records.append(issue("LOG_READER_ERROR", f"reading stopped: {error!r}", path))
    return records


def is_evtx(path: str) -> bool:
    """Whether the file starts as an EVTX file does (once decompressed); False when unreadable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            head = os.read(descriptor, len(EVTX_MAGIC))  # as long as any magic
        finally:
            os.close(descriptor)
        if compression(head) is None:
            return head.startswith(EVTX_MAGIC)
        with open_log(path) as (stream, _):
            return stream.read(len(EVTX_MAGIC)) == EVTX_MAGIC
    except (OSError, EOFError, ValueError):
        return False


def file_budget(size: int, budget: float) -> float:
    """The time budget of a file of `size` bytes: `budget`, and more for a big file."""
    return max(budget, size / 1e6 * SECONDS_PER_MB) if budget > 0 else budget


def stall_limit(size: int, budget: float) -> float:
    """How long a worker process may take over one file of `size` bytes before it is taken for
    stalled inside the parser, where the file's budget (checked between records) cannot stop
    it."""
    return max(file_budget(size, budget), 0.0) * STALL_FACTOR + STALL_GRACE


def read_file(path: str, budget: float) -> Iterator[JobEvent | Issue]:
    """The events and issues of one file, as they are read (what came before a failure stays)."""
    stat = os.stat(path)
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
    budget = file_budget(stat.st_size, budget)
    with open_log(path) as (stream, compressed):
        head = stream.read(TEXT_SNIFF)
        stream.seek(0)
        if head.startswith(EVTX_MAGIC):
            yield from read_evtx(path, stream, compressed is not None, budget)
        elif looks_like_audit(head):
            yield from read_audit(path, stream, budget)
        elif looks_like_journal(head):
            yield from read_journal(path, stream, budget)
        elif b"\x00" not in head:  # other binary files are not logs this reader knows
            yield from read_syslog(path, stream, mtime, budget)
