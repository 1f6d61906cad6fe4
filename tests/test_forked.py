"""A forked child's items, and what became of it (complete, died, stalled): the caller then does
the rest of the work itself."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest

from schedwarden import forked
from schedwarden.forked import ForkedStream, ForkedValue


@pytest.fixture(autouse=True)
def two_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "processors", lambda: 2)  # also on a one-core test machine


def test_child_items_come_back() -> None:
    child = ForkedStream.start(lambda: iter([{"pid": os.getpid(), "text": "é" * 100_000}]))
    assert child is not None
    (item,) = list(child.items())
    assert item["pid"] != os.getpid() and item["text"] == "é" * 100_000 and child.complete


def test_a_child_that_raises_or_exits_early_is_incomplete() -> None:
    def fails() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    def exits() -> Iterator[int]:
        yield 1
        os._exit(0)  # ends without the end mark

    for produce in (fails, exits):
        child = ForkedStream.start(produce)
        assert child is not None
        assert list(child.items()) == [1]
        assert not child.complete and child.died and child.signal is None


def test_cancel_stops_the_child() -> None:
    def waits() -> Iterator[bool]:
        yield threading.Event().wait(60)

    child = ForkedStream.start(waits)
    assert child is not None
    pid = child._pid
    child.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more


def test_no_fork_while_another_thread_runs() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert ForkedStream.start(lambda: iter([1])) is None
        assert ForkedStream.start(lambda: iter([1]), isolate=True) is None
    finally:
        release.set()
        thread.join()
    child = ForkedStream.start(lambda: iter([1]))
    assert child is not None and list(child.items()) == [1]


def test_on_one_processor_only_to_isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "processors", lambda: 1)
    assert ForkedStream.start(lambda: iter([1])) is None
    child = ForkedStream.start(lambda: iter([1]), isolate=True)
    assert child is not None and list(child.items()) == [1] and child.complete


def test_stream_items_arrive_in_order_and_complete() -> None:
    child = ForkedStream.start(lambda: iter(range(1000)))
    assert child is not None
    assert list(child.items()) == list(range(1000)) and child.complete


def test_a_stream_whose_child_dies_is_incomplete() -> None:
    def dies() -> Iterator[int]:
        yield 1
        yield 2
        os._exit(0)  # ends without the end mark

    child = ForkedStream.start(dies)
    assert child is not None
    assert list(child.items()) == [1, 2] and not child.complete


def test_a_stream_left_early_ends_its_child() -> None:
    def endless() -> Iterator[int]:
        number = 0
        while True:
            number += 1
            yield number

    child = ForkedStream.start(endless)
    assert child is not None
    items = child.items()
    assert next(items) == 1
    pid = child._pid
    child.cancel()  # what a reader's `finally` does
    assert not child.complete and child._pid == 0
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_stream_item_later_than_its_limit_ends_the_child() -> None:
    import time

    def slow() -> Iterator[int]:
        yield 1
        time.sleep(30)
        yield 2

    child = ForkedStream.start(slow)
    assert child is not None
    started = time.monotonic()
    assert list(child.items(lambda number: 0.5)) == [1]
    assert time.monotonic() - started < 10
    assert child.timed_out and not child.complete and not child.died


def test_a_stream_child_killed_by_a_signal_says_which() -> None:
    import faulthandler
    import signal

    def crashes() -> Iterator[int]:
        yield 1
        faulthandler.disable()  # pytest's: it would print the child's stack
        os.kill(os.getpid(), signal.SIGSEGV)

    child = ForkedStream.start(crashes)
    assert child is not None
    assert list(child.items()) == [1]
    assert child.died and child.signal == signal.SIGSEGV and not child.timed_out


def test_a_drained_stream_keeps_its_items_in_order() -> None:
    """What `drain` takes while this process is busy is what `items` gives later: a child with
    more to send than a pipe holds ends without waiting for `items`."""
    import time

    big = [bytes([n]) * 100_000 for n in range(40)]  # 4 MB: many pipes full
    child = ForkedStream.start(lambda: iter(big))
    assert child is not None
    pid = child._pid
    ended = None
    for _ in range(400):  # until the child has sent everything and ended (left to be waited for)
        child.drain()
        ended = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if ended is not None:
            break
        time.sleep(0.01)
    assert ended is not None  # it ended before anything asked for its items
    items = list(child.items())
    assert items == big and child.complete


def _ready_until(child: ForkedStream[object], done: Callable[[list[object]], bool]) -> list[object]:
    """What `ready` gives, waiting with `select` on the stream, until `done` says it is all (or
    the child ended); at most 20 s."""
    import select
    import time

    found: list[object] = []
    deadline = time.monotonic() + 20
    while not child.ended and not done(found) and time.monotonic() < deadline:
        select.select([child], [], [], 1)
        found += child.ready()
    return found


def _raw_child(payload: bytes) -> ForkedStream[object]:
    """A stream over a child that writes `payload` as is, then waits to be ended."""
    import time

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.write(write, payload)
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write)
    return ForkedStream(pid, read)


def test_ready_takes_what_arrived_without_waiting() -> None:
    """`ready` gives the items already sent and returns at once while the child works on;
    `expire` ends a child that takes too long, as a missed `items` limit does."""
    import time

    def then_waits() -> Iterator[int]:
        yield 1
        yield 2
        time.sleep(60)
        yield 3

    child = ForkedStream.start(then_waits)
    assert child is not None
    heard = child.heard
    assert child.fileno() >= 0
    assert _ready_until(child, lambda found: len(found) == 2) == [1, 2]
    assert child.heard > heard and not child.partial
    started = time.monotonic()
    assert child.ready() == [] and time.monotonic() - started < 1
    assert not child.ended and not child.complete
    pid = child._pid
    child.expire()
    assert child.ended and child.timed_out and not child.complete and child.fileno() == -1
    assert child.ready() == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped


def test_ready_tells_how_the_child_ended() -> None:
    """At the child's end `ready` waits for it: complete when it sent everything, died (and
    by which signal) when it did not."""
    import faulthandler
    import signal

    def crashes() -> Iterator[int]:
        yield 1
        faulthandler.disable()  # pytest's: it would print the child's stack
        os.kill(os.getpid(), signal.SIGSEGV)

    def exits() -> Iterator[int]:
        yield 1
        os._exit(0)  # ends without the end mark

    def never(found: list[object]) -> bool:
        return False

    child = ForkedStream.start(lambda: iter(range(1000)))
    assert child is not None
    assert _ready_until(child, never) == list(range(1000))
    assert child.ended and child.complete and not child.died
    child = ForkedStream.start(crashes)
    assert child is not None
    assert _ready_until(child, never) == [1]
    assert child.ended and child.died and child.signal == signal.SIGSEGV and not child.complete
    child = ForkedStream.start(exits)
    assert child is not None
    assert _ready_until(child, never) == [1]
    assert child.ended and child.died and child.signal is None and not child.complete


def test_ready_ends_a_child_that_sends_garbage() -> None:
    """Something that is no frame of ours: the child is ended, neither complete nor died."""
    import struct

    child = _raw_child(struct.pack(">Q", 5) + b"\xffjunk")
    pid = child._pid
    assert _ready_until(child, lambda found: False) == []
    assert child.ended and not child.complete and not child.died and not child.timed_out
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_partial_says_an_item_is_on_its_way() -> None:
    import pickle
    import struct
    import time

    payload = pickle.dumps(("x" * 100,))
    child = _raw_child(struct.pack(">Q", len(payload)) + payload[:50])  # half of one item
    deadline = time.monotonic() + 20
    while not child.partial and time.monotonic() < deadline:
        assert child.ready() == []
        time.sleep(0.01)
    assert child.partial and not child.ended
    child.cancel()
    assert child.ended


@pytest.mark.parametrize("child", ["helps", "dies", "none"])
def test_a_forked_value_is_what_make_returns(child: str) -> None:
    parent = os.getpid()
    calls: list[int] = []

    def make() -> list[int]:
        calls.append(os.getpid())
        if child == "dies" and os.getpid() != parent:
            os._exit(3)
        return [1, 2, os.getpid() == parent]

    value = ForkedValue(make, fork=child != "none")
    assert value.forked is (child != "none")
    made_here = child != "helps"
    assert value.result() == [1, 2, made_here]
    assert value.result() is value.result()  # made once
    assert calls == ([parent] if made_here else [])  # the child's calls are not seen here


def test_a_forked_value_raises_what_make_raises() -> None:
    def make() -> int:
        raise ValueError("a bug")

    value = ForkedValue(make)
    with pytest.raises(ValueError, match="a bug"):
        value.result()
