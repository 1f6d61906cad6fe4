"""The monitor end to end on a temporary root: create, rename-over, delete, a new user folder, a
replaced folder, overflow recovery, the periodic rescan, a baseline at start, and the CLI's
readiness, heartbeat and alert lines. Every wait is bounded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schedwarden.monitor import Monitor, run_in_thread
from schedwarden.sources import ImageSource
from schedwarden.store import document
from tests.conftest import MakeRoot, run_collect

ALERT_WITHIN = 2.0  # seconds, the promise
WAIT = 10.0  # the longest any test waits for anything

FILES = {
    "etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    "etc/cron.d/certbot": "0 */12 * * * root certbot -q renew\n",
}


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def emit(self, alert: Any) -> None:
        with self._changed:
            self.alerts.append(dict(alert))
            self._changed.notify_all()

    def close(self) -> None:
        pass

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = WAIT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for alert in self.alerts:
                    if match(alert):
                        return alert
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [(a["kind"], a.get("identity")) for a in self.alerts]
                    raise AssertionError(f"no matching alert within {timeout}s; got {kinds}")
                self._changed.wait(left)

    def kinds(self) -> list[str]:
        with self._changed:
            return [a["kind"] for a in self.alerts]


@pytest.fixture
def monitored(make_root: MakeRoot) -> Iterator[tuple[Path, Monitor, ListSink]]:
    root = make_root(FILES)
    sink = ListSink()
    monitor = Monitor(ImageSource(str(root)), [sink], debounce=0.05, heartbeat=0.5)
    thread, stop = run_in_thread(monitor)
    assert monitor.ready.wait(WAIT), "the monitor never became ready"
    yield root, monitor, sink
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive()


def _named(kind: str, name: str) -> Callable[[dict[str, Any]], bool]:
    def match(alert: dict[str, Any]) -> bool:
        job = alert.get("after") or alert.get("before") or {}
        return bool(alert["kind"] == kind and job.get("name") == name)

    return match


def _timed(
    sink: ListSink, change: Callable[[], object], match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    start = time.monotonic()
    change()
    alert = sink.wait_for(match)
    elapsed = time.monotonic() - start
    assert elapsed < ALERT_WITHIN, f"alert after {elapsed:.2f}s"
    return alert


def test_create_is_alerted_within_two_seconds(monitored: tuple[Path, Monitor, ListSink]) -> None:
    root, _, sink = monitored
    assert sink.alerts == []  # no baseline: the first scan is the starting state
    alert = _timed(
        sink,
        lambda: (root / "etc/cron.d/evil").write_text("* * * * * root /tmp/x\x1b[2J\n"),
        _named("job_added", "/etc/cron.d/evil:1"),
    )
    assert alert["schema"] == "schedwarden.alert/1"
    assert alert["severity"] == "high"
    assert alert["trigger"] == "event"
    assert alert["findings"][0]["rule_id"] == "DRIFT_JOB_ADDED"
    assert alert["after"]["actions"][0]["command_line"] == "/tmp/x\\x1b[2J"
    assert "\x1b" not in json.dumps(alert, ensure_ascii=False)


def test_rename_over_saves_keep_being_seen(monitored: tuple[Path, Monitor, ListSink]) -> None:
    """`crontab -e`, vim and `sed -i` write a new file and rename it over the old one."""
    root, _, sink = monitored
    target = root / "etc/crontab"

    def save(text: str) -> None:
        temp = root / "etc/.crontab.swp"
        temp.write_text(text)
        os.replace(temp, target)

    for hour in (3, 4, 5):
        alert = _timed(
            sink,
            lambda hour=hour: save(f"0 {hour} * * * root /usr/bin/nightly{hour}\n"),  # type: ignore[misc]
            lambda a, hour=hour: (  # type: ignore[misc]
                a["kind"] == "job_changed"
                and a["after"]["schedule"]["expression"] == f"0 {hour} * * *"
            ),
        )
        assert {f["field"] for f in alert["fields"]} >= {"command", "schedule"}


def test_delete_is_alerted(monitored: tuple[Path, Monitor, ListSink]) -> None:
    root, _, sink = monitored
    alert = _timed(
        sink,
        lambda: (root / "etc/cron.d/certbot").unlink(),
        _named("job_removed", "/etc/cron.d/certbot:1"),
    )
    assert alert["before"]["evidence"]["path"] == "/etc/cron.d/certbot"
    assert alert["after"] is None


def test_new_user_folder_is_watched_then_scanned(monitored: tuple[Path, Monitor, ListSink]) -> None:
    root, _, sink = monitored

    def create() -> None:
        folder = root / "home/alice/.config/systemd/user"
        folder.mkdir(parents=True)
        (folder / "sync.service").write_text("[Service]\nExecStart=/home/alice/.x/sync\n")
        (folder / "sync.timer").write_text("[Timer]\nOnCalendar=*:0/10\n")

    alert = _timed(sink, create, _named("job_added", "user:alice/sync.timer"))
    assert alert["after"]["run_as"] == "alice"
    # the new folder is watched now: a later edit inside it is seen as well
    _timed(
        sink,
        lambda: (root / "home/alice/.config/systemd/user/sync.service").write_text(
            "[Service]\nExecStart=/tmp/other\n"
        ),
        _named("job_changed", "user:alice/sync.timer"),
    )


def test_a_replaced_folder_is_watched_again(monitored: tuple[Path, Monitor, ListSink]) -> None:
    root, _, sink = monitored
    shutil.rmtree(root / "etc/cron.d")
    sink.wait_for(_named("job_removed", "/etc/cron.d/certbot:1"))
    (root / "etc/cron.d").mkdir()
    time.sleep(0.3)
    _timed(
        sink,
        lambda: (root / "etc/cron.d/back").write_text("* * * * * root /tmp/back\n"),
        _named("job_added", "/etc/cron.d/back:1"),
    )


def test_a_new_file_beside_a_watched_one_in_a_busy_folder_is_ignored(
    monitored: tuple[Path, Monitor, ListSink],
) -> None:
    root, _, sink = monitored
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc/cron.d/x").write_text("* * * * * root /bin/true\n")
    sink.wait_for(_named("job_added", "/etc/cron.d/x:1"))
    assert sink.kinds() == ["job_added"]


def test_overflow_is_visible_and_recovered_by_a_rescan(
    monitored: tuple[Path, Monitor, ListSink],
) -> None:
    root, monitor, sink = monitored
    monitor.accept_notes = False  # these events are lost, as in a queue overflow
    (root / "etc/cron.d/lost").write_text("* * * * * root /tmp/lost\n")
    time.sleep(0.5)
    monitor.accept_notes = True
    start = time.monotonic()
    monitor.watcher.simulate_overflow()
    overflow = sink.wait_for(lambda a: a["kind"] == "overflow")
    assert overflow["severity"] == "high" and overflow["status"] == "events_lost"
    alert = sink.wait_for(_named("job_added", "/etc/cron.d/lost:1"))
    assert alert["trigger"] == "overflow"
    assert time.monotonic() - start < ALERT_WITHIN
    assert sink.kinds() == ["overflow", "job_added"]
    assert monitor.counters.overflows == 1


def test_periodic_rescan_finds_what_events_missed(make_root: MakeRoot) -> None:
    root = make_root(FILES)
    sink = ListSink()
    monitor = Monitor(ImageSource(str(root)), [sink], rescan_interval=1.0, heartbeat=60)
    monitor.accept_notes = False
    thread, stop = run_in_thread(monitor)
    try:
        assert monitor.ready.wait(WAIT)
        (root / "etc/cron.d/quiet").write_text("* * * * * root /tmp/quiet\n")
        alert = sink.wait_for(_named("job_added", "/etc/cron.d/quiet:1"))
        assert alert["trigger"] == "periodic"
    finally:
        stop.set()
        thread.join(WAIT)


def test_drift_since_the_baseline_is_alerted_at_start(make_root: MakeRoot) -> None:
    root = make_root(FILES)
    baseline = [document(job) for job in run_collect(root).jobs]
    (root / "etc/cron.d/certbot").write_text("0 */12 * * * root certbot -q renew; id\n")
    sink = ListSink()
    monitor = Monitor(ImageSource(str(root)), [sink], baseline=baseline, heartbeat=60)
    thread, stop = run_in_thread(monitor)
    try:
        alert = sink.wait_for(_named("job_changed", "/etc/cron.d/certbot:1"))
        assert alert["trigger"] == "start"
        assert monitor.ready.wait(WAIT)
    finally:
        stop.set()
        thread.join(WAIT)


def test_a_dead_watcher_is_an_alert_and_is_restarted(
    monitored: tuple[Path, Monitor, ListSink],
) -> None:
    root, monitor, sink = monitored
    monitor.watcher.observer.stop()
    sink.wait_for(lambda a: a["kind"] == "watcher_restarted")
    deadline = time.monotonic() + WAIT
    while not monitor.watcher.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    _timed(
        sink,
        lambda: (root / "etc/cron.d/after").write_text("* * * * * root /tmp/after\n"),
        _named("job_added", "/etc/cron.d/after:1"),
    )


def _read_until(stream: Any, needle: str, timeout: float = WAIT) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not seen; got {lines}")


def test_cli_ready_heartbeat_alert_and_clean_stop(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(FILES)
    alerts = tmp_path / "alerts.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", "from schedwarden.cli.main import main; main()", "monitor",
         "--root", str(root), "-o", str(alerts), "--sink", "stdout", "--heartbeat", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None and process.stdout is not None
        ready = _read_until(process.stderr, "ready")[-1]
        assert ready.startswith("schedwarden monitor: ready watcher=inotify")
        assert "jobs=2" in ready
        _read_until(process.stderr, "heartbeat")
        (root / "etc/cron.d/new").write_text("@reboot root /opt/implant\n")
        line = process.stdout.readline()
        alert = json.loads(line)
        assert alert["kind"] == "job_added"
        assert alert["after"]["name"] == "/etc/cron.d/new:1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
        assert [json.loads(x)["kind"] for x in alerts.read_text().splitlines()] == ["job_added"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)


def test_cli_refuses_alerts_inside_the_root_and_loose_files(make_root: MakeRoot) -> None:
    from click.testing import CliRunner

    from schedwarden.cli.main import main

    root = make_root(FILES)
    result = CliRunner().invoke(main, ["monitor", str(root), "-o", str(root / "alerts.jsonl")])
    assert result.exit_code == 2
    assert "inside the evidence root" in result.stderr
    result = CliRunner().invoke(main, ["monitor", str(root / "etc/crontab")])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["monitor", str(root), "--sink", "ftp://x"])
    assert result.exit_code == 2
