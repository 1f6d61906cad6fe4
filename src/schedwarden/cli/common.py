"""Options and plumbing shared by the verbs: where to read, where and how to write, exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

import click

from ..model import AuditReport, Finding, Issue, Severity, render_untrusted
from ..outputs.registry import WRITERS
from ..sources import ImageSource, LiveSource, LooseFilesSource, RootedSource

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3

LEVELS = [s.value for s in Severity] + ["info"]
F = TypeVar("F", bound=Callable[..., Any])


def source_options(func: F) -> F:
    func = click.argument("path", required=False, type=click.Path(path_type=Path))(func)
    return click.option(
        "--root",
        "root",
        type=click.Path(path_type=Path),
        help="Root of a mounted image or extracted collection (same as PATH).",
    )(func)


def format_options(writers: Mapping[str, object]) -> Callable[[F], F]:
    """-f/--format among `writers` and -o/--output FILE."""

    def decorate(func: F) -> F:
        func = click.option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            help="Write to FILE instead of standard output.",
        )(func)
        return click.option(
            "-f",
            "--format",
            "fmt",
            type=click.Choice(sorted(writers)),
            default="table",
            show_default=True,
            help="Output format.",
        )(func)

    return decorate


def output_options(func: F) -> F:
    for decorator in reversed(
        (
            format_options(WRITERS),
            click.option("-q", "--quiet", is_flag=True, help="No diagnostics on stderr."),
            click.option("-v", "--verbose", is_flag=True, help="More diagnostics on stderr."),
            click.option("--no-color", is_flag=True, help="No colors (also: NO_COLOR=1)."),
        )
    ):
        func = decorator(func)
    return func


def open_source(path: Path | None, root: Path | None) -> RootedSource:
    if path is not None and root is not None:
        raise click.UsageError("give either PATH or --root, not both")
    chosen = root or path
    if chosen is None:
        return LiveSource()
    if not chosen.exists():
        raise click.UsageError(f"{render_untrusted(str(chosen))} does not exist")
    if root is None and not looks_like_system_root(chosen):
        return LooseFilesSource(str(chosen))
    if not chosen.is_dir():
        raise click.UsageError(f"{render_untrusted(str(chosen))} is not a directory")
    return ImageSource(str(chosen))


SYSTEM_ROOT_MARKERS = ("etc", "usr", "var", "Windows", "WINDOWS", "windows")


def looks_like_system_root(path: Path) -> bool:
    """A folder holding an OS tree (`etc/`, `var/`, `Windows/`...) is an image root; a file or
    any other folder is a set of loose definition files (manifests, exports)."""
    return path.is_dir() and any((path / marker).is_dir() for marker in SYSTEM_ROOT_MARKERS)


def progress(quiet: bool, message: str) -> Any:
    """A spinner on stderr while work runs, only for a person at a terminal."""
    if quiet or not sys.stderr.isatty():
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


def emit(
    report: AuditReport, fmt: str, output: Path | None, no_color: bool, source: RootedSource
) -> None:
    write_output(report, WRITERS[fmt], output, no_color, evidence_roots(source))


def write_output(
    report: object,
    writer: Callable[..., None],
    output: Path | None,
    no_color: bool,
    evidence: Iterable[str],
) -> None:
    """stdout (colored for a terminal unless --no-color or NO_COLOR), or FILE outside the evidence."""
    if output is None:
        color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        writer(report, sys.stdout, color=color)
        return
    refuse_output_inside(output, evidence)
    with open(output, "w", encoding="utf-8", newline="") as stream:
        writer(report, stream, color=False)


def evidence_roots(source: RootedSource) -> list[str]:
    """Where output must not go: the evidence root (none for the live host)."""
    return [] if isinstance(source, LiveSource) else [source.root]


def refuse_output_inside(output: Path, evidence: Iterable[str]) -> None:
    target = os.path.realpath(output)
    for given in evidence:
        root = os.path.realpath(given)
        if target == root or target.startswith(root.rstrip("/") + "/"):
            raise click.UsageError("refusing to write output inside the evidence root")


def diagnose(report: AuditReport, quiet: bool, verbose: bool, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    if quiet:
        return
    if report.issues:
        stream.write(
            f"schedwarden: {len(report.issues)} evidence problem(s); see the issues in the output\n"
        )
        if verbose:
            for issue in report.issues:
                line = f":{issue.evidence.line}" if issue.evidence.line else ""
                stream.write(
                    f"  {issue.code} {render_untrusted(issue.evidence.path)}{line}: "
                    f"{render_untrusted(issue.message)}\n"
                )
    elif verbose:
        stream.write(f"schedwarden: {len(report.jobs)} jobs, no evidence problems\n")


def level_options(func: F) -> F:
    """-m/--min-level and --fail-on, as every verb that reports findings takes them."""
    func = click.option(
        "--fail-on",
        type=click.Choice(LEVELS, case_sensitive=False),
        default=None,
        help="Exit 1 when a finding at or above this level is reported.",
    )(func)
    return click.option(
        "-m",
        "--min-level",
        type=click.Choice(LEVELS, case_sensitive=False),
        default="informational",
        show_default=True,
        help="Report findings at or above this level.",
    )(func)


class Reported(Protocol):
    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def issues(self) -> Sequence[Issue]: ...


def exit_code(report: Reported, fail_on: Severity | None) -> int:
    if fail_on is not None and any(f.severity >= fail_on for f in report.findings):
        return EXIT_FINDINGS
    if report.issues:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN
