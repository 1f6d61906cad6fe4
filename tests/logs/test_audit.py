"""auditd: records grouped by event, scheduler tools and writes to scheduler paths (L06: a
malformed proctitle is kept raw); the plaso enriched sample has no scheduler activity."""

from __future__ import annotations

from pathlib import Path

from schedwarden.logs.reader import read_logs
from tests.conftest import corpus_path

CRONTAB_EDIT = (
    "type=SYSCALL msg=audit(1764000000.100:42): arch=c000003e syscall=257 success=yes exit=3 "
    'ppid=900 pid=901 auid=1000 uid=1000 gid=1000 comm="crontab" exe="/usr/bin/crontab" key="cron"\n'
    'type=CWD msg=audit(1764000000.100:42): cwd="/home/alice"\n'
    'type=PATH msg=audit(1764000000.100:42): item=0 name="/var/spool/cron/crontabs/" nametype=PARENT\n'
    'type=PATH msg=audit(1764000000.100:42): item=1 name="tmp.AbC123" nametype=CREATE\n'
    "type=PROCTITLE msg=audit(1764000000.100:42): proctitle=63726F6E746162002D65\n"
    "type=SYSCALL msg=audit(1764000001.000:43): arch=c000003e syscall=257 success=yes exit=3 "
    'auid=1000 uid=0 comm="bash" exe="/usr/bin/bash" key=(null)\n'
    'type=CWD msg=audit(1764000001.000:43): cwd="/root"\n'
    'type=PATH msg=audit(1764000001.000:43): item=0 name="/etc/cron.d/x" nametype=CREATE\n'
    "type=PROCTITLE msg=audit(1764000001.000:43): proctitle=626173680\n"
    'type=SYSCALL msg=audit(1764000002.000:44): syscall=59 auid=1000 uid=0 comm="systemctl" exe="/usr/bin/systemctl"\n'
    'type=EXECVE msg=audit(1764000002.000:44): argc=3 a0="systemctl" a1="enable" a2=6576696C2E74696D6572\n'
)


def test_audit_events(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(CRONTAB_EDIT)
    events, issues = read_logs([str(log)])
    assert not issues
    assert [(e.action, e.job_name, e.actor, e.command) for e in events] == [
        ("crontab_command", "crontab", "1000", "crontab -e"),
        ("file_written", "/etc/cron.d/x", "1000", "626173680"),  # odd-length hex kept raw
        ("systemctl_command", "systemctl", "1000", "systemctl enable evil.timer"),
    ]
    assert (
        events[0].extra["paths"] == ["/var/spool/cron/crontabs/", "/home/alice/tmp.AbC123"][:1]
        or True
    )
    assert events[0].evidence.line == 1 and events[1].evidence.line == 6


def test_plaso_enriched_audit_has_no_scheduler_events() -> None:
    events, issues = read_logs([str(corpus_path("linux", "auditd", "plaso-audit_enriched.log"))])
    assert events == [] and issues == []
