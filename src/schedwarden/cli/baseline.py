"""`schedwarden baseline save|diff|verify|list`: a tamper-evident baseline and drift against it.

Exit codes, beside the common ones (0 clean, 1 drift found, 2 usage or source error, 3 some
evidence could not be read): 4 the baseline was tampered with, rolled back, deleted, or the key
does not match; 5 the database is corrupt, foreign or not a regular file (kept untouched);
6 interrupted by a signal (nothing was written).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO, TypeVar

import click

from .. import engine, inventory
from ..model import Evidence, Finding, Severity, SourceKind, render_untrusted
from ..outputs.serialize import plain
from ..store import (
    BaselineMissing,
    BaselineStore,
    BaselineTampered,
    BaselineUnusable,
    Drift,
    KeyUnavailable,
    Problem,
    StoreError,
    compare,
    default_path,
    parse_head,
    secret_from_env,
    secret_from_file,
)
from .common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_USAGE,
    diagnose,
    open_source,
    source_options,
)

EXIT_TAMPERED = 4
EXIT_CORRUPT = 5
EXIT_INTERRUPTED = 6

F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    func = click.option(
        "--key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Read the key from FILE (not in the database's folder). Else "
        "SCHEDWARDEN_BASELINE_KEY, else a passphrase prompt.",
    )(func)
    return click.option(
        "--db",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Baseline database (default: $XDG_DATA_HOME/schedwarden/baseline.db).",
    )(func)


def expect_head_option(func: F) -> F:
    return click.option(
        "--expect-head",
        metavar="ID:MAC",
        help="The chain head printed by an earlier save, kept off the host: detects rollback.",
    )(func)


def db_path(db: Path | None) -> str:
    return str(db) if db is not None else default_path()


def obtain_secret(key_file: Path | None, path: str, *, confirm: bool = False) -> bytes:
    """The key material: the environment, a key file, or a passphrase typed at a terminal."""
    secret = secret_from_env()
    if secret is not None:
        return secret
    if key_file is not None:
        return secret_from_file(str(key_file), path)
    if not sys.stdin.isatty():
        raise KeyUnavailable(
            "no baseline key: set SCHEDWARDEN_BASELINE_KEY, give --key-file, or run at a terminal",
            path,
        )
    text = click.prompt(
        "Baseline passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return str(text).encode("utf-8", "surrogateescape")


def exit_for(error: StoreError) -> int:
    if isinstance(error, BaselineUnusable):
        return EXIT_CORRUPT
    if isinstance(error, BaselineTampered | BaselineMissing):
        return EXIT_TAMPERED
    return EXIT_USAGE


def fail(error: StoreError, quiet: bool = False) -> NoReturn:
    if not quiet or not isinstance(error, KeyUnavailable):
        where = f" ({render_untrusted(error.path)})" if error.path else ""
        sys.stderr.write(f"schedwarden: {error.code}: {render_untrusted(error.message)}{where}\n")
    raise SystemExit(exit_for(error))


class Interrupted(Exception):
    """A signal asked us to stop; the open transaction is rolled back."""


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP roll back what is being written and exit 6."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except Interrupted as exc:
        sys.stderr.write(f"schedwarden: interrupted by {exc}; nothing was saved\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def open_verified(path: str, key_file: Path | None, expect_head: str | None) -> BaselineStore:
    """An existing baseline, unlocked, with its whole chain verified (fail closed)."""
    try:
        store = BaselineStore.open(path)
    except BaselineMissing as error:
        raise BaselineMissing(
            "there is no baseline database (never saved, or deleted)", path
        ) from error
    try:
        store.unlock(obtain_secret(key_file, path))
        problems = store.verify(expect_head)
    except BaseException:
        store.close()
        raise
    if problems:
        store.close()
        first = problems[0]
        raise BaselineTampered(first.message, path, first.code)
    return store


def _check_head_text(expect_head: str | None) -> None:
    if expect_head is None:
        return
    try:
        parse_head(expect_head)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from None


@click.group("baseline")
def baseline_command() -> None:
    """Save the inventory as a tamper-evident baseline, and diff against it. Exit 4 when the
    baseline was tampered with, 5 when its database is corrupt or not ours."""


@baseline_command.command("save")
@source_options
@store_options
@expect_head_option
@click.option("--name", help="A label for the snapshot (usable with diff --snapshot).")
@click.option("-q", "--quiet", is_flag=True, help="No diagnostics on stderr.")
def save_command(
    path: Path | None,
    root: Path | None,
    db: Path | None,
    key_file: Path | None,
    expect_head: str | None,
    name: str | None,
    quiet: bool,
) -> None:
    """Collect the jobs of the host (or PATH) and append them as a snapshot; print the new
    chain head (ID:MAC), to keep somewhere the host cannot rewrite."""
    _check_head_text(expect_head)
    target = db_path(db)
    source = open_source(path, root)
    try:
        with interruptible():
            try:
                store = BaselineStore.open(target, writable=True)
            except BaselineMissing:
                if expect_head is not None:
                    raise BaselineMissing(
                        "the baseline database is gone although a chain head is expected", target
                    ) from None
                store = BaselineStore.create(target, obtain_secret(key_file, target, confirm=True))
            else:
                try:
                    store.unlock(obtain_secret(key_file, target))
                    problems = store.verify(expect_head, every_mac=False)
                    if problems:
                        raise BaselineTampered(problems[0].message, target, problems[0].code)
                except BaseException:
                    store.close()
                    raise
            with store:
                report = inventory.collect(source)
                info = store.save(report, name=name)
    except StoreError as error:
        fail(error)
    click.echo(info.head)
    if not quiet:
        sys.stderr.write(
            f"schedwarden: snapshot {info.id} saved: {info.job_count} jobs, "
            f"{info.issue_count} evidence problems ({render_untrusted(target)})\n"
        )
    diagnose(report, quiet, False)
    raise SystemExit(EXIT_INCOMPLETE if report.issues else EXIT_CLEAN)


@baseline_command.command("diff")
@source_options
@store_options
@expect_head_option
@click.option(
    "--snapshot",
    "before_ref",
    metavar="REF",
    help="Compare against this snapshot (number or name; default: the latest).",
)
@click.option(
    "--to",
    "after_ref",
    metavar="REF",
    help="Compare two snapshots: --snapshot (before) with this one (after); nothing is collected.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE.")
@click.option("-q", "--quiet", is_flag=True, help="No diagnostics on stderr.")
def diff_command(
    path: Path | None,
    root: Path | None,
    db: Path | None,
    key_file: Path | None,
    expect_head: str | None,
    before_ref: str | None,
    after_ref: str | None,
    fmt: str,
    output: Path | None,
    quiet: bool,
) -> None:
    """Jobs added, removed and changed since a snapshot (field by field), each as a finding.
    Exit 0 no drift, 1 drift, 3 some evidence unreadable, 4 tampered, 5 corrupt."""
    _check_head_text(expect_head)
    if after_ref is not None and (path is not None or root is not None):
        raise click.UsageError("--to compares two snapshots; give no PATH or --root with it")
    target = db_path(db)
    source = open_source(path, root) if after_ref is None else None
    issues = 0
    try:
        with open_verified(target, key_file, expect_head) as store:
            before = store.load(before_ref)
            if source is None:
                after = store.load(after_ref)
                drift = compare(before.documents, after.documents)
                described: dict[str, Any] = {"snapshot": after.info.describe()}
            else:
                report, drift = engine.drift(before.documents, source)
                issues = len(report.issues)
                described = {"source": plain(report.source)}
    except StoreError as error:
        fail(error)
    extra = {"baseline": before.info.describe(), "current": described}
    if output is not None:
        with open(output, "w", encoding="utf-8") as stream:
            _write_diff(drift, extra, fmt, stream)
    else:
        _write_diff(drift, extra, fmt, sys.stdout)
    if not quiet:
        sys.stderr.write(
            f"schedwarden: {len(drift.added)} added, {len(drift.removed)} removed, "
            f"{len(drift.changed)} changed since snapshot {before.info.id}"
            + (f"; {issues} evidence problems" if issues else "")
            + "\n"
        )
    if drift:
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_INCOMPLETE if issues else EXIT_CLEAN)


_SIGNS = {"ADDED": "+", "REMOVED": "-", "CHANGED": "~"}


def _write_diff(drift: Drift, extra: dict[str, Any], fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        json.dump(drift.document(extra), stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    for finding in drift.findings:
        sign = _SIGNS.get(finding.rule_id.rsplit("_", 1)[-1], "?")
        stream.write(
            f"{sign} {finding.severity.value:<8} {finding.rule_id:<26} "
            f"{render_untrusted(finding.message)}\n"
        )
    if not drift:
        stream.write("no drift\n")


def problem_findings(problems: list[Problem], path: str) -> list[Finding]:
    evidence = Evidence(source_kind=SourceKind.LIVE, host=os.uname().nodename, path=path)
    return [
        Finding(
            rule_id=p.code,
            title="Baseline cannot be trusted",
            severity=Severity.CRITICAL,
            techniques=("T1053", "T1565.001"),
            job_id=None,
            evidence=evidence,
            message=p.message,
            remediation="Keep the database for investigation; do not re-baseline. Restore a "
            "trusted copy or save a new baseline only after the host is known clean.",
        )
        for p in problems
    ]


@baseline_command.command("verify")
@store_options
@expect_head_option
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def verify_command(
    db: Path | None, key_file: Path | None, expect_head: str | None, fmt: str
) -> None:
    """Check the database (integrity_check), every snapshot's MAC, the chain, and with
    --expect-head a rollback. Exit 0 intact, 4 tampered, 5 corrupt or not a baseline."""
    _check_head_text(expect_head)
    target = db_path(db)
    problems: list[Problem] = []
    snapshots = 0
    head = None
    try:
        try:
            store = BaselineStore.open(target)
        except BaselineMissing:
            problems = [Problem("BASELINE_MISSING", "there is no baseline database (deleted?)")]
        else:
            with store:
                store.unlock(obtain_secret(key_file, target))
                problems = store.verify(expect_head, full=True)
                known = store.snapshots(complete_only=False)
                snapshots = len(known)
                head = known[-1].head if known else None
    except BaselineTampered as error:
        problems = [Problem(error.code, error.message)]
    except StoreError as error:
        fail(error)
    if fmt == "json":
        document = {
            "schema": "schedwarden.verify/1",
            "database": target,
            "ok": not problems,
            "snapshots": snapshots,
            "head": head,
            "findings": [plain(f) for f in problem_findings(problems, target)],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif problems:
        for problem in problems:
            click.echo(f"{problem.code}: {render_untrusted(problem.message)}")
    else:
        click.echo(f"ok: {snapshots} snapshots, head {head}")
    raise SystemExit(EXIT_TAMPERED if problems else EXIT_CLEAN)


@baseline_command.command("list")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), help="Baseline database.")
def list_command(db: Path | None) -> None:
    """The snapshots (number, name, time, host, jobs, head), unverified: run verify to trust them."""
    target = db_path(db)
    try:
        with BaselineStore.open(target) as store:
            for info in store.snapshots():
                click.echo(
                    f"{info.id}\t{render_untrusted(info.name or '-')}\t{info.created_at}\t"
                    f"{render_untrusted(info.host)}\t{info.job_count}\t{info.head}"
                )
    except StoreError as error:
        fail(error)
