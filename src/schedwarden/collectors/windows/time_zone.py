"""The local time zone of a Windows image, from its SYSTEM hive, as an IANA zone name.

Task triggers hold the host's wall-clock time (a StartBoundary without `Z` or an offset), so the
log analytics need the host's zone to tell when a task was due; `RootedSource.timezone` asks here
when an image has no /etc/localtime or /etc/timezone. It lives here, beside `hive.py` and
`task_cache.py`, because it is registry parsing that needs the same hardened hive reader; sources/
is the lower layer, so the source imports this module only when it asks (see
`RootedSource._image_windows_timezone`): never for the live host or an image whose /etc names
its zone.

Mechanism: the SYSTEM hive (`Windows/System32/config/SYSTEM`, any letter case, found and read
through the source like every other file: read-only, inside the root, at most
`SYSTEM_HIVE_READ_CAP` bytes, parsed from memory by regipy through `hive.open_hive`) names the
control set the machine booted with in `Select\\Current` (`ControlSet001` when `Select` or its
value is missing; the `CurrentControlSet` link exists only in a running registry). Its
`Control\\TimeZoneInformation` key holds the DYNAMIC_TIME_ZONE_INFORMATION the system keeps:

- `TimeZoneKeyName` (REG_SZ, Vista and later): the zone's key under `HKLM\\SOFTWARE\\Microsoft\\
  Windows NT\\CurrentVersion\\Time Zones` ("W. Europe Standard Time"). Windows writes the whole
  WCHAR[128] buffer, so the name ends at the first NUL and what follows may be the leftovers of
  an earlier, longer name. It maps to an IANA zone through CLDR's windowsZones table (the
  "001" territory, the zone's main location), as kept in `tzlocal.windows_tz.win_tz`; registry
  names ignore case, so the lookup does too. A name the table does not hold gives None.
- `DynamicDaylightTimeDisabled` (REG_DWORD, a BOOLEAN: 1, or any non-zero): "Adjust for
  daylight saving time automatically" is off, and the clock stays at standard time all year.
  The IANA name of the zone would then be wrong half the year, so the answer is the fixed-offset
  zone `Etc/GMT±N` of the standard bias (`Bias` + `StandardBias`, minutes, UTC = local time +
  bias; StandardBias is 0 in every zone Windows ships; `Etc/GMT-1` is UTC+01:00, POSIX's
  inverted sign), when that is a whole number of hours (Etc has no other), else None.

Windows XP and Server 2003 have neither of those two values:

- `StandardName` (REG_SZ) is the zone's standard-time name as the Time Zones key's `Std` shows
  it: English names are the keys' names ("Pacific Standard Time"), so it maps the same way, but
  only when the zone it maps to has `Bias` as its standard offset (in 2005 or in 2025: zones
  have moved), a guard against a name that is another zone's key in English. A localized name
  ("Pazifik Normalzeit"), or a MUI reference ("@tzres.dll,-112", from Vista on), gives None.
- `DisableAutoDaylightTimeSet` (REG_DWORD, present when "Automatically adjust clock for daylight
  saving changes" is off) means what DynamicDaylightTimeDisabled means later.

A hive that is missing, unreadable, larger than the cap or corrupt, a missing key or value, or a
value of the wrong type gives None, as for any host whose zone is unknown; nothing is raised.
Hive transaction logs (SYSTEM.LOG1/LOG2) are not replayed: a dirty hive gives its last flushed
state.

References: https://learn.microsoft.com/en-us/windows/win32/api/timezoneapi/ns-timezoneapi-dynamic_time_zone_information
and .../ns-timezoneapi-time_zone_information (Bias, StandardBias, DynamicDaylightTimeDisabled);
CLDR windowsZones: https://github.com/unicode-org/cldr/blob/main/common/supplemental/windowsZones.xml;
tzdata `etcetera` (the Etc/GMT sign convention).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from tzlocal.windows_tz import win_tz

from ...model.zones import zone
from ...sources import RootedSource, SourceError
from .hive import HiveError, RegData, RegKey, open_hive, subkey
from .winpath import resolve_folded

SYSTEM_HIVE = "Windows/System32/config/SYSTEM"
# A SYSTEM hive is tens of megabytes, rarely a few hundred; past this the zone is not worth it.
SYSTEM_HIVE_READ_CAP = 512 * 1024 * 1024
DEFAULT_CONTROL_SET = 1
# Windows biases run from UTC+14:00 to UTC-12:00, and so do the Etc/GMT zones.
MIN_BIAS, MAX_BIAS = -14 * 60, 12 * 60


def windows_timezone(source: RootedSource) -> str | None:
    """The IANA zone of the Windows installation under the source's root, else None."""
    path = find_folded(source, SYSTEM_HIVE)
    if path is None:
        return None
    try:
        if source.stat(path).size > SYSTEM_HIVE_READ_CAP:  # not read at all, only to be dropped
            return None
        content = source.read(path, SYSTEM_HIVE_READ_CAP)
    except SourceError:
        return None
    if content.truncated:
        return None
    return zone_of_system_hive(content.data)


def find_folded(source: RootedSource, path: str) -> str | None:
    """The path in the source whose components match `path` ignoring case (an exact match wins),
    as the collectors' `CaseFolder` finds them; None when any is missing or unreadable."""

    def names(folder: str) -> list[str]:
        try:
            return source.list_dir(folder)
        except SourceError:
            return []

    return resolve_folded(path, names)


def zone_of_system_hive(data: bytes) -> str | None:
    """The IANA zone named by the bytes of a SYSTEM hive, else None."""
    try:
        root = open_hive(data)
        information = _time_zone_key(root)
        values = information.values() if information is not None else None
    except HiveError:
        return None
    if values is None:
        return None
    legacy = "TimeZoneKeyName" not in values  # Windows XP, Server 2003
    bias = _dword(values.get("Bias"))
    # a BOOLEAN: any non-zero is TRUE
    if _dword(
        values.get("DisableAutoDaylightTimeSet" if legacy else "DynamicDaylightTimeDisabled")
    ):
        if bias is None:
            return None
        return fixed_offset_zone(bias + (_dword(values.get("StandardBias")) or 0))
    if not legacy:
        name = key_name(values.get("TimeZoneKeyName"))
        return iana_of_windows(name) if name else None
    standard = key_name(values.get("StandardName"))
    found = iana_of_windows(standard) if standard else None
    if found is None or bias is None or -bias not in _standard_offsets(found):
        return None
    return found


def _standard_offsets(name: str) -> set[int]:
    """The offsets from UTC, in minutes, of a zone's standard time in 2005 and in 2025 (the
    smaller of January's and July's: daylight saving time adds to it)."""
    found = zone(name)
    if found is None:
        return set()
    offsets: set[int] = set()
    for year in (2005, 2025):
        seen = [datetime(year, month, 1, 12, tzinfo=found).utcoffset() for month in (1, 7)]
        offsets.add(min(int(o.total_seconds()) // 60 for o in seen if o is not None))
    return offsets


def _time_zone_key(root: RegKey) -> RegKey | None:
    """`ControlSetNNN\\Control\\TimeZoneInformation` of the control set `Select\\Current` names."""
    select = subkey(root, "Select")
    current = _dword(select.values().get("Current")) if select is not None else None
    number = current if current is not None and 1 <= current <= 999 else DEFAULT_CONTROL_SET
    key: RegKey | None = root
    for name in (f"ControlSet{number:03d}", "Control", "TimeZoneInformation"):
        key = subkey(key, name) if key is not None else None
    return key


def key_name(value: RegData) -> str | None:
    """TimeZoneKeyName (or StandardName) up to its first NUL (Windows keeps the rest of its
    buffer after it)."""
    if isinstance(value, bytes):  # regipy keeps bytes it could not decode
        value = value[: len(value) // 2 * 2].decode("utf-16-le", "replace")
    if not isinstance(value, str):
        return None
    return value.split("\x00", 1)[0] or None


def iana_of_windows(name: str) -> str | None:
    """The IANA zone of a Windows zone key name (CLDR windowsZones, territory 001), else None."""
    return _folded_table().get(name.casefold())


@lru_cache(maxsize=1)
def _folded_table() -> dict[str, str]:
    return {windows.casefold(): iana for windows, iana in win_tz.items()}


def fixed_offset_zone(bias: int) -> str | None:
    """`Etc/GMT±N` for a bias in whole hours (UTC = local + bias minutes), else None."""
    if bias % 60 or not MIN_BIAS <= bias <= MAX_BIAS:
        return None
    hours = bias // 60
    return f"Etc/GMT{hours:+d}" if hours else "Etc/GMT"


def _dword(value: RegData) -> int | None:
    """A REG_DWORD as the signed 32-bit number Windows keeps in it (regipy reads it unsigned);
    None for a value of another type."""
    if not isinstance(value, int) or not -(1 << 31) <= value < 1 << 32:
        return None
    return value - (1 << 32) if value >= 1 << 31 else value
