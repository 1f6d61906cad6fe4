"""All the log evidence under some paths → (events, issues): EVTX by its magic, text otherwise,
each file read-only, decompressed when gzip/bz2/xz, with a per-file time budget; one file's
failure is an Issue and the hunt goes on."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from ..model import Issue, JobEvent
from .audit_reader import looks_like_audit, read_audit
from .evtx_reader import read_evtx
from .files import EVTX_MAGIC, issue, log_files, open_log
from .journal_reader import looks_like_journal, read_journal
from .syslog_reader import read_syslog

DEFAULT_BUDGET = 60.0
SECONDS_PER_MB = 1.0  # a big file gets at least this much time per megabyte stored
TEXT_SNIFF = 4096


def read_logs(
    paths: Iterable[str], *, budget: float = DEFAULT_BUDGET
) -> tuple[list[JobEvent], list[Issue]]:
    events: list[JobEvent] = []
    issues: list[Issue] = []
    for item in log_files(list(paths)):
        if isinstance(item, Issue):
            issues.append(item)
            continue
        try:
            for record in read_file(item, budget):
                if isinstance(record, JobEvent):
                    events.append(record)
                else:
                    issues.append(record)
        except (OSError, EOFError, ValueError) as error:  # unreadable or corrupt compressed data
            issues.append(issue("LOG_UNREADABLE", f"{type(error).__name__}: {error}", item))
        except Exception as error:  # a reader bug must not end the hunt
            issues.append(issue("LOG_READER_ERROR", f"reading stopped: {error!r}", item))
    events.sort(key=lambda e: e.time)
    return events, issues


def read_file(path: str, budget: float) -> Iterator[JobEvent | Issue]:
    """The events and issues of one file, as they are read (what came before a failure stays)."""
    stat = os.stat(path)
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
    if budget > 0:
        budget = max(budget, stat.st_size / 1e6 * SECONDS_PER_MB)
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
