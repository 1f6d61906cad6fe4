"""The conversions of `hunt --sigma` rule files remembered between runs (`log_rule_cache`): a run
with the cache gives the rules a conversion gives, converts a file again when its bytes or the
converter change, and survives a cache it cannot read or write."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from schedwarden.analyzers import log_rule_cache, log_sigma
from schedwarden.analyzers.log_rule_cache import CACHE_FILE, RuleCache, cache_folder
from schedwarden.analyzers.log_sigma import load_log_rules

from ..conftest import corpus_path

RULE = """title: Schtasks creation
id: 2f6a7f4e-1111-4a5b-9c2d-0123456789ab
status: test
tags: [attack.t1053.005]
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\schtasks.exe', CommandLine|contains: '/create'}
  condition: selection
level: high
"""


def _rule_folder(tmp_path: Path) -> Path:
    """A folder of one rule file, `RULE`."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    return rules


def _no_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object, data: bytes) -> None:
        raise AssertionError("converted, though the cache has it")

    monkeypatch.setattr(log_sigma._Converter, "convert", refuse)


def test_a_warm_cache_gives_what_a_conversion_gives_without_converting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = corpus_path("sigma", "rules")
    expected = load_log_rules([folder])
    assert len(expected.rules) > 50 and expected.skipped
    first = load_log_rules([folder], RuleCache(tmp_path / CACHE_FILE))
    assert first == expected
    _no_conversion(monkeypatch)
    assert load_log_rules([folder], RuleCache(tmp_path / CACHE_FILE)) == expected


def test_the_same_bytes_elsewhere_are_the_same_rules_with_their_own_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "r.yml").write_text(RULE)
    cache = tmp_path / CACHE_FILE
    load_log_rules([tmp_path / "a"], RuleCache(cache))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    _no_conversion(monkeypatch)
    (rule,) = load_log_rules([tmp_path / "b"], RuleCache(cache)).rules
    assert rule.path == str(tmp_path / "b" / "r.yml")
    assert rule.scope == "process_creation" and rule.techniques == ("T1053.005",)


def test_a_changed_file_is_converted_again(tmp_path: Path) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    before = load_log_rules([rules], RuleCache(cache))
    (rules / "r.yml").write_text(RULE.replace("level: high", "level: low"))
    after = load_log_rules([rules], RuleCache(cache))
    assert after == load_log_rules([rules]) != before
    assert after.rules[0].level.value == "low"


def test_a_cache_of_another_converter_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    load_log_rules([rules], RuleCache(cache))
    assert RuleCache(cache).get(RULE.encode()) is not None
    log_rule_cache.converter.cache_clear()
    monkeypatch.setattr(log_rule_cache, "_DISTRIBUTIONS", ("pysigma", "another"))
    try:
        assert RuleCache(cache).get(RULE.encode()) is None
    finally:
        log_rule_cache.converter.cache_clear()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"schema": "schedwarden.sigma-log-rules-cache/1"}',
        b"{}",
    ],
)
def test_a_cache_that_cannot_be_read_is_made_again(tmp_path: Path, content: bytes) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    cache.write_bytes(content)
    assert load_log_rules([rules], RuleCache(cache)) == load_log_rules([rules])
    assert json.loads(cache.read_text())["schema"] == log_rule_cache.SCHEMA


def test_an_entry_of_the_wrong_shape_leaves_the_whole_cache_unused(tmp_path: Path) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    expected = load_log_rules([rules], RuleCache(cache))
    document = json.loads(cache.read_text())
    (entry,) = [e for e in document["files"].values() if e[0]]
    entry[0][0]["conditions"] = "1=1"  # a string where a list of conditions belongs
    cache.write_text(json.dumps(document))
    assert RuleCache(cache).entries == {}
    assert load_log_rules([rules], RuleCache(cache)) == expected


def test_a_folder_that_cannot_be_written_only_means_no_cache(tmp_path: Path) -> None:
    rules = _rule_folder(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    cache = RuleCache(blocked / "sub" / CACHE_FILE)
    assert load_log_rules([rules], cache) == load_log_rules([rules])
    assert cache.added  # still to save: nothing was written
    assert not (blocked / "sub").exists()


def test_the_cache_file_is_its_owner_s_only(tmp_path: Path) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / "new" / CACHE_FILE
    load_log_rules([rules], RuleCache(cache))
    assert cache.stat().st_mode & 0o077 == 0
    assert (tmp_path / "new").stat().st_mode & 0o077 == 0


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCHEDWARDEN_CACHE_DIR", str(tmp_path))
    assert cache_folder() == tmp_path
    monkeypatch.setenv("SCHEDWARDEN_CACHE_DIR", "")
    assert cache_folder() is None and RuleCache.default() is None
    monkeypatch.delenv("SCHEDWARDEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "schedwarden"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == Path(os.path.join(tmp_path, "home", ".cache", "schedwarden"))


def test_a_cache_others_could_have_written_is_not_used(tmp_path: Path) -> None:
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    load_log_rules([rules], RuleCache(cache))
    assert RuleCache(cache).entries
    cache.chmod(0o666)  # writable by anyone: what it holds may not be ours
    assert RuleCache(cache).entries == {}
    cache.chmod(0o600)
    assert RuleCache(cache).entries


def test_a_cache_of_another_user_is_not_used(tmp_path: Path) -> None:
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("giving a file to another user needs root")
    rules = _rule_folder(tmp_path)
    cache = tmp_path / CACHE_FILE
    load_log_rules([rules], RuleCache(cache))
    os.chown(cache, 65534, -1)  # nobody's
    assert RuleCache(cache).entries == {}
