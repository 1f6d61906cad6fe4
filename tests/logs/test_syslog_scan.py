"""The syslog reader's fast scan gives exactly what the plain reading gives.

The reader scans each block in place, finds keyword lines with one RE2 search per keyword,
counts newlines once, remembers the time of each timestamp text and tries the cron message
patterns by their first character. The plain reading (`reference` below: the reader as it was
first written) copies each block out, finds keywords with one `re` alternation and parses every
line on its own. Small blocks and a small line limit make every block-boundary case common.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden import forked
from schedwarden.forked import ForkedStream
from schedwarden.logs import syslog_reader
from schedwarden.logs.files import compression, issue, open_log
from schedwarden.logs.line_search import count_newlines
from schedwarden.logs.syslog_reader import keyword_lines, parse_line, read_syslog
from schedwarden.model import Issue, JobEvent

MTIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD_KEYWORD = re.compile(rb"[cC][rR][oO][nN]|atd|USER ")


def reference(data: bytes, block: int, max_line: int) -> list[JobEvent | Issue]:
    """Every event and issue of `data`, read the slow and obvious way."""
    out: list[JobEvent | Issue] = []
    stream = io.BytesIO(data)
    number, base, carry, skipping = 1, 0, b"", False
    while True:
        chunk = stream.read(block)
        final = not chunk
        whole = carry + chunk
        carry = b""
        if skipping:
            newline = whole.find(b"\n")
            if newline < 0:
                base += len(whole)
                if final:
                    return out
                continue
            whole = whole[newline + 1 :]
            base += newline + 1
            number += 1
            skipping = False
        end = len(whole) if final else whole.rfind(b"\n") + 1
        lines, carry = whole[:end], whole[end:]
        line_number, position, counted = number, 0, 0
        while (match := OLD_KEYWORD.search(lines, position)) is not None:
            start = lines.rfind(b"\n", 0, match.start()) + 1
            stop = lines.find(b"\n", match.end())
            stop = len(lines) if stop < 0 else stop + 1
            line_number += lines.count(b"\n", counted, start)
            counted = start
            if stop - start > max_line:
                message = f"line longer than {max_line} bytes skipped"
                out.append(issue("LOG_LINE_TOO_LONG", message, "log", line_number, base + start))
            else:
                event = parse_line(lines[start:stop], "log", line_number, base + start, MTIME)
                if event is not None:
                    out.append(event)
            position = stop
        number += lines.count(b"\n")
        base += end
        if len(carry) > max_line:
            message = f"line longer than {max_line} bytes skipped"
            out.append(issue("LOG_LINE_TOO_LONG", message, "log", number, base))
            base += len(carry)
            carry = b""
            skipping = True
        if final:
            return out


STAMPS = [
    b"Nov 27 10:00:01",
    b"Nov 27 10:00:01",  # repeated: the time is remembered
    b"Jan  1 00:00:01",
    b"Dec 31 23:59:59",
    b"Feb 30 10:00:01",  # no such day
    b"Mar  1 13:00:00",  # after the file's time: the year before
    b"- 1131566461 2005.11.09 dn228 Nov 9 12:01:01",
    b"<13>Nov 27 10:00:02",
    b"2026-01-02T03:04:05.5+01:00",
    b"2026-01-02T03:04:05",
    b"<78>1 2026-01-02T03:04:05Z",
]
TAGS = [
    b"CRON[12]:",
    b"CRON[99]:",
    b"CRON:",
    b"cron[1]:",
    b"CrOn[3]:",
    b"crond(pam_unix)[4]:",
    b"/usr/sbin/cron[5]:",
]
TAGS += [b"crontab[6]:", b"anacron[7]:", b"atd[8]:", b"ATD[9]:", b"busybox[1]:", b"sshd[2]:"]
MESSAGES = [
    b"(root) CMD (run-parts /etc/cron.hourly)",
    b"(root) CMD (echo hi^M   # hidden)",
    b"(alice) REPLACE (root)",
    b"(root) INSECURE MODE (mode 0600 expected) (crontabs/root)",
    b"(*system*x) NUMBER OF HARD LINKS > 1 (/etc/cron.d/x)",
    b"(persistevil) ORPHAN (no passwd entry)",
    b"(bob) bad minute (/var/spool/cron/bob)",
    b"(CRON) INFO (pidfile fd = 3)",
    b"Error: bad minute; while reading /etc/cron.d/x",
    b"USER root pid 1234 cmd run-parts /etc/periodic/15min",
    b"pam_unix(cron:session): session opened for user root by (uid=0)",
    b"session closed for user root",
    b"Job `cron.daily' started",
    b"Starting job 5 (a0000501a1b2c3) for user 'root' (0)",
    b"Accepted publickey for alice: no keyword here",
    b"(r\xc3\xb6ot) CMD (caf\xc3\xa9 \xff\xfe \x1b[31m)",
]
RFC5424_REST = [b"host CRON 123 - - (root) CMD (true)", b'host CRON - - [x@1 a="b"] (u) END (x)']
RFC5424_REST += [b"host CRON 456 - - (root) CMD (true)", b"host CRON - - - (root) CMD (true)"]

lines = st.one_of(
    st.builds(
        lambda stamp, host, tag, message, end: (
            stamp + b" " + host + b" " + tag + b" " + message + end
        ),
        st.sampled_from(STAMPS),
        st.sampled_from([b"h", b"host1", b"h/x"]),
        st.sampled_from(TAGS),
        st.sampled_from(MESSAGES),
        st.sampled_from([b"", b"\r", b" "]),
    ),
    st.sampled_from(RFC5424_REST).map(lambda rest: b"<78>1 2026-01-02T03:04:05Z " + rest),
    st.integers(min_value=1, max_value=400).map(lambda n: b"x" * n + b"cron"),  # long lines
    st.binary(max_size=40),
    st.lists(
        st.sampled_from([b"cron", b"CRON", b"cRoN", b"atd", b"ATD", b"USER ", b"USER", b" ", b"a"]),
        max_size=6,
    ).map(b"".join),
)
files = (
    st.tuples(st.lists(lines, max_size=40), st.booleans())
    .map(lambda parts: b"\n".join(parts[0]) + (b"\n" if parts[1] else b""))
    .filter(lambda data: compression(data) is None)  # a plain file, not read as compressed
)


@settings(max_examples=400, deadline=None)
@given(files, st.sampled_from([16, 64, 150, 1000]), st.sampled_from([60, 120]))
def test_reader_is_the_plain_reading(data: bytes, block: int, max_line: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syslog_reader, "BLOCK", block)
        patch.setattr(syslog_reader, "MAX_LINE", max_line)
        fast = list(read_syslog("log", io.BytesIO(data), MTIME, float("inf")))
        assert fast == reference(data, block, max_line)


blocks = st.lists(
    st.one_of(
        st.sampled_from([b"cron", b"CRON", b"Cron", b"cRON", b"atd", b"USER ", b"\n", b"\xe2"]),
        st.binary(max_size=8),
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(blocks, st.integers(min_value=0, max_value=5))
def test_keyword_lines_are_the_lines_with_a_keyword(block: bytes, cut: int) -> None:
    """Exactly the lines with `cron` in any ASCII case, `atd` or `USER ` (RE2 in UTF-8 mode
    over bytes that are not UTF-8 too), within the bounds given (which fall on line starts)."""
    starts = [0] + [i + 1 for i, byte in enumerate(block) if byte == 10]
    low = starts[min(cut, len(starts) - 1)]
    expected = []
    for start in starts:
        if start < low or start == len(block):
            continue
        newline = block.find(b"\n", start)
        end = len(block) if newline < 0 else newline + 1
        if OLD_KEYWORD.search(block[start:end]):
            expected.append((start, end))
    assert keyword_lines(block, low, len(block)) == expected
    assert keyword_lines.plain(block, low, len(block)) == expected  # the fallback: RE2
    if low == 0:
        assert keyword_lines(block) == expected
    assert count_newlines(block, low, len(block)) == block.count(b"\n", low)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"(", b")", b" ", b"root", b"CMD", b"bad minute", b"USER ", b"Error: "]),
        max_size=8,
    ).map(b"".join)
)
def test_cron_message_patterns_never_both_match(message: bytes) -> None:
    """The reader tries `(user) EVENT (...)` before `(user) bad ... (...)`, and busybox's and
    Debian's forms only for messages not starting with `(`: valid because no message matches
    two of them."""
    text = message.decode()
    patterns = (
        syslog_reader._BUSYBOX_RUN,
        syslog_reader._DEBIAN_ERROR,
        syslog_reader._BAD_FIELD,
        syslog_reader._CRON_MSG,
    )
    matched = [p for p in patterns if p.match(text)]
    assert len(matched) <= 1
    if matched and matched[0] in patterns[:2]:
        assert not text.startswith("(")


def test_block_boundaries_with_the_real_sizes() -> None:
    """A line across two blocks, an overlong line across a boundary, and one longer than a
    block: with the reader's own BLOCK and MAX_LINE, as the plain reading gives them."""
    block, limit = syslog_reader.BLOCK, syslog_reader.MAX_LINE
    cron = b"Nov 27 10:00:01 h CRON[1]: (root) CMD (x)\n"
    data = cron * (block // len(cron)) + cron  # one line across the first boundary
    data += b"y" * (block - len(data) % block - 10) + b"z" * (limit + 20) + b"\n" + cron
    data += b"w" * (block + 5) + b"\n" + cron + cron[:-1]
    events = list(read_syslog("log", io.BytesIO(data), MTIME, float("inf")))
    assert events == reference(data, block, limit)
    issues = [e for e in events if isinstance(e, Issue)]
    assert [i.code for i in issues] == ["LOG_LINE_TOO_LONG", "LOG_LINE_TOO_LONG"]
    assert sum(isinstance(e, JobEvent) for e in events) == block // len(cron) + 4


class Spy:
    """Records whether the helper process sent everything (False: its part was read here)."""

    def __init__(self) -> None:
        self.results: list[object] = []
        original = ForkedStream.cancel

        def cancel(helper: ForkedStream[object]) -> None:
            first = helper._pid != 0  # the child not yet ended (cancel may come twice)
            original(helper)
            if first:
                self.results.append(helper.complete)

        self.cancel = cancel


def _read_with_helper(
    data: bytes,
    block: int,
    max_line: int,
    share: float,
    packer: Callable[[bytes], bytes] | None = None,
) -> tuple[list, Spy]:  # type: ignore[type-arg]
    """Read as `hunt` does, with a helper for any size; `packer`: the file compressed so."""
    spy = Spy()
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        path = os.path.join(folder, "log")
        with open(path, "wb") as out:
            out.write(data if packer is None else packer(data))
        patch.setattr(syslog_reader, "BLOCK", block)
        patch.setattr(syslog_reader, "MAX_LINE", max_line)
        patch.setattr(syslog_reader, "HELPER_MIN", 1)
        patch.setattr(syslog_reader, "INFLATED_HELPER_MIN", 1)
        patch.setattr(syslog_reader, "helper_share", lambda descriptor, size: share)
        patch.setattr(forked, "processors", lambda: 2)
        patch.setattr(ForkedStream, "cancel", spy.cancel)
        patch.chdir(folder)
        with open_log(path) as (stream, _):
            found = list(read_syslog("log", stream, MTIME, float("inf")))
    return found, spy


PACKERS = [gzip.compress, bz2.compress, lzma.compress]


@settings(max_examples=60, deadline=None)
@given(files, st.sampled_from([16, 64, 150]), st.sampled_from([60, 120]), st.sampled_from(PACKERS))
def test_a_compressed_file_is_searched_by_a_helper_as_by_one_process(
    data: bytes, block: int, max_line: int, packer: Callable[[bytes], bytes]
) -> None:
    """A compressed file cannot be split: the helper inflates and searches all of it while
    this process parses what it sends; the same events and issues."""
    found, spy = _read_with_helper(data, block, max_line, 0.5, packer)
    assert found == reference(data, block, max_line)
    assert spy.results == [True]  # a helper read it all


@settings(max_examples=30, deadline=None)
@given(files, st.integers(min_value=0, max_value=6), st.booleans())
def test_a_compressed_files_helper_that_dies_midway_is_read_on_here(
    data: bytes, blocks: int, dies: bool
) -> None:
    stops = _stopping(syslog_reader.scan_inflated, blocks, dies)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syslog_reader, "scan_inflated", stops)
        found, _ = _read_with_helper(data, 16, 60, 0.5, gzip.compress)
    assert found == reference(data, 16, 60)


@settings(max_examples=60, deadline=None)
@given(
    files, st.sampled_from([16, 64, 150]), st.sampled_from([60, 120]), st.sampled_from([0.3, 0.9])
)
def test_two_processes_read_as_one(data: bytes, block: int, max_line: int, share: float) -> None:
    """A helper process reads the end of the file from a block boundary on: the same events
    and issues, in the same order, whatever runs across the boundary."""
    found, spy = _read_with_helper(data, block, max_line, share)
    assert found == reference(data, block, max_line)
    assert spy.results == ([True] if spy.results else [])  # no fallback was needed


def _stopping(
    scan: Callable[..., Iterator[object]], blocks: int, dies: bool
) -> Callable[..., Iterator[object]]:
    """`scan`, in a helper that sends `blocks` blocks and then dies (or fails)."""

    def stops(*args: Any) -> Iterator[object]:
        for count, sent in enumerate(scan(*args)):
            if count == blocks:
                if dies:
                    os._exit(9)
                raise OSError("the helper failed")
            yield sent

    return stops


def _broken_helper(*args: object) -> Iterator[object]:
    raise OSError("the helper failed")
    yield


def test_a_failed_helper_is_read_here() -> None:
    cron = b"Nov 27 10:00:01 h CRON[1]: (root) CMD (x)\n"
    data = b"".join(cron.replace(b"(x)", b"(%d)" % i) for i in range(500))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syslog_reader, "scan_tail", _broken_helper)
        found, spy = _read_with_helper(data, 256, 120, 0.5)
    assert spy.results == [False]
    assert found == reference(data, 256, 120) and len(found) == 500


@settings(max_examples=30, deadline=None)
@given(files, st.integers(min_value=0, max_value=6), st.booleans())
def test_a_helper_that_dies_midway_is_read_on_from_its_last_block(
    data: bytes, blocks: int, dies: bool
) -> None:
    """The helper sends `blocks` blocks and then dies (or fails): this process reads on from
    where the last block left the helper's reading, with the same events and issues."""
    stops = _stopping(syslog_reader.scan_tail, blocks, dies)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syslog_reader, "scan_tail", stops)
        found, spy = _read_with_helper(data, 16, 60, 0.9)
    assert found == reference(data, 16, 60)
    assert len(spy.results) <= 1


def test_helper_share_follows_the_density_of_keyword_lines(tmp_path: Path) -> None:
    """The helper searches more of a file the more keyword lines this process has to parse."""
    cron = b"Nov 27 10:00:01 h CRON[1]: (root) CMD (x)\n"
    other = b"Nov 27 10:00:01 h sshd[1]: Accepted publickey for alice\n"
    shares = []
    for every in (0, 3000, 1000, 300, 1):  # one cron line in every ... lines (0: none)
        path = tmp_path / f"log{every}"
        lines = (cron if every and i % every == 0 else other for i in range(40_000))
        path.write_bytes(b"".join(lines))
        with open(path, "rb") as stream:
            shares.append(syslog_reader.helper_share(stream.fileno(), path.stat().st_size))
    assert shares[0] == syslog_reader.MIN_SHARE and shares[-1] == syslog_reader.MAX_SHARE
    assert shares == sorted(shares) and len(set(shares)) >= 4
