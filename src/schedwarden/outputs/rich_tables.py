"""Pieces every terminal table shares: an untrusted-text cell, the console, and the findings and
evidence-problem tables (audit and hunt show them alike).

Evidence strings go through `render_untrusted` and into rich as plain `Text`, never as markup, so
neither ANSI escapes nor `[bold]`-style markup from a job can change the display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import Finding, Issue, Severity, render_untrusted

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}


def cell(text: object, style: str = "") -> Text:
    return Text(render_untrusted("" if text is None else str(text)), style=style)


def console_for(stream: TextIO, color: bool) -> Console:
    return Console(
        file=stream,
        no_color=not color,
        highlight=False,
        soft_wrap=False,
        width=None if color else 200,
        emoji=False,
        markup=False,
    )


def findings_table(findings: Sequence[Finding], location: str = "location") -> Table:
    table = Table(title="Findings")
    for column in ("severity", "rule", location, "why"):
        table.add_column(column, overflow="fold")
    for finding in sorted(findings, key=lambda f: f.severity, reverse=True):
        line = finding.evidence.line
        table.add_row(
            cell(finding.severity.value, SEVERITY_STYLE[finding.severity]),
            cell(finding.rule_id),
            cell(finding.evidence.path + (f":{line}" if line else "")),
            cell(finding.message),
        )
    return table


def issues_table(issues: Sequence[Issue]) -> Table:
    table = Table(title="Evidence problems")
    for column in ("code", "location", "message"):
        table.add_column(column, overflow="fold")
    for issue in issues:
        where = issue.evidence.path + (f":{issue.evidence.line}" if issue.evidence.line else "")
        if issue.evidence.offset is not None:
            where += f" @{issue.evidence.offset}"
        table.add_row(cell(issue.code), cell(where), cell(issue.message))
    return table
