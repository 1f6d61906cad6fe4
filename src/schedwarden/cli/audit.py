"""`schedwarden audit [PATH|--root DIR]`: inventory plus findings (the live host without PATH)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import engine
from ..analyzers.allowlist import Allowlist, AllowlistError, parse_allowlist
from ..analyzers.sigma_rules import load_pack
from ..model import Severity, render_untrusted
from .common import (
    diagnose,
    emit,
    exit_code,
    level_options,
    open_source,
    output_options,
    progress,
    source_options,
)


@click.command("audit")
@source_options
@output_options
@level_options
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also run the Sigma rules in this folder or file (repeatable).",
)
@click.option(
    "--allowlist",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Approved-jobs policy: report jobs not on it, silence what it silences.",
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
    rules_dirs: tuple[Path, ...],
    allowlist: Path | None,
) -> None:
    """Every scheduled job with what runs, as whom, when, whether it really runs, and why it is
    suspicious. Exit 0 clean, 1 findings at or above --fail-on, 2 usage or source error,
    3 some evidence could not be read."""
    source = open_source(path, root)
    policy = _allowlist(allowlist) if allowlist else None
    pack = load_pack(list(rules_dirs)) if rules_dirs else None
    with progress(quiet, "auditing scheduled jobs…"):
        report = engine.audit(
            source, min_level=Severity.parse(min_level), rules=pack, allowlist=policy
        )
    emit(report, fmt, output, no_color, source)
    diagnose(report, quiet, verbose)
    if pack is not None and not quiet:
        for problem in (*pack.problems, *pack.runtime_problems):
            sys.stderr.write(f"schedwarden: rule skipped: {render_untrusted(str(problem))}\n")
    raise SystemExit(exit_code(report, Severity.parse(fail_on) if fail_on else None))


def _allowlist(path: Path) -> Allowlist:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(
            f"cannot read the allowlist {render_untrusted(str(path))}: {exc}"
        ) from None
    try:
        return parse_allowlist(text, str(path))
    except AllowlistError as exc:
        raise click.UsageError(render_untrusted(str(exc))) from None
