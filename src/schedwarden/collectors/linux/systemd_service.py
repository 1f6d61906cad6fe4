"""What a systemd service runs: command lines with their prefixes, environment, specifiers.

Command lines (systemd.service(5)): optional prefixes `@` (the second word becomes argv[0], the
process masquerade of `ExecStart=@/tmp/x [kworker/0:1]`), `-` (failure ignored), `:` (no variable
expansion), `+` (full privileges, ignores User= and sandboxing), `!`/`!!` (privilege handling),
`|` (run through the user's shell); words are quoted like a shell; a lone `;` separates commands.
Specifiers (`%i %n %N %p %u %U %h %H %t %E %S %C %L %%`) are expanded where known; `$VAR` is left
as written because systemd expands it only at run time.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ...model import ExecAction

EXEC_KEYS = ("ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost")
_PREFIX = re.compile(r"^(?:!!|[@\-:+!|])*")
_SPECIFIER = re.compile(r"%(.)")


@dataclass(frozen=True, slots=True)
class UnitContext:
    """What specifiers expand to for one unit in one manager."""

    unit: str
    user: str | None
    uid: int | None
    home: str | None
    host: str
    user_manager: bool

    def specifiers(self) -> dict[str, str]:
        stem = self.unit.rpartition(".")[0] or self.unit
        prefix, at, instance = stem.partition("@")
        table = {
            "n": self.unit,
            "N": stem,
            "p": prefix,
            "i": instance if at else "",
            "I": _unescape(instance) if at else "",
            "j": prefix.rpartition("-")[2],
            "H": self.host,
            "%": "%",
        }
        if self.user is not None:
            table["u"] = self.user
        if self.uid is not None:
            table["U"] = str(self.uid)
        if self.home is not None:
            table["h"] = self.home
        if self.user_manager:
            if self.uid is not None:
                table["t"] = f"/run/user/{self.uid}"
            if self.home is not None:
                table |= {
                    "E": f"{self.home}/.config",
                    "S": f"{self.home}/.local/state",
                    "C": f"{self.home}/.cache",
                    "L": f"{self.home}/.local/state/log",
                }
        else:
            table |= {"t": "/run", "E": "/etc", "S": "/var/lib", "C": "/var/cache",
                      "L": "/var/log"}  # fmt: skip
        return table

    def expand(self, text: str) -> str:
        table = self.specifiers()
        return _SPECIFIER.sub(lambda m: table.get(m.group(1), m.group(0)), text)


def _unescape(text: str) -> str:
    """systemd-escape's inverse for `%I`: `-` → `/`, `\\xNN` → the byte."""
    text = text.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def exec_actions(phase: str, value: str, context: UnitContext) -> list[ExecAction]:
    """One `Exec*=` value → its commands."""
    prefixes = _PREFIX.match(value)
    prefix = prefixes.group(0) if prefixes else ""
    rest = context.expand(value[len(prefix) :])
    try:
        words = shlex.split(rest, posix=True)
    except ValueError:
        words = rest.split()
    commands: list[list[str]] = [[]]
    for word in words:
        if word == ";":
            commands.append([])
        else:
            commands[-1].append(word)
    commands = [c for c in commands if c]
    actions = []
    for index, command in enumerate(commands):
        this_prefix = prefix if index == 0 else ""
        argv0 = None
        executable = command[0]
        arguments = command[1:]
        if "@" in this_prefix and arguments:
            argv0, arguments = arguments[0], arguments[1:]
        # The command as written (quotes and $VARS kept), unless it had to be taken apart.
        as_written = len(commands) == 1 and argv0 is None
        actions.append(
            ExecAction(
                command_line=rest.strip() if as_written else shlex.join([executable, *arguments]),
                executable=executable,
                arguments=tuple(arguments),
                phase=phase,
                prefixes=this_prefix or None,
                argv0=argv0,
            )
        )
    return actions


def environment_assignments(values: list[str], context: UnitContext) -> list[tuple[str, str]]:
    """`Environment="A=1" B=2` values → ordered pairs (later ones win)."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        try:
            words = shlex.split(context.expand(value), posix=True)
        except ValueError:
            words = value.split()
        for word in words:
            name, equals, item = word.partition("=")
            if equals and name:
                pairs.append((name, item))
    return pairs


def environment_file_assignments(text: str) -> list[tuple[str, str]]:
    """An EnvironmentFile: `KEY=VALUE` lines, `#`/`;` comments, optional quotes (never run)."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        pairs.append((name.strip(), value))
    return pairs
