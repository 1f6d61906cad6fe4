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
from schedwarden.model import Finding, JobEvent

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


@pytest.mark.parametrize("child", ["helps", "dies", "none"])
def test_rule_findings_made_meanwhile_are_the_findings(
    child: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sigma rules over the records run in a forked child while the analytics run: the findings
    are the same, in the same order, when the child dies or cannot start."""
    logs = [str(corpus_path("windows", "evtx", "task"))]
    rules = load_log_rules([corpus_path("sigma", "rules")])
    monkeypatch.setattr(hunting, "SIGMA_FORKED_EVENTS", 10**9)
    expected = hunting.hunt(logs, sigma=rules).findings
    assert sum(f.rule_id.startswith("SIGMA_") for f in expected) > 5
    monkeypatch.setattr(hunting, "SIGMA_FORKED_EVENTS", 1)
    monkeypatch.setattr(forked, "processors", lambda: 2)
    parent = os.getpid()
    made = hunting._rule_findings
    if child == "dies":

        def dies(rules: LogRuleSet, events: Sequence[JobEvent]) -> Iterator[list[Finding]]:
            if os.getpid() != parent:
                os._exit(3)
            yield from made(rules, events)

        monkeypatch.setattr(hunting, "_rule_findings", dies)
    if child == "none":
        monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError("no fork")))
    forks = []
    start = hunting.ForkedStream.start
    monkeypatch.setattr(
        hunting.ForkedStream, "start", lambda *a, **k: forks.append(1) or start(*a, **k)
    )
    assert hunting.hunt(logs, sigma=rules).findings == expected
    assert forks  # the child was asked for
