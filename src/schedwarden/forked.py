"""Work handed to a forked copy of this process: for the second core of a big run, or to keep
this process safe from a parser that crashes or stalls on evidence (`isolate`).

A forked child starts with the parent's memory as it is (the records already read, the modules
already imported) and needs no start-up of its own: it sends the pickled items of a generator
over a pipe, one frame each, and ends with `os._exit` (no exit handlers, no flushing of the
parent's buffers). Only forks when that is safe and useful: `fork` exists, no other thread is
alive (a fork copies only the calling thread; a lock another thread held would stay locked in
the child; the monitor runs threads) and, for speed, at least two processors are usable. The
items are our own pickles, made by our own code in the child, never data read from evidence.

Whoever uses it is told when the child failed, died, stalled or sent something unreadable, and
then does the rest of the work itself: the result never depends on whether a child helped.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import BinaryIO, Generic, TypeVar

T = TypeVar("T")


def processors() -> int:
    """The processors this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether work may be handed to a forked child to gain time (a second processor)."""
    return can_isolate() and processors() >= 2


def can_isolate() -> bool:
    """Whether work may be handed to a forked child to keep this process safe from it (from a
    parser that crashes or stalls on evidence), on any number of processors."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _fork(work: Callable[[BinaryIO], None], isolate: bool = False) -> tuple[int, int] | None:
    """(pid, read end of the pipe) of a child that runs `work` on the write end and ends; with
    `isolate`, also on one processor."""
    if not (can_isolate() if isolate else can_fork()):
        return None
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as pipe:
                work(pipe)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


class ForkedStream(Generic[T]):
    """The items of `produce()` made in a forked child, received one by one while it goes on.

    Each item crosses the pipe as one frame (its length, then its pickle), so that waiting for
    the next one can have a deadline (`items(limit)`). Once `items()` is exhausted, `complete`
    tells whether the child sent them all; `timed_out` whether it was stopped for taking too
    long over one; `died` whether it ended before sending them all, and `signal` by which signal
    (a crash), when that is known.

    Whoever waits for several children at once (or does other work meanwhile) takes their items
    without waiting instead: `select` on the streams (`fileno`), then `ready()` on each, and
    `expire()` for one that took too long (whose time it last sent anything is `heard`);
    `ended` tells when a child is done with, however it ended."""

    def __init__(self, pid: int, pipe: int) -> None:
        self._pid = pid
        self._pipe = pipe
        self._buffer = bytearray()
        self.complete = False
        self.timed_out = False
        self.died = False
        self.signal: int | None = None
        self.heard = time.monotonic()  # when bytes last came from the child (or it started)

    @classmethod
    def start(
        cls, produce: Callable[[], Iterator[T]], *, isolate: bool = False
    ) -> ForkedStream[T] | None:
        """The child sending the items of `produce()`, or None when none may or can start
        (`isolate`: also on one processor, to keep this process safe from the work)."""

        def send(pipe: BinaryIO) -> None:
            for item in produce():
                _send_frame(pipe, (item,))
            _send_frame(pipe, None)  # the end: every item was sent

        started = _fork(send, isolate)
        return None if started is None else cls(*started)

    def items(self, limit: Callable[[int], float | None] | None = None) -> Iterator[T]:
        """The items as they arrive; stops early when the child failed or died, or when item
        `n` (from 0) did not arrive within `limit(n)` seconds of the wait for it (None: no
        limit). The child is ended and waited for when the items stop, however they stop."""
        number = 0
        try:
            while True:
                seconds = limit(number) if limit is not None else None
                deadline = None if seconds is None else time.monotonic() + seconds
                head = self._receive(_FRAME.size, deadline)
                payload = None if head is None else self._receive(_FRAME.unpack(head)[0], deadline)
                if payload is None:
                    break
                wrapped = pickle.loads(payload)  # noqa: S301  # allowed: our own forked child's pickle, never evidence
                if wrapped is None:
                    self.complete = True
                    break
                yield wrapped[0]
                number += 1
        except Exception:  # whatever broke, the items after it are not known
            self.complete = False
        finally:
            self.cancel()

    def drain(self) -> None:
        """Take what the child has sent so far, without waiting. A child whose pipe is full
        waits until it is read: drain now and then one that works while this process does
        something else."""
        self._take_sent()  # its end is read again, and found again, by `items`

    def fileno(self) -> int:
        """The pipe the items arrive on, for `select` (-1 once the child is ended: `ended`)."""
        return self._pipe if self._pid else -1

    @property
    def ended(self) -> bool:
        """Whether the child is done with: ended and waited for (`cancel`)."""
        return self._pid == 0

    @property
    def partial(self) -> bool:
        """Whether part of an item has arrived (after `ready`: the child is sending one)."""
        return bool(self._buffer)

    def ready(self) -> list[T]:
        """The items that have arrived, without waiting for more. At the child's end (the pipe
        closed, or the end mark received) or after something unreadable the child is ended and
        waited for (`ended`): `complete`, `died` and `signal` then say how it ended, as after
        `items()`; unreadable, it is neither complete nor died."""
        if self._pid == 0:
            return []
        at_end = self._take_sent()
        found: list[T] = []
        try:
            while len(self._buffer) >= _FRAME.size:
                size = _FRAME.unpack_from(self._buffer)[0]
                end = _FRAME.size + size
                if len(self._buffer) < end:
                    break
                with memoryview(self._buffer) as view:
                    wrapped = pickle.loads(view[_FRAME.size : end])  # noqa: S301  # allowed: our own forked child's pickle, never evidence
                del self._buffer[:end]
                if wrapped is None:
                    self.complete = True
                    self.cancel()
                    return found
                found.append(wrapped[0])
        except Exception:  # whatever broke, the items after it are not known
            self.complete = False
            self.cancel()
            return found
        if at_end:
            self.died = True
            self.cancel()
        return found

    def expire(self) -> None:
        """The child stopped for taking too long (`timed_out`), and waited for."""
        if self._pid:
            self.timed_out = True
            self.cancel()

    def _take_sent(self) -> bool:
        """Take what the child has sent so far into the buffer, without waiting; whether its
        end (the pipe closed) was reached."""
        if self._pid == 0:
            return False
        try:
            while select.select([self._pipe], [], [], 0)[0]:
                chunk = os.read(self._pipe, 1 << 20)
                if not chunk:
                    return True
                self._buffer += chunk
                self.heard = time.monotonic()
        except OSError:
            return True  # a pipe that cannot be read is as good as closed
        return False

    def _receive(self, size: int, deadline: float | None) -> bytes | None:
        """The next `size` bytes from the child; None at its end, or when the deadline passed
        first (`timed_out`)."""
        while len(self._buffer) < size:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._pipe], [], [], left)[0]:
                    self.timed_out = True
                    return None
            chunk = os.read(self._pipe, max(1 << 16, size - len(self._buffer)))
            if not chunk:
                self.died = True
                return None
            self._buffer += chunk
            self.heard = time.monotonic()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def cancel(self) -> None:
        """The child ended (stopped first unless it sent everything or died) and waited for."""
        if self._pid == 0:
            return
        pid, self._pid = self._pid, 0  # never signalled again: the number may be reused
        with contextlib.suppress(OSError):
            os.close(self._pipe)
        try:
            if not self.complete and not self.died:  # a child that closed the pipe is ending
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            if self.died and os.WIFSIGNALED(status):
                self.signal = os.WTERMSIG(status)
        except OSError:
            status = -1
        self.complete = self.complete and status == 0


class ForkedValue(Generic[T]):
    """What `make()` returns, made by a forked child started now while this process goes on
    (unless `fork` is False); made here instead, when asked for, if no child could start or the
    child failed. An exception of `make` is raised by `result()`, as it would be without a
    child (whose failure is only that it sent nothing)."""

    def __init__(self, make: Callable[[], T], *, fork: bool = True) -> None:
        self._make = make
        self._child = ForkedStream.start(partial(_made, make)) if fork else None
        self.forked = self._child is not None  # whether it is being made meanwhile
        self._made: tuple[T] | None = None

    def result(self) -> T:
        if self._made is None:
            child, self._child = self._child, None
            if child is not None:
                for item in child.items():  # ends the child, however it ends
                    self._made = (item,)
            if self._made is None:
                self._made = (self._make(),)
        return self._made[0]

    def cancel(self) -> None:
        """The child ended if it is still at work (its value is not wanted any more)."""
        if self._child is not None:
            self._child.cancel()
            self._child = None


def _made(make: Callable[[], T]) -> Iterator[T]:
    yield make()


_FRAME = struct.Struct(">Q")  # the length of the pickle that follows


def _send_frame(pipe: BinaryIO, item: object) -> None:
    payload = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_FRAME.pack(len(payload)))
    pipe.write(payload)
    pipe.flush()
