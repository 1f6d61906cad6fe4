"""What to watch: every location the collectors declare, resolved inside the root.

A location that exists as a folder is watched recursively, and its parent too (non-recursively)
so that the folder being removed, replaced or renamed is seen. A location that is a file is
watched through its parent folder (rename-over saves by editors and `crontab -e` replace the file,
never the folder). A location that does not exist yet is watched through its deepest existing
ancestor: when the missing folder appears, the plan is rebuilt (watch first, then scan).

Paths are resolved by the source's own root-clamped resolver, so the kernel is only ever given a
real folder inside the root and never follows a link out of it. `{home}` stands for every user's
home folder, from the host's own account tables.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..collectors.base import Collector
from ..sources import EvidenceError, FileKind, NotFound, RootedSource, normalize

ACCOUNT_FILES = ("/etc/passwd", "/etc/group")


@dataclass(frozen=True, slots=True)
class Target:
    """One location of one or more collectors, resolved: `real` is the path after links (for a
    missing location, its deepest existing ancestor)."""

    location: str
    real: str
    kind: str  # "dir", "file" or "missing"
    collectors: frozenset[str]


@dataclass(frozen=True, slots=True)
class Watch:
    path: str  # original-host path (already resolved)
    recursive: bool
    identity: tuple[int, int]  # (device, inode) when planned: a replaced folder needs a new watch


@dataclass(slots=True)
class WatchPlan:
    targets: list[Target] = field(default_factory=list)
    watches: dict[str, Watch] = field(default_factory=dict)

    def collectors_for(self, path: str) -> set[str]:
        """Collectors whose locations hold `path` (or are `path` itself)."""
        found: set[str] = set()
        for target in self.targets:
            if (target.kind == "dir" and _within(path, target.real)) or (
                target.kind == "file" and path == target.real
            ):
                found |= target.collectors
        return found

    def needs_replan(self, path: str) -> bool:
        """`path` is an account file, a watched location itself, or lies on the way to one (a
        folder on the path to a location appeared, vanished or was replaced)."""
        if path in ACCOUNT_FILES:
            return True
        for target in self.targets:
            on_the_way = _within(target.location, path) or _within(target.real, path)
            if target.kind == "missing":
                if _within(target.location, path):
                    return True
            elif target.kind == "dir":
                if on_the_way:
                    return True
            elif on_the_way and path not in (target.location, target.real):
                return True
        return False

    def relevant(self, path: str) -> bool:
        return bool(self.collectors_for(path)) or self.needs_replan(path)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def homes(source: RootedSource) -> list[str]:
    found = {"/root"}
    for user in source.accounts.users.values():
        home = user.home.rstrip("/")
        if home.startswith("/") and home and ".." not in home.split("/"):
            found.add(home)
    return sorted(found)


def expand(location: str, user_homes: Sequence[str]) -> list[str]:
    """`{home}` for every home; Windows-style paths (`C:\\Windows\\...`) as root-relative."""
    text = location.replace("\\", "/")
    if len(text) > 1 and text[1] == ":":
        text = text[2:]
    if not text.startswith(("/", "{home}")):
        return []  # a registry key (TaskCache): its hive file is a location of its own
    if "{home}" not in text:
        return [normalize(text)]
    return [normalize(text.replace("{home}", home)) for home in user_homes]


def _resolve(source: RootedSource, location: str) -> tuple[str, str, tuple[int, int]]:
    """(kind, resolved path, (dev, ino)) of a location, or of its deepest existing folder."""
    path = location
    missing = False
    while True:
        try:
            info = source.stat(path)
        except (NotFound, EvidenceError):
            info = None
        if info is not None and (info.kind is FileKind.DIRECTORY or not missing):
            if missing:
                return "missing", info.real_path, (info.dev, info.ino)
            kind = "dir" if info.kind is FileKind.DIRECTORY else "file"
            return kind, info.real_path, (info.dev, info.ino)
        if path == "/":
            return "missing", "/", (0, 0)
        missing = True
        path = posixpath.dirname(path)


def build_plan(source: RootedSource, collectors: Iterable[Collector]) -> WatchPlan:
    user_homes = homes(source)
    by_location: dict[str, set[str]] = {}
    for collector in collectors:
        for declared in collector.locations:
            for location in expand(declared, user_homes):
                by_location.setdefault(location, set()).add(collector.name)
    for account_file in ACCOUNT_FILES:
        by_location.setdefault(account_file, set())
    plan = WatchPlan()
    wanted: dict[str, tuple[bool, tuple[int, int]]] = {}

    def want(path: str, recursive: bool, identity: tuple[int, int]) -> None:
        before = wanted.get(path)
        wanted[path] = ((before[0] if before else False) or recursive, identity)

    for location, names in sorted(by_location.items()):
        kind, real, identity = _resolve(source, location)
        plan.targets.append(Target(location, real, kind, frozenset(names)))
        if kind == "dir":
            want(real, True, identity)
            parent = posixpath.dirname(real)
            if parent != real:
                want(parent, False, _identity(source, parent))
        elif kind == "file":
            parent = posixpath.dirname(real)
            want(parent, False, _identity(source, parent))
        else:
            want(real, False, identity)
    recursive = sorted(p for p, (r, _) in wanted.items() if r)
    for path, (is_recursive, identity) in sorted(wanted.items()):
        covered = any(_within(path, other) and path != other for other in recursive)
        if covered:
            continue
        plan.watches[path] = Watch(path, is_recursive, identity)
    return plan


def _identity(source: RootedSource, path: str) -> tuple[int, int]:
    try:
        info = source.stat(path)
    except (NotFound, EvidenceError):
        return (0, 0)
    return (info.dev, info.ino)
