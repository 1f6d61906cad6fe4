"""systemd unit files exactly as systemd's own parser (src/shared/conf-parser.c) reads them.

* `\\n`, `\\r` and NUL all end a line, so `ExecStart=/bin/true\\rExecStartPre=/tmp/x` is two
  directives to systemd while `cat` shows one line.
* Leading blanks are skipped; a line starting with `#` or `;` is a comment, also inside a
  continuation. A line ending in a backslash continues on the next one (the backslash becomes a
  space).
* A line longer than 1 MiB makes systemd refuse the whole file.
* An assignment that is not valid UTF-8 is ignored ("not UTF-8 clean, ignoring assignment").
* `[Section]` headers; `Key=Value` with blanks around both trimmed. Every key keeps all its values
  in order: an empty value resets the list (merging drop-ins relies on it).

Sources: systemd.syntax(7), systemd.unit(5); reference/reliability.md §2 and §3.3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LONG_LINE_MAX = 1024 * 1024
_LINE_ENDS = re.compile(rb"\r\n|[\n\r\x00]")
COMMENTS = ("#", ";")


@dataclass(frozen=True, slots=True)
class Assignment:
    section: str
    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class UnitProblem:
    """`code` is NUL_BYTE, LINE_TOO_LONG, NOT_UTF8 or SYNTAX; `fatal` when systemd drops the file."""

    code: str
    message: str
    line: int
    fatal: bool = False


@dataclass(slots=True)
class UnitFile:
    assignments: list[Assignment] = field(default_factory=list)
    problems: list[UnitProblem] = field(default_factory=list)

    @property
    def rejected(self) -> UnitProblem | None:
        return next((p for p in self.problems if p.fatal), None)


def parse_unit(data: bytes) -> UnitFile:
    unit = UnitFile()
    section = ""
    continuation: bytes | None = None
    continuation_line = 0
    if b"\x00" in data:
        first = data[: data.index(b"\x00")].count(b"\n") + 1
        unit.problems.append(
            UnitProblem("NUL_BYTE", "NUL byte: systemd ends the line there", first)
        )
    position = 0
    newlines = 0  # line numbers are those an editor shows: only \n starts a new one
    for match in _LINE_ENDS.finditer(data + b"\n"):
        raw = data[position : match.start()]
        position = match.end()
        number = newlines + 1
        newlines += match.group(0).endswith(b"\n")
        if len(raw) > LONG_LINE_MAX:
            unit.problems.append(
                UnitProblem(
                    "LINE_TOO_LONG",
                    f"line of {len(raw)} bytes; systemd refuses files with lines over 1 MiB",
                    number,
                    fatal=True,
                )
            )
            return unit
        stripped = raw.lstrip(b" \t")
        if stripped[:1] in (b"#", b";"):
            continue
        if continuation is not None:
            raw = continuation + stripped
            line = continuation_line
        else:
            raw = stripped
            line = number
        if raw.endswith(b"\\") and not raw.endswith(b"\\\\"):
            continuation = raw[:-1] + b" "
            continuation_line = line
            continue
        continuation = None
        text = raw.strip(b" \t")
        if not text:
            continue
        if text.startswith(b"[") and text.endswith(b"]"):
            try:
                section = text[1:-1].decode("utf-8")
            except UnicodeDecodeError:
                section = text[1:-1].decode("utf-8", "surrogateescape")
            continue
        key, equals, value = text.partition(b"=")
        if not equals:
            unit.problems.append(
                UnitProblem("SYNTAX", "line is not KEY=VALUE; systemd ignores it", line)
            )
            continue
        try:
            decoded_key = key.strip(b" \t").decode("utf-8")
            decoded_value = value.strip(b" \t").decode("utf-8")
        except UnicodeDecodeError:
            unit.problems.append(
                UnitProblem(
                    "NOT_UTF8",
                    "assignment is not UTF-8 clean; systemd ignores it: "
                    + text.decode("utf-8", "surrogateescape"),
                    line,
                )
            )
            continue
        unit.assignments.append(Assignment(section, decoded_key, decoded_value, line))
    if continuation is not None:
        text = continuation.strip(b" \t")
        key, equals, value = text.partition(b"=")
        if equals:
            unit.assignments.append(
                Assignment(
                    section,
                    key.decode("utf-8", "surrogateescape"),
                    value.strip(b" \t").decode("utf-8", "surrogateescape"),
                    continuation_line,
                )
            )
    return unit


@dataclass(slots=True)
class MergedUnit:
    """A unit after its fragment and drop-ins: every key's effective values in order."""

    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def apply(self, unit: UnitFile) -> None:
        for item in unit.assignments:
            key = (item.section, item.key)
            if item.value == "":
                self.values[key] = []  # an empty assignment resets the list
            else:
                self.values.setdefault(key, []).append(item.value)
            self.lines[key] = item.line

    def all(self, section: str, key: str) -> list[str]:
        return list(self.values.get((section, key), []))

    def last(self, section: str, key: str) -> str | None:
        found = self.values.get((section, key))
        return found[-1] if found else None

    def flag(self, section: str, key: str) -> bool:
        value = self.last(section, key)
        return value is not None and value.lower() in ("1", "yes", "true", "on")
