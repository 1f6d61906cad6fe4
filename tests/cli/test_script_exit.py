"""The `schedwarden` script ends the process once its output is flushed (`cli.main.run`): the
whole document reaches a pipe and a file, and the exit status is click's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..conftest import corpus_path


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedwarden", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_document_is_whole_on_a_pipe_and_in_a_file(tmp_path: Path) -> None:
    logs = str(corpus_path("windows", "evtx", "task"))
    piped = _script("hunt", logs, "-f", "json")
    assert piped.returncode == 0, piped.stderr
    document = json.loads(piped.stdout)
    assert len(document["events"]) > 50 and len(piped.stdout) > 1 << 16  # more than a pipe holds
    written = _script("hunt", logs, "-f", "json", "-o", str(tmp_path / "out.json"))
    assert written.returncode == 0 and written.stdout == ""
    assert json.loads((tmp_path / "out.json").read_text())["events"] == document["events"]


def test_exit_statuses_are_click_s(tmp_path: Path) -> None:
    logs = str(corpus_path("windows", "evtx", "task"))
    assert (
        _script(
            "hunt", logs, "-f", "json", "-o", str(tmp_path / "o"), "--fail-on", "low"
        ).returncode
        == 1
    )
    usage = _script("hunt", logs, "--format", "nope")
    assert usage.returncode == 2 and "nope" in usage.stderr
    assert _script("--version").stdout.startswith("schedwarden")
