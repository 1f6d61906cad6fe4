"""syslog readers: corpus samples (MANIFEST.md §7), daemon formats, timestamps, tampering
signals and the findings they give."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schedwarden import engine
from schedwarden.logs.reader import read_logs
from schedwarden.logs.syslog_reader import parse_line
from tests.conftest import corpus_path

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _line(text: str | bytes, mtime: datetime = NOW):  # type: ignore[no-untyped-def]
    raw = text.encode() if isinstance(text, str) else text
    return parse_line(raw, "syslog", 1, 0, mtime)


def test_plaso_syslog_cron() -> None:
    path = corpus_path("linux", "syslog", "plaso-syslog_cron.log")
    events, issues = read_logs([str(path)])
    assert not issues
    assert len(events) == 9
    assert all(e.action == "ran" and e.actor == "root" for e in events)
    assert {"touch /tmp/afile.txt", "sleep $(( 1 * 60 )); touch /tmp/afile.txt"} <= {
        e.command for e in events
    }
    assert events[0].evidence.line is not None and events[0].evidence.offset is not None


def test_loghub_thunderbird_crond_lines() -> None:
    path = corpus_path("linux", "syslog", "loghub-Thunderbird_2k.log")
    events, issues = read_logs([str(path)])
    assert not issues
    assert len(events) == 62  # every crond line of the sample: CMD and pam sessions
    runs = [e for e in events if e.action == "ran"]
    assert runs and "run-parts /etc/cron.hourly" in {e.command for e in runs}
    assert runs[0].time.year == 2005  # from loghub's own date, not inferred
    assert runs[0].host == "dn228"


def test_loghub_linux_has_no_cron_events() -> None:
    events, issues = read_logs([str(corpus_path("linux", "syslog", "loghub-Linux_2k.log"))])
    assert events == [] and issues == []


def test_rfc3164_year_inference_across_new_year() -> None:
    march = datetime(2026, 3, 1, tzinfo=UTC)
    december = _line("Dec 31 23:59:01 h CRON[1]: (root) CMD (true)", march)
    january = _line("Jan  1 00:00:01 h CRON[1]: (root) CMD (true)", march)
    assert december is not None and december.time.year == 2025
    assert january is not None and january.time.year == 2026


def test_rfc5424_and_iso_timestamps() -> None:
    event = _line(
        "<78>1 2026-01-02T03:04:05Z host CRON 123 - - (root) CMD (run-parts /etc/cron.hourly)"
    )
    assert event is not None and event.time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert event.command == "run-parts /etc/cron.hourly"
    iso = _line(
        "2026-01-02T03:04:05.5+01:00 host crond[5]: USER root pid 1234 cmd run-parts /etc/periodic/15min"
    )
    assert iso is not None and iso.time.hour == 2 and iso.actor == "root"  # busybox


@pytest.mark.parametrize(
    ("line", "action", "name", "rule"),
    [
        (
            "Nov 27 10:00:01 h cron[1]: (root) INSECURE MODE (mode 0600 expected) (crontabs/root)",
            "insecure_mode",
            "crontabs/root",
            "CRON_INSECURE_MODE",
        ),
        (
            "Nov 27 10:00:01 h cron[1]: (*system*x) WRONG FILE OWNER (/etc/cron.d/x)",
            "wrong_file_owner",
            "/etc/cron.d/x",
            "CRON_WRONG_FILE_OWNER",
        ),
        (
            "Nov 27 10:00:01 h cron[1]: (persistevil) ORPHAN (no passwd entry)",
            "orphan",
            "crontab:persistevil",
            "CRON_ORPHAN",
        ),
        (
            "Nov 27 10:00:01 h crond[1]: (bob) BAD FILE MODE (/var/spool/cron/bob)",
            "bad_file_mode",
            "/var/spool/cron/bob",
            "CRON_BAD_FILE_MODE",
        ),
        (
            "Nov 27 10:00:01 h crontab[1]: (alice) REPLACE (root)",
            "crontab_replaced",
            "crontab:root",
            "CRONTAB_REPLACED_BY_OTHER",
        ),
    ],
)
def test_tampering_signals(tmp_path: Path, line: str, action: str, name: str, rule: str) -> None:
    event = _line(line)
    assert event is not None and (event.action, event.job_name) == (action, name)
    log = tmp_path / "cron.log"
    log.write_text(line + "\n")
    report = engine.hunt([str(log)])
    assert [f.rule_id for f in report.findings] == [rule]
    assert report.findings[0].evidence.line == 1


def test_own_crontab_replace_is_not_a_finding(tmp_path: Path) -> None:
    log = tmp_path / "cron.log"
    log.write_text(
        "Nov 27 10:00:01 h crontab[1]: (alice) BEGIN EDIT (alice)\n"
        "Nov 27 10:00:02 h crontab[1]: (alice) REPLACE (alice)\n"
        "Nov 27 10:00:03 h crontab[1]: (alice) END EDIT (alice)\n"
    )
    report = engine.hunt([str(log)])
    assert [e.action for e in report.events] == [
        "crontab_edit_begin",
        "crontab_replaced",
        "crontab_edit_end",
    ]
    assert not report.findings


def test_carriage_return_marker_and_other_daemons() -> None:
    hidden = _line("Nov 27 10:00:01 h CRON[1]: (root) CMD (echo hi^M   # hidden)")
    assert hidden is not None and hidden.command == "echo hi\r   # hidden"
    assert hidden.extra["carriage_return_marker"] is True
    anacron = _line("Nov 27 10:00:01 h anacron[1]: Job `cron.daily' started")
    assert anacron is not None and (anacron.action, anacron.job_name) == (
        "started",
        "anacron:cron.daily",
    )
    atd = _line(
        "Nov 27 10:00:01 h atd[1]: pam_unix(atd:session): session opened for user bob by (uid=0)"
    )
    assert atd is not None and (atd.action, atd.job_name, atd.actor) == (
        "session_opened",
        "at",
        "bob",
    )
    error = _line("Nov 27 10:00:01 h cron[1]: Error: bad minute; while reading /etc/cron.d/x")
    assert error is not None and (error.action, error.job_name) == ("syntax_error", "/etc/cron.d/x")
    assert _line("Nov 27 10:00:01 h cron[1]: (CRON) INFO (pidfile fd = 3)") is None
    assert _line("Nov 27 10:00:01 h sshd[1]: (root) CMD (not cron)") is None


@pytest.mark.parametrize("packer", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_rotated_files_in_a_folder(tmp_path: Path, packer) -> None:  # type: ignore[no-untyped-def]
    line = b"Nov 27 10:00:01 h CRON[1]: (root) CMD (run-parts /etc/cron.hourly)\n"
    (tmp_path / "syslog.2.x").write_bytes(packer(line))
    (tmp_path / "syslog").write_bytes(line)
    events, issues = read_logs([str(tmp_path)])
    assert not issues and len(events) == 2
    assert {e.evidence.path for e in events} == {
        str(tmp_path / "syslog"),
        str(tmp_path / "syslog.2.x"),
    }


def test_corrupt_compressed_file_is_an_issue(tmp_path: Path) -> None:
    (tmp_path / "syslog.1.gz").write_bytes(
        gzip.compress(b"Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n" + os.urandom(5000))[:2000]
    )
    events, issues = read_logs([str(tmp_path)])
    assert len(events) <= 1  # what was decompressed before the damage is kept
    assert [i.code for i in issues] == ["LOG_UNREADABLE"]


def test_logs_are_opened_read_only(tmp_path: Path) -> None:
    log = tmp_path / "cron.log"
    log.write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    os.chmod(log, 0o444)
    events, issues = read_logs([str(log)])
    assert len(events) == 1 and not issues


def test_hard_links_and_atd_job_start() -> None:
    links = _line("Nov 27 10:00:01 h cron[1]: (*system*x) NUMBER OF HARD LINKS > 1 (/etc/cron.d/x)")
    assert links is not None and (links.action, links.job_name) == (
        "bad_link_count",
        "/etc/cron.d/x",
    )
    at = _line("Nov 27 10:00:01 h atd[9]: Starting job 5 (a0000501a1b2c3) for user 'root' (0)")
    assert at is not None and (at.action, at.job_name, at.actor) == ("ran", "at:5", "root")


def test_a_big_multi_member_gzip_reads_as_its_plain_text(tmp_path: Path) -> None:
    """ISA-L inflates what the gzip module does: several members one after the other (as a
    rotation that appends writes them), across many read blocks; the same events as the text."""
    lines = b"".join(
        b"Nov 27 10:%02d:01 h CRON[%d]: (root) CMD (job %d)\n" % (n % 60, n, n)
        if n % 7 == 0
        else b"Nov 27 10:00:01 h sshd[1]: Accepted publickey for alice %d\n" % n
        for n in range(200_000)
    )
    half = len(lines) // 2
    half = lines.index(b"\n", half) + 1
    (tmp_path / "syslog").write_bytes(lines)
    (tmp_path / "syslog.1.gz").write_bytes(
        gzip.compress(lines[:half]) + gzip.compress(lines[half:])
    )
    events, issues = read_logs([str(tmp_path)])
    assert not issues
    plain = [e for e in events if e.evidence.path.endswith("syslog")]
    packed = [e for e in events if e.evidence.path.endswith(".gz")]
    assert len(plain) == len(packed) == len(range(0, 200_000, 7))
    key = [(e.evidence.line, e.evidence.offset, e.command) for e in plain]
    assert key == [(e.evidence.line, e.evidence.offset, e.command) for e in packed]
