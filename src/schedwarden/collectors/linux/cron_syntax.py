"""The crontab language exactly as cronie, Debian cron and busybox crond read it.

Read from the daemons' sources (cronie src/entry.c, env.c, do_command.c; Vixie cron 3.0 for Debian;
busybox miscutils/crond.c), in our own words:

* Only `\\n` ends a line. A `\\r` is an ordinary character that stays in the command (a CRLF file
  runs `cmd\\r`). A NUL ends the command early and the daemon goes on reading after it, as if a new
  line began there.
* A line whose first non-blank character is `#` is a comment; `#` anywhere else is data.
* An environment line (`NAME=value`, blanks around `=`, optional single or double quotes around
  name and value) is tried first; it applies to every entry after it in the same file.
* `@reboot @yearly @annually @monthly @weekly @daily @midnight @hourly` are compared
  case-sensitively; anything else after `@` is a bad time specifier.
* Five fields of lists of `*`, numbers, month and weekday names, `a-b` ranges and `/step`;
  cronie's `a~b` picks a random value when the daemon loads the table. Out of range, empty list
  items, reversed ranges and a zero step reject the entry (the rest of the file still loads on
  cronie; Debian rejects the whole file, which the acceptance rules decide). A `*` not followed
  by `/` ends its field: the daemons skip whatever follows it (`*x` is `*`). A `*` where the user
  or command should start is refused as a typo.
* cronie: a leading `-` means "do not log this job" (only for system tables and root).
* System tables carry a user name after the fifth field; user tables take the user from the file.
* The command runs through `$SHELL -c`; the first unescaped `%` ends it and the rest is stdin,
  where every further `%` is a newline and `\\%` is a literal `%`. A command is cut at 131071 bytes.
* An entry on the last line without a final newline is rejected by cronie and Debian cron.
* User tables: cronie refuses the whole file beyond 10 000 entries, 1 000 environment lines or
  32 768 characters of comments and blank lines in a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

MAX_COMMAND = 131072  # cronie/Vixie buffer: at most MAX_COMMAND - 1 bytes are kept
MAX_ENTRIES = 10000
MAX_ENV_LINES = 1000
MAX_GARBAGE = 32768

MACROS: dict[str, str | None] = {
    "@reboot": None,
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {name: i + 1 for i, name in enumerate(_MONTHS)},
    {name: i for i, name in enumerate(_DAYS)},
)
_BLANKS = " \t"
_TOKEN = re.compile(r"[^ \t]+")


@dataclass(frozen=True, slots=True)
class CronEntry:
    """One job line as the daemon stores it."""

    line: int
    offset: int
    raw: str
    schedule_text: str
    fields: tuple[str, str, str, str, str] | None
    macro: str | None
    randomized: bool
    user: str | None
    command_raw: str
    command: str
    stdin: str | None
    no_log: bool
    environment: tuple[tuple[str, str], ...]
    after_nul: str | None = None
    overlong: bool = False
    missing_newline: bool = False


@dataclass(frozen=True, slots=True)
class CronError:
    """A line the daemon refuses; `field` names the time field at fault, when there is one."""

    line: int
    offset: int
    raw: str
    message: str
    field: str | None = None


@dataclass(slots=True)
class ParsedTable:
    entries: list[CronEntry] = field(default_factory=list)
    errors: list[CronError] = field(default_factory=list)
    env_lines: list[tuple[int, str, str]] = field(default_factory=list)
    max_garbage_run: int = 0
    missing_final_newline: bool = False

    def user_table_rejections(self) -> list[str]:
        """Why cronie would refuse this file as a whole if it were a user crontab."""
        reasons = []
        if len(self.entries) > MAX_ENTRIES:
            reasons.append(f"too many entries ({len(self.entries)} > {MAX_ENTRIES})")
        if len(self.env_lines) > MAX_ENV_LINES:
            reasons.append(f"too many environment lines ({len(self.env_lines)} > {MAX_ENV_LINES})")
        if self.max_garbage_run > MAX_GARBAGE:
            reasons.append(
                f"too many garbage characters ({self.max_garbage_run} > {MAX_GARBAGE} "
                "of comments and blank lines in a row)"
            )
        return reasons


class FieldError(ValueError):
    def __init__(self, index: int, text: str) -> None:
        super().__init__(f"bad {FIELD_NAMES[index]}: {text!r}")
        self.field = FIELD_NAMES[index]


def parse_table(data: bytes, *, system: bool) -> ParsedTable:
    """Parse a crontab; `system` tables (/etc/crontab, /etc/cron.d) have a user field."""
    table = ParsedTable()
    env: list[tuple[str, str]] = []
    env_snapshot: tuple[tuple[str, str], ...] = ()
    garbage = 0
    offset = 0
    # a UTF-8 sequence never spans a newline or a NUL, so decoding the file once is the same as
    # decoding each line; offsets stay in bytes
    ascii_only = data.isascii()
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    last_index = len(lines) - 1
    table.missing_final_newline = bool(data) and not data.endswith(b"\n")
    for index, raw_line in enumerate(lines):
        line_no = index + 1
        if index == last_index and not raw_line:
            break
        eof_no_newline = index == last_index
        pieces = raw_line.split("\x00") if "\x00" in raw_line else [raw_line]
        piece_offset = offset
        for piece_index, text in enumerate(pieces):
            size = len(text) if ascii_only else _byte_length(text)
            after_nul = None
            if piece_index + 1 < len(pieces):
                after_nul = "\x00".join(pieces[piece_index + 1 :])
            stripped = text.lstrip(_BLANKS)
            if not stripped or stripped.startswith("#"):
                garbage += size + 1
                table.max_garbage_run = max(table.max_garbage_run, garbage)
                piece_offset += size + 1
                continue
            garbage = 0
            assignment = None
            if "=" in text:
                simple = _SIMPLE_ENV.match(text)
                assignment = (
                    (simple.group(1), simple.group(2).rstrip(_C_SPACE))
                    if simple
                    else parse_env_line(text)
                )
            if assignment is not None:
                if eof_no_newline and piece_index == len(pieces) - 1:
                    table.errors.append(
                        CronError(line_no, piece_offset, text, "missing newline before EOF")
                    )
                else:
                    env = [kv for kv in env if kv[0] != assignment[0]]
                    env.append(assignment)
                    env_snapshot = tuple(env)
                    table.env_lines.append((line_no, *assignment))
                piece_offset += size + 1
                continue
            try:
                entry = _parse_entry(
                    text,
                    line_no,
                    piece_offset,
                    system=system,
                    environment=env_snapshot,
                    after_nul=after_nul,
                    missing_newline=eof_no_newline and piece_index == len(pieces) - 1,
                )
            except FieldError as exc:
                table.errors.append(CronError(line_no, piece_offset, text, str(exc), exc.field))
            except ValueError as exc:
                table.errors.append(CronError(line_no, piece_offset, text, str(exc)))
            else:
                table.entries.append(entry)
            piece_offset += size + 1
        offset += (len(raw_line) if ascii_only else _byte_length(raw_line)) + 1
    return table


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


_C_SPACE = " \t\n\v\f\r"  # isspace() of the C library, which cron uses
# `NAME=value` without quotes, the usual form: parse_env_line gives the same, only slower.
_SIMPLE_ENV = re.compile(
    r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t\r\v\f]*=[ \t\r\v\f]*((?![ \t\r\v\f])[^'\"]*)\Z", re.S
)
_NAMEI, _NAME, _EQ1, _EQ2, _VALUEI, _VALUE, _FINI = range(7)


def parse_env_line(text: str) -> tuple[str, str] | None:
    """cronie's load_env, state by state: `name = value`, name and value optionally quoted with
    `'` or `"`; None when the line is not one (it is then read as an entry). A quoted name may
    not contain `=`; only blanks may follow a quoted value; an unquoted value loses its trailing
    C whitespace (so `PATH=/bin\\r` is `/bin`); `NAME=` sets an empty value."""
    state, quote, i, n = _NAMEI, "", 0, len(text)
    while i < n and text[i] in _BLANKS:
        i += 1
    name: list[str] = []
    value: list[str] = []
    out = name
    while i < n:
        char = text[i]
        if state in (_NAMEI, _VALUEI):
            if char in "'\"":
                quote = char
                i += 1
            state += 1
        elif state in (_NAME, _VALUE):
            if quote:
                if char == quote:
                    state += 1
                    i += 1
                    continue
                if state == _NAME and char == "=":
                    return None
            elif state == _NAME:
                if char in _C_SPACE:
                    state = _EQ1
                    i += 1
                    continue
                if char == "=":
                    state = _EQ1
                    continue
            out.append(char)
            i += 1
        elif state == _EQ1:
            if char == "=":
                state, out, quote = _EQ2, value, ""
            elif char not in _C_SPACE:
                return None
            i += 1
        elif char in _C_SPACE:  # _EQ2 or _FINI
            i += 1
        elif state == _FINI:
            return None
        else:
            state = _VALUEI
    if state not in (_FINI, _EQ2) and not (state == _VALUE and not quote):
        return None
    result = "".join(value)
    return "".join(name), result.rstrip(_C_SPACE) if state == _VALUE else result


_FAST_ENTRY = re.compile(
    r"[ \t]*(-?)(?:(@[^ \t]+)|([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+"
    r"([^ \t]+))[ \t]*(.*)\Z",
    re.S,
)
_FAST_USER = re.compile(r"([^ \t]+)[ \t]*(.*)\Z", re.S)


def _parse_entry(
    text: str,
    line_no: int,
    offset: int,
    *,
    system: bool,
    environment: tuple[tuple[str, str], ...],
    after_nul: str | None,
    missing_newline: bool,
) -> CronEntry:
    """One regex for the well-formed lines that make up nearly every table; anything it does not
    take goes through the step-by-step reading below, which also words the errors."""
    match = _FAST_ENTRY.match(text)
    if match is not None:
        dash, macro, *fields_found, rest = match.groups()
        user = None
        good = not rest.startswith("*") and (macro is None or macro in MACROS)
        if system and rest:
            user_match = _FAST_USER.match(rest)
            user, rest = user_match.groups() if user_match else (None, "")
        good = good and bool(rest)
        randomized = False
        if good and macro is None:
            try:
                for index, token in enumerate(fields_found):
                    randomized |= check_field(index, token)
            except FieldError:
                good = False
        if good and (user is not None or not system):
            command, stdin = split_percent(rest)
            fields = None if macro else (
                fields_found[0], fields_found[1], fields_found[2], fields_found[3],
                fields_found[4],
            )  # fmt: skip
            return CronEntry(
                line=line_no,
                offset=offset,
                raw=text,
                schedule_text=macro or " ".join(fields_found),
                fields=fields,
                macro=macro,
                randomized=randomized,
                user=user,
                command_raw=rest,
                command=command,
                stdin=stdin,
                no_log=bool(dash),
                environment=environment,
                after_nul=after_nul,
                overlong=len(rest) * 4 >= MAX_COMMAND
                and len(rest.encode("utf-8", "surrogateescape")) >= MAX_COMMAND,
                missing_newline=missing_newline,
            )
    return _parse_entry_slowly(
        text, line_no, offset, system=system, environment=environment, after_nul=after_nul,
        missing_newline=missing_newline,
    )  # fmt: skip


def _parse_entry_slowly(
    text: str,
    line_no: int,
    offset: int,
    *,
    system: bool,
    environment: tuple[tuple[str, str], ...],
    after_nul: str | None,
    missing_newline: bool,
) -> CronEntry:
    pos = 0
    while pos < len(text) and text[pos] in _BLANKS:
        pos += 1
    no_log = False
    if text.startswith("-", pos):
        no_log = True
        pos += 1
    fields: tuple[str, str, str, str, str] | None = None
    macro: str | None = None
    randomized = False
    if text.startswith("@", pos):
        match = _TOKEN.match(text, pos)
        assert match is not None
        macro = match.group(0)
        if macro not in MACROS:
            raise ValueError(f"bad time specifier: {macro!r}")
        schedule_text = macro
        pos = match.end()
    else:
        parts: list[str] = []
        for index in range(5):
            while index and pos < len(text) and text[pos] in _BLANKS:
                pos += 1
            match = _TOKEN.match(text, pos)
            if match is None:
                raise FieldError(index, "")
            token = match.group(0)
            randomized |= check_field(index, token)
            parts.append(token)
            pos = match.end()
        fields = (parts[0], parts[1], parts[2], parts[3], parts[4])
        schedule_text = " ".join(fields)
    user = None
    while pos < len(text) and text[pos] in _BLANKS:
        pos += 1
    if text.startswith("*", pos):
        raise ValueError("bad command: '*' where the command starts (a sixth time field?)")
    if system:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError("bad command: missing command (no user name and command)")
        user = match.group(0)
        pos = match.end()
    while pos < len(text) and text[pos] in _BLANKS:
        pos += 1
    command_raw = text[pos:]
    if not command_raw:
        raise ValueError("bad command: missing command")
    overlong = len(command_raw.encode("utf-8", "surrogateescape")) >= MAX_COMMAND
    command, stdin = split_percent(command_raw)
    return CronEntry(
        line=line_no,
        offset=offset,
        raw=text,
        schedule_text=schedule_text,
        fields=fields,
        macro=macro,
        randomized=randomized,
        user=user,
        command_raw=command_raw,
        command=command,
        stdin=stdin,
        no_log=no_log,
        environment=environment,
        after_nul=after_nul,
        overlong=overlong,
        missing_newline=missing_newline,
    )


@lru_cache(maxsize=4096)
def check_field(index: int, token: str) -> bool:
    """Validate one time field as cronie's get_list does; True when it uses `~` (random)."""
    low, high = _BOUNDS[index]
    randomized = False
    for element in token.split(","):
        if element.startswith("*") and element[1:2] not in ("", "/"):
            break  # cronie and Vixie cron read `*`, then skip the rest of the field unread
        if not element:
            raise FieldError(index, token)
        body, slash, step_text = element.partition("/")
        if "~" in body:
            start_text, _, end_text = body.partition("~")
            start = _number(index, start_text, token) if start_text else low
            end = _number(index, end_text, token) if end_text else high
            if start > end or slash:
                raise FieldError(index, token)
            randomized = True
            continue
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start_text, _, end_text = body.partition("-")
            start = _number(index, start_text, token)
            end = _number(index, end_text, token)
            if start > end:
                raise FieldError(index, token)
        else:
            _number(index, body, token)
            if slash:
                raise FieldError(index, token)
            continue
        if slash and (not step_text.isdigit() or int(step_text) == 0):
            raise FieldError(index, token)
    return randomized


def _number(index: int, text: str, token: str) -> int:
    low, high = _BOUNDS[index]
    if text.isascii() and text.isdigit():
        value = int(text)
    else:
        named = _NAMES[index].get(text.lower())
        if named is None:
            raise FieldError(index, token)
        value = named
    if not low <= value <= high:
        raise FieldError(index, token)
    return value


def split_percent(command: str) -> tuple[str, str | None]:
    """Split at the first unescaped `%`: (command, stdin). `\\%` → `%`; later `%` → newline."""
    if "%" not in command:
        return command, None
    out: list[str] = []
    i, n = 0, len(command)
    while i < n:
        char = command[i]
        if char == "\\" and i + 1 < n and command[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if char == "%":
            break
        out.append(char)
        i += 1
    else:
        return "".join(out), None
    stdin: list[str] = []
    i += 1
    while i < n:
        char = command[i]
        if char == "\\" and i + 1 < n and command[i + 1] == "%":
            stdin.append("%")
            i += 2
            continue
        stdin.append("\n" if char == "%" else char)
        i += 1
    return "".join(out), "".join(stdin)
