"""`schedwarden audit [PATH|--root DIR]`: inventory plus findings (the live host without PATH)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import engine
from ..model import Severity
from .common import (
    LEVELS,
    diagnose,
    emit,
    exit_code,
    open_source,
    output_options,
    progress,
    source_options,
)


@click.command("audit")
@source_options
@output_options
@click.option(
    "-m",
    "--min-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="informational",
    show_default=True,
    help="Report findings at or above this level.",
)
@click.option(
    "--fail-on",
    type=click.Choice(LEVELS, case_sensitive=False),
    default=None,
    help="Exit 1 when a finding at or above this level is reported.",
)
def audit_command(
    path: Path | None,
    root: Path | None,
    fmt: str,
    output: Path | None,
    quiet: bool,
    verbose: bool,
    no_color: bool,
    min_level: str,
    fail_on: str | None,
) -> None:
    """Every scheduled job with what runs, as whom, when, whether it really runs, and why it is
    suspicious. Exit 0 clean, 1 findings at or above --fail-on, 2 usage or source error,
    3 some evidence could not be read."""
    source = open_source(path, root)
    with progress(quiet, "auditing scheduled jobs…"):
        report = engine.audit(source, min_level=Severity.parse(min_level))
    emit(report, fmt, output, no_color, source)
    diagnose(report, quiet, verbose)
    raise SystemExit(exit_code(report, Severity.parse(fail_on) if fail_on else None))
