"""Model records → plain JSON-ready values, the one mapping every structured writer shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from ..model import AuditReport, Finding, Issue, JobEvent, ScheduledJob, json_safe

RECORD_TYPES: dict[type, str] = {
    ScheduledJob: "job",
    Finding: "finding",
    Issue: "issue",
    JobEvent: "event",
}


def plain(value: Any) -> Any:
    """Dataclasses become objects (variant `kind` first), enums their value, datetimes ISO-8601
    UTC with `Z`, tuples lists; `environment` pairs become an object; strings are made JSON-safe."""
    if isinstance(value, str):
        return value if value.isascii() else json_safe(value)  # undecodable bytes are non-ASCII
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    shape = _SHAPES.get(type(value))
    if shape is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        shape = _SHAPES[type(value)] = _shape(type(value))
    if shape is not None:
        kind, names = shape
        out: dict[str, Any] = {"kind": kind} if kind is not None else {}
        for name in names:
            item = getattr(value, name)
            if name == "environment":
                out[name] = {json_safe(k): json_safe(v) for k, v in item}
            else:
                out[name] = plain(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {json_safe(str(k)): plain(v) for k, v in value.items()}
    return json_safe(str(value))


_SHAPES: dict[type, tuple[str | None, tuple[str, ...]]] = {}


def _shape(cls: type) -> tuple[str | None, tuple[str, ...]]:
    """A dataclass's variant tag and field names, looked up once per class."""
    kind = getattr(cls, "kind", None)
    names = tuple(f.name for f in dataclasses.fields(cls))
    return (kind if isinstance(kind, str) else None), names


def report_document(report: AuditReport) -> dict[str, Any]:
    return {
        "schema": report.schema,
        "tool": plain(report.tool),
        "source": plain(report.source),
        "jobs": [plain(j) for j in report.jobs],
        "findings": [plain(f) for f in report.findings],
        "issues": [plain(i) for i in report.issues],
        "summary": plain(report.summary()),
    }
