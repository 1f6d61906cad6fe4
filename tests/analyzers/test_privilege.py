"""Least privilege (reference/linux.md (e) 4, windows.md (f) 8): every finding names the exact
file or folder and who can write it, from the image's own modes, owners, passwd and group."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schedwarden.analyzers.privilege import simple_commands, wanted_paths
from schedwarden.model import AuditReport, ExecAction, Finding, Mechanism, Severity
from tests.conftest import FileSpec, MakeRoot, run_audit

PRIVILEGE_RULES = {
    "WRITABLE_JOB_TARGET",
    "MISSING_TARGET_IN_WRITABLE_DIR",
    "WRITABLE_PATH_ENTRY",
    "WILDCARD_INJECTION",
    "WRITABLE_JOB_DEFINITION",
    "UNQUOTED_PATH_WITH_SPACES",
}


def _audit(make_root: MakeRoot, files: dict[str, FileSpec], setup: object = None) -> AuditReport:
    root = make_root(files)
    if callable(setup):
        setup(root)
    return run_audit(root)


def _findings(report: AuditReport) -> list[Finding]:
    return [f for f in report.findings if f.rule_id in PRIVILEGE_RULES]


def _one(report: AuditReport, rule_id: str) -> Finding:
    [finding] = [f for f in _findings(report) if f.rule_id == rule_id]
    return finding


def _mkdir(root: Path, rel: str, mode: int, owner: tuple[int, int] = (0, 0)) -> None:
    path = root / rel
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, *owner)
    os.chmod(path, mode)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sets file owners")


@needs_root
def test_root_script_in_a_group_writable_folder(make_root: MakeRoot) -> None:
    """linux.md (e) 4: root-owned script, its folder group-writable by www-data."""

    def setup(root: Path) -> None:
        _mkdir(root, "opt/app/bin", 0o775, (0, 33))

    report = _audit(
        make_root,
        {
            "etc/cron.d/backup": "0 * * * * root /opt/app/bin/backup.sh\n",
            "opt/app/bin/backup.sh": ("#!/bin/sh\n", 0o755),
        },
        setup,
    )
    finding = _one(report, "WRITABLE_JOB_TARGET")
    assert finding.severity is Severity.HIGH
    assert finding.message == (
        "the job (as root) runs /opt/app/bin/backup.sh (through its folder /opt/app/bin), and "
        "group www-data can write it (mode 0775; members: www-data), so the file can be replaced"
    )
    assert finding.job_id == report.jobs[0].job_id
    assert "T1574" in finding.techniques


@needs_root
def test_wildcard_in_a_world_writable_folder(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        _mkdir(root, "srv/up", 0o777)

    report = _audit(
        make_root, {"etc/cron.d/b": "30 2 * * * root cd /srv/up && tar czf /b.tgz *\n"}, setup
    )
    finding = _one(report, "WILDCARD_INJECTION")
    assert finding.severity is Severity.CRITICAL
    assert "'tar czf /b.tgz *' in /srv/up" in finding.message
    assert "every user can write it (mode 0777)" in finding.message


@needs_root
def test_quoted_wildcard_and_a_root_only_folder_are_fine(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        _mkdir(root, "srv/up", 0o777)
        _mkdir(root, "srv/own", 0o755)

    report = _audit(
        make_root,
        {
            "etc/cron.d/b": "30 2 * * * root cd /srv/up && tar czf /b.tgz '*'\n"
            "31 2 * * * root cd /srv/own && chown root *\n",
        },
        setup,
    )
    assert _findings(report) == []


@needs_root
def test_relative_command_through_a_writable_path_folder(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        _mkdir(root, "opt/tools", 0o755, (1000, 1000))
        _mkdir(root, "usr/bin", 0o755)
        (root / "usr/bin/run-parts").write_text("")

    report = _audit(
        make_root,
        {
            "etc/crontab": "PATH=/opt/tools:/usr/bin:/bin\n17 * * * * root run-parts /etc/cron.hourly\n"
        },
        setup,
    )
    finding = _one(report, "WRITABLE_PATH_ENTRY")
    assert "runs 'run-parts' by name; PATH searches /opt/tools first" in finding.message
    assert "it is owned by alice" in finding.message


@needs_root
def test_path_folder_after_the_real_command_does_not_matter(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        _mkdir(root, "usr/bin", 0o755)
        (root / "usr/bin/run-parts").write_text("")
        _mkdir(root, "opt/tools", 0o777)

    report = _audit(
        make_root,
        {"etc/crontab": "PATH=/usr/bin:/opt/tools\n17 * * * * root run-parts /etc/cron.hourly\n"},
        setup,
    )
    assert _findings(report) == []


@needs_root
def test_missing_target_in_a_folder_others_can_create_in(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        _mkdir(root, "opt/gone", 0o1777)

    report = _audit(make_root, {"etc/cron.d/g": "0 4 * * * root /opt/gone/run --now\n"}, setup)
    finding = _one(report, "MISSING_TARGET_IN_WRITABLE_DIR")
    assert finding.message == (
        "the job (as root) runs /opt/gone/run, which does not exist, and /opt/gone lets others "
        "create it: every user can write it (mode 1777)"
    )


@needs_root
def test_interpreter_argument_sourced_file_and_link(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        os.chown(root / "opt/job.py", 1000, 1000)
        os.chmod(root / "etc/default/app", 0o666)
        os.symlink("/home/alice/tool", root / "usr/local/bin/tool")
        os.chown(root / "home/alice/tool", 1000, 1000)

    report = _audit(
        make_root,
        {
            "etc/cron.d/i": "0 1 * * * root python3 /opt/job.py --x\n"
            "0 2 * * * root . /etc/default/app && /usr/local/bin/tool\n",
            "opt/job.py": "print(1)\n",
            "etc/default/app": "X=1\n",
            "home/alice/tool": ("#!/bin/sh\n", 0o755),
            "usr/local/bin/.keep": "",
        },
        setup,
    )
    messages = sorted(f.message for f in _findings(report))
    assert messages == [
        "the job (as root) has its interpreter run /opt/job.py, and it is owned by alice",
        "the job (as root) runs /usr/local/bin/tool (a link to /home/alice/tool), and it is "
        "owned by alice",
        "the job (as root) sources /etc/default/app, and every user can write it (mode 0666)",
    ]


@needs_root
def test_world_writable_unit_file(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        wants = root / "etc/systemd/system/timers.target.wants"
        wants.mkdir()
        os.symlink("/etc/systemd/system/x.timer", wants / "x.timer")

    report = _audit(
        make_root,
        {
            "etc/systemd/system/x.service": ("[Service]\nExecStart=/usr/bin/true\n", 0o666),
            "etc/systemd/system/x.timer": "[Timer]\nOnCalendar=daily\n",
        },
        setup,
    )
    finding = _one(report, "WRITABLE_JOB_DEFINITION")
    assert finding.severity is Severity.CRITICAL
    assert (
        "defined in /etc/systemd/system/x.service, and every user can write it" in finding.message
    )


@needs_root
def test_user_jobs_may_use_the_users_own_files(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        os.chown(root / "var/spool/cron/crontabs/alice", 1000, 101)
        os.chown(root / "home/alice/bin/sync", 1000, 1000)
        os.chown(root / "home/alice/bin", 1000, 1000)
        os.chown(root / "home/alice", 1000, 1000)

    report = _audit(
        make_root,
        {
            "var/spool/cron/crontabs/alice": ("0 * * * * /home/alice/bin/sync\n", 0o600),
            "home/alice/bin/sync": ("#!/bin/sh\n", 0o755),
        },
        setup,
    )
    assert report.jobs[0].run_as == "alice"
    assert _findings(report) == []


@needs_root
def test_another_users_file_in_a_user_job_is_medium(make_root: MakeRoot) -> None:
    def setup(root: Path) -> None:
        os.chown(root / "var/spool/cron/crontabs/alice", 1000, 101)
        os.chown(root / "opt/shared/run", 33, 33)

    report = _audit(
        make_root,
        {
            "var/spool/cron/crontabs/alice": ("0 * * * * /opt/shared/run\n", 0o600),
            "opt/shared/run": ("#!/bin/sh\n", 0o755),
        },
        setup,
    )
    finding = _one(report, "WRITABLE_JOB_TARGET")
    assert finding.severity is Severity.MEDIUM
    assert "it is owned by www-data" in finding.message


def test_group_without_other_members_is_fine(make_root: MakeRoot) -> None:
    """Debian's spool folder is 1730 root:crontab; crontab has no member but the setgid binary."""

    def setup(root: Path) -> None:
        _mkdir(root, "var/spool/cron/crontabs", 0o1730, (0, 101))

    report = _audit(
        make_root, {"var/spool/cron/crontabs/root": ("0 * * * * /usr/bin/true\n", 0o600)}, setup
    )
    assert _findings(report) == []


# ---------------------------------------------------------------------------------------------
# which paths a job depends on


def test_simple_commands_split_a_shell_line_without_running_it() -> None:
    line = (
        'test -x /usr/sbin/a || { cd /srv && nice -n10 /usr/bin/x --y "$(cat /etc/z)" '
        "2>&1 >/var/log/x.log; } | tee -a /tmp/t; LANG=C tar czf b.tgz *.log"
    )
    words = [[w for w, _ in c] for c in simple_commands(line)]
    assert words == [
        ["test", "-x", "/usr/sbin/a"],
        ["cd", "/srv"],
        ["/usr/bin/x", "--y", "$(cat /etc/z)"],
        ["tee", "-a", "/tmp/t"],
        ["tar", "czf", "b.tgz", "*.log"],
    ]
    assert simple_commands("tar cf x '*'")[0][-1] == ("*", False)


def test_wanted_paths_of_a_cron_line(make_root: MakeRoot) -> None:
    report = run_audit(
        make_root({"etc/cron.d/w": "0 * * * * root cd /srv/up && tar czf /b.tgz * && certbot\n"})
    )
    [job] = [j for j in report.jobs if j.mechanism is Mechanism.CRON]
    roles = {(w.role, w.path) for w in wanted_paths(job)}
    assert ("definition", "/etc/cron.d/w") in roles
    assert ("wildcard_dir", "/srv/up") in roles
    assert {("path_entry", "/usr/bin/certbot"), ("path_entry", "/bin/certbot")} <= roles


# ---------------------------------------------------------------------------------------------
# Windows: unquoted program paths


def _windows(run_as: str, command_line: str, executable: str) -> AuditReport:
    from dataclasses import replace

    from schedwarden.analyzers.context import AnalysisContext
    from schedwarden.analyzers.privilege import analyze
    from schedwarden.model import Effective, Evidence, ScheduledJob, SourceKind, UnknownSchedule

    task = ScheduledJob(
        job_id="t",
        mechanism=Mechanism.WINDOWS_TASK,
        technique="T1053.005",
        name="\\Vendor",
        run_as=run_as,
        schedule=UnknownSchedule("none"),
        actions=(ExecAction(command_line, executable),),
        effective=Effective(True, "registered"),
        evidence=Evidence(SourceKind.FILE, "h", "C:\\Windows\\System32\\Tasks\\Vendor"),
    )
    report = AuditReport(tool={}, source={}, jobs=(task,))
    return replace(report, findings=tuple(analyze([task], [], AnalysisContext())))


def test_unquoted_system_task_path_with_a_user_creatable_candidate() -> None:
    report = _windows(
        "SYSTEM", "C:\\Tools\\Vendor App\\upd.exe /q", "C:\\Tools\\Vendor App\\upd.exe"
    )
    finding = _one(report, "UNQUOTED_PATH_WITH_SPACES")
    assert finding.severity is Severity.MEDIUM
    assert "C:\\Tools\\Vendor.exe would run first if created" in finding.message


def test_unquoted_program_files_path_is_informational_for_system_and_silent_for_users() -> None:
    path = "C:\\Program Files\\Vendor App\\upd.exe"
    assert _one(_windows("SYSTEM", path, path), "UNQUOTED_PATH_WITH_SPACES").severity is (
        Severity.INFORMATIONAL
    )
    assert _findings(_windows("alice", path, path)) == []
    assert _findings(_windows("SYSTEM", f'"{path}" /q', path)) == []


def test_unquoted_path_split_by_the_task_itself() -> None:
    """A task whose Command is `C:\\Program` and Arguments the rest (a real default-tasks file)."""
    line = "C:\\Tools\\Special K\\Servlet\\task_inject.bat"
    finding = _one(_windows("alice", line, "C:\\Tools\\Special"), "UNQUOTED_PATH_WITH_SPACES")
    assert finding.severity is Severity.LOW
    assert "C:\\Tools\\Special.exe" in finding.message
