"""Task XML (schema `http://schemas.microsoft.com/windows/2004/02/mit/task`, versions 1.1-1.6):
`C:\\Windows\\System32\\Tasks\\<folder>\\<name>`, `SysWOW64\\Tasks`, `Tasks_Migrated`, and exported
task XML files, read into a `TaskDefinition`.

This is the definition a task was registered with, and what `schtasks /query /xml` and forensic
tools show. All of RegistrationInfo is kept (URI, Author, Date, Description, Source, Version,
Documentation, SecurityDescriptor), every trigger type (Boot, Logon with or without UserId, Time,
Calendar by day, week, month and day of week of a month, Event with its XPath subscription, Idle,
Registration, SessionStateChange, WNF state change), the principal the actions run as (Actions@Context
selects it), Settings, and every action in order (Exec, ComHandler, SendEmail, ShowMessage). Decoding
and the hostile-input limits are in `safexml`.

References: MS-TSCH 2.5 (task XML schema); reference/windows.md §0.1;
https://attack.mitre.org/techniques/T1053/005/
"""

from __future__ import annotations

from dataclasses import replace
from xml.etree.ElementTree import Element, tostring

from ...model import Action, ComHandlerAction, OtherAction
from .definition import DAYS, MONTHS, Principal, TaskDefinition, Trigger, exec_action
from .safexml import XmlProblem, child, children, flag, local_name, parse_xml, text_of

REGISTRATION_FIELDS = {
    "URI": "uri",
    "Author": "author",
    "Date": "date",
    "Description": "description",
    "Source": "source",
    "Version": "version",
    "Documentation": "documentation",
    "SecurityDescriptor": "security_descriptor",
}
TRIGGER_KINDS = {
    "BootTrigger": "boot",
    "LogonTrigger": "logon",
    "RegistrationTrigger": "registration",
    "IdleTrigger": "idle",
    "TimeTrigger": "time",
    "EventTrigger": "event",
    "SessionStateChangeTrigger": "session_state_change",
    "WnfStateChangeTrigger": "wnf_state_change",
}
MAX_SETTING_TEXT = 1024


def parse_task_xml(data: bytes) -> tuple[TaskDefinition, list[str], str]:
    """A task definition from the bytes of a task XML file, the problems found in it that do not
    stop it from being read, and the encoding. XmlProblem when it is not a readable task."""
    root, encoding = parse_xml(data)
    if local_name(root.tag) != "Task":
        raise XmlProblem("NOT_A_TASK", f"root element is <{local_name(root.tag)}>, not <Task>")
    definition, problems = task_definition(root)
    return definition, problems, encoding


TIMING_CAP = 64 * 1024  # characters of a task's timing XML (`timing_xml`)


def timing_xml(data: bytes) -> str | None:
    """A task XML file reduced to what its launch times follow from, its Triggers and Settings,
    for a task whose XML is longer than `raw` keeps (an excerpt): the trigger arithmetic reads
    it instead. None when the file is not readable XML, or the reduced text is still longer
    than TIMING_CAP."""
    try:
        root, _ = parse_xml(data)
    except XmlProblem:
        return None
    kept = [child(root, "Triggers"), child(root, "Settings")]
    text = "".join(tostring(e, encoding="unicode") for e in kept if e is not None)
    document = f"<Task>{text}</Task>"
    return document if len(document) <= TIMING_CAP else None


def task_definition(root: Element, store: str = "xml") -> tuple[TaskDefinition, list[str]]:
    problems: list[str] = []
    info = child(root, "RegistrationInfo")
    registration = {
        key: value
        for name, key in REGISTRATION_FIELDS.items()
        if (value := text_of(info, name)) is not None
    }
    triggers = tuple(_trigger(item) for item in children(child(root, "Triggers")))
    actions_element = child(root, "Actions")
    context = actions_element.get("Context") if actions_element is not None else None
    principals = [_principal(p) for p in children(child(root, "Principals"), "Principal")]
    principal = next((p for p in principals if context and p.id == context), None)
    if principal is None and principals:
        principal = principals[0]
        if context:
            problems.append(f"Actions Context {context!r} names no principal")
    actions: list[Action] = []
    for item in children(actions_element):
        action = _action(item, problems)
        if action is not None:
            actions.append(action)
    settings_element = child(root, "Settings")
    settings = _settings(settings_element)
    return (
        TaskDefinition(
            store=store,
            uri=registration.get("uri"),
            registration=registration,
            triggers=triggers,
            principal=principal,
            actions=tuple(actions),
            context=context,
            enabled=flag(settings_element, "Enabled", True),
            hidden=flag(settings_element, "Hidden", False),
            settings=settings,
            schema_version=root.get("version"),
        ),
        problems,
    )


def _trigger(element: Element) -> Trigger:
    name = local_name(element.tag)
    repetition = child(element, "Repetition")
    base = Trigger(
        TRIGGER_KINDS.get(name, "unknown"),
        enabled=flag(element, "Enabled", True),
        start=text_of(element, "StartBoundary"),
        end=text_of(element, "EndBoundary"),
        delay=text_of(element, "Delay"),
        random_delay=text_of(element, "RandomDelay"),
        repetition_interval=text_of(repetition, "Interval"),
        repetition_duration=text_of(repetition, "Duration"),
        stop_at_duration_end=flag(repetition, "StopAtDurationEnd", False),
        time_limit=text_of(element, "ExecutionTimeLimit"),
        user=text_of(element, "UserId"),
        subscription=text_of(element, "Subscription"),
        state_change=text_of(element, "StateChange"),
        state_name=text_of(element, "StateName"),
        detail=None if name in TRIGGER_KINDS else name,
    )
    if name == "CalendarTrigger":
        return _calendar(element, base)
    return base


def _calendar(element: Element, base: Trigger) -> Trigger:
    by_day = child(element, "ScheduleByDay")
    by_week = child(element, "ScheduleByWeek")
    by_month = child(element, "ScheduleByMonth")
    by_dow = child(element, "ScheduleByMonthDayOfWeek")
    if by_day is not None:
        return replace(base, kind="daily", detail=None, every=_interval(by_day, "DaysInterval"))
    if by_week is not None:
        return replace(
            base,
            kind="weekly",
            detail=None,
            every=_interval(by_week, "WeeksInterval"),
            days_of_week=_named(child(by_week, "DaysOfWeek"), DAYS),
        )
    if by_month is not None:
        days = tuple(
            d for e in children(child(by_month, "DaysOfMonth"), "Day") if (d := text_of(e))
        )
        return replace(
            base,
            kind="monthly",
            detail=None,
            days_of_month=days,
            months=_named(child(by_month, "Months"), MONTHS),
        )
    if by_dow is not None:
        weeks = tuple(w for e in children(child(by_dow, "Weeks"), "Week") if (w := text_of(e)))
        return replace(
            base,
            kind="monthly_dow",
            detail=None,
            weeks=weeks,
            days_of_week=_named(child(by_dow, "DaysOfWeek"), DAYS),
            months=_named(child(by_dow, "Months"), MONTHS),
        )
    # at.exe and some tools write a calendar trigger without a ScheduleBy element: it runs once
    return replace(base, kind="time", detail=None)


def _interval(element: Element, name: str) -> int:
    value = text_of(element, name)
    return int(value) if value and value.isdigit() and 0 < int(value) < 10_000 else 1


def _named(element: Element | None, names: tuple[str, ...]) -> tuple[str, ...]:
    present = {local_name(e.tag) for e in children(element)}
    return tuple(n for n in names if n in present)


def _principal(element: Element) -> Principal:
    return Principal(
        id=element.get("id"),
        user_id=text_of(element, "UserId"),
        group_id=text_of(element, "GroupId"),
        logon_type=text_of(element, "LogonType"),
        run_level=text_of(element, "RunLevel"),
        display_name=text_of(element, "DisplayName"),
    )


def _action(element: Element, problems: list[str]) -> Action | None:
    name = local_name(element.tag)
    if name == "Exec":
        command = text_of(element, "Command")
        if command is None:
            problems.append("Exec action without a Command: Task Scheduler refuses the task")
        return exec_action(
            command or "", text_of(element, "Arguments"), text_of(element, "WorkingDirectory")
        )
    if name == "ComHandler":
        return ComHandlerAction(text_of(element, "ClassId") or "", _com_data(element))
    if name == "SendEmail":
        parts = [
            f"{field.lower()}={value}"
            for field in ("From", "To", "Cc", "Bcc", "ReplyTo", "Server", "Subject", "Body")
            if (value := text_of(element, field))
        ]
        attachments = [a for e in children(child(element, "Attachments")) if (a := text_of(e))]
        if attachments:
            parts.append("attachments=" + ", ".join(attachments))
        return OtherAction("send_email", "; ".join(parts))
    if name == "ShowMessage":
        title = text_of(element, "Title") or ""
        return OtherAction("show_message", f"{title}: {text_of(element, 'Body') or ''}")
    problems.append(f"unknown action <{name}>: ignored")
    return None


def _com_data(element: Element) -> str | None:
    data = child(element, "Data")
    if data is None:
        return None
    text = "".join(data.itertext()).strip()
    return text or None


def _settings(element: Element | None) -> dict[str, str]:
    """Every setting as `Name` or `Parent/Name` → text (bounded)."""
    found: dict[str, str] = {}
    for item in children(element):
        name = local_name(item.tag)
        nested = children(item)
        if nested:
            for sub in nested:
                value = text_of(sub)
                if value is not None:
                    found[f"{name}/{local_name(sub.tag)}"] = value[:MAX_SETTING_TEXT]
        else:
            value = text_of(item)
            if value is not None:
                found[name] = value[:MAX_SETTING_TEXT]
    return found
