"""Crash durability (reliability M5, small): `baseline save` killed with SIGKILL at random moments
leaves no corrupt database and no half snapshot, and every acknowledged snapshot survives.

Each run starts a child that saves snapshots of a generated image in a loop, through the same
command a user runs, and reports each chain head it printed; the parent kills it after a random
delay, then opens the database read-only, runs integrity_check and verifies the chain. Children
are forked from a forkserver with the package already imported, so a run costs milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import random
import signal
import sqlite3
from multiprocessing.connection import Connection
from pathlib import Path

from schedwarden.store import BaselineStore

KEY = b"crash test key"
RUNS = 50


def make_image(root: Path, jobs: int = 120) -> None:
    """A Debian-like root with cron tables, periodic scripts and timers."""
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/cron.daily").mkdir()
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/crontab").write_text(
        "".join(f"{i % 60} * * * * root /usr/bin/job{i} --flag\n" for i in range(jobs))
    )
    for i in range(jobs // 4):
        (root / f"etc/cron.d/t{i}").write_text(f"*/5 * * * * root /opt/t{i}\n")
        script = root / f"etc/cron.daily/s{i}"
        script.write_text(f"#!/bin/sh\n/opt/s{i}\n")
        script.chmod(0o755)
        (root / f"etc/systemd/system/u{i}.timer").write_text("[Timer]\nOnCalendar=hourly\n")
        (root / f"etc/systemd/system/u{i}.service").write_text(f"[Service]\nExecStart=/opt/u{i}\n")


def child(root: str, db: str, report: Connection) -> None:
    """Save snapshots forever through the CLI, telling the parent each head that was printed."""
    from schedwarden.cli.main import main

    os.environ["SCHEDWARDEN_BASELINE_KEY"] = KEY.decode()
    while True:
        out = io.StringIO()
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(io.StringIO()),
            contextlib.suppress(SystemExit),
        ):
            main(["baseline", "save", root, "--db", db, "-q"], standalone_mode=False)
        if out.getvalue().strip():
            report.send(out.getvalue().strip())


def check(db: str, acknowledged: str | None) -> tuple[int, list[str]]:
    """(snapshots, problems) of the database after a crash."""
    problems: list[str] = []
    if not os.path.exists(db):
        return 0, [] if acknowledged is None else ["database missing after an acknowledged save"]
    with BaselineStore.open(db) as store:  # header, -wal, quick_check, schema
        store.unlock(KEY)
        problems += [p.code + ": " + p.message for p in store.verify(acknowledged, full=True)]
        infos = store.snapshots(complete_only=False)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for info in infos:
        rows = con.execute(
            "SELECT COUNT(*) FROM jobs WHERE snapshot_id = ?", (info.id,)
        ).fetchone()[0]
        if rows != info.job_count:
            problems.append(f"half snapshot {info.id}: {rows} of {info.job_count} rows")
    orphans = con.execute(
        "SELECT COUNT(*) FROM jobs WHERE snapshot_id NOT IN (SELECT id FROM snapshots)"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} rows of an invisible snapshot")
    con.close()
    return len(infos), problems


def crash_runs(
    root: Path, db: Path, runs: int, max_delay: float, seed: int, rotate: int = 0
) -> tuple[int, int, list[str]]:
    """(runs done, snapshots committed, problems) over `runs` SIGKILLs; with `rotate`, a fresh
    database every `rotate` runs (the full check of every run grows with the history)."""
    context = multiprocessing.get_context("forkserver")
    # the verb runs in a forked child: load it (the CLI imports verbs on first use) beforehand
    context.set_forkserver_preload(["schedwarden.cli.main", "schedwarden.cli.baseline"])
    rng = random.Random(seed)
    problems: list[str] = []
    acknowledged: str | None = None
    snapshots = committed = 0
    for run in range(runs):
        if rotate and run and run % rotate == 0:
            committed += snapshots
            snapshots, acknowledged = 0, None
            db = db.with_name(f"baseline-{run}.db")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=child, args=(str(root), str(db), sender))
        process.start()
        sender.close()
        if receiver.poll(rng.uniform(0.0, max_delay)):
            pass
        os.kill(process.pid or 0, signal.SIGKILL)
        process.join()
        while receiver.poll():
            try:
                acknowledged = receiver.recv()
            except EOFError:
                break
        receiver.close()
        try:
            snapshots, found = check(str(db), acknowledged)
        except Exception as exc:
            found = [f"{type(exc).__name__}: {exc}"]
        problems += [f"run {run}: {p}" for p in found]
    return runs, committed + snapshots, problems


def test_sigkill_during_baseline_save_never_corrupts(tmp_path: Path) -> None:
    root = tmp_path / "image"
    make_image(root, jobs=60)
    db = tmp_path / "state" / "baseline.db"
    runs, snapshots, problems = crash_runs(root, db, RUNS, max_delay=0.35, seed=1053)
    assert problems == []
    assert runs == RUNS
    assert snapshots >= 1  # some saves completed between the kills
