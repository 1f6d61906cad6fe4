"""`schedwarden allowlist init [PATH|--root DIR]`: an approved-jobs policy from a known-good host.

It lists every job of the host or image as an entry (mechanism, name or definition path, the exact
command, the account, the sha256 of the files it runs). Review it, widen fields with `*`, add
`silence:` lists, then run `schedwarden audit --allowlist FILE` on the hosts to check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from .. import inventory
from ..analyzers.allowlist import dump_policy, policy_entries
from ..enrich import analysis_context
from ..model import render_untrusted
from .common import (
    diagnose,
    evidence_roots,
    open_source,
    progress,
    refuse_output_inside,
    source_options,
)


@click.group("allowlist")
def allowlist_command() -> None:
    """Approved scheduled jobs: write a policy; `audit --allowlist FILE` checks against it."""


@allowlist_command.command("init")
@source_options
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write to FILE, not standard output."
)
@click.option("-q", "--quiet", is_flag=True, help="No diagnostics on stderr.")
def init_command(path: Path | None, root: Path | None, output: Path | None, quiet: bool) -> None:
    """One entry per job of the host (or the image at PATH), approving it as it is now."""
    source = open_source(path, root)
    with progress(quiet, "listing scheduled jobs…"):
        report = inventory.collect(source)
        context = analysis_context(source, report.jobs, hash_targets=True)
        entries = policy_entries(report.jobs, context)
    header = {
        "source": {
            "host": report.source.get("host"),
            "kind": report.source.get("kind"),
            "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
    }
    text = dump_policy(entries, header)
    if output is None:
        click.echo(text, nl=False)
    else:
        refuse_output_inside(output, evidence_roots(source))
        output.write_text(text, encoding="utf-8")
    diagnose(report, quiet, False)
    if not quiet:
        click.echo(
            f"schedwarden: {len(entries)} entries for {len(report.jobs)} jobs"
            + (f" in {render_untrusted(str(output))}" if output else ""),
            err=True,
        )
