"""Every collector, one line each. A test fails when a module defines a COLLECTOR not listed here."""

from __future__ import annotations

from .base import Collector
from .k8s import cronjob
from .linux import anacron, at, cron, cron_backup, periodic, systemd_generator, systemd_timer
from .windows import tasks

COLLECTORS: tuple[Collector, ...] = (
    cron.COLLECTOR,
    cron_backup.COLLECTOR,
    periodic.COLLECTOR,
    anacron.COLLECTOR,
    at.COLLECTOR,
    systemd_timer.COLLECTOR,
    systemd_generator.COLLECTOR,
    cronjob.COLLECTOR,
    tasks.COLLECTOR,
)
