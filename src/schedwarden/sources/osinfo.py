"""Which distribution an evidence root is, from its own files, and so which cron daemon's rules apply.

The cron daemons disagree on what they load: Debian's cron applies run-parts name rules to
/etc/cron.d, cronie (RHEL, Fedora, SUSE, Arch) skips only backup-like names, busybox crond (Alpine)
reads only /etc/crontabs. We pick the daemon by the distribution family in /etc/os-release
(ID, ID_LIKE), falling back to marker files.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import StrEnum


class CronFlavour(StrEnum):
    DEBIAN = "debian-cron"
    CRONIE = "cronie"
    BUSYBOX = "busybox-crond"


@dataclass(frozen=True, slots=True)
class OsInfo:
    id: str | None = None
    id_like: tuple[str, ...] = ()
    name: str | None = None
    version: str | None = None
    family: str | None = None
    cron_hint: CronFlavour | None = None
    basis: str | None = None

    @property
    def cron_flavour(self) -> CronFlavour | None:
        return FLAVOUR_OF_FAMILY.get(self.family or "") or self.cron_hint


FLAVOUR_OF_FAMILY: dict[str, CronFlavour] = {
    "debian": CronFlavour.DEBIAN,
    "rhel": CronFlavour.CRONIE,
    "suse": CronFlavour.CRONIE,
    "arch": CronFlavour.CRONIE,
    "alpine": CronFlavour.BUSYBOX,
}

_FAMILY_OF_ID: dict[str, str] = {
    "debian": "debian",
    "ubuntu": "debian",
    "raspbian": "debian",
    "kali": "debian",
    "linuxmint": "debian",
    "rhel": "rhel",
    "fedora": "rhel",
    "centos": "rhel",
    "rocky": "rhel",
    "almalinux": "rhel",
    "ol": "rhel",
    "amzn": "rhel",
    "suse": "suse",
    "opensuse": "suse",
    "sles": "suse",
    "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse",
    "arch": "arch",
    "manjaro": "arch",
    "alpine": "alpine",
}

# Files whose mere presence names the family when os-release is missing.
FAMILY_MARKERS: tuple[tuple[str, str], ...] = (
    ("/etc/debian_version", "debian"),
    ("/etc/redhat-release", "rhel"),
    ("/etc/SuSE-release", "suse"),
    ("/etc/arch-release", "arch"),
    ("/etc/alpine-release", "alpine"),
)


# When the distribution is unknown (a triage collection without /etc/os-release), files that only
# one cron package ships still name the daemon.
CRON_MARKERS: tuple[tuple[str, CronFlavour], ...] = (
    ("/etc/cron.d/.placeholder", CronFlavour.DEBIAN),  # Debian cron-daemon-common
    ("/usr/sbin/cron", CronFlavour.DEBIAN),
    ("/etc/cron.d/0hourly", CronFlavour.CRONIE),  # cronie
    ("/etc/sysconfig/crond", CronFlavour.CRONIE),
    ("/etc/crontabs", CronFlavour.BUSYBOX),
)


def parse_os_release(text: str) -> OsInfo:
    """os-release is shell-like `KEY=value` with optional quoting; nothing in it is evaluated."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    os_id = values.get("ID", "").lower() or None
    id_like = tuple(values.get("ID_LIKE", "").lower().split())
    return OsInfo(
        id=os_id,
        id_like=id_like,
        name=values.get("PRETTY_NAME") or values.get("NAME"),
        version=values.get("VERSION_ID"),
        family=family_of(os_id, id_like),
    )


def family_of(os_id: str | None, id_like: tuple[str, ...]) -> str | None:
    for candidate in (os_id, *id_like):
        if candidate and candidate in _FAMILY_OF_ID:
            return _FAMILY_OF_ID[candidate]
    return None
