"""`--format csv`: one row per job, finding and issue (column `type`), formula-safe cells."""

from __future__ import annotations

import csv
from typing import TextIO

from ..model import AuditReport, render_csv_cell
from .fields import command_text, effective_text, stdin_text

COLUMNS = (
    "type",
    "severity",
    "rule",
    "job_id",
    "mechanism",
    "technique",
    "name",
    "run_as",
    "schedule",
    "command",
    "stdin",
    "effective",
    "reason",
    "path",
    "line",
    "owner",
    "mode",
    "sha256",
    "next_run",
    "message",
)


def write_csv(report: AuditReport, stream: TextIO, *, color: bool = False) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)

    def row(values: dict[str, object]) -> None:
        writer.writerow(
            render_csv_cell("" if values.get(c) is None else str(values[c])) for c in COLUMNS
        )

    for job in report.jobs:
        ev = job.evidence
        row(
            {
                "type": "job",
                "job_id": job.job_id,
                "mechanism": job.mechanism.value,
                "technique": job.technique,
                "name": job.name,
                "run_as": job.run_as,
                "schedule": job.schedule.description,
                "command": command_text(job),
                "stdin": stdin_text(job),
                "effective": effective_text(job),
                "reason": job.effective.reason,
                "path": ev.path,
                "line": ev.line,
                "owner": ev.owner,
                "mode": ev.mode,
                "sha256": ev.sha256,
                "next_run": job.next_runs[0].isoformat().replace("+00:00", "Z")
                if job.next_runs
                else None,
            }
        )
    for finding in report.findings:
        ev = finding.evidence
        row(
            {
                "type": "finding",
                "severity": finding.severity.value,
                "rule": finding.rule_id,
                "job_id": finding.job_id,
                "technique": ",".join(finding.techniques),
                "name": finding.title,
                "path": ev.path,
                "line": ev.line,
                "message": finding.message,
            }
        )
    for issue in report.issues:
        ev = issue.evidence
        row(
            {
                "type": "issue",
                "rule": issue.code,
                "path": ev.path,
                "line": ev.line,
                "message": issue.message,
            }
        )
