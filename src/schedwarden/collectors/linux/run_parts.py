"""Which files run-parts would run from a folder, per implementation.

* Debian run-parts (and busybox run-parts): only names matching `^[A-Za-z0-9_-]+$`, so
  `update.sh` is skipped; the file must be executable.
* RHEL's run-parts script (crontabs package): skips names ending in `~`, `,`, `.rpmsave`,
  `.rpmorig`, `.rpmnew`, `.swp`, `.cfsaved`; the file must be executable.
"""

from __future__ import annotations

from ...sources import CronFlavour, FileInfo, FileKind
from .cron_rules import RUN_PARTS_NAME

_RHEL_SKIP_SUFFIXES = ("~", ",", ".rpmsave", ".rpmorig", ".rpmnew", ".swp", ".cfsaved")


def run_parts_objection(flavour: CronFlavour, name: str, info: FileInfo) -> str | None:
    """Why run-parts would not run this file, or None when it would."""
    if flavour is CronFlavour.CRONIE:
        for suffix in _RHEL_SKIP_SUFFIXES:
            if name.endswith(suffix):
                return f"RHEL run-parts skips names ending in '{suffix}'"
    elif not RUN_PARTS_NAME.match(name):
        return f"{_label(flavour)} skips names outside [A-Za-z0-9_-] (so no dots)"
    if info.kind is not FileKind.REGULAR:
        return f"run-parts runs only regular files, this is a {info.kind.value}"
    if not info.mode & 0o111:
        return f"not executable (mode {info.mode:04o}); run-parts skips it"
    return None


def _label(flavour: CronFlavour) -> str:
    return "busybox run-parts" if flavour is CronFlavour.BUSYBOX else "Debian run-parts"
