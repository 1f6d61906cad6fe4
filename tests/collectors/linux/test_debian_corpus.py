"""The real Debian 12 cron files of ../shared/corpus: every file yields its jobs, with no issue."""

from __future__ import annotations

from collections import Counter

from schedwarden.model import Mechanism
from tests.conftest import corpus_path, run_audit

# Job lines per table, read off the package files (comment-only files such as rsnapshot yield none).
CRON_LINES = {
    "/etc/crontab": 4,
    "/etc/cron.d/amavisd-new": 2,
    "/etc/cron.d/anacron": 1,
    "/etc/cron.d/atop": 1,
    "/etc/cron.d/awstats": 2,
    "/etc/cron.d/backupninja": 1,
    "/etc/cron.d/cacti": 1,
    "/etc/cron.d/certbot": 1,
    "/etc/cron.d/cron-apt": 1,
    "/etc/cron.d/dma": 1,
    "/etc/cron.d/e2scrub_all": 2,
    "/etc/cron.d/greylistclean": 1,
    "/etc/cron.d/logcheck": 2,
    "/etc/cron.d/mdadm": 1,
    "/etc/cron.d/munin": 4,
    "/etc/cron.d/munin-node": 1,
    "/etc/cron.d/ntpsec": 1,
    "/etc/cron.d/php": 1,
    "/etc/cron.d/sysstat": 2,
    "/etc/cron.d/tiger": 1,
}
# .timer files in lib/systemd/system (templates such as pg_dump@.timer included once).
TIMERS = 37
# Files per periodic folder, the `.placeholder` of cron-daemon-common included.
PERIODIC_FILES = {"hourly": 1, "daily": 24, "weekly": 8, "monthly": 3, "yearly": 1}


def test_debian_benign_root_audits_clean_with_every_job() -> None:
    root = corpus_path("linux", "debian-benign-root")
    report = run_audit(root)

    assert report.issues == ()
    assert report.findings == ()
    cron = Counter(j.evidence.path for j in report.jobs if j.mechanism is Mechanism.CRON)
    assert dict(cron) == CRON_LINES
    periodic = Counter(
        j.evidence.path.split("/")[2].removeprefix("cron.")
        for j in report.jobs
        if j.mechanism is Mechanism.PERIODIC
    )
    assert dict(periodic) == PERIODIC_FILES
    # systemd-cron's anacrontab has its three standard lines commented out.
    assert not [j for j in report.jobs if j.mechanism is Mechanism.ANACRON]
    timers = [j for j in report.jobs if j.mechanism is Mechanism.SYSTEMD_TIMER]
    assert len(timers) == TIMERS
    assert len(report.jobs) == sum(CRON_LINES.values()) + sum(PERIODIC_FILES.values()) + TIMERS


def test_debian_benign_root_effective_and_schedules() -> None:
    report = run_audit(corpus_path("linux", "debian-benign-root"))
    assert report.source["cron_daemon"] == "debian-cron"  # inferred from cron-daemon-common
    dormant = sorted(
        j.name
        for j in report.jobs
        if j.effective.runs is not True and j.mechanism is not Mechanism.SYSTEMD_TIMER
    )
    assert dormant == [
        f"/etc/cron.{c}/.placeholder" for c in ("daily", "hourly", "monthly", "weekly", "yearly")
    ]
    by_name = {j.name: j for j in report.jobs}
    hourly = by_name["/etc/crontab:18"]
    assert hourly.run_as == "root"
    assert hourly.schedule.description == "At 17 minutes past the hour"
    assert [t.isoformat() for t in hourly.next_runs] == [
        "2026-11-28T12:17:00+00:00",
        "2026-11-28T13:17:00+00:00",
        "2026-11-28T14:17:00+00:00",
    ]
    logrotate = by_name["/etc/cron.daily/logrotate"]
    assert logrotate.schedule.kind == "driven"
    assert logrotate.schedule.driver == "/etc/crontab:19"
    assert logrotate.next_runs[0].isoformat() == "2026-11-29T06:25:00+00:00"


def test_debian_benign_timers_resolve_to_their_services() -> None:
    """Every timer is tied to the unit it starts and that unit's commands; the corpus kept no
    symlinks, so no timer is enabled and templates have no instance."""
    report = run_audit(corpus_path("linux", "debian-benign-root"))
    timers = {j.name: j for j in report.jobs if j.mechanism is Mechanism.SYSTEMD_TIMER}
    for job in timers.values():
        assert job.actions, job.name
        assert job.effective.runs is False
        assert job.schedule.kind in ("calendar", "monotonic", "composite"), job.name
        assert job.evidence.path == f"/lib/systemd/system/{job.name}"
    apt = timers["apt-daily.timer"]
    assert [a.command_line for a in apt.actions] == [  # type: ignore[union-attr]
        "/usr/lib/apt/apt-helper wait-online",
        "/usr/lib/apt/apt.systemd.daily update",
    ]
    assert [a.phase for a in apt.actions] == ["ExecStartPre", "ExecStart"]  # type: ignore[union-attr]
    assert apt.evidence.related == ("/lib/systemd/system/apt-daily.service",)
    assert apt.schedule.normalized == ("*-*-* 06,18:00:00",)  # type: ignore[union-attr]
    assert apt.schedule.persistent is True  # type: ignore[union-attr]
    assert apt.next_runs[0].isoformat() == "2026-11-28T18:00:00+00:00"
    assert timers["man-db.timer"].run_as == "man"
    assert timers["cron-daily.timer"].actions[0].detail == "cron-daily.target"  # type: ignore[union-attr]
    assert timers["pg_dump@.timer"].effective.reason == "template without an enabled instance"
    assert timers["etckeeper.timer"].schedule.description == (
        "15min after boot; 1d after the unit last started"
    )
