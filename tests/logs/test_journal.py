"""journald JSON exports: cron messages by identifier, timer/service/transient units by MESSAGE_ID."""

from __future__ import annotations

import json
from pathlib import Path

from schedwarden.logs.reader import read_logs

STARTED = "39f53479d3a045ac8e11786248231fbf"
FAILED = "be02cf6855d2428ba40df7e9d022f03d"


def _entry(seconds: int, **fields: object) -> str:
    base = {
        "__REALTIME_TIMESTAMP": str(1_764_000_000_000_000 + seconds * 1_000_000),
        "__CURSOR": f"s=1;i={seconds}",
        "_HOSTNAME": "box",
    }
    return json.dumps({**base, **fields}) + "\n"


def test_journal_export(tmp_path: Path) -> None:
    export = tmp_path / "journal.json"
    export.write_text(
        _entry(
            1,
            SYSLOG_IDENTIFIER="CRON",
            SYSLOG_PID="7",
            MESSAGE="(root) CMD (run-parts /etc/cron.hourly)",
        )
        + _entry(2, MESSAGE_ID=STARTED, UNIT="backup.timer", MESSAGE="Started backup.timer.")
        + _entry(3, MESSAGE_ID=STARTED, UNIT="backup.service", MESSAGE="Started backup.service.")
        + _entry(
            4, MESSAGE_ID=FAILED, UNIT="backup.service", MESSAGE="Failed.", JOB_RESULT="failed"
        )
        + _entry(5, MESSAGE_ID=STARTED, UNIT="sshd.service", MESSAGE="Started sshd.service.")
        + _entry(
            6,
            MESSAGE_ID=STARTED,
            UNIT="run-r1a2b3.timer",
            MESSAGE="Started run-r1a2b3.timer - /bin/sh -c id.",
        )
        + _entry(
            7,
            SYSLOG_IDENTIFIER="crontab",
            MESSAGE=[40, 97, 41, 32, 82, 69, 80, 76, 65, 67, 69, 32, 40, 114, 111, 111, 116, 41],
        )
        + "{not json\n"
    )
    events, issues = read_logs([str(export)])
    assert [(e.action, e.job_name) for e in events] == [
        ("ran", "cron"),
        ("started", "backup.timer"),
        ("started", "backup.service"),
        ("failed", "backup.service"),
        ("started", "run-r1a2b3.timer"),
        ("crontab_replaced", "crontab:root"),
    ]  # in time order; sshd.service is driven by no timer: left out
    assert (
        events[0].command == "run-parts /etc/cron.hourly" and events[0].extra["cursor"] == "s=1;i=1"
    )
    assert events[0].host == "box" and events[0].evidence.line == 1
    assert [(i.code, i.evidence.line) for i in issues] == [("LOG_CORRUPT", 8)]
