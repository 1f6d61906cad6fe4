"""What a collector is: a named generator from a source to jobs and issues, plus what it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..model import CronSchedule, Evidence, Issue, Mechanism, Schedule, ScheduledJob
from ..sources import FileContent, FileInfo, FileKind, NotFound, RootedSource, SourceError
from ..timing import describe_cron, next_runs

if TYPE_CHECKING:
    from .schedule_prefetch import ScheduleFacts

CollectorOutput = Iterator[ScheduledJob | Issue]


@dataclass(frozen=True, slots=True)
class CollectContext:
    """Everything a collector may use: the source and the time of the run."""

    source: RootedSource
    now: datetime
    host_timezone: str | None = None
    schedule_facts: ScheduleFacts | None = None  # computed ahead by a helper process, if any
    # next runs by schedule object: collectors share one object per distinct schedule, and
    # looking it up by identity is much cheaper than hashing its fields (kept alive in the value)
    _runs_seen: dict[tuple[int, int], tuple[Schedule, tuple[datetime, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def next_runs(self, schedule: Schedule, count: int = 3) -> tuple[datetime, ...]:
        """The next run times (UTC) of a schedule on this host, from the time of the run."""
        known = self._runs_seen.get((id(schedule), count))
        if known is None:
            runs = None
            facts = self.schedule_facts
            if facts is not None and isinstance(schedule, CronSchedule) and not schedule.randomized:
                zone = schedule.timezone or self.host_timezone or "UTC"
                runs = facts.runs(schedule.expression, zone, count)
            if runs is None:
                runs = next_runs(schedule, self.now, self.host_timezone, count)
            known = self._runs_seen[(id(schedule), count)] = (schedule, runs)
        return known[1]

    def describe_cron(self, expression: str) -> str:
        """A valid five-field expression in words."""
        facts = self.schedule_facts
        found = facts.description(expression) if facts is not None else None
        return found if found is not None else describe_cron(expression)

    def distinct_folders(self, paths: Iterable[str]) -> Iterator[str | Issue]:
        """Each existing folder among `paths` once, however many links lead to it (Alpine's
        spool link, /lib → /usr/lib on merged-/usr hosts); an Issue for one that cannot be used."""
        seen: set[str] = set()
        for path in paths:
            try:
                info = self.source.stat(path)
            except NotFound:
                continue
            except SourceError as error:
                yield self.issue_from(error)
                continue
            if info.kind is FileKind.DIRECTORY and info.real_path not in seen:
                seen.add(info.real_path)
                yield path

    def list_dir(self, path: str) -> list[str] | Issue:
        """Names in a folder; none when it does not exist; an Issue when it cannot be used."""
        try:
            return self.source.list_dir(path)
        except NotFound:
            return []
        except SourceError as error:
            return self.issue_from(error)

    def read(self, path: str, cap: int | None = None) -> FileContent | Issue | None:
        """A regular file's bytes; None when it does not exist; an Issue when it cannot be used."""
        try:
            return self.source.read(path, cap)
        except NotFound:
            return None
        except SourceError as error:
            return self.issue_from(error)

    def issue_from(self, error: SourceError) -> Issue:
        return Issue(error.code, error.message, self.source.path_evidence(error.path))

    def issue(
        self,
        code: str,
        message: str,
        where: FileInfo | str,
        *,
        line: int | None = None,
        offset: int | None = None,
    ) -> Issue:
        if isinstance(where, FileInfo):
            evidence = self.source.evidence(where, line=line, offset=offset)
        else:
            evidence = Evidence(
                source_kind=self.source.kind,
                host=self.source.host,
                path=where,
                line=line,
                offset=offset,
            )
        return Issue(code, message, evidence)


@dataclass(frozen=True, slots=True)
class Collector:
    """`locations` are the original-host paths the collector reads (directories or files); the
    monitor watches them. `{home}` stands for every user's home directory."""

    name: str
    mechanism: Mechanism
    platform: str
    locations: tuple[str, ...]
    collect: Callable[[CollectContext], CollectorOutput]
