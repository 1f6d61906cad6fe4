"""Descriptions and next runs of cron expressions, computed ahead in a second process.

An image with thousands of tables can carry thousands of distinct schedules, and each one costs
more (cronsim's next runs, cron-descriptor's description: ~0.15 ms) than reading its line and
building its job. Both are pure functions of the expression, the zone and the minute of the scan,
so on a host with a spare core a forked copy of this process scans the same tables for their time
fields (a light regex, no full parse) and computes them while this process parses, handing them
over through a pipe. This process takes a fact from the helper when it has arrived and computes
it itself otherwise, with the same functions and arguments: the results never depend on the
helper, only the time does.

The helper reads the tables through the same root-clamped source, runs nothing it finds, opens
no network connection and ends with the scan. It is only started when it can pay off and is
safe: many tables, at least two usable cores, `fork` available, and no other thread alive (the
monitor's watcher threads, for instance, keep it off).
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from multiprocessing.connection import Connection

from ..forked import can_fork
from ..sources import RootedSource, SourceError
from ..timing import describe_cron, next_cron_runs
from .linux.cron_syntax import FieldError, check_field

MIN_TABLES = 1000  # below this the helper's start-up (a fork, ~10 ms) is not worth it
BATCH = 64
RUNS = 3
# five time fields at the start of a line (an optional `-` before them); env lines, macros and
# comments do not match or fail the field check, so they cost nothing further
_TIME_FIELDS = re.compile(
    r"^[ \t]*-?([^ \t\n#@]+)[ \t]+([^ \t\n]+)[ \t]+([^ \t\n]+)[ \t]+([^ \t\n]+)[ \t]+([^ \t\n]+)"
    r"[ \t]",
    re.M,
)

Fact = tuple[str, str, tuple[datetime, ...]]  # expression, description, next runs


class ScheduleFacts:
    """What the helper has delivered so far, for one zone and one minute."""

    def __init__(self, connection: Connection, timezone: str) -> None:
        self.timezone = timezone
        self._connection: Connection | None = connection
        self._descriptions: dict[str, str] = {}
        self._runs: dict[str, tuple[datetime, ...]] = {}

    def description(self, expression: str) -> str | None:
        found = self._descriptions.get(expression)
        if found is None and self._receive():
            found = self._descriptions.get(expression)
        return found

    def runs(self, expression: str, timezone: str, count: int) -> tuple[datetime, ...] | None:
        if timezone != self.timezone or count != RUNS:
            return None
        found = self._runs.get(expression)
        if found is None and self._receive():
            found = self._runs.get(expression)
        return found

    def _receive(self) -> bool:
        """Take every batch that has arrived, without waiting; False when there was none."""
        connection = self._connection
        got = False
        try:
            while connection is not None and connection.poll():
                batch: list[Fact] | None = connection.recv()
                if batch is None:  # the helper is done
                    connection.close()
                    self._connection = connection = None
                    break
                for expression, description, runs in batch:
                    self._descriptions[expression] = description
                    self._runs[expression] = runs
                got = True
        except (EOFError, OSError):  # the helper died: compute the rest here
            self._connection = None
        return got


@contextmanager
def prefetched(
    source: RootedSource,
    tables: list[str],
    now: datetime,
    timezone: str,
) -> Iterator[ScheduleFacts | None]:
    """A helper computing the facts of `tables`' schedules, or None when it would not pay off."""
    if len(tables) < MIN_TABLES or not can_fork():
        yield None
        return
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    helper = context.Process(
        target=_compute, args=(sending, source, tables, now, timezone), daemon=True
    )
    helper.start()
    sending.close()
    try:
        yield ScheduleFacts(receiving, timezone)
    finally:
        receiving.close()
        if helper.is_alive():
            helper.terminate()
        helper.join(timeout=5)


def _compute(
    connection: Connection, source: RootedSource, tables: list[str], now: datetime, timezone: str
) -> None:
    """The helper: every distinct valid five-field expression of the tables, in table order."""
    batch: list[Fact] = []
    try:
        for expression in _expressions(source, tables):
            runs = next_cron_runs(expression, timezone, now, RUNS)
            batch.append((expression, describe_cron(expression), runs))
            if len(batch) >= BATCH:
                connection.send(batch)
                batch = []
        connection.send(batch)
        connection.send(None)
    except (BrokenPipeError, OSError):  # the scan is over and no longer listening
        pass
    finally:
        with suppress(OSError):
            connection.close()


def _expressions(source: RootedSource, tables: Iterable[str]) -> Iterator[str]:
    seen: set[str] = set()
    for path in tables:
        try:
            data = source.read(path).data
        except SourceError:
            continue
        for fields in _TIME_FIELDS.findall(data.decode("utf-8", "surrogateescape")):
            expression = " ".join(fields)
            if expression in seen:
                continue
            seen.add(expression)
            try:
                if any(check_field(index, token) for index, token in enumerate(fields)):
                    continue  # `~` fields are random: no next runs to compute
            except FieldError:
                continue
            yield expression
