"""The schedule helper process changes how long a scan takes, never what it finds."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schedwarden.collectors import schedule_prefetch
from schedwarden.collectors.linux import cron as cron_collector
from schedwarden.model import AuditReport, CronSchedule
from schedwarden.sources import ImageSource

from ..conftest import MakeRoot, run_collect

pytestmark = pytest.mark.skipif(
    not schedule_prefetch.can_fork(), reason="needs fork and two usable cores"
)


def _busy_image(make_root: MakeRoot) -> Path:
    """60 tables with many distinct schedules, CRON_TZ, `~`, macros, env lines and bad lines."""
    rng = random.Random(3)
    files: dict[str, str] = {}
    for index in range(40):
        lines = ["SHELL=/bin/sh", "MAILTO = root"]
        if index % 7 == 0:
            lines.append("CRON_TZ=Europe/Berlin")
        for _ in range(6):
            fields = (
                f"{rng.randrange(60)} {rng.randrange(24)} {rng.randrange(1, 29)} "
                f"*/{rng.randrange(1, 4)} {rng.choice(['*', 'mon-fri', '5', '0,6'])}"
            )
            lines.append(f"{fields} root /usr/bin/job{rng.randrange(99)} --x")
        lines += ["@daily root run-parts /x", "1~5 * * * * root rand", "61 * * * * root bad"]
        files[f"etc/cron.d/t{index:02d}"] = "\n".join(lines) + "\n"
    for user in ("alice", "www-data", "daemon"):
        files[f"var/spool/cron/crontabs/{user}"] = (
            "*/5 9-17 * * mon-fri /bin/a\n7 3 * * 0 /bin/b % in\n@reboot /bin/c\n"
        )
    return make_root(files)


def _scan(root: Path, min_tables: int, monkeypatch: pytest.MonkeyPatch) -> AuditReport:
    monkeypatch.setattr(schedule_prefetch, "MIN_TABLES", min_tables)
    for function in (schedule_prefetch.describe_cron, schedule_prefetch.next_cron_runs):
        function.cache_clear()  # type: ignore[attr-defined]
    return run_collect(root)


def test_same_jobs_with_and_without_the_helper(
    make_root: MakeRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _busy_image(make_root)
    helpers: list[bool] = []
    real = schedule_prefetch.prefetched

    @contextmanager
    def watched(*args: Any) -> Iterator[schedule_prefetch.ScheduleFacts | None]:
        with real(*args) as facts:
            helpers.append(facts is not None)
            yield facts

    monkeypatch.setattr(cron_collector, "prefetched", watched)
    if not schedule_prefetch.can_fork():  # a thread another test left behind is still ending
        pytest.skip("another thread is alive: the helper would (rightly) not start")
    alone = _scan(root, 10**9, monkeypatch)
    helped = _scan(root, 10, monkeypatch)
    assert helpers == [False, True]
    assert alone == helped
    cron = [job for job in helped.jobs if isinstance(job.schedule, CronSchedule)]
    assert len(cron) > 200 and all(job.next_runs for job in cron if not job.schedule.randomized)


def test_a_helper_that_dies_costs_nothing_but_time(
    make_root: MakeRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _busy_image(make_root)
    alone = _scan(root, 10**9, monkeypatch)
    monkeypatch.setattr(schedule_prefetch, "_compute", lambda *args: None)
    assert _scan(root, 10, monkeypatch) == alone


def test_facts_arrive_through_the_pipe(
    make_root: MakeRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _busy_image(make_root)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    tables = [f"/etc/cron.d/{p.name}" for p in sorted((root / "etc/cron.d").iterdir())]
    monkeypatch.setattr(schedule_prefetch, "MIN_TABLES", 1)
    if not schedule_prefetch.can_fork():
        pytest.skip("another thread is alive: the helper would (rightly) not start")
    with schedule_prefetch.prefetched(ImageSource(str(root)), tables, now, "UTC") as facts:
        assert facts is not None
        expression = "*/5 9-17 * * mon-fri"  # only in the spools, which were not given
        lines = (root / "etc/cron.d/t00").read_text().splitlines()
        first = next(line for line in lines if line[0].isdigit()).split(" root ")[0]
        got = None
        for _ in range(2000):  # the helper needs a moment; nothing here waits for it
            got = facts.runs(first, "UTC", 3)
            if got is not None:
                break
            threading.Event().wait(0.005)
        assert got == schedule_prefetch.next_cron_runs(first, "UTC", now, 3)
        assert facts.description(first) == schedule_prefetch.describe_cron(first)
        assert facts.runs(expression, "UTC", 3) is None
        assert facts.runs(first, "Europe/Berlin", 3) is None  # another zone: not its answer


def test_no_helper_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not schedule_prefetch.can_fork()
    finally:
        stop.set()
        thread.join()
