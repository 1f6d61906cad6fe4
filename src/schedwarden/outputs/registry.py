"""Every output format, one line each. A test fails when a writer module is not listed here."""

from __future__ import annotations

from typing import Protocol, TextIO

from ..model import AuditReport
from .csv_writer import write_csv
from .json_writer import write_json
from .jsonl_writer import write_jsonl
from .table_writer import write_table


class Writer(Protocol):
    def __call__(self, report: AuditReport, stream: TextIO, *, color: bool = ...) -> None: ...


WRITERS: dict[str, Writer] = {
    "table": write_table,
    "json": write_json,
    "jsonl": write_jsonl,
    "csv": write_csv,
}
