"""Work handed to a forked copy of this process, for the second core of a big run.

A forked child starts with the parent's memory as it is (the records already read, the modules
already imported) and needs no start-up of its own: it computes one function, sends the pickled
result over a pipe and ends with `os._exit` (no exit handlers, no flushing of the parent's
buffers). Only forks when that is safe and useful: `fork` exists, at least two processors are
usable, and no other thread is alive (a fork copies only the calling thread; a lock another
thread held would stay locked in the child; the monitor runs threads). The result is our own
pickle, made by our own code in the child, never data read from evidence.

Whoever uses it gets None when the child failed, died or sent something unreadable, and then
does the work itself: the result never depends on whether a child helped.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")


def processors() -> int:
    """The processors this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    return hasattr(os, "fork") and processors() >= 2 and threading.active_count() == 1


def _fork(work: Callable[[BinaryIO], None]) -> tuple[int, int] | None:
    """(pid, read end of the pipe) of a child that runs `work` on the write end and ends."""
    if not can_fork():
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


def _stop(pid: int, pipe: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe)
    except OSError:
        pass


class Forked(Generic[R]):
    """`function()` computed in a forked child while this process goes on."""

    def __init__(self, pid: int, pipe: int) -> None:
        self._pid, self._pipe = pid, pipe

    @classmethod
    def start(cls, function: Callable[[], R]) -> Forked[R] | None:
        """The child computing `function()`, or None when no child may or can be started."""

        def send(pipe: BinaryIO) -> None:
            pipe.write(pickle.dumps(function(), protocol=pickle.HIGHEST_PROTOCOL))

        started = _fork(send)
        return None if started is None else cls(*started)

    def result(self) -> R | None:
        """The child's result (waiting for it), or None when it failed."""
        data = b""
        try:
            with os.fdopen(self._pipe, "rb") as pipe:
                data = pipe.read()
        except OSError:
            pass
        try:
            _, status = os.waitpid(self._pid, 0)
        except OSError:
            return None
        if status != 0 or not data:
            return None
        try:
            value: R = pickle.loads(data)  # noqa: S301  # allowed: bytes our own forked child pickled, never evidence
        except Exception:  # whatever it was, the caller does the work itself
            return None
        return value

    def cancel(self) -> None:
        """The child stopped, its result not wanted (after an error in this process)."""
        _stop(self._pid, self._pipe)


class ForkedStream(Generic[T]):
    """The items of `produce()` made in a forked child, received one by one while it goes on.
    `complete` tells, once `items()` is exhausted, whether the child sent them all."""

    def __init__(self, pid: int, pipe: int) -> None:
        self._pid = pid
        self._pipe = os.fdopen(pipe, "rb")
        self.complete = False

    @classmethod
    def start(cls, produce: Callable[[], Iterator[T]]) -> ForkedStream[T] | None:
        """The child sending the items of `produce()`, or None when none may or can start."""

        def send(pipe: BinaryIO) -> None:
            for item in produce():
                pickle.dump((item,), pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
            pickle.dump(None, pipe)  # the end: every item was sent

        started = _fork(send)
        return None if started is None else cls(*started)

    def items(self) -> Iterator[T]:
        """The items as they arrive; stops early when the child failed or died. The child is
        ended and waited for when the items stop, however they stop."""
        try:
            while True:
                wrapped = pickle.load(self._pipe)  # noqa: S301  # allowed: our own forked child's pickle, never evidence
                if wrapped is None:
                    self.complete = True
                    break
                yield wrapped[0]
        except Exception:  # whatever broke, the items after it are not known
            self.complete = False
        finally:
            self.cancel()

    def cancel(self) -> None:
        """The child ended (stopped first unless it sent everything) and waited for."""
        self._pipe.close()
        if self._pid == 0:
            return
        pid, self._pid = self._pid, 0  # never signalled again: the number may be reused
        try:
            if not self.complete:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        except OSError:
            status = -1
        self.complete = self.complete and status == 0
