"""Time zones by IANA name, as schedules and logs name them (CRON_TZ, TZ=, a host's zone)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo | None:
    """A time zone by IANA name; None for a missing, malformed or unknown name (a name from the
    evidence never reaches the file system as a path: `/` at the start and `..` are refused)."""
    if not name or name.startswith("/") or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
