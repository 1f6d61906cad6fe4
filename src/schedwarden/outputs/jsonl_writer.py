"""`--format jsonl`: the same objects, one per line, each with a `type` key.

The first line (`type: run`) carries schema, tool and source; the last (`type: summary`) the
counts. Lines are independent, so the stream can be cut, grepped and shipped as it is.
"""

from __future__ import annotations

from typing import Any, TextIO

from ..model import AuditReport
from .json_text import compact
from .serialize import SharedParts, plain


def write_jsonl(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    shared = SharedParts()
    lines: list[str] = []

    def emit(obj: dict[str, Any]) -> None:
        lines.append(compact(obj))
        if len(lines) >= 512:
            flush()

    def flush() -> None:
        lines.append("")
        stream.write("\n".join(lines))
        lines.clear()

    emit(
        {
            "type": "run",
            "schema": report.schema,
            "tool": plain(report.tool),
            "source": plain(report.source),
        }
    )
    for kind, records in (
        ("job", report.jobs),
        ("finding", report.findings),
        ("issue", report.issues),
    ):
        for record in records:
            emit({"type": kind, **plain(record, shared)})
    emit({"type": "summary", **plain(report.summary())})
    flush()
