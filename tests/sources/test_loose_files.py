"""Loose definition files given as PATH: walked safely, problems reported, never silently dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedwarden import engine
from schedwarden.sources import EvidenceError, LooseFilesSource
from tests.conftest import FIXED_NOW


def test_walk_lists_files_breadth_first_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "top.yaml").write_text("x")
    (tmp_path / "a" / "b" / "deep.json").write_text("{}")
    (tmp_path / "link").symlink_to("a")  # a folder: not descended through
    source = LooseFilesSource(str(tmp_path))
    assert source.loose_files() == ["/top.yaml", "/a/b/deep.json"]
    single = LooseFilesSource(str(tmp_path / "top.yaml"))
    assert single.loose_files() == ["/top.yaml"]
    assert single.display_path("/top.yaml") == str(tmp_path / "top.yaml")


def test_unreadable_folder_becomes_an_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sealed").mkdir()
    (tmp_path / "ok.yaml").write_text("kind: ConfigMap\n")
    source = LooseFilesSource(str(tmp_path))
    original = source.list_dir

    def list_dir(path: str) -> list[str]:
        if path == "/sealed":
            raise EvidenceError("UNREADABLE", "EACCES: Permission denied", path)
        return original(path)

    monkeypatch.setattr(source, "list_dir", list_dir)
    report = engine.collect(source, now=FIXED_NOW)
    assert [(i.code, i.evidence.path) for i in report.issues] == [
        ("UNREADABLE", str(tmp_path / "sealed"))
    ]
