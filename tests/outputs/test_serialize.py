"""The structured writers: one write maps each shared part once, and writes exactly what the
standard library writes for the plain form of every record."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schedwarden.model import (
    AuditReport,
    CronSchedule,
    Effective,
    Evidence,
    ExecAction,
    Finding,
    Issue,
    MacroSchedule,
    Mechanism,
    Schedule,
    ScheduledJob,
    Severity,
    SourceKind,
)
from schedwarden.outputs.json_writer import write_json
from schedwarden.outputs.jsonl_writer import write_jsonl
from schedwarden.outputs.serialize import SharedParts, plain
from tests.conftest import MakeRoot, run_audit

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOURLY = CronSchedule("17 * * * *", "17", "*", "*", "*", "*", "At 17 minutes past the hour")
DAILY = MacroSchedule("@daily", "At 00:00", "0 0 * * *")
RUNS = Effective(True, "loaded by the cron daemon (debian-cron)", "debian-cron")
FILE = Evidence(SourceKind.IMAGE, "host", "/etc/cron.d/caf\u00e9", sha256="ab" * 32, owner="root",
                mode="0644", mtime=WHEN)  # fmt: skip
NEXT = (WHEN, WHEN.replace(hour=13))
ENV = (("SHELL", "/bin/sh"), ("MAILTO", "r\u00e9mi\udcff"))


def _job(
    n: int,
    *,
    schedule: Schedule = HOURLY,
    environment: tuple[tuple[str, str], ...] = ENV,
    next_runs: tuple[datetime, ...] = NEXT,
) -> ScheduledJob:
    command = f"/usr/bin/run --n {n} \udcfe\u202e \x1b[2J \\x41"
    return ScheduledJob(
        job_id=f"{n:020d}",
        mechanism=Mechanism.CRON,
        technique="T1053.003",
        name=f"/etc/cron.d/caf\u00e9:{n}",
        run_as="root",
        schedule=schedule,
        actions=(ExecAction(command, "/usr/bin/run", tuple(command.split()[1:]), shell="/bin/sh"),),
        effective=RUNS,
        evidence=FILE.at(n, n * 40),
        environment=environment,
        raw=f"17 * * * * root {command}",
        next_runs=next_runs,
        extra={"table": "cron.d", "count": n, "ratio": n / 7, "tags": ("a", "b")},
    )


def _report(jobs: tuple[ScheduledJob, ...]) -> AuditReport:
    finding = Finding("R1", "title \u00e9", Severity.HIGH, ("T1053.003",), jobs[0].job_id,
                      jobs[0].evidence, "message \udcff", "fix")  # fmt: skip
    issue = Issue("unparseable", "bad line \x00", FILE.at(3, None))
    return AuditReport(
        tool={"name": "schedwarden", "version": "0"},
        source={"kind": "image", "root": "/r", "collected_at": "2026-11-28T12:00:00Z"},
        jobs=jobs,
        findings=(finding,),
        issues=(issue,),
    )


def _stdlib_json(report: AuditReport) -> str:
    """What the json writer wrote before it had its own encoder: `json.dump` of every record's
    plain form, mapped one by one."""
    document = {
        "schema": report.schema,
        "tool": plain(report.tool),
        "source": plain(report.source),
        "jobs": [plain(j) for j in report.jobs],
        "findings": [plain(f) for f in report.findings],
        "issues": [plain(i) for i in report.issues],
        "summary": plain(report.summary()),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _stdlib_jsonl(report: AuditReport) -> str:
    def line(obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"

    head = {"type": "run", "schema": report.schema}
    lines = [line({**head, "tool": plain(report.tool), "source": plain(report.source)})]
    for kind, records in (("job", report.jobs), ("finding", report.findings),
                          ("issue", report.issues)):  # fmt: skip
        lines += [line({"type": kind, **plain(r)}) for r in records]
    lines.append(line({"type": "summary", **plain(report.summary())}))
    return "".join(lines)


def _written(writer: Any, report: AuditReport) -> str:
    stream = io.StringIO()
    writer(report, stream)
    return stream.getvalue()


def _assert_same_text(written: str, expected: str) -> None:
    """Equal texts; on a difference, the first differing line (not a diff of megabytes)."""
    if written == expected:
        return
    ours, theirs = written.splitlines(keepends=True), expected.splitlines(keepends=True)
    at = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(map(len, (ours, theirs)))
    )
    got = ours[at] if at < len(ours) else "<end>"
    want = theirs[at] if at < len(theirs) else "<end>"
    pytest.fail(f"line {at + 1} differs: {got!r} != {want!r}")


# Many jobs (more than one write batch), sharing schedules, verdict, environment and next runs,
# and a few with parts of their own; the empty environment and the empty next runs are the same
# object `()` and must still become `{}` and `[]`.
MIXED = _report(
    tuple(_job(n) for n in range(1100))
    + tuple(_job(n, schedule=DAILY, environment=(), next_runs=()) for n in range(1100, 1400))
    + (
        _job(
            9999,
            schedule=CronSchedule("1 2 3 4 5", "1", "2", "3", "4", "5", "x"),
            environment=(("A", "b"),),
            next_runs=(WHEN,),
        ),
    )
)


def test_json_writer_writes_what_json_dump_writes() -> None:
    _assert_same_text(_written(write_json, MIXED), _stdlib_json(MIXED))


def test_jsonl_writer_writes_what_json_dumps_writes() -> None:
    _assert_same_text(_written(write_jsonl, MIXED), _stdlib_jsonl(MIXED))


def test_writers_on_an_audited_image(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/crontab": "SHELL=/bin/sh\n17 * * * * root cd / && run-parts /etc/cron.hourly\n",
            "etc/cron.d/a": "MAILTO=x\n*/5 * * * * root /bin/a\n*/5 * * * * root /bin/b %in\n",
            "etc/cron.d/b": "@reboot root /tmp/\xff\xfe.sh\n*/5 * * * * nobody /bin/c\n",
            "etc/cron.daily/logrotate": ("#!/bin/sh\nexit 0\n", 0o755),
        }
    )
    report = run_audit(root)
    assert len(report.jobs) >= 5
    _assert_same_text(_written(write_json, report), _stdlib_json(report))
    _assert_same_text(_written(write_jsonl, report), _stdlib_jsonl(report))


def test_a_shared_part_is_mapped_once_per_write() -> None:
    first, second = _job(1), _job(2)
    shared = SharedParts()
    one, two = plain(first, shared), plain(second, shared)
    for name in ("schedule", "effective", "environment", "next_runs"):
        assert one[name] is two[name], name
        assert id(one[name]) in shared.ids
    assert one["evidence"] is not two["evidence"]
    assert id(one["evidence"]) not in shared.ids
    assert one == plain(first) and two == plain(second)


def test_without_a_memo_every_call_gives_new_objects() -> None:
    one, two = plain(_job(1)), plain(_job(2))
    one["schedule"]["description"] = "changed"
    assert two["schedule"]["description"] == "At 17 minutes past the hour"


def test_empty_environment_and_next_runs_keep_their_own_forms() -> None:
    job = _job(1, schedule=DAILY, environment=(), next_runs=())
    shared = SharedParts()
    mapped = plain(job, shared)
    assert mapped["environment"] == {} and mapped["next_runs"] == []
    assert plain(_job(2, environment=(), next_runs=()), shared)["next_runs"] == []


def test_golden_fixture_is_still_written_byte_for_byte(tmp_path: Path) -> None:
    """The json writer on the golden image gives the stdlib's bytes (the golden test compares
    parsed documents; this compares the text)."""
    from tests.test_golden import _materialize

    report = run_audit(_materialize(tmp_path))
    _assert_same_text(_written(write_json, report), _stdlib_json(report))
