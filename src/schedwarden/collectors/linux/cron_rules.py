"""Would the cron daemon load this file and this entry? The acceptance rules of each daemon.

* Debian cron: /etc/cron.d names must match run-parts' `^[A-Za-z0-9_-]+$` (no dots); system
  files must be root-owned and not group/other writable; user crontabs must be mode 0600 and owned
  by their user; more than one hard link is refused; **any syntax error makes the whole file
  ignored** ("Syntax error, this crontab file will be ignored"), and so does an unknown user in a
  system table. Spool: /var/spool/cron/crontabs.
* cronie: skips names starting with `.` or `#`, ending in `~`, `.rpmsave`, `.rpmorig`,
  `.rpmnew`; a file must be regular with (mode & 07533) == 0400 (no exec bits, not group/other
  writable), owned by root or its user, and a user crontab must have exactly one link. A bad entry
  is skipped, the rest loads. Spool: /var/spool/cron (SUSE: /var/spool/cron/tabs).
* busybox crond: reads only its spool (/var/spool/cron/crontabs, /etc/crontabs on Alpine), one file
  per existing user, without mode or owner checks; /etc/crontab and /etc/cron.d are not read.

Sources: cronie src/database.c, src/misc.c; cron(8) on Debian; busybox miscutils/crond.c;
reference/linux.md §b items 2 and 4.
"""

from __future__ import annotations

import re
from enum import StrEnum

from ...sources import CronFlavour, FileInfo, FileKind, OsInfo
from ...sources.accounts import Accounts
from .cron_syntax import CronEntry, CronError

RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CRONIE_SKIP_SUFFIXES = ("~", ".rpmsave", ".rpmorig", ".rpmnew")
NAME_MAX = 255


class TableKind(StrEnum):
    SYSTEM_CRONTAB = "system_crontab"
    CRON_D = "cron_d"
    USER_SPOOL = "user_spool"


SPOOLS: tuple[str, ...] = (
    "/var/spool/cron/crontabs",
    "/var/spool/cron",
    "/var/spool/cron/tabs",
    "/etc/crontabs",
)


def spools_read_by(flavour: CronFlavour, os_info: OsInfo) -> tuple[str, ...]:
    if flavour is CronFlavour.DEBIAN:
        return ("/var/spool/cron/crontabs",)
    if flavour is CronFlavour.BUSYBOX:
        return ("/var/spool/cron/crontabs", "/etc/crontabs")
    return ("/var/spool/cron/tabs",) if os_info.family == "suse" else ("/var/spool/cron",)


def cronie_skips_name(name: str) -> str | None:
    if name.startswith((".", "#")):
        return f"cronie skips names starting with '{name[0]}'"
    for suffix in _CRONIE_SKIP_SUFFIXES:
        if name.endswith(suffix):
            return f"cronie skips names ending in '{suffix}'"
    if len(name.encode("utf-8", "surrogateescape")) >= NAME_MAX:
        return "cronie skips names of NAME_MAX bytes or more"
    return None


def file_verdict(
    flavour: CronFlavour,
    kind: TableKind,
    directory: str,
    name: str,
    info: FileInfo,
    user: str | None,
    accounts: Accounts,
    os_info: OsInfo,
) -> str | None:
    """Why `flavour` would not load this file at all, or None when it would."""
    label = flavour.value
    if kind is TableKind.USER_SPOOL:
        if directory not in spools_read_by(flavour, os_info):
            return f"{label} does not read {directory} (its spool is elsewhere)"
    elif flavour is CronFlavour.BUSYBOX:
        return f"{label} reads only its spool, not {info.path}"
    if info.kind is not FileKind.REGULAR:
        return f"{label} refuses non-regular files (NOT REGULAR)"
    if flavour is CronFlavour.CRONIE:
        return _cronie_file(kind, name, info, user, accounts)
    if flavour is CronFlavour.DEBIAN:
        return _debian_file(kind, name, info, user, accounts)
    return _busybox_file(name, user, accounts)


def _cronie_file(
    kind: TableKind, name: str, info: FileInfo, user: str | None, accounts: Accounts
) -> str | None:
    if kind is not TableKind.SYSTEM_CRONTAB:
        skip = cronie_skips_name(name)
        if skip:
            return skip
    if kind is TableKind.USER_SPOOL and accounts.lacks_user(user):
        return "cronie ignores it: ORPHAN (no passwd entry for the user)"
    if info.mode & 0o7533 != 0o400:
        return (
            f"cronie refuses mode {info.mode:04o}: BAD FILE MODE "
            "(no exec bits, not group/other writable)"
        )
    owner_ok = info.uid == 0
    if kind is TableKind.USER_SPOOL:
        if user in accounts.users:
            owner_ok = owner_ok or accounts.users[user].uid == info.uid
        owner_ok = owner_ok or not accounts.loaded
    if not owner_ok:
        return f"cronie refuses owner uid {info.uid}: WRONG FILE OWNER"
    if kind is TableKind.USER_SPOOL and info.nlink != 1:
        return f"cronie refuses {info.nlink} hard links: BAD LINK COUNT"
    return None


def _debian_file(
    kind: TableKind, name: str, info: FileInfo, user: str | None, accounts: Accounts
) -> str | None:
    if kind is TableKind.CRON_D and not RUN_PARTS_NAME.match(name):
        return "Debian cron skips /etc/cron.d names outside [A-Za-z0-9_-] (run-parts rule)"
    if kind is TableKind.USER_SPOOL:
        if name.startswith("."):
            return "Debian cron skips names starting with '.'"
        if accounts.lacks_user(user):
            return "Debian cron ignores it: ORPHAN (no passwd entry for the user)"
        if info.mode != 0o600:
            return f"Debian cron refuses mode {info.mode:04o}: INSECURE MODE (mode 0600 expected)"
        if user in accounts.users and info.uid != accounts.users[user].uid:
            return f"Debian cron refuses owner uid {info.uid}: WRONG FILE OWNER"
    else:
        if info.mode & 0o022:
            return f"Debian cron refuses mode {info.mode:04o}: INSECURE MODE (group/other writable)"
        if info.uid != 0:
            return f"Debian cron refuses owner uid {info.uid}: WRONG FILE OWNER"
    if info.nlink > 1:
        return f"Debian cron refuses {info.nlink} hard links: NUMBER OF HARD LINKS > 1"
    return None


def _busybox_file(name: str, user: str | None, accounts: Accounts) -> str | None:
    if name == "cron.update":
        return "busybox crond treats cron.update as its control file"
    if accounts.lacks_user(user):
        return "busybox crond ignores it: no such user"
    return None


def whole_file_verdict(
    flavour: CronFlavour,
    kind: TableKind,
    errors: list[CronError],
    entries: list[CronEntry],
    accounts: Accounts,
    user_table_rejections: list[str],
) -> str | None:
    """Why `flavour` would drop every entry of a file it did open, or None."""
    if flavour is CronFlavour.CRONIE and kind is TableKind.USER_SPOOL and user_table_rejections:
        return "cronie refuses the whole file: " + "; ".join(user_table_rejections)
    if flavour is CronFlavour.DEBIAN:
        if errors:
            first = errors[0]
            return (
                f"Debian cron ignores the whole file: syntax error on line {first.line} "
                f"({first.message})"
            )
        for entry in entries:
            if entry.no_log:
                return (
                    f"Debian cron ignores the whole file: line {entry.line} starts with '-' "
                    "(a cronie extension, a syntax error here)"
                )
            if entry.randomized:
                return (
                    f"Debian cron ignores the whole file: line {entry.line} uses '~' "
                    "(a cronie extension, a syntax error here)"
                )
            if kind is not TableKind.USER_SPOOL and accounts.lacks_user(entry.user):
                return (
                    f"Debian cron ignores the whole file: bad username {entry.user!r} "
                    f"on line {entry.line}"
                )
    return None


def entry_verdict(
    flavour: CronFlavour,
    kind: TableKind,
    entry: CronEntry,
    accounts: Accounts,
    owner_uid: int | None,
) -> str | None:
    """Why `flavour` would skip this one entry of a loaded file, or None."""
    if entry.missing_newline and flavour is not CronFlavour.BUSYBOX:
        return f"{flavour.value} rejects an entry without a newline before end of file"
    if flavour is CronFlavour.CRONIE:
        if entry.no_log and kind is TableKind.USER_SPOOL and owner_uid not in (0, None):
            return "cronie rejects '-' (no logging) from an unprivileged user's crontab"
        if kind is not TableKind.USER_SPOOL and accounts.lacks_user(entry.user):
            return f"cronie skips it: getpwnam({entry.user!r}) failed"
    if flavour is CronFlavour.BUSYBOX and (entry.no_log or entry.randomized):
        return f"{flavour.value} rejects '-' and '~' (cronie extensions)"
    return None
