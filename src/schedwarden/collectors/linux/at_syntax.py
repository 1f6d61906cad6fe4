"""The at job file exactly as at(1) 3.2 writes it and atd(8) reads it. Nothing in it is executed.

Read from at 3.2 (at.c `writefile`, atd.c `run_loop` and `run_file`), in our own words:

* File name: `<queue><job number><run time>`, written `%c%5lx%8lx` with blanks turned into `0`:
  a queue letter, five lowercase hex digits of job number, eight of minutes since the epoch
  (`a0000a01c2d3e4`: queue a, job 10, 0x01c2d3e4 × 60 s). atd reads it back with sscanf, which
  also takes shorter numbers, a sign or a `0x` prefix; a name it cannot read is ignored. A `=` in
  place of the queue letter is the hard link atd takes as a lock when it starts the job.
* Content, in this order:

      #!/bin/sh
      # atrun uid=1000 gid=1000            atd compares uid= with the file's owner
      # mail alice 0                       who gets the output: 1 always, -1 never, else if any
      umask 22
      NAME=value; export NAME              the submitter's whole environment, one per variable
      cd /submit/dir || {
      <tab> echo 'Execution directory inaccessible' >&2
      <tab> exit 1
      }
      ${SHELL:-/bin/sh} << 'marcinDELIMITER2a4f6c8e'
      the commands given to at(1)

      marcinDELIMITER2a4f6c8e

* Values and the directory are quoted by a backslash before every byte that is not a letter or a
  digit (values also leave `%/{[]=}@+#,.:-_` bare, the directory only `/`); a newline is written
  `"` newline `"`. The unquoter below accepts exactly these forms and expands nothing. Any other
  line is one at(1) never writes; /bin/sh would still run it, so it is reported as such.
* atd reads only the start of the file, with fscanf and the format
  `#!/bin/sh\\n# atrun uid=%d gid=%d\\n# mail %256s %d` (a blank in a scanf format matches any
  run of white space, none included), then feeds the whole file to /bin/sh. at 3.1 wrote no
  here-document: the commands follow the `cd` block directly.

References: at(1), atd(8), at 3.2 sources; reference/linux.md §b item 17.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAIL_NAME_MAX = 256  # sysconf(_SC_LOGIN_NAME_MAX) on glibc: the width of atd's %s
MAX_STRAY_LINES = 20
_SPACE = b" \t\n\v\f\r"
_HEX = b"0123456789abcdefABCDEF"
_ALNUM = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ENV_BARE = _ALNUM | frozenset(b"%/{[]=}@+#,.:-_")
_CD_BARE = _ALNUM | frozenset(b"/")

_EXACT_NAME = re.compile(rb"[A-Za-z=][0-9a-f]{13}")
_HEADER = re.compile(
    rb"#!/bin/sh\s*#\s*atrun\s*uid=\s*([+-]?[0-9]+)\s*gid=\s*([+-]?[0-9]+)"
    rb"\s*#\s*mail\s*(\S{1,%d}+)\s*([+-]?[0-9]+)" % MAIL_NAME_MAX
)
_UMASK = re.compile(rb"umask[ \t]+([0-7]+)[ \t]*")
_NAME_EQ = re.compile(rb"([A-Za-z_][A-Za-z0-9_]*)=")
_CD_TAIL = re.compile(
    rb"[ \t]*\|\|[ \t]*\{\s*echo 'Execution directory inaccessible' >&2\s*;?\s*exit 1\s*;?\s*\}"
    rb"[ \t]*(?:\n|\Z)"
)
_HEREDOC = re.compile(rb"^\$\{SHELL:-/bin/sh\}[ \t]*<<[ \t]*'([^'\n]+)'[ \t]*$", re.MULTILINE)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# File name


@dataclass(frozen=True, slots=True)
class JobName:
    """The name as atd reads it; `exact` when it is written the way at(1) writes names."""

    queue: str
    job_number: int
    minutes: int
    exact: bool


def scan_hex(raw: bytes, pos: int, width: int) -> tuple[int, int] | None:
    """glibc's `%<width>lx` at `pos`: blanks skipped, then a sign, `0x` and hex digits within
    `width` bytes. Returns the value (negatives wrap as strtoul does) and the end, or None."""
    while pos < len(raw) and raw[pos] in _SPACE:
        pos += 1
    limit = min(len(raw), pos + width)
    negative = False
    if pos < limit and raw[pos] in b"+-":
        negative = raw[pos] == ord("-")
        pos += 1
    if raw[pos : pos + 2] in (b"0x", b"0X") and pos + 2 < limit and raw[pos + 2] in _HEX:
        pos += 2
    start = pos
    while pos < limit and raw[pos] in _HEX:
        pos += 1
    if pos == start:
        return None
    value = int(raw[start:pos], 16)
    return ((-value) % (1 << 64) if negative else value), pos


def parse_job_name(name: str) -> JobName | None:
    """atd's `sscanf(name, "%c%5lx%8lx")`; None when atd skips the name."""
    raw = name.encode("utf-8", "surrogateescape")
    if not raw:
        return None
    number = scan_hex(raw, 1, 5)
    if number is None:
        return None
    minutes = scan_hex(raw, number[1], 8)
    if minutes is None:
        return None
    return JobName(
        queue=_text(raw[:1]),
        job_number=number[0],
        minutes=minutes[0],
        exact=_EXACT_NAME.fullmatch(raw) is not None,
    )


# ---------------------------------------------------------------------------------------------
# Content


@dataclass(frozen=True, slots=True)
class AtHeader:
    """The three lines atd reads: who the job runs as and where its output is mailed."""

    uid: int
    gid: int
    mail_user: str
    mail_mode: int


@dataclass(frozen=True, slots=True)
class StrayLine:
    """A line at(1) never writes, which /bin/sh runs with the rest of the file."""

    line: int
    offset: int
    text: str


@dataclass(frozen=True, slots=True)
class AtJobFile:
    header: AtHeader | None
    umask: str | None
    environment: tuple[tuple[str, str], ...]
    working_dir: str | None
    here_document: bool
    payload: str | None
    payload_line: int | None
    payload_offset: int | None
    terminated: bool
    stray: tuple[StrayLine, ...]
    stray_count: int

    @property
    def recognized(self) -> bool:
        """Does anything in the file look like an at job (atd's header or at(1)'s payload)?"""
        return self.header is not None or self.here_document


def parse_header(data: bytes) -> AtHeader | None:
    match = _HEADER.match(data)
    if match is None:
        return None
    return AtHeader(
        uid=int(match.group(1)),
        gid=int(match.group(2)),
        mail_user=_text(match.group(3)),
        mail_mode=int(match.group(4)),
    )


def unquote(data: bytes, pos: int, bare: frozenset[int]) -> tuple[bytes, int] | None:
    """Undo at(1)'s quoting from `pos` up to the first byte it would have quoted; return the
    value and where it stopped. None when the text holds a form at(1) never writes."""
    out = bytearray()
    size = len(data)
    while pos < size:
        byte = data[pos]
        if byte == 0x5C:  # backslash: the next byte is literal (a newline would join lines)
            if pos + 1 >= size or data[pos + 1] == 0x0A:
                return None
            out.append(data[pos + 1])
            pos += 2
        elif byte == 0x22:  # `"` only as the `"` newline `"` at(1) writes for a newline
            if data[pos : pos + 3] != b'"\n"':
                return None
            out.append(0x0A)
            pos += 3
        elif byte in bare or byte >= 0x80:
            out.append(byte)
            pos += 1
        else:
            break
    return bytes(out), pos


def _assignment(data: bytes, pos: int) -> tuple[str, str, int] | None:
    """`NAME=value; export NAME` at `pos`: name, value and the offset after the line."""
    match = _NAME_EQ.match(data, pos)
    if match is None:
        return None
    value = unquote(data, match.end(), _ENV_BARE)
    if value is None:
        return None
    tail = b"; export " + match.group(1)
    end = value[1]
    if not data.startswith(tail, end):
        return None
    end += len(tail)
    if end < len(data) and data[end] != 0x0A:
        return None
    return _text(match.group(1)), _text(value[0]), end + 1


def _change_dir(data: bytes, pos: int) -> tuple[str, int] | None:
    """`cd DIR || { echo 'Execution directory inaccessible' >&2; exit 1; }` (one or four lines)."""
    if not data.startswith(b"cd ", pos):
        return None
    value = unquote(data, pos + 3, _CD_BARE)
    if value is None or not value[0]:
        return None
    tail = _CD_TAIL.match(data, value[1])
    if tail is None:
        return None
    return _text(value[0]), tail.end()


def parse_job_file(data: bytes) -> AtJobFile:
    """Every part of the file, in the order /bin/sh meets them."""
    header = parse_header(data)
    heredoc = _HEREDOC.search(data)
    umask: str | None = None
    environment: list[tuple[str, str]] = []
    working_dir: str | None = None
    stray: list[StrayLine] = []
    stray_count = 0
    payload: str | None = None
    payload_line: int | None = None
    payload_offset: int | None = None
    terminated = True

    def add_stray(number: int, offset: int, text: bytes) -> None:
        nonlocal stray_count
        stray_count += 1
        if len(stray) < MAX_STRAY_LINES:
            stray.append(StrayLine(number, offset, _text(text)))

    preamble_end = heredoc.start() if heredoc else len(data)
    pos, number = 0, 1
    while pos < preamble_end:
        eol = data.find(b"\n", pos, preamble_end)
        eol = preamble_end if eol < 0 else eol
        line = data[pos:eol]
        stripped = line.strip(b" \t")
        end: int | None = eol + 1
        if not stripped or stripped.startswith(b"#"):
            pass
        elif (umask_match := _UMASK.fullmatch(line)) is not None:
            umask = _text(umask_match.group(1))
        elif (assignment := _assignment(data, pos)) is not None:
            environment.append((assignment[0], assignment[1]))
            end = assignment[2]
        elif (directory := _change_dir(data, pos)) is not None:
            working_dir, end = directory
        elif heredoc is None and header is not None:
            # at 3.1: the commands follow the preamble directly
            payload, payload_line, payload_offset = _text(data[pos:]), number, pos
            break
        else:
            add_stray(number, pos, line)
        assert end is not None
        number += data.count(b"\n", pos, end)
        pos = end

    if heredoc is not None:
        delimiter = heredoc.group(1)
        start = heredoc.end() + 1
        number += data.count(b"\n", pos, start)
        payload_line, payload_offset = number, start
        close = re.compile(rb"^" + re.escape(delimiter) + rb"$", re.MULTILINE).search(data, start)
        if close is None:
            terminated = False  # the shell reads the here-document to the end of the file
            payload = _text(data[start:])
        else:
            payload = _text(data[start : close.start()])
            number += data.count(b"\n", start, close.end() + 1)
            pos = close.end() + 1
            while pos < len(data):
                eol = data.find(b"\n", pos)
                eol = len(data) if eol < 0 else eol
                line = data[pos:eol]
                stripped = line.strip(b" \t")
                if stripped and not stripped.startswith(b"#"):
                    add_stray(number, pos, line)
                number += 1
                pos = eol + 1

    return AtJobFile(
        header=header,
        umask=umask,
        environment=tuple(environment),
        working_dir=working_dir,
        here_document=heredoc is not None,
        payload=payload.rstrip("\n") if payload is not None else None,
        payload_line=payload_line,
        payload_offset=payload_offset,
        terminated=terminated,
        stray=tuple(stray),
        stray_count=stray_count,
    )
