"""The built-in log pack as shipped converted (`rules/logs/compiled.json`): equal to a fresh
conversion of the rule files, used only while it matches them, and run without pySigma."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from schedwarden.analyzers import log_sigma_pack
from schedwarden.analyzers.log_sigma_pack import (
    COMPILED,
    FOLDER,
    _digest,
    _shipped,
    compile_pack,
    pack_document,
)

REMAKE = "python -m schedwarden.analyzers.log_sigma_pack"


def _folder() -> Path:
    return Path(str(resources.files("schedwarden").joinpath(*FOLDER)))


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml"))


def test_the_shipped_pack_is_a_fresh_conversion_of_the_rule_files() -> None:
    folder = _folder()
    shipped = json.loads((folder / COMPILED).read_text(encoding="utf-8"))
    assert shipped == pack_document(folder), f"rules/logs changed: run `{REMAKE}`"
    assert _shipped(folder / COMPILED, _digest(_sources(folder))) == compile_pack(
        folder, _sources(folder)
    )


def test_the_pack_in_use_is_the_shipped_one() -> None:
    log_sigma_pack.builtin_log_pack.cache_clear()
    rules, problems = log_sigma_pack.builtin_log_pack()
    assert len(rules) == len(_sources(_folder())) and problems == ()
    assert {r.rule.rule_id for r in rules} >= {"LNX_LOG_CRON_CMD_CARRIAGE_RETURN"}


def test_a_changed_rule_file_is_converted_again(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    shutil.copytree(_folder(), folder)
    source = folder / "lnx_crontab_denied.yml"
    source.write_text(source.read_text(encoding="utf-8").replace("level: ", "level: high #"))
    assert _shipped(folder / COMPILED, _digest(_sources(folder))) is None
    assert _shipped(folder / COMPILED, _digest(_sources(_folder()))) is not None
    (folder / "extra.yml").write_text("title: x\n")
    assert _shipped(folder / COMPILED, _digest(_sources(folder))) is None


def test_an_unreadable_shipped_pack_is_not_used(tmp_path: Path) -> None:
    digest = _digest(_sources(_folder()))
    path = tmp_path / COMPILED
    assert _shipped(path, digest) is None  # missing
    no_rules = json.dumps({"schema": "schedwarden.log-pack/1", "sources": digest})
    for text in ("{", "[]", no_rules):
        path.write_text(text)
        assert _shipped(path, digest) is None
    document = json.loads((_folder() / COMPILED).read_text(encoding="utf-8"))
    document["rules"][0]["level"] = "severe"
    path.write_text(json.dumps(document))
    assert _shipped(path, digest) is None


def test_a_syslog_hunt_runs_our_rules_without_loading_pysigma(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (echo hi^M; curl x)\n")
    probe = (
        "import sys\n"
        "from schedwarden.hunting import hunt\n"
        f"report = hunt([{str(log)!r}])\n"
        "print(sorted({f.rule_id for f in report.findings}))\n"
        "print(any(m == 'sigma' or m.startswith('sigma.') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "LNX_LOG_CRON_CMD_CARRIAGE_RETURN" in out[0]
    assert out[1] == "False"
