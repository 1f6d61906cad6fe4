"""What an analyzer may know beyond the jobs: facts about files and accounts, the rules to run.

Analyzers import only the model, so they cannot open evidence. The engine asks each analyzer which
paths it needs (`privilege.wanted_paths`), resolves them through the source (`enrich.py`) and hands
the answers over here as plain data: the analyzer judges, the enrichment only looks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .allowlist import Allowlist
    from .sigma_rules import RulePack


@dataclass(frozen=True, slots=True)
class PathFact:
    """One path of the evidence host as `stat` saw it (links followed inside the root).

    `exists` is False for a path that is not there; `problem` names why a path could not be
    decided (unreadable, dangling link, loop); both leave the mode fields None.
    """

    path: str
    exists: bool
    real_path: str | None = None
    kind: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    owner: str | None = None
    group: str | None = None
    problem: str | None = None

    @property
    def mode_text(self) -> str:
        return "?" if self.mode is None else f"{self.mode:04o}"

    @property
    def is_dir(self) -> bool:
        return self.kind == "directory"


@dataclass(frozen=True, slots=True)
class HostUser:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class HostAccounts:
    """Users and groups of the evidence host (its own passwd and group files)."""

    users: Mapping[str, HostUser] = field(default_factory=dict)
    groups: Mapping[int, str] = field(default_factory=dict)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return bool(self.users)

    def user(self, name_or_uid: str | None) -> HostUser | None:
        if name_or_uid is None:
            return None
        found = self.users.get(name_or_uid)
        if found is None and name_or_uid.isdigit():
            uid = int(name_or_uid)
            found = next((u for u in self.users.values() if u.uid == uid), None)
        return found

    def user_name(self, uid: int) -> str | None:
        return next((u.name for u in self.users.values() if u.uid == uid), None)

    def group_members(self, gid: int) -> tuple[str, ...] | None:
        """Every user in the group: listed members and users whose primary group it is.

        None when the host's accounts are unknown (members cannot be decided)."""
        if not self.loaded:
            return None
        name = self.groups.get(gid)
        listed = self.members.get(name, ()) if name is not None else ()
        primary = tuple(u.name for u in self.users.values() if u.gid == gid)
        return tuple(dict.fromkeys((*listed, *primary)))


@dataclass(frozen=True, slots=True)
class Wanted:
    """A path whose facts an analyzer needs, and why (`role`)."""

    role: str
    path: str
    action: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AnalysisContext:
    """Everything an analyzer may use besides the jobs and issues of the run.

    `wanted` holds, by job id, the paths each job needs facts for (`privilege.wanted_paths`, as
    the enrichment step computed them: analyzers reuse them instead of reading the commands again).

    `facts` holds every path an analyzer asked for and each of its ancestor folders;
    `target_hashes` the sha256 of the files jobs run (only when an allowlist needs them).
    `rules` replaces the built-in Sigma pack (built-in plus a user's folders); `allowlist` is the
    approved-jobs policy, when one was given.
    """

    facts: Mapping[str, PathFact] = field(default_factory=dict)
    accounts: HostAccounts = field(default_factory=HostAccounts)
    target_hashes: Mapping[str, str] = field(default_factory=dict)
    rules: RulePack | None = None
    allowlist: Allowlist | None = None
    file_facts: bool = False  # True when paths were looked up (an image or the live host)
    wanted: Mapping[str, Sequence[Wanted]] = field(default_factory=dict)

    def fact(self, path: str) -> PathFact | None:
        return self.facts.get(posixpath.normpath(path)) if path.startswith("/") else None


EMPTY_CONTEXT = AnalysisContext()


def ancestors(path: str) -> list[str]:
    """`/a/b/c` → [`/a/b`, `/a`, `/`]: the folders whose owners can replace what is below."""
    found: list[str] = []
    current = posixpath.normpath(path)
    while current != "/":
        current = posixpath.dirname(current)
        found.append(current)
    return found
