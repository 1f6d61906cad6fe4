"""`schedwarden hunt` and `timeline` as a user runs them, and correlation with an image or an
inventory file: events tied to jobs by name or command, tasks in the logs that are not on disk."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden import engine
from schedwarden.analyzers.log_rule_cache import CACHE_FILE
from schedwarden.cli.main import main
from schedwarden.logs import render
from schedwarden.logs.report import HuntReport
from schedwarden.logs.timeline import timelines
from schedwarden.sources import ImageSource
from tests.conftest import MakeRoot, corpus_path

EAS = ("windows", "evtx", "task", "EVTX-ATTACK-SAMPLES")
LMST = (*EAS, "Lateral Movement", "remote task update 4624 4702 same logonid.evtx")
CYALY = (*EAS, "Execution", "temp_scheduled_task_4698_4699.evtx")
EVILTASK = (
    "windows",
    "evtx",
    "task",
    "hayabusa-sample-evtx",
    "EVTX-to-MITRE-Attack",
    "TA0002-Execution",
    "T1053.005-Scheduled Task",
    "ID4688-4698 Persistent scheduled task with SYSTEM privileges creation.evtx",
)
CRON_LINE = "Nov 27 10:00:01 h CRON[7]: (root) CMD (touch /tmp/afile.txt)\n"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_hunt_json_contract() -> None:
    code, out, _ = _run("hunt", str(corpus_path(*CYALY)), "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert document["schema"] == "schedwarden.hunt/1"
    assert set(document) >= {"events", "findings", "issues", "summary"}
    registered = document["events"][0]
    assert registered["job_name"] == "\\CYAlyNSS" and registered["action"] == "registered"
    assert registered["command"] == r"cmd.exe /C tasklist > %windir%\Temp\CYAlyNSS.tmp 2>&1"
    definition = registered["extra"]["definition"]
    assert definition["name"] == "\\CYAlyNSS" and definition["mechanism"] == "windows_task"
    assert definition["actions"][0]["executable"] == "cmd.exe"
    assert {"TASK_ATEXEC", "TASK_SHORT_LIVED"} <= {f["rule_id"] for f in document["findings"]}
    assert document["summary"]["events"] == 2


def test_hunt_fail_on_and_formats() -> None:
    path = str(corpus_path(*CYALY))
    code, _, _ = _run("hunt", path, "--fail-on", "high", "-f", "jsonl")
    assert code == 1
    code, out, _ = _run("hunt", path, "-f", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["type"] == "run" and lines[-1]["type"] == "summary"
    code, out, _ = _run("hunt", path, "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["type"] for r in rows} == {"event", "finding"}
    code, out, _ = _run("hunt", path, "--no-color")
    assert "CYAlyNSS" in out and "TASK_ATEXEC" in out


def test_evidence_is_escaped_in_table_and_csv(tmp_path: Path) -> None:
    log = tmp_path / "cron.log"
    log.write_bytes(b"Nov 27 10:00:01 h CRON[1]: (root) CMD (=cmd|' /C calc'!A0 \x1b[2J^M)\n")
    _, out, _ = _run("hunt", str(log), "--no-color")
    assert "\x1b" not in out and "\\x1b[2J" in out and "\\x0d" in out
    _, out, _ = _run("hunt", str(log), "-f", "csv")
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["type"] == "event")
    assert row["command"].startswith("'=") and "\x1b" not in row["command"]


def test_issues_exit_3(tmp_path: Path) -> None:
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(b"ElfFile\x00" + bytes(8192))
    code, out, err = _run("hunt", str(broken), "-f", "json")
    assert code == 3
    assert json.loads(out)["issues"][0]["code"] == "LOG_CORRUPT"
    assert "evidence problem" in err


def test_root_and_inventory_are_exclusive(tmp_path: Path) -> None:
    log = tmp_path / "cron.log"
    log.write_text(CRON_LINE)
    inventory = tmp_path / "audit.json"
    inventory.write_text("{}")
    code, _, err = _run("hunt", str(log), "--root", str(tmp_path), "--inventory", str(inventory))
    assert code == 2 and "not both" in err


def _windows_image(make_root: MakeRoot, tasks: dict[str, str]) -> Path:
    files: dict[str, str | bytes] = {
        "Windows/System32/Tasks/" + name: xml for name, xml in tasks.items()
    }
    return make_root(files, os_release=None, accounts=False, name="win")


def _lmst_xml() -> str:
    report = engine.hunt([str(corpus_path(*LMST))])
    event = next(e for e in report.events if e.job_name == "\\LMST")
    return event.extra["definition"].raw  # type: ignore[union-attr, no-any-return]


def test_root_ties_events_and_finds_tasks_not_on_disk(make_root: MakeRoot) -> None:
    root = _windows_image(make_root, {"LMST": _lmst_xml()})
    report = engine.hunt(
        [str(corpus_path(*LMST)), str(corpus_path(*EVILTASK))], source=ImageSource(str(root))
    )
    lmst = next(e for e in report.events if e.job_name == "\\LMST")
    job = next(j for j in engine.collect(ImageSource(str(root))).jobs if j.name == "\\LMST")
    assert lmst.extra["job_id"] == job.job_id
    missing = [f for f in report.findings if f.rule_id == "TASK_NOT_ON_DISK"]
    assert [f.message.split()[1] for f in missing] == ["\\eviltask"]
    summary = report.summary()
    assert summary["inventory_jobs_with_events"] == 1
    assert summary["inventory_tasks_without_creation_event"] == ["\\LMST"]  # only updated
    # who changed it, and from where: the network logon of the same session
    assert lmst.extra["logon_user"] == "3B\\a-jbrown"
    assert lmst.extra["source_address"] == "172.16.66.142" and lmst.extra["logon_type"] == "3"


def test_deleted_task_is_not_reported_missing(make_root: MakeRoot) -> None:
    root = _windows_image(make_root, {"LMST": _lmst_xml()})
    report = engine.hunt([str(corpus_path(*CYALY))], source=ImageSource(str(root)))
    assert "TASK_NOT_ON_DISK" not in {f.rule_id for f in report.findings}


def test_inventory_file_ties_cron_runs(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root({"etc/crontab": "* * * * * root touch /tmp/afile.txt\n"})
    _, out, _ = _run("audit", str(root), "-f", "json")
    inventory = tmp_path / "audit.json"
    inventory.write_text(out)
    log = tmp_path / "logs" / "cron.log"
    log.parent.mkdir()
    log.write_text(CRON_LINE + CRON_LINE.replace("10:00:01", "10:01:01"))
    _, out, _ = _run("hunt", str(log.parent), "--inventory", str(inventory), "-f", "json")
    document = json.loads(out)
    job_id = next(j["job_id"] for j in json.loads(inventory.read_text())["jobs"])
    assert [e["extra"].get("job_id") for e in document["events"]] == [job_id, job_id]
    _, out, _ = _run("hunt", str(log.parent), "--root", str(root), "-f", "json")
    assert [e["extra"].get("job_id") for e in json.loads(out)["events"]] == [job_id, job_id]


def test_timeline_per_job_with_provenance() -> None:
    folder = corpus_path("windows", "evtx", "task", "velociraptor")
    report: HuntReport = engine.hunt([str(folder)])
    by_name = {t.job_name: t for t in timelines(report.events)}
    onlogon = by_name["\\T1053_005_OnLogon"]
    times = [e.time for e in onlogon.events]
    assert times == sorted(times)
    assert onlogon.events[0].action == "registered" and onlogon.events[-1].action == "deleted"
    code, out, _ = _run("timeline", str(folder), "-f", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line["timeline"] for line in lines} >= {"\\T1053_005_OnLogon", "\\T1053_005_powershell"}
    code, out, _ = _run("timeline", str(folder), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert all(r["record_id"] and r["path"] for r in rows)
    code, out, _ = _run("timeline", str(folder), "-f", "json")
    document = json.loads(out)
    assert document["timelines"][0]["events"][0]["provenance"]["record_id"] is not None
    code, out, _ = _run("timeline", str(folder), "--no-color")
    assert "T1053_005_OnStartup" in out


@pytest.mark.parametrize("flags", [(), ("--no-cache",)])
def test_sigma_rules_over_task_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SCHEDWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "hide.yml").write_text(
        "title: TaskCache SD removed\n"
        "id: 11111111-2222-3333-4444-555555555555\n"
        "status: test\n"
        "level: high\n"
        "tags: [attack.persistence, attack.t1053.005]\n"
        "logsource: {product: windows, category: registry_delete}\n"
        "detection:\n"
        "  selection:\n"
        "    EventType: DeleteValue\n"
        "    TargetObject|contains: '\\\\Schedule\\\\TaskCache\\\\Tree\\\\'\n"
        "    TargetObject|endswith: '\\\\SD'\n"
        "  condition: selection\n"
    )
    (rules / "other.yml").write_text(
        "title: Not about tasks\nlogsource: {product: windows, category: process_creation}\n"
        "detection: {selection: {Image|endswith: '\\\\whoami.exe'}, condition: selection}\n"
    )
    sd = corpus_path(
        "windows",
        "evtx",
        "task",
        "sigma-regression",
        "registry_delete_schtasks_hide_task_via_sd_value_removal",
    )
    index = corpus_path(
        "windows",
        "evtx",
        "task",
        "sigma-regression",
        "registry_delete_schtasks_hide_task_via_index_value_removal",
    )
    command = ("hunt", str(sd), str(index), "--sigma", str(rules), "-f", "json", *flags)
    code, out, err = _run(*command)
    assert code == 0 and "1 Sigma rule(s)" in err
    document = json.loads(out)
    sigma = [f for f in document["findings"] if f["rule_id"].startswith("SIGMA_")]
    assert [f["rule_id"] for f in sigma] == ["SIGMA_11111111-2222-3333-4444-555555555555"]
    assert sigma[0]["techniques"] == ["T1053.005"] and sigma[0]["severity"] == "high"
    assert document["summary"]["sigma_rules"] == 1
    # the conversions are remembered unless told not to, and a run that reuses them is the same
    assert (tmp_path / "cache" / CACHE_FILE).exists() is not flags
    again = json.loads(_run(*command)[1])
    assert {**again, "source": None} == {**document, "source": None}


def test_sigmahq_rules_on_the_corpus() -> None:
    from schedwarden.analyzers.log_sigma import evaluate, load_log_rules
    from schedwarden.logs.reader import read_logs

    rules = load_log_rules([corpus_path("sigma", "rules")])
    assert len(rules.rules) > 50
    events, _ = read_logs([str(corpus_path("windows", "evtx", "task"))])
    titles = {f.title for f in evaluate(rules, events)}
    assert {"Interactive AT Job", "Scheduled Task Creation Via Schtasks.EXE"} <= titles
    negative, _ = read_logs([str(corpus_path("windows", "evtx", "negative"))])
    assert not list(evaluate(rules, negative))


def test_builtin_log_rules_can_be_left_out(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("Nov 27 10:00:01 h CRON[12]: (root) CMD (echo hi^M   # hidden)\n")
    rules = []
    for extra in ((), ("--no-builtin-rules",)):
        result = CliRunner().invoke(main, ["hunt", str(log), "-f", "json", "-q", *extra])
        document = json.loads(result.output)
        assert result.exit_code == 0 and len(document["events"]) == 1
        rules.append([f["rule_id"] for f in document["findings"]])
        assert ("sigma_builtin_log_rules" in document["summary"]) is not bool(extra)
    assert rules == [["LNX_LOG_CRON_CMD_CARRIAGE_RETURN"], []]


def test_a_big_hunt_s_table_shows_a_row_per_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past TABLE_EVENTS events a table of every event is unreadable and slow to lay out (rich:
    ~0.7 ms a row): one row per job, counted, and where to find every event. The job's strings
    are escaped as everywhere in the table."""
    log = tmp_path / "cron.log"
    lines = [CRON_LINE.replace("10:00", f"10:{minute:02d}") for minute in range(6)]
    lines.append("Nov 27 11:00:01 h CRON[9]: (evil) CMD (x \x1b[2J)\n")
    log.write_text("".join(lines))
    _, every, _ = _run("hunt", str(log), "--no-color")
    assert "Job events" in every and every.count("touch /tmp/afile.txt") == 6
    monkeypatch.setattr(render, "TABLE_EVENTS", 5)
    _, out, _ = _run("hunt", str(log), "--no-color")
    assert "Jobs of 7 events" in out and "schedwarden timeline" in out
    assert (
        out.count("touch /tmp/afile.txt") == 2 and "ran 6" in out and "ran 1" in out
    )  # name, command
    assert "2026-11-27T10:00:01Z" in out and "2026-11-27T10:05:01Z" in out  # first, last
    assert "\x1b" not in out and "\\x1b[2J" in out


def test_timeline_table_counts_a_run_of_events_alike(tmp_path: Path) -> None:
    """A job that runs every minute: its first and last run, and a row counting those between;
    a change (another command, user or action) starts a new run; short runs stay row by row."""
    log = tmp_path / "cron.log"
    lines = [CRON_LINE.replace("10:00", f"10:{minute:02d}") for minute in range(6)]
    lines.append("Nov 27 10:30:01 h CRON[8]: (root) CMDEND (touch /tmp/afile.txt)\n")
    lines += [CRON_LINE.replace("10:00", f"11:{minute:02d}") for minute in range(3)]
    lines.append("Nov 27 12:00:01 h CRON[9]: (root) CMD (x \x1b[2J)\n")
    log.write_text("".join(lines))
    code, out, _ = _run("timeline", str(log), "--no-color")
    assert code == 0
    assert "4 more ran" in out and "2026-11-27T10:01:01Z … 2026-11-27T10:04:01Z" in out
    for shown in ("10:00:01", "10:05:01", "10:30:01", "11:00:01", "11:01:01", "11:02:01"):
        assert f"2026-11-27T{shown}Z " in out  # row by row (not in a count's range)
    assert "more ran" in out and out.count("more ran") == 1
    assert "\x1b" not in out
    _, jsonl, _ = _run("timeline", str(log), "-f", "jsonl")
    assert len(jsonl.splitlines()) == 11  # every event in the other formats
