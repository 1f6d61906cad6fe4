"""Every analyzer, one line each. A test fails when a module defines an ANALYZER not listed here."""

from __future__ import annotations

from .allowlist import ANALYZER as ALLOWLIST
from .base import Analyzer
from .cron_hygiene import ANALYZER as CRON_HYGIENE
from .privilege import ANALYZER as PRIVILEGE
from .sigma_rules import ANALYZER as SIGMA_RULES

ANALYZERS: tuple[Analyzer, ...] = (CRON_HYGIENE, SIGMA_RULES, PRIVILEGE, ALLOWLIST)
