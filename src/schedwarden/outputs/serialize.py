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
        return json_safe(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        kind = getattr(type(value), "kind", None)
        if isinstance(kind, str):
            out["kind"] = kind
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.name == "environment":
                out[field.name] = {json_safe(k): json_safe(v) for k, v in item}
            else:
                out[field.name] = plain(item)
        return out
    if isinstance(value, Mapping):
        return {json_safe(str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return json_safe(str(value))


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
