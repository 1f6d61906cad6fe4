"""Drift: what changed between two inventories, job by job and field by field.

Jobs are compared as their audit-contract documents, so a stored snapshot and a fresh collection
compare the same way. Jobs of one file are paired first by `job_id` (same content at the same
place: a cron line that only moved is the same job), then by identity (mechanism, location,
name: the same place whose content changed); what is left was added or removed.

Origin: a job defined under a package-managed folder (/usr/lib, /lib, /usr/share, ...; not
/usr/local) is "package", anything else (/etc, spools, homes, /run) is "local". A change is
"package" only when no local file joined or left the job's definition, so a drop-in under /etc
that overrides a stock timer is a local change of a package job and keeps the local severity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model import Evidence, Finding, Severity, SourceKind
from ..outputs.serialize import plain
from .canonical import Document, encode, identity

DIFF_SCHEMA = "schedwarden.diff/1"

PACKAGE_PREFIXES = (
    "/usr/lib/",
    "/lib/",
    "/usr/lib64/",
    "/lib64/",
    "/usr/libexec/",
    "/usr/share/",
)
_WINDOWS_STOCK = "\\tasks\\microsoft\\windows\\"

FIELD_SEVERITY: dict[str, Severity] = {
    "command": Severity.HIGH,
    "run_as": Severity.HIGH,
    "hidden": Severity.HIGH,
    "environment": Severity.HIGH,
    "schedule": Severity.MEDIUM,
    "enabled": Severity.MEDIUM,
    "effective": Severity.MEDIUM,
    "definition_hash": Severity.MEDIUM,
    "owner": Severity.MEDIUM,
    "mode": Severity.MEDIUM,
}
_VOLATILE_SCHEDULE_KEYS = frozenset({"last_run", "last_trigger"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class JobChange:
    before: Document
    after: Document
    fields: tuple[FieldChange, ...]
    origin: str


@dataclass(frozen=True, slots=True)
class Drift:
    added: tuple[Document, ...]
    removed: tuple[Document, ...]
    changed: tuple[JobChange, ...]
    findings: tuple[Finding, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def document(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The `schedwarden.diff/1` JSON document."""
        out: dict[str, Any] = {"schema": DIFF_SCHEMA}
        out.update(extra or {})
        out["added"] = list(self.added)
        out["removed"] = list(self.removed)
        out["changed"] = [
            {
                "before": c.before,
                "after": c.after,
                "fields": [
                    {"field": f.field, "before": f.before, "after": f.after} for f in c.fields
                ],
                "origin": c.origin,
            }
            for c in self.changed
        ]
        out["findings"] = [plain(f) for f in self.findings]
        return out


# ---------------------------------------------------------------------------------------------
# Field values


def _strip_volatile(value: Any) -> Any:
    """A schedule without its last-run stamps (they move every time the job runs)."""
    if isinstance(value, Mapping):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE_SCHEDULE_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def definition_hash(doc: Mapping[str, Any]) -> str | None:
    """The file's sha256 for a whole-file job; for a line of a table, the hash of that line (the
    file hash moves when any other line changes)."""
    evidence = doc.get("evidence") or {}
    if evidence.get("line") is None:
        sha = evidence.get("sha256")
        return str(sha) if sha is not None else None
    raw = str(doc.get("raw") or "")
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def field_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    evidence = doc.get("evidence") or {}
    return {
        "command": doc.get("actions") or [],
        "schedule": _strip_volatile(doc.get("schedule")),
        "run_as": doc.get("run_as"),
        "enabled": doc.get("enabled"),
        "hidden": doc.get("hidden"),
        "effective": doc.get("effective"),
        "environment": doc.get("environment") or {},
        "definition_hash": definition_hash(doc),
        "owner": {
            "owner": evidence.get("owner"),
            "group": evidence.get("group"),
            "uid": evidence.get("uid"),
            "gid": evidence.get("gid"),
        },
        "mode": evidence.get("mode"),
    }


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    old, new = field_values(before), field_values(after)
    return tuple(
        FieldChange(name, old[name], new[name])
        for name in FIELD_SEVERITY
        if encode(old[name]) != encode(new[name])
    )


# ---------------------------------------------------------------------------------------------
# Pairing


def _place(doc: Mapping[str, Any]) -> tuple[str, str]:
    evidence = doc.get("evidence") or {}
    return str(doc.get("mechanism")), str(evidence.get("path"))


def compare(before: Iterable[Document], after: Iterable[Document]) -> Drift:
    """Jobs added, removed and changed from `before` to `after`, with one finding per change."""
    groups: dict[tuple[str, str], tuple[list[Document], list[Document]]] = {}
    for doc in before:
        groups.setdefault(_place(doc), ([], []))[0].append(doc)
    for doc in after:
        groups.setdefault(_place(doc), ([], []))[1].append(doc)
    added: list[Document] = []
    removed: list[Document] = []
    changed: list[JobChange] = []
    for old_docs, new_docs in groups.values():
        pairs, gone, new = _pair(old_docs, new_docs)
        removed += gone
        added += new
        for old, current in pairs:
            fields = changed_fields(old, current)
            if fields:
                changed.append(JobChange(old, current, fields, origin(old, current)))
    added.sort(key=identity)
    removed.sort(key=identity)
    changed.sort(key=lambda c: identity(c.after))
    findings = [_added_finding(d) for d in added]
    findings += [_removed_finding(d) for d in removed]
    for change in changed:
        findings += [_changed_finding(change, f) for f in change.fields]
    return Drift(tuple(added), tuple(removed), tuple(changed), tuple(findings))


def _pair(
    old_docs: Sequence[Document], new_docs: Sequence[Document]
) -> tuple[list[tuple[Document, Document]], list[Document], list[Document]]:
    pairs: list[tuple[Document, Document]] = []
    left_new = list(new_docs)
    left_old: list[Document] = []
    by_id: dict[str, Document] = {}
    for doc in left_new:
        by_id.setdefault(str(doc.get("job_id")), doc)
    for doc in old_docs:
        match = by_id.pop(str(doc.get("job_id")), None)
        if match is not None:
            pairs.append((doc, match))
            left_new.remove(match)
        else:
            left_old.append(doc)
    by_identity: dict[str, Document] = {}
    for doc in left_new:
        by_identity.setdefault(identity(doc), doc)
    gone: list[Document] = []
    for doc in left_old:
        match = by_identity.pop(identity(doc), None)
        if match is not None:
            pairs.append((doc, match))
            left_new.remove(match)
        else:
            gone.append(doc)
    return pairs, gone, left_new


# ---------------------------------------------------------------------------------------------
# Origin and findings


def is_package_path(path: str) -> bool:
    """Under a folder the package manager owns (or Windows' own \\Microsoft\\Windows tasks)."""
    if path.startswith(PACKAGE_PREFIXES):
        return True
    return _WINDOWS_STOCK in path.replace("/", "\\").lower()


def origin(*docs: Mapping[str, Any]) -> str:
    """Either package or local (see the module docstring)."""
    paths = {str((d.get("evidence") or {}).get("path")) for d in docs}
    if len(docs) == 2:
        related = [set((d.get("evidence") or {}).get("related") or ()) for d in docs]
        paths |= related[0] ^ related[1]
    return "package" if all(is_package_path(p) for p in paths) else "local"


def _evidence(doc: Mapping[str, Any]) -> Evidence:
    ev = doc.get("evidence") or {}
    try:
        kind = SourceKind(str(ev.get("source_kind")))
    except ValueError:
        kind = SourceKind.IMAGE
    mtime = ev.get("mtime")
    when = None
    if isinstance(mtime, str):
        try:
            when = datetime.fromisoformat(mtime.replace("Z", "+00:00"))
        except ValueError:
            when = None
    return Evidence(
        source_kind=kind,
        host=str(ev.get("host") or ""),
        path=str(ev.get("path") or ""),
        related=tuple(str(p) for p in ev.get("related") or ()),
        line=ev.get("line"),
        offset=ev.get("offset"),
        sha256=ev.get("sha256"),
        owner=ev.get("owner"),
        group=ev.get("group"),
        uid=ev.get("uid"),
        gid=ev.get("gid"),
        mode=ev.get("mode"),
        mtime=when,
    )


def _lower(severity: Severity) -> Severity:
    return Severity.LOW if severity <= Severity.MEDIUM else Severity.MEDIUM


def _commands(doc: Mapping[str, Any]) -> str:
    parts = []
    for action in doc.get("actions") or ():
        text = action.get("command_line") or action.get("class_id") or action.get("detail") or ""
        if action.get("stdin"):
            text += f" (stdin: {action['stdin']})"
        parts.append(str(text))
    return "; ".join(parts) or "nothing"


def _short(text: str, cap: int = 300) -> str:
    return text if len(text) <= cap else text[:cap] + "…"


def _shown(field: str, value: Any, doc: Mapping[str, Any]) -> str:
    if field == "command":
        return _short(_commands(doc))
    if field == "schedule" and isinstance(value, Mapping):
        return _short(str(value.get("description") or value.get("expression") or encode(value)))
    if isinstance(value, str):
        return _short(value)
    return _short(encode(value))


def _finding(
    rule: str, title: str, severity: Severity, doc: Mapping[str, Any], message: str, fix: str
) -> Finding:
    return Finding(
        rule_id=rule,
        title=title,
        severity=severity,
        techniques=(str(doc.get("technique") or "T1053"),),
        job_id=str(doc.get("job_id")),
        evidence=_evidence(doc),
        message=message,
        remediation=fix,
    )


def _what(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('mechanism')} job {doc.get('name')}"


def _added_finding(doc: Document) -> Finding:
    package = origin(doc) == "package"
    schedule = doc.get("schedule") or {}
    return _finding(
        "DRIFT_PACKAGE_JOB_ADDED" if package else "DRIFT_JOB_ADDED",
        "Package-managed scheduled job added" if package else "Scheduled job added",
        Severity.MEDIUM if package else Severity.HIGH,
        doc,
        f"new {_what(doc)} runs {_short(_commands(doc))} as {doc.get('run_as') or 'unknown'} "
        f"({schedule.get('description') or 'no schedule'})",
        "Confirm who created the job and why; if it is not approved, remove it and investigate "
        "the host (T1053 persistence), then save a new baseline.",
    )


def _removed_finding(doc: Document) -> Finding:
    package = origin(doc) == "package"
    return _finding(
        "DRIFT_PACKAGE_JOB_REMOVED" if package else "DRIFT_JOB_REMOVED",
        "Package-managed scheduled job removed" if package else "Scheduled job removed",
        Severity.LOW if package else Severity.MEDIUM,
        doc,
        f"{_what(doc)} is gone (it ran {_short(_commands(doc))} as "
        f"{doc.get('run_as') or 'unknown'})",
        "Confirm the removal was intended; intruders delete their jobs to cover their tracks.",
    )


def _changed_finding(change: JobChange, field: FieldChange) -> Finding:
    package = change.origin == "package"
    severity = FIELD_SEVERITY[field.field]
    return _finding(
        "DRIFT_PACKAGE_JOB_CHANGED" if package else "DRIFT_JOB_CHANGED",
        f"{'Package-managed scheduled job' if package else 'Scheduled job'} changed: {field.field}",
        _lower(severity) if package else severity,
        change.after,
        f"{field.field} of {_what(change.after)} changed: before "
        f"{_shown(field.field, field.before, change.before)}, after "
        f"{_shown(field.field, field.after, change.after)}",
        "Check the change against the package or the change record; revert it if nobody made "
        "it, then save a new baseline.",
    )
