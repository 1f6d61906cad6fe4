"""`--format json`: one document, the output contract (`schedwarden.audit/1`)."""

from __future__ import annotations

import json
from typing import TextIO

from ..model import AuditReport
from .serialize import report_document


def write_json(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    json.dump(report_document(report), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
