"""`schedwarden timeline PATH... [--root IMAGE | --inventory FILE]`: per job, its events in order."""

from __future__ import annotations

from pathlib import Path

import click

from ..logs.render import TIMELINE_WRITERS
from .common import EXIT_CLEAN, EXIT_INCOMPLETE
from .hunt import diagnose, hunt_options, run_hunt, write


@click.command("timeline")
@hunt_options
def timeline_command(
    paths: tuple[Path, ...],
    root: Path | None,
    inventory: Path | None,
    fmt: str,
    output: Path | None,
    budget: float,
    quiet: bool,
    no_color: bool,
) -> None:
    """One timeline per job from the logs: created, changed, ran, failed, deleted, each event
    with its file and record id or line. Exit 0, 2 usage error, 3 some evidence unreadable."""
    report = run_hunt(paths, root, inventory, budget)
    write(report, TIMELINE_WRITERS[fmt], output, no_color, (*paths, *((root,) if root else ())))
    diagnose(report, quiet)
    raise SystemExit(EXIT_INCOMPLETE if report.issues else EXIT_CLEAN)
