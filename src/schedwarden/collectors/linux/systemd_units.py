"""Where systemd finds a unit and what it makes of it: load paths, masking, aliases, templates,
drop-ins, enablement links. Offline, from files only (no D-Bus, nothing executed).

* Load paths in systemd's precedence (systemd.unit(5), "Unit File Load Path"); the first folder
  holding `name` wins. A unit linked to /dev/null (inside the image) or an empty file is masked.
  A link to a file elsewhere (`systemctl link`) or to another unit name (an alias) is followed.
* An instance `foo@bar.timer` falls back to the template `foo@.timer`.
* Drop-ins: `name.d/*.conf` in every load path folder, then for templates `foo@.timer.d/`, prefix
  folders `foo-.service.d/` for every dash-prefix, and the type-wide `service.d/` / `timer.d/`.
  A file name in a higher-priority folder hides the same name lower down; a more specific folder
  hides a less specific one; the survivors apply in file-name order.
* Enabled: a link named like the unit in any `*.wants/` or `*.requires/` folder of the load path.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ...model import Issue
from ...sources import FileContent, FileKind, RootedSource, SourceError
from ..base import CollectContext

SYSTEM_PATHS = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
)
GLOBAL_USER_PATHS = (
    "/etc/xdg/systemd/user",
    "/etc/systemd/user",
    "/run/systemd/user",
    "/usr/local/share/systemd/user",
    "/usr/share/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
)
TRANSIENT_DIRS = ("/run/systemd/transient",)
GENERATED_DIRS = ("/run/systemd/generator.early", "/run/systemd/generator",
                  "/run/systemd/generator.late")  # fmt: skip
UNIT_READ_CAP = 4 * 1024 * 1024


def user_paths(home: str, uid: int) -> tuple[str, ...]:
    """A user manager's load path: per-user folders around the global ones, in precedence."""
    run = f"/run/user/{uid}/systemd"
    return (
        f"{home}/.config/systemd/user.control",
        f"{run}/user.control",
        f"{run}/transient",
        f"{run}/generator.early",
        f"{home}/.config/systemd/user",
        "/etc/xdg/systemd/user",
        "/etc/systemd/user",
        f"{run}/user",
        "/run/systemd/user",
        f"{run}/generator",
        f"{home}/.local/share/systemd/user",
        "/usr/local/share/systemd/user",
        "/usr/share/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
        f"{run}/generator.late",
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """One service manager: the system one, the global user one, or one user's."""

    name: str
    paths: tuple[str, ...]
    user: str | None = None
    uid: int | None = None
    home: str | None = None
    own_paths: tuple[str, ...] = ()  # where this scope's own units live (others are shared)

    @property
    def is_user(self) -> bool:
        return self.name != "system"


@dataclass(slots=True)
class LoadedFile:
    path: str
    content: FileContent


@dataclass(slots=True)
class UnitLookup:
    """The result of looking a unit up: its fragment (or why there is none) and its drop-ins."""

    name: str
    fragment: LoadedFile | None = None
    masked_by: str | None = None
    found_in: str | None = None
    alias_of: str | None = None
    drop_ins: list[LoadedFile] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class UnitIndex:
    """Listings of every load-path folder of a scope, read once."""

    def __init__(self, ctx: CollectContext, scope: Scope, issues: list[Issue]) -> None:
        self.ctx = ctx
        self.scope = scope
        self.issues = issues
        self.listing: dict[str, list[str]] = {}
        for folder in ctx.distinct_folders(scope.paths):
            if isinstance(folder, Issue):
                issues.append(folder)
                continue
            names = ctx.list_dir(folder)
            if isinstance(names, Issue):
                issues.append(names)
                continue
            self.listing[folder] = names

    def folders(self) -> list[str]:
        return list(self.listing)

    def find(self, name: str) -> UnitLookup:
        lookup = UnitLookup(name)
        candidates = [name]
        template = template_of(name)
        if template:
            candidates.append(template)
        for candidate in candidates:
            for folder in self.listing:
                if candidate not in self.listing[folder]:
                    continue
                path = f"{folder}/{candidate}"
                self._load_fragment(lookup, path, folder)
                break
            if lookup.fragment or lookup.masked_by:
                break
        lookup.drop_ins = self._drop_ins(name)
        return lookup

    def _load_fragment(self, lookup: UnitLookup, path: str, folder: str) -> None:
        source = self.ctx.source
        lookup.found_in = folder
        try:
            own = source.lstat(path)
        except SourceError as error:
            self.issues.append(self.ctx.issue_from(error))
            return
        if own.kind is FileKind.SYMLINK:
            lookup.links.append(path)
            if target_is_null(source, path):
                lookup.masked_by = path
                return
            try:
                real = source.stat(path).real_path
            except SourceError as error:
                self.issues.append(self.ctx.issue_from(error))
                return
            if real == "/dev/null":
                lookup.masked_by = path
                return
            target_name = posixpath.basename(real)
            if target_name != posixpath.basename(path):
                lookup.alias_of = target_name
        content = self.ctx.read(path, UNIT_READ_CAP)
        if isinstance(content, Issue):
            self.issues.append(content)
            return
        if content is None:
            return
        if not content.data.strip():
            lookup.masked_by = path  # systemd treats an empty unit file as masked
            return
        lookup.fragment = LoadedFile(path, content)

    def _drop_ins(self, name: str) -> list[LoadedFile]:
        """Drop-in files in the order systemd applies them."""
        stem, dot, suffix = name.rpartition(".")
        if not dot:
            return []
        folders_by_specificity: list[str] = [f"{suffix}.d"]  # type-wide: service.d, timer.d
        pieces = stem.split("-")
        for count in range(1, len(pieces)):
            folders_by_specificity.append("-".join(pieces[:count]) + f"-.{suffix}.d")
        template = template_of(name)
        if template:
            folders_by_specificity.append(f"{template}.d")
        folders_by_specificity.append(f"{name}.d")
        chosen: dict[str, tuple[int, int, str]] = {}
        for specificity, dropin_dir in enumerate(folders_by_specificity):
            for priority, folder in enumerate(self.listing):
                if dropin_dir not in self.listing[folder]:
                    continue
                directory = f"{folder}/{dropin_dir}"
                names = self.ctx.list_dir(directory)
                if isinstance(names, Issue):
                    self.issues.append(names)
                    continue
                for conf in names:
                    if not conf.endswith(".conf"):
                        continue
                    rank = (-specificity, priority, f"{directory}/{conf}")
                    if conf not in chosen or rank < chosen[conf]:
                        chosen[conf] = rank
        loaded = []
        for conf in sorted(chosen):
            path = chosen[conf][2]
            content = self.ctx.read(path, UNIT_READ_CAP)
            if isinstance(content, Issue):
                if not target_is_null(self.ctx.source, path):
                    self.issues.append(content)
                continue
            if content is not None:
                loaded.append(LoadedFile(path, content))
        return loaded

    def enablement_links(self, name: str) -> list[str]:
        """Links to `name` in `*.wants/` and `*.requires/` folders: the unit is enabled."""
        found = []
        for folder, names in self.listing.items():
            for entry in names:
                if entry.endswith((".wants", ".requires")):
                    wanted = f"{folder}/{entry}"
                    listing = self.ctx.list_dir(wanted)
                    if isinstance(listing, list) and name in listing:
                        found.append(f"{wanted}/{name}")
        return found

    def units_with_suffix(self, suffix: str, only: tuple[str, ...] | None = None) -> list[str]:
        names: set[str] = set()
        for folder, listing in self.listing.items():
            if only is not None and folder not in only:
                continue
            names.update(n for n in listing if n.endswith(suffix))
        return sorted(names)

    def instances_enabled(self, template: str) -> list[str]:
        """`foo@.timer` → the instances `foo@x.timer` linked from wants folders."""
        prefix, _, suffix = template.partition("@")
        found: set[str] = set()
        for folder, names in self.listing.items():
            for entry in names:
                if entry.endswith((".wants", ".requires")):
                    listing = self.ctx.list_dir(f"{folder}/{entry}")
                    if isinstance(listing, list):
                        found.update(
                            n
                            for n in listing
                            if n.startswith(prefix + "@") and n.endswith(suffix) and n != template
                        )
        return sorted(found)


def template_of(name: str) -> str | None:
    """`foo@bar.timer` → `foo@.timer`; None for a name that is not an instance."""
    prefix, at, rest = name.partition("@")
    if not at:
        return None
    _, dot, suffix = rest.rpartition(".")
    if not dot or not rest.split(".")[0]:
        return None
    return f"{prefix}@.{suffix}"


def instance_of(name: str) -> str | None:
    _, at, rest = name.partition("@")
    if not at:
        return None
    instance = rest.rpartition(".")[0]
    return instance or None


def target_is_null(source: RootedSource, path: str) -> bool:
    """Whether `path` is a link to /dev/null (masking), judged from the link text alone."""
    try:
        target = source.read_link(path)
    except SourceError:
        return False
    return posixpath.normpath(posixpath.join(posixpath.dirname(path), target)) == "/dev/null"
