"""`hunt --sigma` converts the rule folder in a forked child while the logs are read: the rules
are those `load_log_rules` gives, also when the child dies or none can start."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from schedwarden import forked, hunting
from schedwarden.analyzers.log_sigma import LogRuleSet, load_log_rules
from schedwarden.hunting import LogRulesLoading

from ..conftest import corpus_path


@pytest.mark.parametrize("child", ["helps", "dies", "none"])
def test_rules_loaded_meanwhile_are_the_rules(child: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = corpus_path("sigma", "rules", "windows", "process_creation")
    expected = load_log_rules([folder])
    assert expected.rules
    monkeypatch.setattr(forked, "processors", lambda: 2)
    parent = os.getpid()
    if child == "dies":

        def dies(paths: Sequence[Path], cached: bool) -> Iterator[LogRuleSet]:
            if os.getpid() != parent:
                os._exit(3)
            yield load_log_rules(paths)

        monkeypatch.setattr(hunting, "_loaded", dies)
    if child == "none":
        monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError("no fork")))
    loading = LogRulesLoading([folder])
    assert (loading._child is not None) is (child != "none")
    assert loading.result() == expected
    assert loading.result() is loading.result()  # loaded once
