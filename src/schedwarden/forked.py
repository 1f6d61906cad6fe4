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
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


def processors() -> int:
    """The processors this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    return hasattr(os, "fork") and processors() >= 2 and threading.active_count() == 1


class Forked(Generic[R]):
    """`function()` computed in a forked child while this process goes on."""

    def __init__(self, pid: int, pipe: int) -> None:
        self._pid, self._pipe = pid, pipe

    @classmethod
    def start(cls, function: Callable[[], R]) -> Forked[R] | None:
        """The child computing `function()`, or None when no child may or can be started."""
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
                data = pickle.dumps(function(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        return cls(pid, read)

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
            value: R = pickle.loads(data)  # noqa: S301 - our own child's pickle
        except Exception:  # whatever it was, the caller does the work itself
            return None
        return value

    def cancel(self) -> None:
        """The child stopped, its result not wanted (after an error in this process)."""
        try:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            os.close(self._pipe)
        except OSError:
            pass
