"""Log files read by forked workers (`logs.shares`): the same events and issues, in the same
order, as reading them in one process; the EVTX files handed out one at a time from a queue
(a slow worker takes fewer), never parsed by the parent when a worker can start; a worker that
dies or sends nonsense changes nothing, one that crashes or stalls costs its file only; no
worker while another thread runs; text stays in the parent."""

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


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per `os.fork` from now on (in this process)."""
    counted: list[int] = []
    real_fork = os.fork

    def counting() -> int:
        counted.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting)
    return counted


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize("processes", [2, 3])
def test_workers_read_the_corpus_as_one_process_does(
    evtx_folder: Path,
    readers: Callable[[], dict[str, list[int]]],
    forks: list[int],
    processes: int,
) -> None:
    serial = _serial(evtx_folder)
    assert {p for pids in readers().values() for p in pids} == {os.getpid()}
    assert forks == []
    parallel = _parallel(evtx_folder, processes=processes)
    assert parallel == serial
    assert len(serial[0]) > 100
    assert len(forks) == processes  # a worker per process, the parent reading none
    read_by = readers()
    assert all(len(pids) == 1 for pids in read_by.values())  # each file read once
    evtx = {pids[0] for path, pids in read_by.items() if is_evtx(path)}
    assert len(read_by) > 10 and os.getpid() not in evtx  # every EVTX file read by a worker
    assert 1 <= len(evtx) <= processes


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
    evtx_read = [pids for path, pids in read_by.items() if is_evtx(path)]
    assert len(evtx_read) == 27 and all(parent not in pids for pids in evtx_read)  # all by children


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


# what a worker sends: a file's number as it starts it, then (number, records)
Frames = list[object]


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize(
    "sent",
    [
        lambda start, done: [start],  # ends while on a file
        lambda start, done: [start, start, done],  # starts it twice
        lambda start, done: [start + 1, done],  # the records of another file
        lambda start, done: [start, (start + 1, done[1])],
        lambda start, done: [start, (start, [*done[1], "not a record"])],
        lambda start, done: [start, (start, {"not": "a list"})],
        lambda start, done: [start, done[1]],  # records without their number
        lambda start, done: [10**6, done],  # a file that is not there
        lambda start, done: [str(start), done],
    ],
)
def test_a_worker_that_sends_nonsense_changes_nothing(
    evtx_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sent: Callable[[int, tuple[int, list[JobEvent | Issue]]], Frames],
) -> None:
    """Whatever a worker sends in place of its third file, the parent ends it and reads what
    it had not sent right itself."""
    serial = _serial(evtx_folder)
    real = shares._take_files
    parent = os.getpid()
    sent_from = tmp_path / "sent"

    def wrong(
        read: Callable[[str], list[JobEvent | Issue]],
        files: list[str],
        queue: int,
        writing: int | None,
    ) -> Iterator[object]:
        assert os.getpid() != parent
        items = real(read, files, queue, writing)
        for _ in range(2):  # two files right
            yield next(items)
            yield next(items)
        start = next(items)
        assert isinstance(start, int)
        sent_from.touch()
        yield from sent(start, next(items))  # type: ignore[arg-type]
        yield from items

    monkeypatch.setattr(shares, "_take_files", wrong)
    assert _parallel(evtx_folder) == serial
    assert sent_from.exists()  # a child did send it


@pytest.mark.usefixtures("alone")
def test_files_a_worker_took_and_never_started_are_read_by_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies after taking numbers from the queue, before saying which file it
    starts: no file is lost, the parent reads those at the end."""
    files = _files(tmp_path, 24)
    parent = os.getpid()
    real = shares._next_number
    taken = {"count": 0}

    def dies_on_the_fourth(queue: int) -> int | None:
        number = real(queue)
        taken["count"] += 1  # each child its own count
        if taken["count"] == 4:
            os._exit(0)
        return number

    monkeypatch.setattr(shares, "_next_number", dies_on_the_fourth)
    results = shares.read_files(
        files, _read_noting_pid(parent), lambda path: True, processes=2, minimum=0
    )
    assert [[i.evidence.path for i in records] for records in results] == [[p] for p in files]  # type: ignore[union-attr]
    by_parent = [records[0].message for records in results].count("parent")  # type: ignore[union-attr]
    assert by_parent >= 18  # the 2 numbers lost in the queue, and those no child was left for


@pytest.mark.usefixtures("alone")
def test_no_worker_while_another_thread_runs(evtx_folder: Path, forks: list[int]) -> None:
    serial = _serial(evtx_folder)
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
    assert forks == [1, 1]  # with the thread gone, the workers start


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


@pytest.mark.usefixtures("alone")
@pytest.mark.parametrize("run", ["big", "small", "one processor"])
def test_the_parent_parses_no_evtx_file_when_a_worker_can_start(
    evtx_folder: Path,
    tmp_path: Path,
    readers: Callable[[], dict[str, list[int]]],
    monkeypatch: pytest.MonkeyPatch,
    run: str,
) -> None:
    """Shared out (big), for safety (small, under PARALLEL_MIN), on one processor: every EVTX
    file is parsed in a worker, text in the parent."""
    folder = tmp_path / "logs"
    shutil.copytree(evtx_folder, folder)
    (folder / "syslog").write_text("Nov 27 10:00:01 h CRON[1]: (root) CMD (true)\n")
    if run == "one processor":
        monkeypatch.setattr(forked, "processors", lambda: 1)
    serial = _serial(folder)
    readers()
    parallel_min = 0 if run == "big" else shares.PARALLEL_MIN
    assert read_logs([str(folder)], parallel_min=parallel_min) == serial
    read_by = readers()
    parent = os.getpid()
    evtx = [path for path in read_by if is_evtx(path)]
    assert len(evtx) > 10 and all(parent not in read_by[path] for path in evtx)
    assert read_by[str(folder / "syslog")] == [parent]


def _read_noting_pid(
    parent: int, slow: Path | None = None
) -> Callable[[str], list[JobEvent | Issue]]:
    """A `read` whose one record says where it ran ("parent", or the worker's pid); with `slow`,
    the first worker to read a file (the one that creates `slow`) takes 0.5 s over each."""
    import time

    from schedwarden.logs.files import issue

    def read(path: str) -> list[JobEvent | Issue]:
        pid = os.getpid()
        if slow is not None and pid != parent:
            try:
                descriptor = os.open(slow, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                os.write(descriptor, str(pid).encode())
                os.close(descriptor)
            except FileExistsError:
                pass
            if slow.read_text() == str(pid):
                time.sleep(0.5)
        return [issue("READ", "parent" if pid == parent else str(pid), path)]

    return read


@pytest.mark.usefixtures("alone")
def test_a_slow_worker_takes_fewer_files(tmp_path: Path) -> None:
    """The files are handed out one at a time: while one worker is slow over its file, the
    other takes the next ones; each file read once, the results in file order."""
    files = _files(tmp_path, 24)
    slow = tmp_path / "slow"
    results = shares.read_files(
        files, _read_noting_pid(os.getpid(), slow), lambda path: True, processes=2, minimum=0
    )
    assert [[i.evidence.path for i in records] for records in results] == [[p] for p in files]  # type: ignore[union-attr]
    readers = [records[0].message for records in results]  # type: ignore[union-attr]
    slow_pid = slow.read_text()
    assert "parent" not in readers and set(readers) - {slow_pid}  # the other worker read some
    assert 1 <= readers.count(slow_pid) <= 3  # 0.5 s per file: a few at most


@pytest.mark.usefixtures("alone")
def test_a_file_handed_out_twice_keeps_one_result(
    evtx_folder: Path, readers: Callable[[], dict[str, list[int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the queue to hand a file out twice, both workers would read it (no nonsense: the
    second worker is not ended) and one result is kept."""
    serial = _serial(evtx_folder)
    real = shares._Queue

    def twice(numbers: list[int]) -> shares._Queue:
        return real([*numbers[:3], *numbers])

    monkeypatch.setattr(shares, "_Queue", twice)
    readers()
    assert _parallel(evtx_folder) == serial
    read_by = readers()
    assert len([pids for pids in read_by.values() if len(pids) == 2]) == 3
    evtx = [pids for path, pids in read_by.items() if is_evtx(path)]
    assert len(evtx) > 10 and all(os.getpid() not in pids for pids in evtx)  # none left over


@pytest.mark.usefixtures("alone")
def test_more_files_than_the_queue_holds(tmp_path: Path) -> None:
    """20,000 file numbers do not fit in the queue's pipe (64 KiB on Linux: 16,384): the parent
    tops it up as the workers take them, and every file is read once, in a worker."""
    files = [str(tmp_path / f"{number}.evtx") for number in range(20_000)]  # none there: 0 bytes
    results = shares.read_files(
        files, _read_noting_pid(os.getpid()), lambda path: True, processes=2, minimum=0
    )
    assert [records[0].evidence.path for records in results] == files  # type: ignore[union-attr]
    assert all(records[0].message != "parent" for records in results)  # type: ignore[union-attr]


def test_the_queue_hands_out_whole_numbers_in_order_and_ends() -> None:
    """Numbers written in pieces as there is room, read 4 bytes at a time, up to the end the
    parent makes by closing its write end once the last one is in."""
    numbers = list(range(20_000))
    queue = shares._Queue(numbers)
    try:
        assert queue.writing is not None  # more than the pipe holds: some left to write
        taken = []
        while (number := shares._next_number(queue.reading)) is not None:
            taken.append(number)
            if len(taken) % 1000 == 0:
                queue.fill()
        assert taken == numbers and queue.writing is None
    finally:
        queue.close()


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
    target = files[5]
    parent = os.getpid()

    def read(path: str) -> list[JobEvent | Issue]:
        if path == target and os.getpid() != parent:
            if failure == "crash":
                faulthandler.disable()  # pytest's: it would print the child's stack
                os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(60)
        return [issue("READ", "parent" if os.getpid() == parent else str(os.getpid()), path)]

    if not shared:
        monkeypatch.setattr(forked, "processors", lambda: 1)
    started = time.monotonic()
    results = shares.read_files(
        files,
        read,
        lambda path: True,
        processes=2 if shared else None,
        minimum=0 if shared else shares.PARALLEL_MIN,
        time_limit=lambda size: 1.0,
    )
    assert time.monotonic() - started < 20
    codes = [[(i.code, i.evidence.path) for i in records] for records in results]  # type: ignore[union-attr]
    expected_code = "LOG_PARSER_CRASHED" if failure == "crash" else "LOG_TIME_BUDGET"
    assert codes == [[(expected_code if path == target else "READ", path)] for path in files]
    messages = [records[0].message for records in results]  # type: ignore[union-attr]
    assert "parent" not in messages  # every file read by a worker
    if not shared:  # one worker: the files after the failure were read by a new one
        assert len(set(messages[:5])) == 1 and len(set(messages[6:])) == 1
        assert messages[6] != messages[4]
    if failure == "crash":
        assert "SIGSEGV" in messages[5]


@pytest.mark.usefixtures("alone")
def test_a_worker_that_exits_on_a_file_leaves_it_to_the_parent(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a crash (no signal): the file is no Issue but is read by the parent, and a new
    worker takes the files after it."""
    monkeypatch.setattr(forked, "processors", lambda: 1)
    files = _files(tmp_path)
    parent = os.getpid()
    real_read = _read_noting_pid(parent)

    def read(path: str) -> list[JobEvent | Issue]:
        if path == files[3] and os.getpid() != parent:
            os._exit(3)
        return real_read(path)

    results = shares.read_files(files, read, lambda path: True)
    assert [[i.evidence.path for i in records] for records in results] == [[p] for p in files]  # type: ignore[union-attr]
    messages = [records[0].message for records in results]  # type: ignore[union-attr]
    assert messages[3] == "parent" and len(forks) == 2
    assert len(set(messages[:3])) == 1 and len(set(messages[4:])) == 1
    assert "parent" not in messages[:3] + messages[4:] and messages[0] != messages[4]


@pytest.mark.usefixtures("alone")
def test_after_a_crash_the_parent_reads_the_rest_when_no_worker_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file the worker crashed on is an Issue; the files after it, with no new worker to
    read them, are read by the parent."""
    import faulthandler
    import signal

    files = _files(tmp_path)
    parent = os.getpid()
    real_read = _read_noting_pid(parent)

    def read(path: str) -> list[JobEvent | Issue]:
        if path == files[2] and os.getpid() != parent:
            faulthandler.disable()  # pytest's: it would print the child's stack
            os.kill(os.getpid(), signal.SIGSEGV)
        return real_read(path)

    real_fork = os.fork
    forks: list[int] = []

    def once() -> int:
        forks.append(1)
        if len(forks) > 1:
            raise OSError("no more processes")
        return real_fork()

    monkeypatch.setattr(os, "fork", once)
    results = shares.read_files(files, read, lambda path: True, processes=None, minimum=10**9)
    assert len(forks) == 2  # the worker, and the attempt at a new one after the crash
    assert [records[0].code for records in results] == ["READ"] * 2 + ["LOG_PARSER_CRASHED"] + [
        "READ"
    ] * 5  # type: ignore[union-attr]
    messages = [records[0].message for records in results]  # type: ignore[union-attr]
    assert "parent" not in messages[:2] and messages[3:] == ["parent"] * 5


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
        files, read, lambda path: True, processes=2, minimum=0, time_limit=lambda size: 2.0
    )
    assert [[i.code for i in records] for records in results] == [["READ"]] * 4  # type: ignore[union-attr]


def test_the_stall_limit_grows_with_the_file() -> None:
    assert reader.stall_limit(1, 60.0) == 60.0 * reader.STALL_FACTOR + reader.STALL_GRACE
    assert reader.stall_limit(3_000_000, 1.0) == 3.0 * reader.STALL_FACTOR + reader.STALL_GRACE
    assert reader.stall_limit(0, 0.0) == reader.STALL_GRACE


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
