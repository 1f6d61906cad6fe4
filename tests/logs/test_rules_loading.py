"""`hunt --sigma` converts the rule folder in a forked child while the logs are read: the rules
are those `load_log_rules` gives, also when the child dies or none can start."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from schedwarden import forked, hunting
from schedwarden.analyzers.log_sigma import LogRuleSet, load_log_rules
from schedwarden.hunting import LogRulesLoading
from schedwarden.logs import render
from schedwarden.logs.report import HuntReport
from schedwarden.model import Finding, JobEvent

from ..conftest import corpus_path

TaskHunt = tuple[list[str], LogRuleSet, HuntReport]


@pytest.fixture(scope="module")
def task_hunt() -> TaskHunt:
    """The task EVTX of the corpus, SigmaHQ's rules, and their hunt in one process."""
    logs = [str(corpus_path("windows", "evtx", "task"))]
    rules = load_log_rules([corpus_path("sigma", "rules")])
    return logs, rules, hunting.hunt(logs, sigma=rules)


@pytest.mark.parametrize("child", ["helps", "dies", "none"])
def test_rules_loaded_meanwhile_are_the_rules(child: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = corpus_path("sigma", "rules", "windows", "process_creation")
    expected = load_log_rules([folder])
    assert expected.rules
    monkeypatch.setattr(forked, "processors", lambda: 2)
    parent = os.getpid()
    if child == "dies":

        def dies(paths: Sequence[Path], cached: bool) -> LogRuleSet:
            if os.getpid() != parent:
                os._exit(3)
            return load_log_rules(paths)

        monkeypatch.setattr(hunting, "_loaded", dies)
    if child == "none":
        monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError("no fork")))
    loading = LogRulesLoading([folder])
    assert (loading._child is not None) is (child != "none")
    assert loading.result() == expected
    assert loading.result() is loading.result()  # loaded once


@pytest.mark.parametrize("child", ["helps", "dies", "none"])
def test_rule_findings_made_meanwhile_are_the_findings(
    child: str, monkeypatch: pytest.MonkeyPatch, task_hunt: TaskHunt
) -> None:
    """Sigma rules over the records run in a forked child while the analytics run: the findings
    are the same, in the same order, when the child dies or cannot start."""
    logs, rules, whole = task_hunt
    expected = whole.findings
    assert sum(f.rule_id.startswith("SIGMA_") for f in expected) > 5
    monkeypatch.setattr(hunting, "SIGMA_FORKED_EVENTS", 1)
    monkeypatch.setattr(forked, "processors", lambda: 2)
    parent = os.getpid()
    made = hunting._rule_findings
    if child == "dies":

        def dies(rules: LogRuleSet, events: Sequence[JobEvent]) -> list[Finding]:
            if os.getpid() != parent:
                os._exit(3)
            return made(rules, events)

        monkeypatch.setattr(hunting, "_rule_findings", dies)
    if child == "none":
        monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError("no fork")))
    forks = []
    start = forked.ForkedStream.start
    monkeypatch.setattr(
        forked.ForkedStream, "start", lambda *a, **k: forks.append(1) or start(*a, **k)
    )
    assert hunting.hunt(logs, sigma=rules).findings == expected
    assert forks  # the child was asked for


def test_a_deferred_hunt_maps_its_events_before_waiting_for_the_rules(
    monkeypatch: pytest.MonkeyPatch, task_hunt: TaskHunt
) -> None:
    logs, rules, expected = task_hunt
    monkeypatch.setattr(hunting, "SIGMA_FORKED_EVENTS", 1)
    monkeypatch.setattr(forked, "processors", lambda: 2)
    report = hunting.hunt(logs, sigma=rules, deferred=True)
    mapped: list[int] = []
    waited: list[int] = []
    as_is, done = render._as_is, hunting._FindingsLater._done

    def counted(item: JobEvent) -> object:
        mapped.append(1)
        return as_is(item)

    def noted(self: hunting._FindingsLater) -> object:
        waited.append(len(mapped))
        return done(self)

    monkeypatch.setattr(render, "_as_is", counted)
    monkeypatch.setattr(hunting._FindingsLater, "_done", noted)
    written = io.StringIO()
    render.write_hunt_json(report, written)
    assert waited[0] == len(report.events) > 50  # every event made before the rules' findings
    document = json.loads(written.getvalue())
    assert {**document, "source": None} == {**render.hunt_document(expected), "source": None}
    assert report.findings == expected.findings and report.issues == expected.issues


def test_inventory_analyzers_that_fail_on_definitions_are_an_issue_and_the_rest_goes_on(
    monkeypatch: pytest.MonkeyPatch, task_hunt: TaskHunt
) -> None:
    logs, rules, expected = task_hunt

    def broken(events: object) -> list[Finding]:
        raise ValueError("a bug")

    monkeypatch.setattr(hunting, "_definition_findings", broken)
    report = hunting.hunt(logs, sigma=rules)
    (issue,) = [i for i in report.issues if i.code == "ANALYZER_ERROR"]
    assert "the inventory analyzers on task definitions stopped" in issue.message
    sigma = [f for f in expected.findings if f.rule_id.startswith("SIGMA_")]
    assert [f for f in report.findings if f.rule_id.startswith("SIGMA_")] == sigma
