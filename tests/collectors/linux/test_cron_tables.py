"""/etc/crontab, /etc/cron.d and the user spools of every distribution."""

from __future__ import annotations

import os
from pathlib import Path

from schedwarden.model import Mechanism, ScheduledJob
from schedwarden.outputs.serialize import plain
from tests.conftest import (
    ALPINE_OS_RELEASE,
    RHEL_OS_RELEASE,
    MakeRoot,
    run_audit,
    run_collect,
)

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z

SYSTEM_TAB = (
    "# /etc/crontab\n"
    "SHELL=/bin/sh\n"
    'MAILTO = "ops@example.org"\n'
    "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
    "@reboot root /usr/local/bin/boot-task --now\n"
    "*/10 8-18 * * mon-fri www-data /usr/bin/php /var/www/cron.php\n"
)


def _jobs(report_jobs: tuple[ScheduledJob, ...], path: str) -> list[ScheduledJob]:
    return [j for j in report_jobs if j.evidence.path == path]


def test_system_crontab_full_record(make_root: MakeRoot) -> None:
    root = make_root({"etc/crontab": SYSTEM_TAB})
    os.utime(root / "etc/crontab", (MTIME, MTIME))
    report = run_collect(root)

    assert report.issues == ()
    jobs = _jobs(report.jobs, "/etc/crontab")
    assert len(jobs) == 3
    record = plain(jobs[2])
    assert record == {
        "job_id": jobs[2].job_id,
        "mechanism": "cron",
        "technique": "T1053.003",
        "name": "/etc/crontab:6",
        "run_as": "www-data",
        "schedule": {
            "kind": "cron",
            "expression": "*/10 8-18 * * mon-fri",
            "minute": "*/10",
            "hour": "8-18",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "mon-fri",
            "description": "Every 10 minutes, between 08:00 and 18:59, Monday through Friday",
            "timezone": None,
            "randomized": False,
        },
        "actions": [
            {
                "kind": "exec",
                "command_line": "/usr/bin/php /var/www/cron.php",
                "executable": "/usr/bin/php",
                "arguments": ["/var/www/cron.php"],
                "working_dir": None,
                "stdin": None,
                "shell": "/bin/sh",
                "phase": None,
                "prefixes": None,
                "argv0": None,
            }
        ],
        "effective": {
            "runs": True,
            "reason": "loaded by the cron daemon (debian-cron)",
            "daemon": "debian-cron",
        },
        "evidence": {
            "source_kind": "image",
            "host": "testhost",
            "path": "/etc/crontab",
            "related": [],
            "line": 6,
            "offset": len(SYSTEM_TAB.split("*/10")[0].encode()),
            "sha256": jobs[2].evidence.sha256,
            "owner": "root",
            "group": "root",
            "uid": 0,
            "gid": 0,
            "mode": "0644",
            "mtime": "2023-11-14T22:13:20Z",
        },
        "environment": {"SHELL": "/bin/sh", "MAILTO": "ops@example.org"},
        "enabled": True,
        "hidden": False,
        "raw": "*/10 8-18 * * mon-fri www-data /usr/bin/php /var/www/cron.php",
        "next_runs": ["2026-11-30T08:00:00Z", "2026-11-30T08:10:00Z", "2026-11-30T08:20:00Z"],
        "extra": {"table": "system_crontab"},
    }
    reboot = jobs[1]
    assert reboot.schedule.kind == "macro"
    assert reboot.schedule.description.startswith("At every start")
    assert reboot.next_runs == ()
    assert jobs[0].job_id != jobs[1].job_id
    # Same content, same place: the same id on every run.
    assert [j.job_id for j in run_collect(root).jobs] == [j.job_id for j in report.jobs]


def test_every_spool_layout_is_read(make_root: MakeRoot) -> None:
    tab = "0 3 * * * /home/alice/backup.sh\n"
    root = make_root(
        {
            "var/spool/cron/crontabs/alice": (tab, 0o600),  # Debian/Ubuntu
            "var/spool/cron/alice": (tab, 0o600),  # RHEL/Fedora/Arch
            "var/spool/cron/tabs/alice": (tab, 0o600),  # SUSE
            "etc/crontabs/alice": (tab, 0o600),  # busybox/Alpine
        }
    )
    os.chown(root / "var/spool/cron/crontabs/alice", 1000, 1000)  # crontab(1) hands it to alice
    report = run_collect(root)
    assert report.issues == ()
    paths = sorted(j.evidence.path for j in report.jobs)
    assert paths == [
        "/etc/crontabs/alice",
        "/var/spool/cron/alice",
        "/var/spool/cron/crontabs/alice",
        "/var/spool/cron/tabs/alice",
    ]
    assert {j.run_as for j in report.jobs} == {"alice"}
    # On Debian only the Debian spool is read by the daemon; the others are dormant evidence.
    runs = {j.evidence.path: j.effective.runs for j in report.jobs}
    assert runs == {
        "/etc/crontabs/alice": False,
        "/var/spool/cron/alice": False,
        "/var/spool/cron/crontabs/alice": True,
        "/var/spool/cron/tabs/alice": False,
    }
    rhel = next(j for j in report.jobs if j.evidence.path == "/var/spool/cron/alice")
    assert "does not read /var/spool/cron" in rhel.effective.reason


def test_alpine_spool_link_is_read_once(make_root: MakeRoot) -> None:
    root = make_root(
        {"etc/crontabs/root": ("*/15 * * * * run-parts /etc/periodic/15min\n", 0o600)},
        os_release=ALPINE_OS_RELEASE,
    )
    (root / "var/spool/cron").mkdir(parents=True)
    os.symlink("/etc/crontabs", root / "var/spool/cron/crontabs")
    report = run_collect(root)
    cron_jobs = [j for j in report.jobs if j.mechanism is Mechanism.CRON]
    assert len(cron_jobs) == 1
    assert cron_jobs[0].effective.runs is True
    assert cron_jobs[0].effective.daemon == "busybox-crond"


def test_busybox_does_not_read_system_tables(make_root: MakeRoot) -> None:
    root = make_root({"etc/crontab": "* * * * * root /bin/true\n"}, os_release=ALPINE_OS_RELEASE)
    [job] = run_collect(root).jobs
    assert job.effective.runs is False
    assert "reads only its spool" in job.effective.reason


def test_name_rules_per_distribution(make_root: MakeRoot, tmp_path: Path) -> None:
    """reference/linux.md (e) 1: cron.d names with dots run on cronie, not on Debian."""
    files = {
        "etc/cron.d/evil.sh": "* * * * * root /tmp/x\n",
        "etc/cron.d/.hidden": "* * * * * root /tmp/y\n",
        "etc/cron.d/good-name": "* * * * * root /usr/bin/true\n",
        "etc/cron.d/job.rpmnew": "* * * * * root /usr/bin/false\n",
    }
    debian = {j.evidence.path: j.effective for j in run_collect(make_root(files)).jobs}
    rhel = {
        j.evidence.path: j.effective
        for j in run_collect(make_root(files, os_release=RHEL_OS_RELEASE, name="rhel")).jobs
    }
    assert len(debian) == len(rhel) == 4
    assert debian["/etc/cron.d/evil.sh"].runs is False
    assert "run-parts rule" in debian["/etc/cron.d/evil.sh"].reason
    assert rhel["/etc/cron.d/evil.sh"].runs is True
    assert debian["/etc/cron.d/.hidden"].runs is False
    assert rhel["/etc/cron.d/.hidden"].runs is False
    assert "starting with '.'" in rhel["/etc/cron.d/.hidden"].reason
    assert rhel["/etc/cron.d/job.rpmnew"].runs is False
    assert debian["/etc/cron.d/good-name"].runs is rhel["/etc/cron.d/good-name"].runs is True


def test_debian_drops_a_whole_file_on_one_bad_line(make_root: MakeRoot) -> None:
    text = "* * * * * root /bin/true\n61 * * * * root /bin/false\n"
    debian = run_collect(make_root({"etc/cron.d/mixed": text}))
    rhel = run_collect(
        make_root({"etc/cron.d/mixed": text}, os_release=RHEL_OS_RELEASE, name="rhel")
    )
    for report in (debian, rhel):
        assert [(i.code, i.evidence.line) for i in report.issues] == [("PARSE_ERROR", 2)]
        assert len(report.jobs) == 1
    assert debian.jobs[0].effective.runs is False
    assert "syntax error on line 2" in debian.jobs[0].effective.reason
    assert rhel.jobs[0].effective.runs is True


def test_user_crontab_mode_owner_and_orphans(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "var/spool/cron/crontabs/alice": ("@hourly /usr/bin/true\n", 0o644),
            "var/spool/cron/crontabs/mallory": ("@hourly /usr/bin/true\n", 0o600),
        }
    )
    os.chown(root / "var/spool/cron/crontabs/alice", 1000, 1000)
    jobs = {j.run_as: j for j in run_collect(root).jobs}
    assert "INSECURE MODE (mode 0600 expected)" in jobs["alice"].effective.reason
    assert "ORPHAN" in jobs["mallory"].effective.reason


def test_cron_allow_and_deny_are_recorded(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/cron.allow": "root\nalice\n",
            "var/spool/cron/crontabs/alice": ("@daily /usr/bin/true\n", 0o600),
            "var/spool/cron/crontabs/www-data": ("@daily /usr/bin/true\n", 0o600),
        }
    )
    access = {j.run_as: j.extra["crontab_access"] for j in run_collect(root).jobs}
    assert access == {
        "alice": "allowed (listed in /etc/cron.allow)",
        "www-data": "denied (not in /etc/cron.allow)",
    }


def test_unknown_daemon_gives_undecided_when_daemons_disagree(make_root: MakeRoot) -> None:
    root = make_root({"etc/cron.d/a.b": "* * * * * root /bin/true\n"}, os_release=None)
    [job] = run_collect(root).jobs
    assert job.effective.runs is None
    assert job.effective.reason.startswith("depends on the cron daemon")


def test_audit_flags_env_hijack_for_every_later_job(make_root: MakeRoot) -> None:
    """reference/linux.md (e) 3: SHELL/BASH_ENV/PATH lines poison the stock jobs after them."""
    tab = (
        "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
        "SHELL=/bin/bash\nBASH_ENV=/dev/shm/.r\nPATH=/tmp:/usr/bin:/bin\n"
        "25 6 * * * root test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily\n"
        "47 6 * * 7 root test -x /usr/sbin/anacron || run-parts --report /etc/cron.weekly\n"
    )
    report = run_audit(make_root({"etc/crontab": tab}))
    by_rule: dict[str, list[int | None]] = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding.evidence.line)
    assert by_rule == {"CRON_ENV_STARTUP_FILE": [5, 6], "CRON_ENV_WRITABLE_PATH": [5, 6]}


def test_words_split_only_where_the_shell_splits_them() -> None:
    """NBSP, \\v, \\f, \\x1c and \\r are not blanks to the shell: `/bin/sh\\xa0-c id` is one word."""
    from schedwarden.collectors.common import split_words

    assert split_words("/bin/sh\xa0-c id") == ["/bin/sh\xa0-c", "id"]
    assert split_words("a\x1cb\x0bc d") == ["a\x1cb\x0bc", "d"]
    assert split_words("cmd\r") == ["cmd\r"]
    assert split_words("sh -c 'curl x | sh'\t# not a comment") == [
        "sh",
        "-c",
        "curl x | sh",
        "#",
        "not",
        "a",
        "comment",
    ]
    assert split_words('x "unterminated y') == ["x", '"unterminated', "y"]
