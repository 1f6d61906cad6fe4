"""Sources that remember which paths a collector looked at, so that a later change to one of them
(even a file of another collector's location, such as /etc/crontab for the periodic folders, or a
file that did not exist yet) re-runs exactly the collectors it can affect."""

from __future__ import annotations

from typing import Any

from ..sources import FileContent, FileInfo, ImageSource, LiveSource, RootedSource, normalize


class TracingSource(RootedSource):
    """Mix-in: records requested and resolved paths in `touched`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.touched: set[str] = set()

    def stat(self, path: str) -> FileInfo:
        self.touched.add(normalize(path))
        info = super().stat(path)
        self.touched.add(info.real_path)
        return info

    def lstat(self, path: str) -> FileInfo:
        self.touched.add(normalize(path))
        info = super().lstat(path)
        self.touched.add(info.real_path)
        return info

    def exists(self, path: str) -> bool:
        self.touched.add(normalize(path))
        return super().exists(path)

    def list_dir(self, path: str) -> list[str]:
        self.touched.add(normalize(path))
        return super().list_dir(path)

    def read(self, path: str, cap: int | None = None) -> FileContent:
        self.touched.add(normalize(path))
        content = super().read(path, cap)
        self.touched.add(content.info.real_path)
        return content

    def read_link(self, path: str) -> str:
        self.touched.add(normalize(path))
        return super().read_link(path)


class TracingLiveSource(TracingSource, LiveSource):
    pass


class TracingImageSource(TracingSource, ImageSource):
    pass


def tracing(source: RootedSource) -> TracingSource:
    """A fresh tracing source reading the same tree as `source` (fresh caches, same root)."""
    if isinstance(source, LiveSource):
        return TracingLiveSource(read_cap=source.read_cap)
    return TracingImageSource(source.root, read_cap=source.read_cap)
