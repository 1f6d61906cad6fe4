"""`--format table` (default): rich tables for a person at a terminal.

Every evidence string goes through `render_untrusted` and into rich as plain `Text`, never as
markup, so neither ANSI escapes nor `[bold]`-style markup from a job can change the display.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import AuditReport, Severity, render_untrusted
from .fields import command_text, effective_text, location_text, stdin_text

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}
EFFECTIVE_STYLE = {"runs": "green", "dormant": "dim", "undecided": "yellow"}


def _t(text: object, style: str = "") -> Text:
    return Text(render_untrusted("" if text is None else str(text)), style=style)


def write_table(report: AuditReport, stream: TextIO, *, color: bool = True) -> None:
    console = Console(
        file=stream,
        no_color=not color,
        highlight=False,
        soft_wrap=False,
        width=None if color else 200,
        emoji=False,
        markup=False,
    )
    source = report.source
    os_info = source.get("os")
    os_name = os_info.get("name") if isinstance(os_info, dict) else None
    console.print(
        _t(
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
            _t(job.mechanism.value),
            _t(location_text(job)),
            _t(job.run_as),
            _t(job.schedule.description),
            _t(command),
            _t(
                state if job.effective.runs else f"{state}: {job.effective.reason}",
                EFFECTIVE_STYLE[state],
            ),
        )
    console.print(jobs)
    if report.findings:
        findings = Table(title="Findings")
        for column in ("severity", "rule", "location", "why"):
            findings.add_column(column, overflow="fold")
        for finding in sorted(report.findings, key=lambda f: f.severity, reverse=True):
            line = finding.evidence.line
            findings.add_row(
                _t(finding.severity.value, SEVERITY_STYLE[finding.severity]),
                _t(finding.rule_id),
                _t(finding.evidence.path + (f":{line}" if line else "")),
                _t(finding.message),
            )
        console.print(findings)
    if report.issues:
        issues = Table(title="Evidence problems")
        for column in ("code", "location", "message"):
            issues.add_column(column, overflow="fold")
        for issue in report.issues:
            line = issue.evidence.line
            issues.add_row(
                _t(issue.code),
                _t(issue.evidence.path + (f":{line}" if line else "")),
                _t(issue.message),
            )
        console.print(issues)
    summary = report.summary()
    console.print(
        _t(f"{summary['jobs']} jobs, {summary['findings']} findings, {summary['issues']} issues")
    )
