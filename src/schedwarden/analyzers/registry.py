"""Every analyzer, one line each. A test fails when a module defines an ANALYZER not listed here."""

from __future__ import annotations

from .base import Analyzer
from .cron_hygiene import ANALYZER as CRON_HYGIENE

ANALYZERS: tuple[Analyzer, ...] = (CRON_HYGIENE,)
