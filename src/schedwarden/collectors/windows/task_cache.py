"""The TaskCache: `HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache`, the
registry copy of every task that the Schedule service loads and runs.

- `Tree\\<folder>\\<name>`: Id (the task's `{GUID}`), Index (the trigger bucket; 0 is how Sigma
  recognises a task hidden by tampering), SD (the security descriptor checked when the API
  enumerates; deleting it hides the task from schtasks, the MMC and PowerShell: Tarrask). Folder
  keys have no Id. Walked recursively: hidden tasks live in subfolders as well.
- `Tasks\\{GUID}`: Path, URI, Author, Date, Description, Source, Version, SecurityDescriptor,
  Documentation, Schema, Hash (of the XML), and the Actions, Triggers and DynamicInfo blobs
  (`blobs`).
- `Plain`, `Logon`, `Boot`, `Maintenance`: empty `{GUID}` keys bucketing tasks by trigger class.

A task registered in the registry alone (GhostTask) has all of this and no XML file; a task whose
XML was deleted keeps running from here. Key last-write times are kept: they survive deletion of the
XML file. Every value is read defensively (`hive`); a broken key is a problem, not an exception.

References: reference/windows.md §0.2 and §b items 11-14; reference/reliability.md W08-W09;
GDATAAdvancedAnalytics/winreg-tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .blobs import (
    BlobError,
    DecodedActions,
    DecodedTriggers,
    DynamicInfo,
    decode_actions,
    decode_dynamic_info,
    decode_triggers,
)
from .hive import HiveError, RegData, RegKey, find, subkey, walk

TASKCACHE = "Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache"
SHOWN_ROOT = "HKLM\\SOFTWARE\\" + TASKCACHE
BUCKETS = ("Plain", "Logon", "Boot", "Maintenance")
MAX_DEPTH = 32
MAX_KEYS = 100_000
TEXT_VALUES = {
    "Path": "path",
    "URI": "uri",
    "Author": "author",
    "Date": "date",
    "Description": "description",
    "Source": "source",
    "Version": "version",
    "SecurityDescriptor": "security_descriptor",
    "Documentation": "documentation",
}


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """A task key under Tree: `task_path` is `\\Folder\\Name`."""

    task_path: str
    key_path: str
    guid: str | None
    index: int | None
    sd: bytes | None
    has_sd: bool
    has_index: bool
    last_write: datetime | None


@dataclass(slots=True)
class CachedTask:
    """A `Tasks\\{GUID}` key, its values and decoded blobs."""

    guid: str
    key_path: str
    last_write: datetime | None
    info: dict[str, str] = field(default_factory=dict)
    schema: int | None = None
    hash: str | None = None
    actions: DecodedActions | None = None
    triggers: DecodedTriggers | None = None
    dynamic: DynamicInfo | None = None
    problems: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TaskCache:
    tree: list[TreeEntry] = field(default_factory=list)
    tasks: dict[str, CachedTask] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (key, code, message)

    def task(self, guid: str | None) -> CachedTask | None:
        return self.tasks.get(guid.casefold()) if guid else None


def shown(relative: str) -> str:
    return f"{SHOWN_ROOT}\\{relative}"


def read_task_cache(software: RegKey) -> TaskCache | None:
    """The TaskCache of a SOFTWARE hive root; None when the hive has none."""
    try:
        root = find(software, TASKCACHE)
    except HiveError as error:
        cache = TaskCache()
        cache.problems.append((SHOWN_ROOT, "HIVE_ERROR", str(error)))
        return cache
    if root is None:
        return None
    cache = TaskCache()
    _read_tasks(root, cache)
    _read_buckets(root, cache)
    _read_tree(root, cache)
    return cache


def _values(key: RegKey, where: str, cache: TaskCache) -> dict[str, RegData] | None:
    try:
        return {name.casefold(): value for name, value in key.values().items()}
    except HiveError as error:
        cache.problems.append((where, "HIVE_ERROR", str(error)))
        return None


def _child(root: RegKey, name: str, cache: TaskCache) -> RegKey | None:
    try:
        return subkey(root, name)
    except HiveError as error:
        cache.problems.append((shown(name), "HIVE_ERROR", str(error)))
        return None


def _read_tree(root: RegKey, cache: TaskCache) -> None:
    tree = _child(root, "Tree", cache)
    if tree is None:
        return
    for walked in walk(tree, MAX_DEPTH, MAX_KEYS):
        where = shown(f"Tree\\{walked.path}") if walked.path else shown("Tree")
        if walked.key is None:
            code = "HIVE_CYCLE" if "loops back" in (walked.problem or "") else "HIVE_ERROR"
            cache.problems.append((where, code, walked.problem or "unreadable key"))
            continue
        values = _values(walked.key, where, cache)
        if values is None:
            continue
        guid = values.get("id")
        if not isinstance(guid, str) or not guid.strip():
            continue  # a folder
        index = values.get("index")
        sd = values.get("sd")
        cache.tree.append(
            TreeEntry(
                task_path="\\" + walked.path,
                key_path=where,
                guid=guid.strip(),
                index=index if isinstance(index, int) else None,
                sd=sd if isinstance(sd, bytes) else None,
                has_sd="sd" in values,
                has_index="index" in values,
                last_write=walked.key.last_write,
            )
        )


def _read_tasks(root: RegKey, cache: TaskCache) -> None:
    tasks = _child(root, "Tasks", cache)
    if tasks is None:
        return
    try:
        keys = tasks.subkeys()
    except HiveError as error:
        cache.problems.append((shown("Tasks"), "HIVE_ERROR", str(error)))
        return
    for key in keys[:MAX_KEYS]:
        where = shown(f"Tasks\\{key.name}")
        values = _values(key, where, cache)
        if values is None:
            continue
        task = CachedTask(guid=key.name, key_path=where, last_write=key.last_write)
        for name, label in TEXT_VALUES.items():
            value = values.get(name.casefold())
            if isinstance(value, str) and value:
                task.info[label] = value
        schema = values.get("schema")
        task.schema = schema if isinstance(schema, int) else None
        digest = values.get("hash")
        task.hash = digest.hex() if isinstance(digest, bytes) and digest else None
        _decode(task, values)
        cache.tasks[key.name.casefold()] = task


def _decode(task: CachedTask, values: dict[str, RegData]) -> None:
    actions = values.get("actions")
    if isinstance(actions, bytes):
        task.actions = decode_actions(actions)
        task.problems += [f"Actions: {p}" for p in task.actions.problems]
    elif actions is not None:
        task.problems.append("Actions is not a binary value")
    triggers = values.get("triggers")
    if isinstance(triggers, bytes):
        task.triggers = decode_triggers(triggers)
        task.problems += [f"Triggers: {p}" for p in task.triggers.problems]
    elif triggers is not None:
        task.problems.append("Triggers is not a binary value")
    dynamic = values.get("dynamicinfo")
    if isinstance(dynamic, bytes):
        try:
            task.dynamic = decode_dynamic_info(dynamic)
        except BlobError as error:
            task.problems.append(f"DynamicInfo: {error}")


def _read_buckets(root: RegKey, cache: TaskCache) -> None:
    for bucket in BUCKETS:
        key = _child(root, bucket, cache)
        if key is None:
            continue
        try:
            members = key.subkeys()
        except HiveError as error:
            cache.problems.append((shown(bucket), "HIVE_ERROR", str(error)))
            continue
        for member in members[:MAX_KEYS]:
            task = cache.tasks.get(member.name.casefold())
            if task is not None:
                task.buckets.append(bucket)
