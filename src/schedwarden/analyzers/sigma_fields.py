"""Our Sigma log source: one row per job action, with documented field names.

Sigma has no log source for an inventory of scheduled jobs (its taxonomy covers only the logs that
record changes), so schedwarden defines one:

    logsource:
      category: scheduled_job
      product: linux | windows | kubernetes    # optional: all products when absent
      service: cron | at | systemd_timer | ...  # optional: one mechanism

Every job becomes one row per action (a job without actions, one row), so a rule sees the second
action of a Windows task as clearly as the first. `FIELDS` lists every field with its meaning;
`Env.<NAME>` carries each environment variable the job runs with, and `Extra.<key>` each
mechanism-specific fact of the collector (`Extra.sd_missing`, `Extra.host_path_volumes`...).
Booleans are `true`/`false`; an absent fact is null, so `|exists: false` matches it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime

from ..model import (
    Action,
    ComHandlerAction,
    CompositeSchedule,
    CronSchedule,
    ExecAction,
    MacroSchedule,
    Mechanism,
    MonotonicSchedule,
    OtherAction,
    Schedule,
    ScheduledJob,
    TriggerSchedule,
)
from .base import is_privileged

CATEGORY = "scheduled_job"
PRODUCTS: dict[Mechanism, str] = {
    Mechanism.CRON: "linux",
    Mechanism.ANACRON: "linux",
    Mechanism.PERIODIC: "linux",
    Mechanism.AT: "linux",
    Mechanism.SYSTEMD_TIMER: "linux",
    Mechanism.WINDOWS_TASK: "windows",
    Mechanism.K8S_CRONJOB: "kubernetes",
}

# name → meaning; the order is the documentation's order.
FIELDS: dict[str, str] = {
    # the job
    "Product": "linux, windows or kubernetes (the log source's product)",
    "Host": "host name of the evidence",
    "JobId": "schedwarden's stable job id",
    "JobName": "table:line, unit name, task path (\\Microsoft\\Windows\\...), namespace/name",
    "Mechanism": "cron, anacron, periodic, at, systemd_timer, windows_task, k8s_cronjob",
    "Technique": "ATT&CK sub-technique of the mechanism (T1053.003 ...)",
    "RunAs": "account the job runs as (root, alice, S-1-5-18, SYSTEM ...)",
    "Privileged": "true when RunAs is root (uid 0) or LocalSystem",
    "Schedule": "the schedule in words",
    "ScheduleKind": "cron, macro, interval, driven, calendar, monotonic, composite, trigger, one_shot, unknown",
    "ScheduleExpression": "cron expression, @macro, OnCalendar= events, monotonic spans",
    "Trigger": "comma-separated kinds that start the job (boot, logon, event, idle, cron, calendar ...)",
    "TriggerDetail": "trigger details (an event subscription, a logon user, a delay)",
    "MinIntervalSeconds": "shortest time between the next runs, in seconds (60 = every minute)",
    "Hidden": "true when the scheduler hides the job (Windows <Hidden>, the .job hidden flag)",
    "Enabled": "false when the job is disabled",
    "Effective": "true when the scheduler would run it, false when not, null when undecided",
    "EffectiveReason": "why it runs or not",
    "SourceKind": "live, image, archive or file",
    "SourcePath": "definition file as on the original host (/etc/cron.d/x, C:\\Windows\\System32\\Tasks\\X)",
    "SourceLine": "line of the definition in that file",
    "SourceOwner": "owner name of the definition file",
    "SourceGroup": "group name of the definition file",
    "SourceUid": "owner uid of the definition file",
    "SourceGid": "group gid of the definition file",
    "SourceMode": "permission bits of the definition file, octal text (0644)",
    "SourceSha256": "sha256 of the definition file",
    "SourceModified": "modification time of the definition file, ISO 8601 UTC",
    "SourceRelated": "other files that shaped the job (drop-ins, the service, the TaskCache key), one per line",
    "Raw": "excerpt of the definition as written",
    "Environment": "NAME=value lines of the job's environment",
    # the action
    "ActionIndex": "position of this action in the job, from 1",
    "ActionCount": "number of actions of the job",
    "ActionType": "exec, com_handler or other",
    "Command": "the command line as the scheduler runs it",
    "Executable": "the program (first word), as written",
    "ExecutableName": "last component of Executable (cmd.exe, curl)",
    "ExecutableDir": "folder part of Executable",
    "Arguments": "arguments, space-separated",
    "ScriptPath": "the script an interpreter runs (bash /opt/x.sh, powershell -File x.ps1)",
    "Stdin": "text cron feeds to the command (after an unescaped %)",
    "WorkingDirectory": "working folder of the action",
    "Shell": "shell that interprets the command line",
    "Phase": "step of the unit (ExecStartPre, ExecStart ...)",
    "ExecPrefixes": "systemd command prefixes (@, -, +, !, !!)",
    "Argv0": "process name set apart from the executable (systemd @ prefix)",
    "ClassId": "COM handler CLSID",
    "HandlerData": "COM handler data",
    "OtherType": "type of a non-exec, non-COM action (start_unit, send_email, show_message)",
    "OtherDetail": "its detail",
    "Script": "text of the script the job runs, when it was read (run-parts scripts, generators)",
    "Payload": "everything that gets interpreted: Command, Stdin and Script less comment lines",
    "Text": "all text fields of the row, for keyword (field-less) searches",
    # Windows tasks (from the collector's extra facts, when present)
    "RunLevel": "LeastPrivilege or HighestAvailable",
    "LogonType": "S4U, Password, InteractiveToken, ...",
    "Author": "RegistrationInfo/Author",
    "SdMissing": "true when the TaskCache Tree key has no SD value (hidden from the API: Tarrask)",
    "TreeIndex": "TaskCache Tree Index value (0 hides the task)",
    "RegistryOnly": "true when the task is registered in TaskCache without an XML file (GhostTask)",
    "ActionsDiffer": "true when the TaskCache Actions blob differs from the XML actions",
    # Kubernetes CronJobs
    "Namespace": "namespace of the CronJob",
    "Image": "container image of this action",
    "ContainerPrivileged": "true when this container is privileged",
    "AnyPrivileged": "true when any container of the CronJob is privileged",
    "HostPid": "true when the pod shares the node's PID namespace",
    "HostNetwork": "true when the pod shares the node's network namespace",
    "HostIpc": "true when the pod shares the node's IPC namespace",
    "HostPath": "node folders mounted through hostPath volumes, one per line",
    "ServiceAccount": "service account of the pod",
    # systemd
    "Unit": "the unit a timer starts",
    "Transient": "true for units created at run time (systemd-run)",
}
DYNAMIC_PREFIXES = ("Env.", "Extra.")

# Windows, Kubernetes and systemd facts come from the collector's `extra`: each field takes the
# first of these keys (a dotted key reads a nested mapping) that is present. Flags are true when
# the collector recorded the condition at all (it records details, such as both action lists).
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "RunLevel": ("principal.run_level", "run_level"),
    "LogonType": ("principal.logon_type", "logon_type"),
    "Author": ("registration.author", "author"),
    "TreeIndex": ("index", "tree.index"),
    "Namespace": ("namespace",),
    "HostPid": ("host_pid",),
    "HostNetwork": ("host_network",),
    "HostIpc": ("host_ipc",),
    "HostPath": ("host_path_volumes",),
    "ServiceAccount": ("service_account",),
    "Unit": ("unit",),
}
EXTRA_FLAGS: dict[str, tuple[str, ...]] = {
    "SdMissing": ("sd_missing",),
    "RegistryOnly": ("registry_only",),
    "ActionsDiffer": ("actions_differ",),
    "Transient": ("transient",),
}
# Flags are false (not null) for the mechanisms that can have them, so `|exists` stays useful.
FLAG_MECHANISMS: dict[str, tuple[Mechanism, ...]] = {
    "SdMissing": (Mechanism.WINDOWS_TASK,),
    "RegistryOnly": (Mechanism.WINDOWS_TASK,),
    "ActionsDiffer": (Mechanism.WINDOWS_TASK,),
    "Transient": (Mechanism.SYSTEMD_TIMER,),
}
SCRIPT_MECHANISMS = (Mechanism.PERIODIC,)
INTERPRETERS = frozenset(
    {
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "ash",
        "busybox",
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "php",
        "node",
        "lua",
        "tclsh",
        "pwsh",
    }
)
INLINE_OPTIONS = frozenset({"-c", "-e", "-E", "-m", "-r", "-x"})
WINDOWS_SCRIPT_HOSTS = frozenset({"wscript.exe", "cscript.exe", "wscript", "cscript"})
POWERSHELL = frozenset({"powershell.exe", "powershell", "pwsh.exe", "pwsh"})
CMD = frozenset({"cmd.exe", "cmd"})

Row = dict[str, object]


def product_of(job: ScheduledJob) -> str:
    return PRODUCTS.get(job.mechanism, "linux")


def is_known_field(name: str) -> bool:
    return name in FIELDS or name.startswith(DYNAMIC_PREFIXES)


def job_rows(job: ScheduledJob, wanted: Collection[str] | None = None) -> list[Row]:
    """The rows of one job: its facts repeated on each action's row. With `wanted` (the fields
    some rule reads), `Env.*` and `Extra.*` fields nobody reads are left out."""
    base = _job_fields(job, wanted)
    actions: tuple[Action | None, ...] = job.actions or (None,)
    rows = []
    for index, action in enumerate(actions, 1):
        row = dict(base)
        row["ActionIndex"] = index
        row["ActionCount"] = len(job.actions)
        if action is not None:
            row.update(_action_fields(job, action, index))
        row["Payload"] = _payload(row)
        rows.append(row)
    return rows


def _payload(row: Mapping[str, object]) -> str | None:
    script = row.get("Script")
    code = without_comments(script) if isinstance(script, str) else None
    parts = [row.get("Command"), row.get("Stdin"), code]
    return "\n".join(p for p in parts if isinstance(p, str) and p) or None


def without_comments(script: str) -> str:
    """A script's lines less whole-line comments (and the #! line): what an interpreter runs."""
    return "\n".join(ln for ln in script.splitlines() if not ln.lstrip().startswith("#"))


def complete_row(row: Row) -> Row:
    """Fill the fields derived from others when a row was written by hand (a rule's cases)."""
    executable = row.get("Executable")
    if isinstance(executable, str):
        row.setdefault("ExecutableName", basename_any(executable))
        row.setdefault("ExecutableDir", dirname_any(executable))
    if "Payload" not in row:
        row["Payload"] = _payload(row)
    return row


def full_text(row: Mapping[str, object]) -> str:
    """Every text value of a row, one per line (the target of keyword searches)."""
    return "\n".join(v for k, v in row.items() if isinstance(v, str) and k != "Text")


def basename_any(path: str) -> str:
    """The last component of a POSIX or Windows path."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def dirname_any(path: str) -> str | None:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else None


def script_path(executable: str | None, arguments: tuple[str, ...]) -> str | None:
    """The file an interpreter is told to run, if the command names one."""
    if not executable:
        return None
    name = basename_any(executable).casefold()
    if name in POWERSHELL:
        for i, arg in enumerate(arguments):
            option = arg.lstrip("-/").casefold() if arg[:1] in ("-", "/") else ""
            if option and "file".startswith(option) and i + 1 < len(arguments):
                return arguments[i + 1]
            if option and (
                "command".startswith(option)
                or option in ("e", "ec")
                or (len(option) > 1 and "encodedcommand".startswith(option))
            ):
                return None  # inline code: there is no script file
        return None
    if name in CMD:
        for i, arg in enumerate(arguments):
            if arg.casefold() in ("/c", "/k") and i + 1 < len(arguments):
                target = arguments[i + 1].strip('"')
                if target.casefold().endswith((".bat", ".cmd", ".ps1", ".vbs", ".js", ".exe")):
                    return target
                return None
        return None
    if name in WINDOWS_SCRIPT_HOSTS or name in ("mshta.exe", "mshta"):
        return next((a for a in arguments if not a.startswith("/")), None)
    if name in ("rundll32.exe", "rundll32"):
        first = next((a for a in arguments if not a.startswith("/")), None)
        return first.split(",", 1)[0] if first else None
    if name in ("regsvr32.exe", "regsvr32"):
        return next((a for a in reversed(arguments) if not a.startswith(("/", "-"))), None)
    base = name.rstrip("0123456789.")
    if name not in INTERPRETERS and base not in INTERPRETERS:
        return None
    for arg in arguments:
        if arg in INLINE_OPTIONS or (
            arg.startswith("-") and arg[1:2] in ("c", "e") and name in {"perl", "ruby"}
        ):
            return None
        if arg.startswith("-") or arg == "--":
            continue
        return arg
    return None


def _job_fields(job: ScheduledJob, wanted: Collection[str] | None = None) -> Row:
    evidence = job.evidence
    row: Row = {
        "Product": product_of(job),
        "Host": evidence.host,
        "JobId": job.job_id,
        "JobName": job.name,
        "Mechanism": job.mechanism.value,
        "Technique": job.technique,
        "RunAs": job.run_as,
        "Privileged": is_privileged(job.run_as),
        "Schedule": job.schedule.description,
        "ScheduleKind": job.schedule.kind,
        "ScheduleExpression": _expression(job.schedule),
        "Trigger": ",".join(dict.fromkeys(_triggers(job.schedule))) or None,
        "TriggerDetail": "\n".join(_trigger_details(job.schedule)) or None,
        "MinIntervalSeconds": _min_interval(job.next_runs),
        "Hidden": job.hidden,
        "Enabled": job.enabled,
        "Effective": job.effective.runs,
        "EffectiveReason": job.effective.reason,
        "SourceKind": evidence.source_kind.value,
        "SourcePath": evidence.path,
        "SourceLine": evidence.line,
        "SourceOwner": evidence.owner,
        "SourceGroup": evidence.group,
        "SourceUid": evidence.uid,
        "SourceGid": evidence.gid,
        "SourceMode": evidence.mode,
        "SourceSha256": evidence.sha256,
        "SourceModified": _iso(evidence.mtime) if evidence.mtime else None,
        "SourceRelated": "\n".join(evidence.related) or None,
        "Raw": job.raw or None,
        "Environment": "\n".join(f"{k}={v}" for k, v in job.environment) or None,
    }
    for variable, setting in job.environment:
        if wanted is None or "Env." + variable in wanted:
            row["Env." + variable] = setting
    for key, value in job.extra.items():
        if wanted is not None and "Extra." + key not in wanted:
            continue
        flat = _flatten(value)
        if flat is not None:
            row["Extra." + key] = flat
    for name, keys in EXTRA_FIELDS.items():
        found = next((v for v in (_lookup(job.extra, k) for k in keys) if v is not None), None)
        if found is not None:
            row[name] = _flatten(found)
    for name, keys in EXTRA_FLAGS.items():
        if job.mechanism in FLAG_MECHANISMS.get(name, ()):
            row[name] = any(bool(_lookup(job.extra, k)) for k in keys)
    if job.mechanism is Mechanism.K8S_CRONJOB:
        row["AnyPrivileged"] = bool(job.extra.get("privileged_containers"))
    if job.mechanism in SCRIPT_MECHANISMS or "content_summary" in job.extra:
        row["Script"] = job.raw or None
    return row


def _action_fields(job: ScheduledJob, action: Action, index: int) -> Row:
    row: Row = {"ActionType": action.kind}
    if isinstance(action, ExecAction):
        executable = action.executable
        row.update(
            {
                "Command": action.command_line,
                "Executable": executable,
                "ExecutableName": basename_any(executable) if executable else None,
                "ExecutableDir": dirname_any(executable) if executable else None,
                "Arguments": " ".join(action.arguments) or None,
                "ScriptPath": script_path(executable, action.arguments),
                "Stdin": action.stdin,
                "WorkingDirectory": action.working_dir,
                "Shell": action.shell,
                "Phase": action.phase,
                "ExecPrefixes": action.prefixes,
                "Argv0": action.argv0,
            }
        )
    elif isinstance(action, ComHandlerAction):
        row.update({"ClassId": action.class_id, "HandlerData": action.data})
    elif isinstance(action, OtherAction):
        row.update({"OtherType": action.action_type, "OtherDetail": action.detail})
    if job.mechanism is Mechanism.K8S_CRONJOB:
        containers = job.extra.get("containers")
        if isinstance(containers, list | tuple) and index <= len(containers):
            container = containers[index - 1]
            if isinstance(container, Mapping):
                row["Image"] = container.get("image")
                row["ContainerPrivileged"] = bool(container.get("privileged"))
    return row


def _lookup(extra: Mapping[str, object], dotted: str) -> object:
    value: object = extra
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _expression(schedule: Schedule) -> str | None:
    if isinstance(schedule, CronSchedule):
        return schedule.expression
    if isinstance(schedule, MacroSchedule):
        return schedule.macro
    if isinstance(schedule, CompositeSchedule):
        parts = [_expression(p) for p in schedule.parts]
        return "\n".join(p for p in parts if p) or None
    if isinstance(schedule, MonotonicSchedule):
        return "\n".join(f"{name}={span}" for name, span in schedule.triggers) or None
    expressions = getattr(schedule, "expressions", None)
    if isinstance(expressions, tuple):
        return "\n".join(str(e) for e in expressions) or None
    if isinstance(schedule, TriggerSchedule):
        return schedule.detail
    return None


def _triggers(schedule: Schedule) -> Iterator[str]:
    if isinstance(schedule, CompositeSchedule):
        for part in schedule.parts:
            yield from _triggers(part)
    elif isinstance(schedule, TriggerSchedule):
        yield schedule.trigger
    elif isinstance(schedule, MacroSchedule) and schedule.macro == "@reboot":
        yield "boot"
    elif isinstance(schedule, MonotonicSchedule):
        for name, _span in schedule.triggers:
            yield "boot" if name in ("OnBootSec", "OnStartupSec") else "monotonic"
    else:
        yield schedule.kind


def _trigger_details(schedule: Schedule) -> Iterator[str]:
    if isinstance(schedule, CompositeSchedule):
        for part in schedule.parts:
            yield from _trigger_details(part)
    elif isinstance(schedule, TriggerSchedule):
        for text in (schedule.detail, f"delay {schedule.delay}" if schedule.delay else None):
            if text:
                yield text


def _min_interval(runs: tuple[datetime, ...]) -> int | None:
    if len(runs) < 2:
        return None
    ordered = sorted(runs)
    return int(min((b - a).total_seconds() for a, b in itertools.pairwise(ordered)))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _flatten(value: object) -> object:
    """Extra facts as column values: scalars as they are, lists one per line, the rest JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return "\n".join(str(v) for v in value) if value else None
    try:
        return json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
