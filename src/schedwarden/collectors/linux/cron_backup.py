"""cronie's crontab backups (T1053.003): `~/.cache/crontab/crontab.bak` and `crontab.<user>.bak`.

cronie ≥ 1.7 saves the previous tab of the edited user into the *invoking* user's cache on every
`crontab -e` and `crontab -r`. The daemon never reads these files, but they are evidence: an
earlier or deleted tab, and so a payload an attacker removed after use. Every entry is reported as
a dormant cron job with `extra.backup` set.

References: cronie NEWS 1.7.0, src/crontab.c (backup_crontab); reference/linux.md §b item 1.
"""

from __future__ import annotations

from ...model import Issue, Mechanism
from ...sources import FileContent
from ..base import CollectContext, Collector, CollectorOutput
from .cron_jobs import table_jobs
from .cron_rules import TableKind

CACHE_DIR = ".cache/crontab"


def collect(ctx: CollectContext) -> CollectorOutput:
    homes: dict[str, str] = {}
    for user in ctx.source.accounts.users.values():
        if user.home.startswith("/") and user.home != "/":
            homes.setdefault(user.home.rstrip("/"), user.name)
    homes.setdefault("/root", "root")
    for home, owner in sorted(homes.items()):
        folder = f"{home}/{CACHE_DIR}"
        names = ctx.list_dir(folder)
        if isinstance(names, Issue):
            yield names
            continue
        for name in names:
            if name == "crontab.bak":
                tab_user = owner
            elif name.startswith("crontab.") and name.endswith(".bak"):
                tab_user = name[len("crontab.") : -len(".bak")]
            else:
                continue
            content = ctx.read(f"{folder}/{name}")
            if not isinstance(content, FileContent):
                if content is not None:
                    yield content
                continue
            yield from table_jobs(
                ctx,
                content,
                TableKind.USER_SPOOL,
                folder,
                user=tab_user,
                dormant_reason="backup of an earlier crontab saved by crontab(1); cron does not "
                "read it",
                extra={"backup": True, "saved_by": owner},
            )


COLLECTOR = Collector(
    name="cron_backup",
    mechanism=Mechanism.CRON,
    platform="linux",
    locations=("{home}/" + CACHE_DIR,),
    collect=collect,
)
