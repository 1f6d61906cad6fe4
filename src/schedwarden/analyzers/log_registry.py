"""Every log analyzer, one line each (the inventory analyzers are in `registry`)."""

from __future__ import annotations

from .log_base import LogAnalyzer
from .log_schedule import LOG_ANALYZERS_SCHEDULE
from .log_t1053 import LOG_ANALYZERS_T1053

LOG_ANALYZERS: tuple[LogAnalyzer, ...] = (*LOG_ANALYZERS_T1053, *LOG_ANALYZERS_SCHEDULE)
