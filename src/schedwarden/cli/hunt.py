"""`schedwarden hunt PATH... [--root IMAGE | --inventory FILE]`: job events and findings from logs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import hunting
from ..analyzers.log_sigma import LogRuleSet
from ..hunting import LogRulesLoading
from ..logs.correlate import jobs_from_inventory
from ..logs.reader import DEFAULT_BUDGET
from ..logs.render import HUNT_WRITERS
from ..logs.report import HuntReport
from ..model import ScheduledJob, Severity, render_untrusted
from ..sources import ImageSource
from .common import exit_code, format_options, level_options, write_output

F = TypeVar("F", bound=Callable[..., Any])


def hunt_options(func: F) -> F:
    for decorator in reversed(
        (
            click.argument(
                "paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True)
            ),
            click.option(
                "--root",
                type=click.Path(path_type=Path, file_okay=False, exists=True),
                help="Tie events to the jobs of this mounted image or collection.",
            ),
            click.option(
                "--inventory",
                type=click.Path(path_type=Path, dir_okay=False, exists=True),
                help="Tie events to the jobs of this `schedwarden audit -f json` file.",
            ),
            format_options(HUNT_WRITERS),
            click.option(
                "--budget",
                type=click.FloatRange(min=0.1),
                default=DEFAULT_BUDGET,
                show_default=True,
                help="Seconds of parsing allowed per log file (at least 1 s per MB of it).",
            ),
            click.option("-q", "--quiet", is_flag=True, help="No diagnostics on stderr."),
            click.option("--no-color", is_flag=True, help="No colors (also: NO_COLOR=1)."),
        )
    ):
        func = decorator(func)
    return func


def run_hunt(
    paths: tuple[Path, ...],
    root: Path | None,
    inventory: Path | None,
    budget: float,
    min_level: Severity = Severity.INFORMATIONAL,
    sigma: LogRuleSet | LogRulesLoading | None = None,
    builtin_rules: bool = True,
    deferred: bool = False,
) -> HuntReport:
    if root is not None and inventory is not None:
        raise click.UsageError("give either --root or --inventory, not both")
    jobs: list[ScheduledJob] | None = None
    if inventory is not None:
        jobs = _inventory(inventory)
    source = ImageSource(str(root)) if root is not None else None
    return hunting.hunt(
        [str(p) for p in paths],
        source=source,
        inventory=jobs,
        budget=budget,
        min_level=min_level,
        sigma=sigma,
        builtin_rules=builtin_rules,
        deferred=deferred,
    )


def _inventory(path: Path) -> list[ScheduledJob]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.UsageError(
            f"cannot read the inventory {render_untrusted(str(path))}: {exc}"
        ) from None
    if not isinstance(document, dict) or document.get("schema") != "schedwarden.audit/1":
        raise click.UsageError("the inventory is not a `schedwarden audit -f json` document")
    return jobs_from_inventory(document)


def write(
    report: HuntReport,
    writer: Callable[..., None],
    output: Path | None,
    no_color: bool,
    inputs: tuple[Path, ...],
) -> None:
    write_output(report, writer, output, no_color, [str(path) for path in inputs])


def diagnose(report: HuntReport, quiet: bool) -> None:
    if not quiet and report.issues:
        sys.stderr.write(
            f"schedwarden: {len(report.issues)} evidence problem(s); see the issues in the output\n"
        )


@click.command("hunt")
@hunt_options
@level_options
@click.option(
    "--sigma",
    "sigma_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Also run the Sigma rules about scheduled tasks in this folder or file (repeatable).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Convert the --sigma rules again instead of reusing the conversions remembered in "
    "the cache folder ($SCHEDWARDEN_CACHE_DIR, else $XDG_CACHE_HOME/schedwarden or "
    "~/.cache/schedwarden; set SCHEDWARDEN_CACHE_DIR empty to never cache).",
)
@click.option(
    "--no-builtin-rules",
    is_flag=True,
    help="Leave out schedwarden's own Sigma rules over logs (the built-in analytics still run).",
)
def hunt_command(
    paths: tuple[Path, ...],
    root: Path | None,
    inventory: Path | None,
    fmt: str,
    output: Path | None,
    budget: float,
    quiet: bool,
    no_color: bool,
    min_level: str,
    fail_on: str | None,
    sigma_paths: tuple[Path, ...],
    no_cache: bool,
    no_builtin_rules: bool,
) -> None:
    """Every scheduled-task and cron event in EVTX and syslog files or folders (gzip, bz2, xz
    too), with T1053 findings; with --root or --inventory, each event tied to its job. Exit 0
    clean, 1 findings at or above --fail-on, 2 usage error, 3 some evidence could not be read."""
    # converted while the logs are read
    rules = LogRulesLoading(list(sigma_paths), not no_cache) if sigma_paths else None
    report = run_hunt(  # its Sigma findings may still be in the making: written after events
        paths,
        root,
        inventory,
        budget,
        Severity.parse(min_level),
        rules,
        not no_builtin_rules,
        deferred=True,
    )
    if rules is not None and not quiet:
        loaded = rules.result()
        sys.stderr.write(
            f"schedwarden: {len(loaded.rules)} Sigma rule(s) for task logs; "
            f"{len(loaded.skipped)} file(s) or rule(s) unusable\n"
        )
    write(report, HUNT_WRITERS[fmt], output, no_color, (*paths, *((root,) if root else ())))
    diagnose(report, quiet)
    raise SystemExit(exit_code(report, Severity.parse(fail_on) if fail_on else None))
