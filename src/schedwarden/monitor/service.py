"""The monitor: watch every collector location, re-read what changed, diff, alert.

Loop: notes from the watcher are debounced (quiet for `debounce` seconds, at most `max_delay`
after the first); the batch decides the scope (the collectors whose locations hold a changed path,
plus those that read that path last time); the plan is rebuilt first when a folder on the way to
a location changed (watch, then scan); the scope is collected again from a fresh root-clamped
source and diffed against the last known state; every change becomes an alert. An inotify queue
overflow is an alert of its own and forces a full rescan at once; a full rescan also runs every
`rescan_interval` seconds whatever happens. A heartbeat line on stderr shows the loop is alive; a
dead observer is an alert and is restarted.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from .. import inventory
from ..collectors.base import Collector
from ..collectors.registry import COLLECTORS
from ..model import Finding, Issue, Severity, render_untrusted
from ..outputs.serialize import plain
from ..sources import RootedSource
from ..store import Document, Drift, compare, document, identity
from .plan import WatchPlan, build_plan
from .sinks import Sink
from .tracing import tracing
from .watcher import Note, Watcher

ALERT_SCHEMA = "schedwarden.alert/1"
FULL_SCOPE_PATHS = 500  # more changed paths than this in one batch: rescan everything


def escaped(value: Any) -> Any:
    """Every string (keys too) through `render_untrusted`: alerts carry escaped text only."""
    if isinstance(value, str):
        return render_untrusted(value)
    if isinstance(value, Mapping):
        return {render_untrusted(str(k)): escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(v) for v in value]
    return value


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Counters:
    events: int = 0
    batches: int = 0
    alerts: int = 0
    rescans: int = 0
    overflows: int = 0
    restarts: int = 0
    sink_errors: int = 0
    started: float = field(default_factory=time.monotonic)
    last_scan: str = ""


class Monitor:
    def __init__(
        self,
        source: RootedSource,
        sinks: Sequence[Sink],
        *,
        baseline: Sequence[Document] | None = None,
        collectors: Sequence[Collector] = COLLECTORS,
        debounce: float = 0.2,
        max_delay: float = 1.0,
        rescan_interval: float = 600.0,
        heartbeat: float = 60.0,
        poll: float | None = None,
        log: TextIO | None = None,
        watch_db: str | None = None,
    ) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.baseline = list(baseline) if baseline is not None else None
        self.collectors = list(collectors)
        self.debounce = debounce
        self.max_delay = max_delay
        self.rescan_interval = rescan_interval
        self.heartbeat_interval = heartbeat
        self.log = log or sys.stderr
        self.watch_db = watch_db
        self.watcher = Watcher("" if source.root == "/" else source.root, poll=poll)
        self.plan = WatchPlan()
        self.counters = Counters()
        self.host = source.host
        self.ready = threading.Event()
        self.accept_notes = True  # tests switch this off to lose events on purpose
        self._jobs: dict[str, list[Document]] = {}
        self._issues: dict[str, set[tuple[str, str, str]]] = {}
        self._touched: dict[str, set[str]] = {}
        self._db_missing_reported = False

    # -- logging and alerts ------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.log.write(f"schedwarden monitor: {text}\n")
        self.log.flush()

    def alert(self, kind: str, severity: Severity, message: str, **extra: Any) -> None:
        document_ = {
            "schema": ALERT_SCHEMA,
            "time": _now_text(),
            "host": self.host,
            "kind": kind,
            "severity": severity.value,
            "message": message,
            **extra,
        }
        safe = escaped(document_)
        self.counters.alerts += 1
        for sink in self.sinks:
            try:
                sink.emit(safe)
            except Exception as exc:  # a sink must never stop the monitor
                self.counters.sink_errors += 1
                self.say(f"sink {sink.name} failed: {render_untrusted(str(exc))}")

    # -- state -------------------------------------------------------------------------------

    def state(self) -> list[Document]:
        return [doc for name in sorted(self._jobs) for doc in self._jobs[name]]

    def _collect(self, names: Iterable[str]) -> None:
        source = tracing(self.source)
        for collector in self.collectors:
            if collector.name not in names:
                continue
            source.touched.clear()
            report = inventory.collect(source, collectors=(collector,))
            self._jobs[collector.name] = [document(job) for job in report.jobs]
            self._touched[collector.name] = set(source.touched)
            self._report_issues(collector.name, report.issues)
        self.host = source.host

    def _report_issues(self, name: str, issues: Sequence[Issue]) -> None:
        keys = {(i.code, i.evidence.path, i.message) for i in issues}
        known = self._issues.get(name)
        self._issues[name] = keys
        if known is None:
            return  # the first scan: its issues are the starting state (counted when ready)
        for issue in issues:
            if (issue.code, issue.evidence.path, issue.message) in known:
                continue
            self.alert(
                "issue",
                Severity.LOW,
                f"{issue.code}: {issue.message}",
                trigger="scan",
                paths=[issue.evidence.path],
                issue=plain(issue),
            )

    def _scope(self, notes: Sequence[Note]) -> tuple[set[str], bool]:
        """(collectors to run again, whether the watch plan must be rebuilt)."""
        replan = False
        names: set[str] = set()
        paths = {(n.path, n.is_dir) for n in notes}
        if len(paths) > FULL_SCOPE_PATHS:
            return {c.name for c in self.collectors}, True
        for path, is_dir in paths:
            if self.plan.needs_replan(path):
                replan = True
            names |= self.plan.collectors_for(path)
            parent = os.path.dirname(path)
            prefix = path.rstrip("/") + "/"
            for name, touched in self._touched.items():
                if (
                    path in touched
                    or parent in touched
                    or (is_dir and any(t.startswith(prefix) for t in touched))
                ):
                    names.add(name)
        if replan:  # a location appeared or was replaced: everything reading it, as declared
            for path, _ in paths:
                for target in self.plan.targets:
                    if (
                        target.location.startswith(path.rstrip("/") + "/")
                        or target.location == path
                    ):
                        names |= target.collectors
        return names, replan

    def _replan(self) -> None:
        self.plan = build_plan(tracing(self.source), self.collectors)
        self.watcher.apply(self.plan)
        for path, reason in sorted(self.watcher.failed.items()):
            self.alert(
                "watch_error",
                Severity.MEDIUM,
                f"cannot watch {path}: {reason}; the periodic rescan covers it",
                trigger="watch",
                paths=[path],
            )

    def _diff_and_alert(self, before: list[Document], trigger: str, paths: Sequence[str]) -> Drift:
        drift = compare(before, self.state())
        shown = sorted(set(paths))[:50]
        for doc in drift.added:
            self._job_alert("job_added", drift, None, doc, [], trigger, shown)
        for doc in drift.removed:
            self._job_alert("job_removed", drift, doc, None, [], trigger, shown)
        for change in drift.changed:
            fields = [
                {"field": f.field, "before": f.before, "after": f.after} for f in change.fields
            ]
            self._job_alert(
                "job_changed", drift, change.before, change.after, fields, trigger, shown
            )
        return drift

    def _job_alert(
        self,
        kind: str,
        drift: Drift,
        before: Document | None,
        after: Document | None,
        fields: list[dict[str, Any]],
        trigger: str,
        paths: Sequence[str],
    ) -> None:
        doc = after if after is not None else before
        assert doc is not None
        suffix = {"job_added": "ADDED", "job_removed": "REMOVED", "job_changed": "CHANGED"}[kind]
        findings: list[Finding] = [
            f
            for f in drift.findings
            if f.job_id == doc.get("job_id") and f.rule_id.endswith(suffix)
        ]
        severity = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.LOW)
        self.alert(
            kind,
            severity,
            "; ".join(f.message for f in findings) or kind,
            trigger=trigger,
            paths=list(paths),
            identity=identity(doc),
            before=before,
            after=after,
            fields=fields,
            findings=[plain(f) for f in findings],
        )

    # -- the work ----------------------------------------------------------------------------

    def full_scan(self, trigger: str, paths: Sequence[str] = ()) -> Drift:
        before = self.state()
        self._replan()
        self._collect({c.name for c in self.collectors})
        self.counters.rescans += 1
        self.counters.last_scan = _now_text()
        return self._diff_and_alert(before, trigger, paths)

    def process(self, notes: Sequence[Note]) -> None:
        self.counters.batches += 1
        overflow = any(n.kind == "overflow" for n in notes)
        fs_notes = [n for n in notes if n.kind == "fs" and self.plan.relevant(n.path)]
        paths = [n.path for n in fs_notes]
        if overflow:
            self.counters.overflows += 1
            self.alert(
                "overflow",
                Severity.HIGH,
                "the inotify event queue overflowed: events were lost; rescanning everything now",
                trigger="overflow",
                status="events_lost",
            )
            drift = self.full_scan("overflow", paths)
            self.say(
                f"overflow recovered by a full rescan: {len(drift.added)} added, "
                f"{len(drift.removed)} removed, {len(drift.changed)} changed"
            )
            return
        if not fs_notes:
            return
        names, replan = self._scope(fs_notes)
        if replan:
            self._replan()
        if not names:
            return
        before = self.state()
        self._collect(names)
        self._diff_and_alert(before, "event", paths)

    def heartbeat(self) -> None:
        c = self.counters
        self.say(
            f"heartbeat uptime={time.monotonic() - c.started:.0f}s watcher={self.watcher.kind} "
            f"watches={self.watcher.count} jobs={len(self.state())} events={c.events} "
            f"alerts={c.alerts} rescans={c.rescans} overflows={c.overflows} "
            f"restarts={c.restarts} last_scan={c.last_scan}"
        )
        db_gone = self.watch_db is not None and not os.path.lexists(self.watch_db)
        if db_gone and not self._db_missing_reported:
            self._db_missing_reported = True
            self.alert(
                "baseline_missing",
                Severity.CRITICAL,
                "the baseline database was deleted while the monitor ran",
                trigger="heartbeat",
                paths=[self.watch_db],
                rule_id="BASELINE_MISSING",
            )

    def start(self) -> None:
        """Watch first, then scan: nothing created between the two is missed."""
        self.watcher.start()
        if self.watcher.fallback_reason:
            self.alert("watch_fallback", Severity.MEDIUM, self.watcher.fallback_reason)
        self._replan()
        self._collect({c.name for c in self.collectors})
        self.counters.rescans += 1
        self.counters.last_scan = _now_text()
        if self.baseline is not None:  # drift since the saved baseline, at once
            self._diff_and_alert(self.baseline, "start", ())
        issues = sum(len(keys) for keys in self._issues.values())
        self.say(
            f"ready watcher={self.watcher.kind} watches={self.watcher.count} "
            f"jobs={len(self.state())} issues={issues} root={render_untrusted(self.source.root)}"
        )
        self.ready.set()

    def _next_batch(self, timeout: float) -> list[Note]:
        try:
            first = self.watcher.notes.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        hard = first.at + self.max_delay if first.at else time.monotonic() + self.max_delay
        quiet = time.monotonic() + self.debounce
        while first.kind != "overflow":
            wait = min(quiet, hard) - time.monotonic()
            if wait <= 0:
                break
            try:
                note = self.watcher.notes.get(timeout=wait)
            except queue.Empty:
                break
            batch.append(note)
            if note.kind == "overflow":
                break
            quiet = time.monotonic() + self.debounce
        return batch

    def run(self, stop: threading.Event) -> None:
        try:
            self.start()
            next_rescan = time.monotonic() + self.rescan_interval
            next_beat = time.monotonic() + self.heartbeat_interval
            while not stop.is_set():
                wait = max(
                    0.0, min(next_rescan, next_beat, time.monotonic() + 0.5) - time.monotonic()
                )
                batch = self._next_batch(wait)
                if batch and self.accept_notes:
                    self.counters.events += sum(1 for n in batch if n.kind == "fs")
                    self.process(batch)
                now = time.monotonic()
                if not self.watcher.alive():
                    self.counters.restarts += 1
                    self.alert(
                        "watcher_restarted",
                        Severity.HIGH,
                        "the filesystem watcher stopped; it was restarted and everything rescanned",
                        trigger="liveness",
                    )
                    self.watcher.restart()
                    self.full_scan("restart")
                    next_rescan = time.monotonic() + self.rescan_interval
                if now >= next_rescan:
                    self.full_scan("periodic")
                    next_rescan = time.monotonic() + self.rescan_interval
                if now >= next_beat:
                    self.heartbeat()
                    next_beat = time.monotonic() + self.heartbeat_interval
        finally:
            self.watcher.stop()
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception as exc:
                    self.say(
                        f"sink {sink.name} did not close cleanly: {render_untrusted(str(exc))}"
                    )


def run_in_thread(monitor: Monitor) -> tuple[threading.Thread, threading.Event]:
    """Start a monitor in a background thread (tests, embedding); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop,), name="schedwarden-monitor")
    thread.daemon = True
    thread.start()
    return thread, stop
