"""The kernel side: watchdog observers (inotify on Linux, polling elsewhere or on request) that turn
filesystem events into (path, is_dir) notes on a queue, and tell when the inotify queue overflowed.

Event payloads carry no trust: a note only says where to look; the monitor then re-reads that
scope through the root-clamped source. Our own reads never come back as events: only creations,
deletions, moves, writes and attribute changes are asked of the kernel.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.inotify import InotifyEmitter
from watchdog.observers.inotify_c import InotifyEvent, InotifyFD
from watchdog.observers.polling import PollingObserver

from .plan import Watch, WatchPlan

EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


@dataclass(frozen=True, slots=True)
class Note:
    """Something to look at: a filesystem path (original-host), or a condition of the watcher."""

    kind: str  # "fs", "overflow"
    path: str = ""
    is_dir: bool = False
    at: float = 0.0


class OverflowAwareFD(InotifyFD):
    """watchdog's inotify reader, telling us about IN_Q_OVERFLOW (it only logs it)."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow

    def handle_event(self, event: InotifyEvent) -> None:
        if event.is_queue_overflow:
            self._on_overflow()
        super().handle_event(event)


class InotifyWatcher(BaseObserver):
    """An inotify observer whose reader reports queue overflows."""

    def __init__(self, on_overflow: Callable[[], None], *, timeout: float = 1.0) -> None:
        self.inotify_fd = OverflowAwareFD(on_overflow)
        super().__init__(InotifyEmitter, timeout=timeout, inotify_fd=self.inotify_fd)

    def on_thread_start(self) -> None:  # the reader thread lives exactly as long as we do
        super().on_thread_start()
        self.inotify_fd.start()

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        if self.inotify_fd.is_alive():
            self.inotify_fd.stop()
            self.inotify_fd.join()


class _Handler(FileSystemEventHandler):
    def __init__(self, put: Callable[[Note], None], to_original: Callable[[str], str | None]):
        self._put = put
        self._to_original = to_original

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or (
            event.is_directory and event.event_type == "modified"
        ):
            return
        now = time.monotonic()
        for raw in (event.src_path, event.dest_path):
            if not raw:
                continue
            path = self._to_original(os.fsdecode(raw))
            if path is not None:
                self._put(Note("fs", path, event.is_directory, now))


class Watcher:
    """Keeps an observer's watches equal to a plan; reports every note on `notes`."""

    def __init__(self, root: str, *, poll: float | None = None) -> None:
        self.root = root.rstrip("/")
        self.notes: queue.SimpleQueue[Note] = queue.SimpleQueue()
        self.poll = poll
        self.fallback_reason: str | None = None
        self.failed: dict[str, str] = {}
        self._scheduled: dict[str, tuple[Watch, ObservedWatch]] = {}
        self._handler = _Handler(self.notes.put, self.to_original)
        self.observer = self._new_observer()

    # -- paths -------------------------------------------------------------------------------

    def host_path(self, path: str) -> str:
        return path if not self.root else self.root + (path if path != "/" else "")

    def to_original(self, host: str) -> str | None:
        if not self.root:
            return host
        if host == self.root:
            return "/"
        if host.startswith(self.root + "/"):
            return host[len(self.root) :]
        return None

    # -- observer ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return "polling" if isinstance(self.observer, PollingObserver) else "inotify"

    def _new_observer(self) -> BaseObserver:
        if self.poll is not None or os.name == "nt":
            return PollingObserver(timeout=self.poll or 5.0)
        try:
            return InotifyWatcher(self._overflowed)
        except OSError as exc:  # inotify_init failed (EMFILE: max_user_instances)
            self.fallback_reason = f"inotify unavailable ({exc.strerror or exc}); polling every 5 s"
            self.poll = 5.0
            return PollingObserver(timeout=5.0)

    def _overflowed(self) -> None:
        self.notes.put(Note("overflow", at=time.monotonic()))

    def simulate_overflow(self) -> None:
        """Feed the reader the event the kernel sends when its queue overflowed (wd -1)."""
        observer = self.observer
        if isinstance(observer, InotifyWatcher):
            from watchdog.observers.inotify_c import InotifyConstants

            observer.inotify_fd.handle_event(
                InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b"")  # type: ignore[arg-type]
            )
        else:
            self._overflowed()

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        if self.observer.is_alive():
            self.observer.join(timeout=5)

    def alive(self) -> bool:
        return self.observer.is_alive()

    def restart(self) -> None:
        """A dead observer is replaced, with every watch added again."""
        with contextlib.suppress(Exception):  # it is already dead; what matters is the new one
            self.stop()
        self._scheduled.clear()
        self.observer = self._new_observer()
        self.start()

    # -- watches -----------------------------------------------------------------------------

    def apply(self, plan: WatchPlan) -> None:
        """Add the plan's new watches first, then remove the ones it no longer has. A watch on a
        folder that was replaced (other device/inode) is added again."""
        self.failed = {}
        wanted = plan.watches
        for path, (watch, observed) in list(self._scheduled.items()):
            if wanted.get(path) != watch:
                self._unschedule(path, observed)
        for path, watch in wanted.items():
            if path in self._scheduled:
                continue
            try:
                observed = self.observer.schedule(
                    self._handler,
                    self.host_path(path),
                    recursive=watch.recursive,
                    event_filter=EVENT_FILTER,
                )
            except OSError as exc:
                if exc.errno == errno.ENOSPC and self.kind == "inotify":
                    self.fallback_reason = "inotify watch limit reached (fs.inotify.max_user_watches); polling every 5 s"
                    self.poll = 5.0
                    self.restart()
                    self.apply(plan)
                    return
                self.failed[path] = exc.strerror or str(exc)
                continue
            self._scheduled[path] = (watch, observed)

    def _unschedule(self, path: str, observed: ObservedWatch) -> None:
        del self._scheduled[path]
        with contextlib.suppress(KeyError, OSError):
            self.observer.unschedule(observed)

    @property
    def count(self) -> int:
        return len(self._scheduled)
