"""`--format json`: one document, the output contract (`schedwarden.audit/1`)."""

from __future__ import annotations

from typing import TextIO

from ..model import AuditReport
from .json_text import dump_indented
from .serialize import SharedParts, report_document


def write_json(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    """What `json.dump(document, stream, indent=2, ensure_ascii=False)` and a newline would write;
    jobs are written as they are encoded."""
    shared = SharedParts()
    dump_indented(report_document(report, shared), stream, shared.ids)
