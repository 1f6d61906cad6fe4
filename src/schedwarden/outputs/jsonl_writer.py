"""`--format jsonl`: the same objects, one per line, each with a `type` key.

The first line (`type: run`) carries schema, tool and source; the last (`type: summary`) the
counts. Lines are independent, so the stream can be cut, grepped and shipped as it is.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..model import AuditReport
from .serialize import plain


def write_jsonl(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    def emit(obj: dict[str, Any]) -> None:
        stream.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        stream.write("\n")

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
            emit({"type": kind, **plain(record)})
    emit({"type": "summary", **plain(report.summary())})
