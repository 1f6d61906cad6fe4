"""The watch plan (every collector location, `{home}` expanded, missing ones through an existing
ancestor, links resolved inside the root) and the scope of a change."""

from __future__ import annotations

import os
from pathlib import Path

from schedwarden.collectors.registry import COLLECTORS
from schedwarden.monitor import Monitor, build_plan
from schedwarden.monitor.plan import expand
from schedwarden.monitor.watcher import Note
from schedwarden.sources import ImageSource
from tests.conftest import MakeRoot

FILES = {
    "etc/crontab": "25 6 * * * root run-parts --report /etc/cron.daily\n",
    "etc/cron.d/certbot": "0 */12 * * * root certbot -q renew\n",
    "etc/cron.daily/logrotate": ("#!/bin/sh\n/usr/sbin/logrotate\n", 0o755),
}


def test_every_location_is_planned(make_root: MakeRoot) -> None:
    root = make_root(FILES)
    plan = build_plan(ImageSource(str(root)), COLLECTORS)
    locations = {t.location: t for t in plan.targets}
    declared = {
        loc.replace("{home}", "/home/alice")
        for c in COLLECTORS
        for loc in c.locations
        if loc.startswith(("/", "{home}"))
    }
    assert declared <= set(locations)
    assert locations["/etc/cron.d"].kind == "dir"
    assert locations["/etc/crontab"].kind == "file"
    missing = locations["/home/alice/.config/systemd/user"]
    assert (missing.kind, missing.real) == ("missing", "/")
    assert plan.watches["/etc/cron.d"].recursive
    assert not plan.watches["/etc"].recursive  # the parent of /etc/crontab and /etc/cron.d
    assert plan.needs_replan("/home") and plan.needs_replan("/etc/cron.d")
    assert not plan.relevant("/etc/hosts")
    assert plan.collectors_for("/etc/cron.d/x") == {"cron"}


def test_links_are_resolved_inside_the_root(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(FILES)
    outside = tmp_path / "outside-spool"
    outside.mkdir()
    (root / "var/spool/cron").mkdir(parents=True)
    os.symlink("/var/spool/elsewhere", root / "var/spool/cron/crontabs")
    (root / "var/spool/elsewhere").mkdir()
    os.symlink(str(outside), root / "etc/cron.weekly")  # absolute: clamped to the root
    plan = build_plan(ImageSource(str(root)), COLLECTORS)
    assert "/var/spool/elsewhere" in plan.watches
    assert all(str(outside) not in path for path in plan.watches)
    weekly = next(t for t in plan.targets if t.location == "/etc/cron.weekly")
    assert weekly.kind == "missing"


def test_windows_and_registry_locations() -> None:
    assert expand("C:\\Windows\\System32\\Tasks", ["/root"]) == ["/Windows/System32/Tasks"]
    assert expand("HKLM\\SOFTWARE\\Microsoft", ["/root"]) == []
    assert expand("{home}/.cache/crontab", ["/root", "/home/a"]) == [
        "/root/.cache/crontab",
        "/home/a/.cache/crontab",
    ]


def test_scope_runs_only_the_collectors_a_change_concerns(make_root: MakeRoot) -> None:
    root = make_root(FILES)
    monitor = Monitor(ImageSource(str(root)), [])
    monitor._replan()
    monitor._collect({c.name for c in COLLECTORS})
    names, replan = monitor._scope([Note("fs", "/etc/cron.d/new")])
    assert "cron" in names and not replan
    assert not names & {"systemd_timer", "at", "anacron", "k8s_cronjob", "windows_task"}
    # periodic read /etc/crontab for the schedule of its folders: it runs again too
    names, _ = monitor._scope([Note("fs", "/etc/crontab")])
    assert {"cron", "periodic"} <= names
    assert "systemd_timer" not in names
    names, replan = monitor._scope([Note("fs", "/etc/cron.d", is_dir=True)])
    assert replan and "cron" in names
