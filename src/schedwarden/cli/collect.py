"""`schedwarden collect [PATH|--root DIR]`: the inventory only, no findings."""

from __future__ import annotations

from pathlib import Path

import click

from .. import inventory
from .common import diagnose, emit, exit_code, open_source, output_options, progress, source_options


@click.command("collect")
@source_options
@output_options
def collect_command(
    path: Path | None,
    root: Path | None,
    fmt: str,
    output: Path | None,
    quiet: bool,
    verbose: bool,
    no_color: bool,
) -> None:
    """Every scheduled job of the host or image, without analysis. Exit 3 when some evidence
    could not be read."""
    source = open_source(path, root)
    with progress(quiet, "collecting scheduled jobs…"):
        report = inventory.collect(source)
    emit(report, fmt, output, no_color, source)
    diagnose(report, quiet, verbose)
    raise SystemExit(exit_code(report, None))
