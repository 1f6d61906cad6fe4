"""`--format json`: one document, the output contract (`schedwarden.audit/1`)."""

from __future__ import annotations

from typing import TextIO

from ..model import AuditReport
from .json_text import indented_chunks
from .serialize import SharedParts, report_document


def write_json(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    """What `json.dump(document, stream, indent=2, ensure_ascii=False)` and a newline would write;
    jobs are written as they are encoded, a few hundred at a time."""
    shared = SharedParts()
    batch: list[str] = []
    for chunk in indented_chunks(report_document(report, shared), shared.ids):
        batch.append(chunk)
        if len(batch) >= 1024:
            stream.write("".join(batch))
            batch.clear()
    batch.append("\n")
    stream.write("".join(batch))
