"""The one-regex reading of entry lines must agree with the step-by-step one on every input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden.collectors.linux.cron_syntax import (
    CronEntry,
    _parse_entry,
    _parse_entry_slowly,
    parse_table,
)

PIECES = ["*", "*/5", "0", "5", "1-5", "mon-fri", "jan", "7", "61", "1,2", "~", "3~9", "*x", "@reboot",
          "@daily", "@Daily", "-", "-5", "root", "alice", "%", "\\%", "sh", "/bin/true", "#", "'",
          '"', "\r", "\x1b[2J", "x=y", "\xa0", "é"]  # fmt: skip
BLANKS = st.sampled_from([" ", "\t", "  ", " \t", ""])
LINES = st.lists(st.tuples(BLANKS, st.sampled_from(PIECES)), max_size=10).map(
    lambda parts: "".join(blank + piece for blank, piece in parts)
)


def _read(reader: object, text: str, system: bool) -> CronEntry | str:
    try:
        return reader(text, 1, 0, system=system, environment=(), after_nul=None,  # type: ignore[operator]
                      missing_newline=False)  # fmt: skip
    except ValueError as error:
        return f"error: {error}"


@settings(max_examples=1500, deadline=None)
@given(LINES, st.booleans())
def test_fast_and_slow_readings_agree(text: str, system: bool) -> None:
    fast = _read(_parse_entry, text, system)
    slow = _read(_parse_entry_slowly, text, system)
    if isinstance(fast, str) or isinstance(slow, str):
        assert isinstance(fast, str) and isinstance(slow, str), (text, fast, slow)
    else:
        assert fast == slow


ENV_PIECES = [
    "A",
    "PATH",
    "_x1",
    "=",
    " ",
    "\t",
    "/bin",
    "'",
    '"',
    "a b",
    "\r",
    "\x0b",
    "#",
    "é",
    "1",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(ENV_PIECES), max_size=8).map("".join))
def test_simple_environment_lines_read_as_load_env_reads_them(text: str) -> None:
    from schedwarden.collectors.linux.cron_syntax import _C_SPACE, _SIMPLE_ENV, parse_env_line

    simple = _SIMPLE_ENV.match(text)
    if simple:
        assert (simple.group(1), simple.group(2).rstrip(_C_SPACE)) == parse_env_line(text)


TABLE_PIECES = [b"* * * * * root /bin/x\n", b"5 4 * * * alice \xe2\x82\xac %in\n", b"\xff\xfe bad\n",
                b"A=\xc3\xa9\n", b"# c\xe2\n", b"\x00", b"1 2 3 4 5 root a\x00b\n", b"\n", b"  \t\n",
                b"@daily root \xe2\x82\n", b"0 0 * * * root last", b"\xc3\xa9x", b"\xe2\x82"]  # fmt: skip
TABLE_BYTES = st.lists(st.sampled_from(TABLE_PIECES), max_size=12).map(b"".join)


@settings(max_examples=800, deadline=None)
@given(TABLE_BYTES)
def test_offsets_are_byte_offsets_of_the_file(data: bytes) -> None:
    """Every entry and error points at its own bytes, whatever the encoding of the lines."""
    table = parse_table(data, system=True)
    for record in (*table.entries, *table.errors):
        raw = record.raw.encode("utf-8", "surrogateescape")
        assert data[record.offset : record.offset + len(raw)] == raw, record
        assert data.count(b"\n", 0, record.offset) + 1 == record.line, record
