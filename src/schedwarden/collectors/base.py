"""What a collector is: a named generator from a source to jobs and issues, plus what it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..model import Evidence, Issue, Mechanism, ScheduledJob
from ..sources import FileInfo, RootedSource, SourceError

CollectorOutput = Iterator[ScheduledJob | Issue]


@dataclass(frozen=True, slots=True)
class CollectContext:
    """Everything a collector may use: the source and the time of the run."""

    source: RootedSource
    now: datetime

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
