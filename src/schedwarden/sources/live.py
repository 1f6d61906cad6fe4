"""The running host, read-only. Same resolver as an image (root "/"); names come from NSS."""

from __future__ import annotations

import grp
import pwd
import socket

from ..model import SourceKind
from .accounts import Accounts, User
from .rooted import DEFAULT_READ_CAP, RootedSource


class LiveSource(RootedSource):
    """Read the host we run on. Users and groups come from NSS (as cron's getpwnam sees them),
    so LDAP or SSSD accounts are known too."""

    kind = SourceKind.LIVE

    def __init__(self, read_cap: int = DEFAULT_READ_CAP) -> None:
        super().__init__("/", read_cap)

    def _load_accounts(self) -> Accounts:
        accounts = super()._load_accounts()
        try:
            for entry in pwd.getpwall():
                accounts.add_user(
                    User(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_shell)
                )
            for group in grp.getgrall():
                accounts.groups.setdefault(group.gr_gid, group.gr_name)
        except OSError:
            pass
        return accounts

    def _image_windows_timezone(self) -> str | None:
        """None: the running host is never read as a Windows image (on Windows its SYSTEM hive is
        locked and its zone is the live registry's)."""
        return None

    @property
    def host(self) -> str:
        if self._host is None:
            self._host = socket.gethostname() or super().host
        return self._host
