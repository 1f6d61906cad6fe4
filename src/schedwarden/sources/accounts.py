"""Users and groups of the evidence host, read from its own /etc/passwd and /etc/group."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(slots=True)
class Accounts:
    """Name ↔ id tables. Empty when the host has no readable passwd file (every lookup then misses)."""

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    group_members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _by_uid: dict[int, User] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        """False when the host had no usable passwd file: user checks cannot be decided."""
        return bool(self.users)

    def lacks_user(self, name: str | None) -> bool:
        """True only when the host's accounts are known and `name` is not among them."""
        return self.loaded and name not in self.users

    def add_user(self, user: User) -> None:
        self.users.setdefault(user.name, user)
        self._by_uid.setdefault(user.uid, user)

    def user_by_uid(self, uid: int) -> User | None:
        return self._by_uid.get(uid)

    def user_name(self, uid: int) -> str | None:
        user = self._by_uid.get(uid)
        return user.name if user else None

    def group_name(self, gid: int) -> str | None:
        return self.groups.get(gid)


def parse_passwd(text: str, accounts: Accounts) -> None:
    """`name:pw:uid:gid:gecos:home:shell`; malformed lines are skipped as getpwent does."""
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 7 or not fields[0] or fields[0].startswith(("+", "-", "#")):
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        accounts.add_user(User(fields[0], uid, gid, fields[5], fields[6]))


def parse_group(text: str, accounts: Accounts) -> None:
    """`name:pw:gid:member,member`."""
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 4 or not fields[0]:
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        accounts.groups.setdefault(gid, fields[0])
        members = tuple(m for m in fields[3].split(",") if m)
        accounts.group_members.setdefault(fields[0], members)
