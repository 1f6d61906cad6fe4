"""Every log analyzer a module of `analyzers/` defines is in LOG_ANALYZERS, once."""

from __future__ import annotations

import importlib
import pkgutil

import schedwarden.analyzers
from schedwarden.analyzers.log_base import LogAnalyzer
from schedwarden.analyzers.log_registry import LOG_ANALYZERS


def test_every_log_analyzer_is_registered() -> None:
    defined: list[LogAnalyzer] = []
    for info in pkgutil.iter_modules(schedwarden.analyzers.__path__, "schedwarden.analyzers."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, LogAnalyzer):
                defined.append(value)
            elif isinstance(value, tuple):
                defined += [v for v in value if isinstance(v, LogAnalyzer)]
    assert {a.name for a in defined} == {a.name for a in LOG_ANALYZERS}
    assert len({a.name for a in LOG_ANALYZERS}) == len(LOG_ANALYZERS)
    assert {
        "job_off_schedule",
        "task_on_demand",
        "task_trigger_not_defined",
        "task_off_trigger_times",
        "job_off_cadence",
    } <= {a.name for a in LOG_ANALYZERS}
