"""Windows scheduled tasks (T1053.005): one job per task, built from every store that holds it and
with every disagreement between them exposed.

A task exists in up to four places: its XML file (`C:\\Windows\\System32\\Tasks\\...`, also
`SysWOW64\\Tasks` and `System32\\Tasks_Migrated`), the TaskCache in the SOFTWARE hive (what the
Schedule service really runs), a legacy `.job` file in `C:\\Windows\\Tasks`, and a Group Policy
preference item. Attackers make them disagree on purpose: Tarrask deletes the Tree key's `SD` value
so the task vanishes from schtasks and the API but keeps running; GhostTask writes the registry keys
alone, with no XML file and no creation event; a hijack rewrites the `Actions` blob while the XML
still shows the original; `Index` 0 hides a task from some views. API-based tools (Autoruns,
PersistenceSniper) miss hidden tasks, and XML-based ones (Velociraptor, dissect.target) miss
registry-only tasks. Here the stores are matched by task path (ignoring case, as Windows does):

- `name` is the task path (`\\Microsoft\\Windows\\...\\Name`); `evidence.path` is the XML file as
  Windows named it, or the TaskCache key for a registry-only task; the other stores are in
  `evidence.related`.
- `actions` are what the service runs: the decoded Actions blob when the registry has one, else the
  XML's; triggers, principal and registration info come from the XML when it exists.
- `extra` holds what rules test: `stores`, `sd_missing`, `index` / `index_zero` / `index_missing`,
  `registry_only`, `xml_only`, `actions_differ` (both versions), `hash_mismatch`,
  `crc32_mismatch`, `uri_mismatch`, `enabled_differs`, `dynamic_info` (created, last run, last
  result), `buckets`, `job_file`, and for Group Policy items `gpo_guid`, `gpp_item`, `gpp_action`
  and `cpassword_present` (the value itself is never read into the output).
- `effective` says whether the service would run the task and why not: disabled, XML without
  registration, no enabled trigger (on demand only); and notes hidden-but-running states.

Exported task XML, `.job` files, `ScheduledTasks.xml` and SOFTWARE hives given directly as PATH are
read as loose files, each on its own.

References: reference/windows.md §0, §b and §f; reference/reliability.md §3.4;
https://attack.mitre.org/techniques/T1053/005/
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Action,
    Effective,
    Evidence,
    Issue,
    Mechanism,
    ScheduledJob,
    SourceKind,
    make_job_id,
    task_key,
)
from ...sources import FileContent
from ..base import CollectContext, Collector, CollectorOutput
from ..common import RAW_EXCERPT_CAP, excerpt
from .blobs import JobBucket
from .definition import (
    Principal,
    TaskDefinition,
    action_text,
    maintenance_trigger,
    normalized_actions,
    schedule_of,
    task_job_id,
)
from .gpp import GppTask, gpo_of, parse_gpp
from .hive import HiveError, RegKey, open_hive
from .job_file import MAX_JOB_BYTES, JobError, JobFile, parse_job
from .safexml import MAX_XML_BYTES, XmlProblem, decode_xml
from .task_cache import CachedTask, TaskCache, TreeEntry, read_task_cache
from .task_xml import parse_task_xml, timing_xml
from .winpath import CaseFolder, task_path_of, windows_path

MECHANISM = Mechanism.WINDOWS_TASK
SCHEDULER = "Task Scheduler"
TASK_FOLDERS = (
    "Windows/System32/Tasks",
    "Windows/SysWOW64/Tasks",
    "Windows/System32/Tasks_Migrated",
)
JOB_FOLDER = "Windows/Tasks"
SOFTWARE_HIVE = "Windows/System32/config/SOFTWARE"
GPP_FOLDERS = (
    "Windows/SYSVOL",
    "Windows/System32/GroupPolicy/DataStore",
    "ProgramData/Microsoft/Group Policy/History",
)
GPP_FILE = "scheduledtasks.xml"
HIVE_READ_CAP = 1 << 30
SNIFF_BYTES = 4096
MAX_ISSUES_PER_FILE = 50
_ROOT_ELEMENT = re.compile(r"<\s*(?:[\w.-]+:)?([\w.-]+)[\s>/]")


@dataclass(slots=True)
class XmlFile:
    task_path: str
    shown: str
    content: FileContent
    folder: str
    definition: TaskDefinition | None = None
    encoding: str | None = None
    error: str | None = None
    error_code: str = "PARSE_ERROR"


@dataclass(slots=True)
class JobSource:
    task_path: str
    shown: str
    content: FileContent
    job: JobFile


@dataclass(slots=True)
class Parts:
    """Everything found for one task path."""

    xml: list[XmlFile] = field(default_factory=list)
    job: JobSource | None = None
    tree: TreeEntry | None = None
    cached: CachedTask | None = None


@dataclass(slots=True)
class Stores:
    parts: dict[str, Parts] = field(default_factory=dict)
    cache: TaskCache | None = None
    hive_shown: str | None = None
    loose: bool = False

    def at(self, task_path: str) -> Parts:
        return self.parts.setdefault(task_key(task_path), Parts())


def collect(ctx: CollectContext) -> CollectorOutput:
    given = ctx.source.loose_files()
    if given:
        yield from _loose(ctx, given)
        return
    folder = CaseFolder(ctx)
    issues: list[Issue] = []
    stores = Stores()
    for relative in TASK_FOLDERS:
        root = folder.resolve(relative)
        if root is None:
            continue
        label = relative.rsplit("/", 1)[-1] if "Migrated" in relative else relative.split("/")[1]
        for path in folder.files(root):
            record = _xml_file(ctx, path, task_path_of(path, root), windows_path(path), label)
            if isinstance(record, Issue):
                issues.append(
                    replace(record, evidence=replace(record.evidence, path=windows_path(path)))
                )
            elif record is not None:
                stores.at(record.task_path).xml.append(record)
                issues += _xml_issues(ctx, record)
    jobs_root = folder.resolve(JOB_FOLDER)
    if jobs_root is not None:
        for path in folder.files(jobs_root, deepest=0):
            if path.casefold().endswith(".job"):
                name = path.rsplit("/", 1)[-1][: -len(".job")]
                found = _job_file(ctx, path, "\\" + name, windows_path(path), issues)
                if found is not None:
                    stores.at(found.task_path).job = found
    _registry(ctx, folder, stores, issues)
    yield from _jobs(ctx, stores, issues)
    yield from _gpp(ctx, folder, stores, issues)
    yield from folder.issues
    yield from issues


# ---------------------------------------------------------------------------------------------
# Reading each store


def _xml_file(
    ctx: CollectContext, path: str, task_path: str, shown: str, folder: str
) -> XmlFile | Issue | None:
    content = ctx.read(path, MAX_XML_BYTES)
    if content is None or isinstance(content, Issue):
        return content
    record = XmlFile(task_path, shown, content, folder)
    if content.truncated:
        record.error = f"larger than {MAX_XML_BYTES} bytes: not parsed"
        record.error_code = "OVERSIZED_FILE"
        return record
    try:
        definition, problems, encoding = parse_task_xml(content.data)
    except XmlProblem as problem:
        record.error, record.error_code = problem.message, problem.code
        return record
    record.definition = definition
    record.encoding = encoding
    if problems:
        record.error, record.error_code = "; ".join(problems), "TASK_WARNING"
    return record


def _xml_issues(ctx: CollectContext, record: XmlFile) -> list[Issue]:
    if record.error is None:
        return []
    evidence = replace(
        ctx.source.evidence(record.content.info, sha256=record.content.sha256), path=record.shown
    )
    return [Issue(record.error_code, f"task XML {record.task_path}: {record.error}", evidence)]


def _read_shown(
    ctx: CollectContext, path: str, cap: int, shown: str, issues: list[Issue]
) -> tuple[FileContent, Evidence] | None:
    """A file's bytes (at most `cap`) and its evidence under the Windows path shown for it; None
    when it is absent or unreadable (then with an Issue)."""
    content = ctx.read(path, cap)
    if content is None:
        return None
    if isinstance(content, Issue):
        issues.append(content)
        return None
    return content, replace(ctx.source.evidence(content.info, sha256=content.sha256), path=shown)


def _job_file(
    ctx: CollectContext, path: str, task_path: str, shown: str, issues: list[Issue]
) -> JobSource | None:
    read = _read_shown(ctx, path, MAX_JOB_BYTES, shown, issues)
    if read is None:
        return None
    content, evidence = read
    if content.truncated:
        issues.append(Issue("OVERSIZED_FILE", f"larger than {MAX_JOB_BYTES} bytes", evidence))
        return None
    try:
        job = parse_job(content.data)
    except JobError as error:
        issues.append(Issue("UNPARSEABLE_JOB", f".job file: {error}", evidence))
        return None
    return JobSource(task_path, shown, content, job)


def _registry(ctx: CollectContext, folder: CaseFolder, stores: Stores, issues: list[Issue]) -> None:
    """The TaskCache of the image's SOFTWARE hive, or of the live registry on Windows."""
    software: RegKey | None = None
    if ctx.source.kind is SourceKind.LIVE and sys.platform == "win32":  # pragma: no cover
        from .hive import live_software

        software = live_software()
        stores.hive_shown = "HKLM\\SOFTWARE"
    else:
        path = folder.resolve(SOFTWARE_HIVE)
        if path is None:
            return
        software = _open_hive(ctx, path, windows_path(path), issues)
        stores.hive_shown = windows_path(path)
    if software is not None:
        _add_cache(ctx, software, stores, issues)


def _open_hive(ctx: CollectContext, path: str, shown: str, issues: list[Issue]) -> RegKey | None:
    read = _read_shown(ctx, path, HIVE_READ_CAP, shown, issues)
    if read is None:
        return None
    content, evidence = read
    if content.truncated:
        issues.append(
            Issue(
                "OVERSIZED_FILE",
                f"hive larger than {HIVE_READ_CAP} bytes: only the first part was read",
                evidence,
            )
        )
    try:
        return open_hive(content.data)
    except HiveError as error:
        issues.append(Issue("HIVE_ERROR", f"SOFTWARE hive: {error}", evidence))
        return None


def _add_cache(ctx: CollectContext, software: RegKey, stores: Stores, issues: list[Issue]) -> None:
    cache = read_task_cache(software)
    if cache is None:
        return
    stores.cache = cache
    for key_path, code, message in cache.problems:
        issues.append(Issue(code, message, _key_evidence(ctx, key_path, None)))
    seen: set[str] = set()
    for entry in cache.tree:
        parts = stores.at(entry.task_path)
        if parts.tree is not None:
            issues.append(
                Issue(
                    "DUPLICATE_TASK",
                    f"two Tree keys name task {entry.task_path}",
                    _key_evidence(ctx, entry.key_path, None),
                )
            )
            continue
        parts.tree = entry
        parts.cached = cache.task(entry.guid)
        if parts.cached is not None:
            seen.add(parts.cached.guid.casefold())
    for guid, task in cache.tasks.items():
        for problem in task.problems:
            issues.append(Issue("BLOB_ERROR", problem, _key_evidence(ctx, task.key_path, None)))
        if guid in seen:
            continue
        path = task.info.get("path") or task.info.get("uri") or f"\\{task.guid}"
        parts = stores.at(path)
        if parts.cached is None:
            parts.cached = task


def _key_evidence(ctx: CollectContext, key_path: str, related: tuple[str, ...] | None) -> Evidence:
    return Evidence(
        source_kind=ctx.source.kind, host=ctx.source.host, path=key_path, related=related or ()
    )


# ---------------------------------------------------------------------------------------------
# Reconciling


def _jobs(ctx: CollectContext, stores: Stores, issues: list[Issue]) -> Iterator[ScheduledJob]:
    for key in sorted(stores.parts):
        parts = stores.parts[key]
        job = _job(ctx, stores, parts)
        if job is not None:
            yield job


def _registry_definition(
    cached: CachedTask | None,
) -> tuple[TaskDefinition | None, JobBucket | None]:
    if cached is None:
        return None, None
    bucket = cached.triggers.bucket if cached.triggers else None
    definition = TaskDefinition(
        store="registry",
        uri=cached.info.get("uri"),
        registration={k: v for k, v in cached.info.items() if k != "path"},
        triggers=cached.triggers.triggers if cached.triggers else (),
        principal=bucket.principal if bucket else None,
        actions=cached.actions.actions if cached.actions else (),
        context=cached.actions.context if cached.actions else None,
        enabled=bucket.enabled if bucket else True,
        hidden=bucket.hidden if bucket else False,
        settings=bucket.settings if bucket else {},
    )
    return definition, bucket


def _job(ctx: CollectContext, stores: Stores, parts: Parts) -> ScheduledJob | None:
    xml = next((x for x in parts.xml if x.definition is not None), None)
    registry, bucket = _registry_definition(parts.cached)
    job = parts.job
    primary = (
        xml.definition
        if xml is not None and xml.definition is not None
        else registry or (job.job.definition if job else None)
    )
    if primary is None:
        return None  # only unreadable XML: its issue says so
    registered = parts.tree is not None or parts.cached is not None
    name = _name(parts, xml)
    has_registry_actions = registry is not None and bool(
        parts.cached and parts.cached.actions and parts.cached.actions.version is not None
    )
    actions: tuple[Action, ...] = (
        registry.actions if registry is not None and has_registry_actions else primary.actions
    )
    triggers = primary.triggers
    implicit = maintenance_trigger(primary.settings) if not triggers else None
    if implicit is not None:
        triggers = (implicit,)
    principal = primary.principal or (registry.principal if registry else None)
    enabled = registry.enabled if registry is not None and bucket is not None else primary.enabled
    extra: dict[str, object] = {"stores": _stores(parts)}
    if primary.registration:
        extra["registration"] = dict(primary.registration)
    if principal is not None:
        extra["principal"] = principal.as_dict()
    if primary.settings:
        extra["settings"] = dict(primary.settings)
    hidden = primary.hidden or (registry.hidden if registry else False)
    notes: list[str] = []

    if xml is not None:
        if xml.folder != "System32":
            extra["xml_folder"] = xml.folder
        if xml.encoding and xml.encoding != "utf-16-le":
            extra["xml_encoding"] = xml.encoding
        uri = xml.definition.uri if xml.definition else None
        if uri and task_key(uri) != task_key(xml.task_path) and not stores.loose:
            extra["uri_mismatch"] = {"uri": uri, "path": xml.task_path}
    broken = [x for x in parts.xml if x.definition is None]
    if broken:
        extra["xml_error"] = broken[0].error
    if parts.tree is not None:
        tree = parts.tree
        extra["tree"] = {
            "key": tree.key_path,
            "id": tree.guid,
            "index": tree.index,
            "sd_present": tree.has_sd,
            "last_write": tree.last_write,
        }
        if not tree.has_sd:
            extra["sd_missing"] = True
            hidden = True
            notes.append(
                "its Tree key has no SD value: hidden from schtasks, the Task Scheduler "
                "API and the MMC (Tarrask), but the service still runs it"
            )
        if tree.has_index:
            extra["index"] = tree.index
            if tree.index == 0:
                extra["index_zero"] = True
                hidden = True
                notes.append("its Tree key has Index 0 (a value tampered with to hide the task)")
        else:
            extra["index_missing"] = True
            hidden = True
            notes.append("its Tree key has no Index value (removed to hide the task)")
    cached = parts.cached
    if cached is not None:
        extra["task_cache_key"] = cached.key_path
        if cached.buckets:
            extra["buckets"] = list(cached.buckets)
        if cached.dynamic is not None:
            extra["dynamic_info"] = cached.dynamic.as_dict()
        if bucket is not None:
            extra["job_bucket_flags"] = list(bucket.flag_names)
        if parts.tree is None:
            extra["orphan_task_key"] = True
            notes.append("its Tasks key has no Tree key")
        elif cached.info.get("path") and task_key(cached.info["path"]) != task_key(
            parts.tree.task_path
        ):
            extra["path_mismatch"] = {"tree": parts.tree.task_path, "path": cached.info["path"]}
    if registered and xml is None and not broken:
        extra["registry_only"] = True
        notes.append(
            "registered in the TaskCache without an XML file (GhostTask-style, or the "
            "XML was deleted)"
        )
    if xml is not None and registry is not None:
        _compare(extra, xml, registry, bucket, parts.cached, has_registry_actions)
    if job is not None:
        extra["job_file"] = _job_extra(job.job)
        hidden = hidden or job.job.definition.hidden
    xml_only = xml is not None and stores.cache is not None and not registered
    if xml_only:
        extra["xml_only"] = True

    schedule = schedule_of(triggers)
    run_as = principal.run_as if principal else None
    evidence, raw = _evidence(ctx, stores, parts, xml, job)
    if xml is not None and xml.content.data and len(raw) > RAW_EXCERPT_CAP:
        timing = timing_xml(xml.content.data)  # the triggers of XML too long for `raw`
        if timing is not None:
            extra["timing_xml"] = timing
    effective = _effective(stores, parts, xml, job, enabled, triggers, xml_only, notes)
    return ScheduledJob(
        job_id=task_job_id(name, actions, run_as, schedule),
        mechanism=MECHANISM,
        technique=TECHNIQUE_OF_MECHANISM[MECHANISM],
        name=name,
        run_as=run_as,
        schedule=schedule,
        actions=actions,
        effective=effective,
        evidence=evidence,
        enabled=enabled,
        hidden=hidden,
        raw=raw,
        extra=extra,
    )


def _name(parts: Parts, xml: XmlFile | None) -> str:
    if xml is not None:
        return xml.task_path
    if parts.tree is not None:
        return parts.tree.task_path
    if parts.cached is not None:
        return parts.cached.info.get("path") or parts.cached.info.get("uri") or parts.cached.guid
    if parts.job is not None:
        return parts.job.task_path
    return parts.xml[0].task_path


def _stores(parts: Parts) -> list[str]:
    found = []
    if any(x.definition is not None for x in parts.xml):
        found.append("xml")
    if parts.tree is not None:
        found.append("task_cache_tree")
    if parts.cached is not None:
        found.append("task_cache_tasks")
    if parts.job is not None:
        found.append("job")
    return found


def _compare(
    extra: dict[str, object],
    xml: XmlFile,
    registry: TaskDefinition,
    bucket: JobBucket | None,
    cached: CachedTask | None,
    has_registry_actions: bool,
) -> None:
    assert xml.definition is not None
    if has_registry_actions and normalized_actions(xml.definition.actions) != normalized_actions(
        registry.actions
    ):
        extra["actions_differ"] = {
            "xml": [action_text(a) for a in xml.definition.actions],
            "registry": [action_text(a) for a in registry.actions],
        }
    if bucket is not None and bucket.enabled != xml.definition.enabled:
        extra["enabled_differs"] = {"xml": xml.definition.enabled, "registry": bucket.enabled}
    data = xml.content.data
    if cached is not None and cached.hash and not xml.content.truncated:
        file_hash = xml.content.sha256 or ""
        if cached.hash.casefold() != file_hash.casefold():
            extra["hash_mismatch"] = {"registry": cached.hash, "xml_sha256": file_hash}
    if bucket is not None and bucket.crc32 and data:
        candidates = {zlib.crc32(data), zlib.crc32(data[2:]) if data[:2] == b"\xff\xfe" else 0}
        if bucket.crc32 not in candidates:
            extra["crc32_mismatch"] = {
                "registry": f"0x{bucket.crc32:08X}",
                "xml": f"0x{zlib.crc32(data):08X}",
            }


def _job_extra(job: JobFile) -> dict[str, object]:
    found: dict[str, object] = {
        "flags": list(job.flags),
        "status": job.status,
        "exit_code": job.exit_code,
        "last_run": job.last_run,
        "uuid": job.uuid,
        "product_version": f"0x{job.product_version:04X}",
    }
    if job.priority:
        found["priority"] = job.priority
    found.update(job.details)
    return found


def _evidence(
    ctx: CollectContext,
    stores: Stores,
    parts: Parts,
    xml: XmlFile | None,
    job: JobSource | None,
) -> tuple[Evidence, str]:
    related: list[str] = []
    related += [x.shown for x in parts.xml if x is not xml]
    if parts.tree is not None:
        related.append(parts.tree.key_path)
    if parts.cached is not None:
        related.append(parts.cached.key_path)
    if job is not None and (xml is not None or parts.tree or parts.cached):
        related.append(job.shown)
    if (parts.tree or parts.cached) and stores.hive_shown:
        related.append(stores.hive_shown)
    if xml is not None:
        content = xml.content
        evidence = ctx.source.evidence(content.info, sha256=content.sha256)
        text = ""
        if content.data:
            try:
                text = decode_xml(content.data)[0]
            except XmlProblem:
                text = content.data.decode("utf-8", "surrogateescape")
        return replace(evidence, path=xml.shown, related=tuple(related)), excerpt(text)
    if parts.tree is not None or parts.cached is not None:
        key = parts.tree.key_path if parts.tree else parts.cached.key_path  # type: ignore[union-attr]
        moment = parts.tree.last_write if parts.tree else parts.cached.last_write  # type: ignore[union-attr]
        shown = tuple(p for p in related if p != key)
        return replace(_key_evidence(ctx, key, shown), mtime=moment), ""
    assert job is not None
    evidence = ctx.source.evidence(job.content.info, sha256=job.content.sha256)
    return replace(evidence, path=job.shown, related=tuple(related)), ""


def _effective(
    stores: Stores,
    parts: Parts,
    xml: XmlFile | None,
    job: JobSource | None,
    enabled: bool,
    triggers: tuple[object, ...],
    xml_only: bool,
    notes: list[str],
) -> Effective:
    tail = ("; " + "; ".join(notes)) if notes else ""
    if stores.loose and stores.cache is None:
        return Effective(
            None,
            "an exported definition: whether and how it is registered on a "
            "host is not known from this file" + tail,
            SCHEDULER,
        )
    if not enabled:
        return Effective(False, "disabled" + tail, SCHEDULER)
    if xml_only:
        return Effective(
            False,
            "an XML file without a TaskCache registration: the Task "
            "Scheduler service does not load it (planted, or left after the task "
            "was deleted)" + tail,
            SCHEDULER,
        )
    active = [t for t in triggers if getattr(t, "enabled", True)]
    if not active:
        return Effective(
            None,
            ("no trigger" if not triggers else "every trigger is disabled")
            + ": it runs only when started on demand (schtasks /run, the Task "
            "Scheduler API or a Windows component)" + tail,
            SCHEDULER,
        )
    count = f"{len(active)} enabled trigger{'s' if len(active) > 1 else ''}"
    if parts.tree is not None or parts.cached is not None:
        return Effective(
            True, f"registered in the TaskCache and enabled, {count}" + tail, SCHEDULER
        )
    if xml is None and job is not None:
        return Effective(
            True,
            f"legacy .job file read by the Task Scheduler compatibility module, {count}" + tail,
            SCHEDULER,
        )
    return Effective(
        True, f"enabled, {count} (TaskCache not read: registration not verified)" + tail, SCHEDULER
    )


# ---------------------------------------------------------------------------------------------
# Group Policy


def _gpp(
    ctx: CollectContext, folder: CaseFolder, stores: Stores, issues: list[Issue]
) -> Iterator[ScheduledJob]:
    for relative in GPP_FOLDERS:
        root = folder.resolve(relative)
        if root is None:
            continue
        for path in folder.files(root, deepest=12):
            if path.rsplit("/", 1)[-1].casefold() == GPP_FILE:
                yield from _gpp_file(ctx, path, windows_path(path), issues)


def _gpp_file(
    ctx: CollectContext, path: str, shown: str, issues: list[Issue]
) -> Iterator[ScheduledJob]:
    read = _read_shown(ctx, path, MAX_XML_BYTES, shown, issues)
    if read is None:
        return
    content, evidence = read
    if content.truncated:
        issues.append(Issue("OVERSIZED_FILE", f"larger than {MAX_XML_BYTES} bytes", evidence))
        return
    try:
        items, problems = parse_gpp(content.data)
    except XmlProblem as problem:
        issues.append(Issue(problem.code, f"ScheduledTasks.xml: {problem.message}", evidence))
        return
    for text in problems[:MAX_ISSUES_PER_FILE]:
        issues.append(Issue("TASK_WARNING", text, evidence))
    guid, scope = gpo_of(shown)
    text = decode_xml(content.data)[0]
    for item in items:
        yield _gpp_job(item, guid, scope, evidence, text)


def _gpp_job(
    item: GppTask, guid: str | None, scope: str | None, evidence: Evidence, text: str
) -> ScheduledJob:
    definition = item.definition
    name = "\\" + item.name.strip("\\")
    schedule = schedule_of(definition.triggers)
    principal = definition.principal or Principal(user_id=item.run_as)
    if item.run_as:
        principal = replace(principal, user_id=item.run_as)
    run_as = principal.run_as
    if run_as is None:
        run_as = "the logged-on user" if item.user_context or scope == "user" else "SYSTEM"
    extra: dict[str, object] = {
        "stores": ["gpp"],
        "gpo_guid": guid,
        "gpp_scope": scope,
        "gpp_item": item.kind,
        "gpp_action": item.action,
        "cpassword_present": item.cpassword_present,
    }
    if item.logon_type:
        extra["logon_type"] = item.logon_type
    if definition.registration:
        extra["registration"] = dict(definition.registration)
    extra.update({f"gpp_{k}": v for k, v in item.details.items()})
    applied = "every computer" if scope != "user" else "every user"
    if item.action == "delete":
        effective = Effective(
            False, "a Delete item: the Group Policy client removes this task", "gpsvc"
        )
    elif not definition.enabled:
        effective = Effective(False, "disabled in the preference item", "gpsvc")
    elif item.kind.startswith("Immediate"):
        effective = Effective(
            True,
            f"an immediate task: the Group Policy client registers and "
            f"runs it once on {applied} the GPO applies to, at the next policy "
            "refresh",
            "gpsvc",
        )
    else:
        effective = Effective(
            True, f"registered by the Group Policy client on {applied} the GPO applies to", "gpsvc"
        )
    return ScheduledJob(
        job_id=make_job_id(
            MECHANISM,
            evidence.path,
            guid or "",
            item.kind,
            name,
            *normalized_actions(definition.actions),
        ),
        mechanism=MECHANISM,
        technique=TECHNIQUE_OF_MECHANISM[MECHANISM],
        name=name,
        run_as=run_as,
        schedule=schedule,
        actions=definition.actions,
        effective=effective,
        evidence=evidence,
        enabled=definition.enabled,
        hidden=definition.hidden,
        raw=excerpt(_redacted(text)),
        extra=extra,
    )


_CPASSWORD = re.compile(r"""(cpassword\s*=\s*)(["'])[^"']*\2""", re.IGNORECASE)


def _redacted(text: str) -> str:
    """The item text with every cpassword value removed (it decrypts with a published key)."""
    return _CPASSWORD.sub(r"\1\2<redacted>\2", text)


# ---------------------------------------------------------------------------------------------
# Loose files given as PATH


def _loose(ctx: CollectContext, given: list[str]) -> CollectorOutput:
    issues: list[Issue] = []
    for path in given:
        head = ctx.read(path, SNIFF_BYTES)
        if not isinstance(head, FileContent):
            continue  # unreadable loose files are reported by the collectors that own them
        data = head.data
        name = path.rsplit("/", 1)[-1]
        shown = ctx.source.display_path(path)
        if data.startswith(b"regf"):
            stores = Stores(loose=True)
            software = _open_hive(ctx, path, shown, issues)
            if software is not None:
                stores.hive_shown = shown
                _add_cache(ctx, software, stores, issues)
                yield from _jobs(ctx, stores, issues)
        elif name.casefold().endswith(".job"):
            stores = Stores(loose=True)
            found = _job_file(ctx, path, "\\" + name[: -len(".job")], shown, issues)
            if found is not None:
                stores.at(found.task_path).job = found
                yield from _jobs(ctx, stores, issues)
        else:
            root = _root_element(data)
            if root == "Task":
                yield from _loose_xml(ctx, path, name, shown, issues)
            elif root == "ScheduledTasks":
                yield from _gpp_file(ctx, path, shown, issues)
    yield from issues


def _root_element(head: bytes) -> str | None:
    """The name of the first element of what may be an XML file (decoded leniently)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 1 and 0 in head[:2]):
        little = head.startswith(b"\xff\xfe") or (len(head) > 1 and head[1] == 0)
        text = head[: len(head) // 2 * 2].decode("utf-16-le" if little else "utf-16-be", "ignore")
    else:
        text = head.decode("utf-8", "ignore")
    text = re.sub(r"<\?.*?\?>|<!--.*?-->", "", text.lstrip("\ufeff"), flags=re.S)
    match = _ROOT_ELEMENT.search(text[:2048])
    if match is None or text[: match.start()].strip() not in ("",):
        return None
    return match.group(1)


def _loose_xml(
    ctx: CollectContext, path: str, name: str, shown: str, issues: list[Issue]
) -> Iterator[ScheduledJob]:
    fallback = "\\" + (name[: -len(".xml")] if name.casefold().endswith(".xml") else name)
    record = _xml_file(ctx, path, fallback, shown, "exported")
    if record is None or isinstance(record, Issue):
        issues += [record] if record is not None else []
        return
    if record.definition is not None and record.definition.uri:
        record.task_path = "\\" + record.definition.uri.lstrip("\\")
    issues += _xml_issues(ctx, record)
    stores = Stores(loose=True)
    stores.at(record.task_path).xml.append(record)
    yield from _jobs(ctx, stores, issues)


COLLECTOR = Collector(
    name="windows_task",
    mechanism=MECHANISM,
    platform="windows",
    locations=(
        *(f"/{p}" for p in TASK_FOLDERS),
        f"/{JOB_FOLDER}",
        f"/{SOFTWARE_HIVE}",
        *(f"/{p}" for p in GPP_FOLDERS),
    ),
    collect=collect,
)
