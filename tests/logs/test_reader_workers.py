"""Log files read by forked workers (`logs.shares`): the same events and issues, in the same
order, as reading them in one process; a worker that dies or sends nonsense changes nothing;
no worker while another thread runs; text stays in the parent."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from schedwarden import forked
from schedwarden.logs import reader, shares
from schedwarden.logs.reader import is_evtx, read_logs
from schedwarden.model import Issue, JobEvent
from tests.conftest import corpus_path

Result = tuple[list[JobEvent], list[Issue]]


@pytest.fixture(autouse=True)
def two_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "processors", lambda: 2)  # also on a one-core test machine


@pytest.fixture
def alone() -> None:
    """No other thread (left by another test) alive, or the test is skipped: workers are only
    forked from a process that runs one thread."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=2)
    if threading.active_count() > 1:
        pytest.skip("another test's thread is still running")


@pytest.fixture
def evtx_folder() -> Path:
    return corpus_path("windows", "evtx")


@pytest.fixture
def readers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, list[int]]]:
    """Which processes read which file: `reader.read_file` notes its process and path in a
    file (an appended line is written whole), read back by the returned function."""
    notes = tmp_path / "readers.txt"
    real = reader.read_file

    def noted(path: str, budget: float) -> Iterator[JobEvent | Issue]:
        descriptor = os.open(notes, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(descriptor, f"{os.getpid()}\t{path}\n".encode("utf-8", "surrogateescape"))
        finally:
            os.close(descriptor)
        return real(path, budget)

    monkeypatch.setattr(reader, "read_file", noted)

    def read_by() -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        if notes.exists():
            for line in notes.read_text("utf-8", "surrogateescape").splitlines():
                pid, path = line.split("\t", 1)
                found.setdefault(path, []).append(int(pid))
        notes.unlink(missing_ok=True)
        return found

    return read_by


def _serial(*paths: Path | str) -> Result:
    return read_logs([str(p) for p in paths], processes=1)


def _parallel(*paths: Path | str, processes: int = 2) -> Result:
    return read_logs([str(p) for p in paths], processes=processes, parallel_min=0)


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize("processes", [2, 3])
def test_workers_read_the_corpus_as_one_process_does(
    evtx_folder: Path, readers: Callable[[], dict[str, list[int]]], processes: int
) -> None:
    serial = _serial(evtx_folder)
    assert {p for pids in readers().values() for p in pids} == {os.getpid()}
    parallel = _parallel(evtx_folder, processes=processes)
    assert parallel == serial
    assert len(serial[0]) > 100
    read_by = readers()
    assert all(len(pids) == 1 for pids in read_by.values())  # each file read once
    children = {pids[0] for pids in read_by.values()} - {os.getpid()}
    assert len(children) == processes - 1  # every share but the parent's read by a child
    assert os.getpid() in {pids[0] for pids in read_by.values()}  # and the parent read one


@pytest.mark.usefixtures("alone")
def test_text_stays_in_the_parent_and_issues_keep_their_order(
    evtx_folder: Path, tmp_path: Path, readers: Callable[[], dict[str, list[int]]]
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    evtx = sorted(evtx_folder.rglob("*.evtx"))
    for number, path in enumerate(evtx[:12]):
        shutil.copyfile(path, folder / f"a{number:02d}.evtx")
    damaged = bytearray(evtx[0].read_bytes())
    damaged[4096 + 600 : 4096 + 2000] = b"\xff" * 1400
    (folder / "b_corrupt.evtx").write_bytes(bytes(damaged))
    (folder / "c_short.evtx").write_bytes(evtx[1].read_bytes()[: 4096 + 1000])
    (folder / "d_packed.evtx.gz").write_bytes(gzip.compress(evtx[2].read_bytes()))
    (folder / "y_syslog").write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    (folder / "z_bad.gz").write_bytes(gzip.compress(b"x" * 1000)[:-12])  # cut short
    for number, path in enumerate(evtx[12:24]):
        shutil.copyfile(path, folder / f"g{number:02d}.evtx")
    arguments = (tmp_path / "missing", folder, tmp_path / "also-missing")

    serial = _serial(*arguments)
    readers()
    parallel = _parallel(*arguments)
    assert parallel == serial
    codes = [i.code for i in serial[1]]
    assert codes[0] == "LOG_UNREADABLE" and codes[-1] == "LOG_UNREADABLE"  # the missing paths
    assert {"LOG_CORRUPT", "LOG_TRUNCATED"} <= set(codes) and len(codes) >= 5
    read_by = readers()
    parent = os.getpid()
    assert read_by[str(folder / "y_syslog")] == [parent]
    assert read_by[str(folder / "z_bad.gz")] == [parent]
    assert {pids[0] for pids in read_by.values()} - {parent}  # a child read EVTX


@pytest.mark.usefixtures("alone")
def test_a_worker_that_dies_changes_nothing(
    evtx_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = _serial(evtx_folder)
    parent = os.getpid()
    started = tmp_path / "child-started"
    real = reader.read_file

    def dies_in_a_child(path: str, budget: float) -> Iterator[JobEvent | Issue]:
        if os.getpid() != parent:
            started.touch()
            os._exit(3)
        return real(path, budget)

    monkeypatch.setattr(reader, "read_file", dies_in_a_child)
    assert _parallel(evtx_folder) == serial
    assert started.exists()  # a child did start, and died


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize(
    "sent",
    [
        lambda records: records[:-1],  # a file short
        lambda records: [*records[:-1], [*records[-1], "not a record"]],
        lambda records: {"not": "a list"},
    ],
)
def test_a_worker_that_sends_nonsense_changes_nothing(
    evtx_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sent: Callable[[list[list[JobEvent | Issue]]], object],
) -> None:
    serial = _serial(evtx_folder)
    real = shares._read_share
    parent = os.getpid()
    sent_from = tmp_path / "sent"

    def wrong(
        read: Callable[[str], list[JobEvent | Issue]], paths: list[str]
    ) -> list[list[JobEvent | Issue]]:
        assert os.getpid() != parent
        sent_from.touch()
        return sent(real(read, paths))  # type: ignore[return-value]

    monkeypatch.setattr(shares, "_read_share", wrong)
    assert _parallel(evtx_folder) == serial
    assert sent_from.exists()  # a child did send it


@pytest.mark.usefixtures("alone")
def test_no_worker_while_another_thread_runs(
    evtx_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = _serial(evtx_folder)
    forks: list[int] = []
    real_fork = os.fork

    def counted() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted)
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert _parallel(evtx_folder) == serial
        assert forks == []
    finally:
        release.set()
        thread.join()
    if threading.active_count() > 1:
        pytest.skip("another test's thread is still ending")
    assert _parallel(evtx_folder) == serial
    assert forks == [1]  # with the thread gone, a worker starts


@pytest.mark.usefixtures("alone")
def test_small_runs_are_read_by_one_child_for_safety(
    evtx_folder: Path, readers: Callable[[], dict[str, list[int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under PARALLEL_MIN (the corpus: 5 MB) the EVTX files are not shared out, but one child
    reads them all, on one processor too: a parser crash or stall would cost this process
    nothing. `processes=1` reads everything here."""
    monkeypatch.setattr(forked, "processors", lambda: 1)
    serial = _serial(evtx_folder)
    readers()
    assert read_logs([str(evtx_folder)]) == serial
    read_by = readers()
    parent = os.getpid()
    assert len({pids[0] for pids in read_by.values()} - {parent}) == 1  # one child
    evtx = {path for path in read_by if is_evtx(path)}
    assert len(evtx) > 10 and all(read_by[path] != [parent] for path in evtx)


def test_one_process_reads_everything_here(
    evtx_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked")

    monkeypatch.setattr(os, "fork", no_fork)
    assert read_logs([str(evtx_folder)], processes=1)[0]


def test_shares_are_contiguous_and_balanced() -> None:
    assert shares.plan([10] * 10, 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert shares.plan([10] * 10, 3) == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert shares.plan([10] * 10, 2, kept=50) == [[0, 1], [2, 3, 4, 5, 6, 7, 8, 9]]
    assert shares.plan([10] * 4, 2, kept=1000) == [[], [0, 1, 2, 3]]
    assert shares.plan([100, 1, 1], 3) == [[0], [1, 2]]  # none empty but the parent's
    assert shares.plan([1, 1, 100], 2) == [[0, 1], [2]]


def test_evtx_is_told_by_its_head(evtx_folder: Path, tmp_path: Path) -> None:
    original = next(evtx_folder.rglob("*.evtx")).read_bytes()
    (tmp_path / "plain").write_bytes(original)
    (tmp_path / "packed").write_bytes(gzip.compress(original))
    (tmp_path / "text").write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08garbage")
    assert [is_evtx(str(tmp_path / n)) for n in ("plain", "packed", "text", "broken.gz")] == [
        True,
        True,
        False,
        False,
    ]
    assert not is_evtx(str(tmp_path / "missing"))


def _files(tmp_path: Path, count: int = 8) -> list[str]:
    paths = []
    for number in range(count):
        path = tmp_path / f"f{number}.evtx"
        path.write_bytes(b"x" * 1000)
        paths.append(str(path))
    return paths


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize("shared", [True, False])  # False: too little to share, one child
@pytest.mark.parametrize("failure", ["crash", "stall"])
def test_a_worker_that_crashes_or_stalls_costs_that_file_only(
    tmp_path: Path, failure: str, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser crash (a signal) or stall inside one call, in a worker: that file is an Issue,
    the worker is ended, and a new one reads the files after it."""
    import faulthandler
    import signal
    import time

    from schedwarden.logs.files import issue

    files = _files(tmp_path)
    target = files[5]  # in the second share: read by the child
    parent = os.getpid()

    def read(path: str) -> list[JobEvent | Issue]:
        if path == target and os.getpid() != parent:
            if failure == "crash":
                faulthandler.disable()  # pytest's: it would print the child's stack
                os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(60)
        return [issue("READ", f"read by {'parent' if os.getpid() == parent else 'child'}", path)]

    if not shared:
        monkeypatch.setattr(forked, "processors", lambda: 1)
    started = time.monotonic()
    results = shares.read_files(
        files,
        read,
        lambda path: True,
        processes=2 if shared else None,
        minimum=0 if shared else shares.PARALLEL_MIN,
        time_limit=lambda path: 1.0,
    )
    assert time.monotonic() - started < 20
    codes = [[(i.code, i.evidence.path) for i in records] for records in results]  # type: ignore[union-attr]
    expected_code = "LOG_PARSER_CRASHED" if failure == "crash" else "LOG_TIME_BUDGET"
    assert codes == [[(expected_code if path == target else "READ", path)] for path in files]
    messages = [records[0].message for records in results]  # type: ignore[union-attr]
    assert messages[4] == "read by child"  # the share before the failure came from the child
    assert messages[0] == ("read by parent" if shared else "read by child")
    assert messages[6:] == ["read by child"] * 2  # the files after it: from a new child
    if failure == "crash":
        assert "SIGSEGV" in messages[5]


@pytest.mark.usefixtures("alone")
def test_a_stalled_worker_is_waited_for_as_long_as_the_file_may_take(tmp_path: Path) -> None:
    """The limit is per file: a slow file within its limit is not taken for a stall."""
    import time

    from schedwarden.logs.files import issue

    files = _files(tmp_path, 4)
    parent = os.getpid()

    def read(path: str) -> list[JobEvent | Issue]:
        if os.getpid() != parent:
            time.sleep(0.3)
        return [issue("READ", "ok", path)]

    results = shares.read_files(
        files, read, lambda path: True, processes=2, minimum=0, time_limit=lambda path: 2.0
    )
    assert [[i.code for i in records] for records in results] == [["READ"]] * 4  # type: ignore[union-attr]


def test_the_stall_limit_grows_with_the_file(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"x")
    big.write_bytes(b"x" * 3_000_000)
    assert reader.stall_limit(str(small), 60.0) == 60.0 * reader.STALL_FACTOR + reader.STALL_GRACE
    assert reader.stall_limit(str(big), 1.0) == 3.0 * reader.STALL_FACTOR + reader.STALL_GRACE
    assert reader.stall_limit(str(tmp_path / "gone"), 0.0) == reader.STALL_GRACE


@pytest.mark.usefixtures("alone")
def test_a_parser_stalled_inside_one_call_costs_its_file_in_a_hunt(
    evtx_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end through `read_logs`: the EVTX parser hangs inside one call on one file (in
    the reading copy); that file is a LOG_TIME_BUDGET issue after its limit, the others are
    read as without the hang."""
    import time

    from schedwarden.logs import evtx_reader

    folder = tmp_path / "logs"
    folder.mkdir()
    sources = sorted(evtx_folder.rglob("*.evtx"))[:6]
    for number, path in enumerate(sources):
        shutil.copyfile(path, folder / f"{number}.evtx")
    hanging = str(folder / "3.evtx")
    real = evtx_reader.evtx.PyEvtxParser
    parent = os.getpid()

    class Hangs:
        def __init__(self, source: object) -> None:
            self.parser = real(source)

        def records_json(self) -> object:
            if os.getpid() != parent and Hangs.path == hanging:
                time.sleep(60)  # inside the parser: no budget check between records reaches it
            return self.parser.records_json()

        path = ""

    def noted(path: str, budget: float) -> Iterator[JobEvent | Issue]:
        Hangs.path = path
        return real_read_file(path, budget)

    real_read_file = reader.read_file
    monkeypatch.setattr(reader, "read_file", noted)
    monkeypatch.setattr(evtx_reader.evtx, "PyEvtxParser", Hangs)
    monkeypatch.setattr(reader, "STALL_GRACE", 1.0)
    started = time.monotonic()
    events, issues = read_logs([str(folder)], budget=0.5)
    assert time.monotonic() - started < 30
    assert [(i.code, i.evidence.path) for i in issues] == [("LOG_TIME_BUDGET", hanging)]
    expected, _ = _serial(*(folder / f"{n}.evtx" for n in (0, 1, 2, 4, 5)))
    assert events == expected
