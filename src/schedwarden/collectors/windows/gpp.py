"""Group Policy preference tasks: `ScheduledTasks.xml` in SYSVOL
(`Policies\\{GPO}\\Machine|User\\Preferences\\ScheduledTasks`), and the copies a client keeps in
`System32\\GroupPolicy\\DataStore` and `ProgramData\\Microsoft\\Group Policy\\History`.

The Group Policy client (gpsvc) registers these tasks on every computer the GPO applies to, as
SYSTEM unless told otherwise: one edit in SYSVOL is code execution across a domain (SharpGPOAbuse,
pyGPOAbuse push an `ImmediateTaskV2`, which runs once and is deleted). Items are `Task` and
`ImmediateTask` (the Task Scheduler 1.0 form, fields as attributes) and `TaskV2` and
`ImmediateTaskV2` (a full task XML inside `Properties`). Each item is attributed to the GPO GUID in
its path. A `cpassword` attribute holds a credential encrypted with a key Microsoft published
(MS14-025): only its presence is recorded, never its value.

References: MS-GPPREF 2.2.1.5 (Scheduled Tasks); reference/windows.md §0 and §b item 10.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from .definition import TaskDefinition, Trigger, exec_action
from .safexml import XmlProblem, child, children, local_name, parse_xml
from .task_xml import task_definition

ITEM_KINDS = ("Task", "ImmediateTask", "TaskV2", "ImmediateTaskV2")
ACTIONS = {"C": "create", "R": "replace", "U": "update", "D": "delete"}
LEGACY_TRIGGERS = {
    "ONCE": "time",
    "DAILY": "daily",
    "WEEKLY": "weekly",
    "MONTHLY": "monthly",
    "IDLE": "idle",
    "STARTUP": "boot",
    "LOGON": "logon",
}
_GUID = re.compile(
    r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"
)
MAX_ITEMS = 10_000


@dataclass(frozen=True, slots=True)
class GppTask:
    kind: str
    name: str
    action: str
    definition: TaskDefinition
    run_as: str | None
    logon_type: str | None
    cpassword_present: bool
    user_context: bool
    details: dict[str, str] = field(default_factory=dict)


def gpo_of(path: str) -> tuple[str | None, str | None]:
    """The GPO GUID and the scope (machine or user) named by a ScheduledTasks.xml path."""
    parts = [p for p in re.split(r"[\\/]", path) if p]
    guid = None
    scope = None
    for index, part in enumerate(parts):
        if _GUID.fullmatch(part):
            guid = part.upper()
            following = parts[index + 1].casefold() if index + 1 < len(parts) else ""
            scope = "machine" if following == "machine" else "user" if following else None
    if scope is None and guid is not None:
        scope = "user"  # History keeps a user's items under {GPO}\<SID>\Preferences
    return guid, scope


def parse_gpp(data: bytes) -> tuple[list[GppTask], list[str]]:
    """Every task item of a ScheduledTasks.xml, and the problems met. XmlProblem when the file is
    not readable or not a ScheduledTasks document."""
    root, _ = parse_xml(data)
    if local_name(root.tag) != "ScheduledTasks":
        raise XmlProblem(
            "NOT_A_TASK", f"root element is <{local_name(root.tag)}>, not <ScheduledTasks>"
        )
    items: list[GppTask] = []
    problems: list[str] = []
    for element in children(root)[:MAX_ITEMS]:
        kind = local_name(element.tag)
        if kind not in ITEM_KINDS:
            continue
        properties = child(element, "Properties")
        if properties is None:
            problems.append(f"{kind} {element.get('name')!r} has no Properties")
            continue
        items.append(_item(kind, element, properties, problems))
    return items, problems


def _item(kind: str, element: Element, properties: Element, problems: list[str]) -> GppTask:
    name = properties.get("name") or element.get("name") or "(unnamed)"
    inner = child(properties, "Task")
    if kind.endswith("V2") and inner is not None:
        definition, found = task_definition(inner, store="gpp")
        problems += [f"{kind} {name!r}: {p}" for p in found]
    else:
        definition = _legacy(properties)
    details = {
        key: value
        for key, value in (
            ("changed", element.get("changed")),
            ("uid", element.get("uid")),
            ("remove_policy", element.get("removePolicy")),
        )
        if value
    }
    principal = definition.principal
    run_as = properties.get("runAs") or (principal.user_id if principal else None)
    return GppTask(
        kind=kind,
        name=name,
        action=ACTIONS.get((properties.get("action") or "U").upper(), "update"),
        definition=definition,
        run_as=run_as or None,
        logon_type=properties.get("logonType") or (principal.logon_type if principal else None),
        cpassword_present=bool(properties.get("cpassword")),
        user_context=element.get("userContext") == "1",
        details=details,
    )


def _legacy(properties: Element) -> TaskDefinition:
    """A `Task` or `ImmediateTask` item: the Task Scheduler 1.0 fields as attributes."""
    application = (properties.get("appName") or "").replace("\\\\", "\\")
    triggers = tuple(_legacy_trigger(t) for t in children(child(properties, "Triggers")))
    comment = properties.get("comment")
    return TaskDefinition(
        store="gpp",
        registration={"description": comment} if comment else {},
        triggers=triggers,
        actions=(exec_action(application, properties.get("args"), properties.get("startIn")),)
        if application
        else (),
        enabled=properties.get("enabled", "1") != "0",
    )


def _legacy_trigger(element: Element) -> Trigger:
    kind = LEGACY_TRIGGERS.get((element.get("type") or "").upper(), "unknown")
    start = None
    try:
        year, month, day = (
            int(element.get(k) or 0) for k in ("beginYear", "beginMonth", "beginDay")
        )
        hour, minute = (int(element.get(k) or 0) for k in ("startHour", "startMinutes"))
        if year and month and day:
            start = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00"
    except ValueError:
        start = None
    interval = element.get("interval") or "1"
    return Trigger(
        kind,
        start=start if kind not in ("idle", "boot", "logon") else None,
        every=int(interval) if interval.isdigit() and 0 < int(interval) < 10_000 else 1,
        detail=element.get("type") if kind == "unknown" else None,
    )
