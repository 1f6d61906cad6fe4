"""`--format table` (default): rich tables for a person at a terminal.

Every evidence string goes through `render_untrusted` and into rich as plain `Text`, never as
markup, so neither ANSI escapes nor `[bold]`-style markup from a job can change the display.
"""

from __future__ import annotations

from typing import TextIO

from ..model import AuditReport
from .fields import command_text, effective_text, location_text, stdin_text

EFFECTIVE_STYLE = {"runs": "green", "dormant": "dim", "undecided": "yellow"}


def write_table(report: AuditReport, stream: TextIO, *, color: bool = True) -> None:
    from rich.table import Table  # rich is loaded for tables only (a tenth of a second)

    from .rich_tables import cell, console_for, findings_table, issues_table

    console = console_for(stream, color)
    source = report.source
    os_info = source.get("os")
    os_name = os_info.get("name") if isinstance(os_info, dict) else None
    console.print(
        cell(
            f"schedwarden audit of {source.get('host')} ({source.get('kind')} {source.get('root')}"
            f"; {os_name or 'unknown OS'}; cron daemon {source.get('cron_daemon') or 'unknown'})",
            "bold",
        )
    )
    jobs = Table(title="Scheduled jobs", show_lines=False, expand=False)
    for column in ("mechanism", "location", "run as", "when", "command", "effective"):
        jobs.add_column(column, overflow="fold")
    for job in report.jobs:
        stdin = stdin_text(job)
        command = command_text(job) + (f"  <stdin: {stdin}>" if stdin else "")
        state = effective_text(job)
        jobs.add_row(
            cell(job.mechanism.value),
            cell(location_text(job)),
            cell(job.run_as),
            cell(job.schedule.description),
            cell(command),
            cell(
                state if job.effective.runs else f"{state}: {job.effective.reason}",
                EFFECTIVE_STYLE[state],
            ),
        )
    console.print(jobs)
    if report.findings:
        console.print(findings_table(report.findings))
    if report.issues:
        console.print(issues_table(report.issues))
    summary = report.summary()
    console.print(
        cell(f"{summary['jobs']} jobs, {summary['findings']} findings, {summary['issues']} issues")
    )
