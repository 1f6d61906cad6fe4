"""Loose files given directly as PATH: one file, or a folder of them that is not a system root.

Exported definitions come this way: Kubernetes manifests and `kubectl get -o yaml` dumps, exported
task XML, a single suspicious crontab. They go through the same root-clamped resolver, rooted at
the folder (or the file's folder), and are listed by `loose_files()` for the collectors that read
such files. Evidence paths are the analyst's paths, since there is no original host to name.
"""

from __future__ import annotations

import os

from ..model import SourceKind
from .errors import SourceError
from .fileinfo import FileKind
from .rooted import DEFAULT_READ_CAP, RootedSource

MAX_DEPTH = 32
MAX_FILES = 100_000


class LooseFilesSource(RootedSource):
    kind = SourceKind.FILE

    def __init__(self, path: str, read_cap: int = DEFAULT_READ_CAP) -> None:
        path = os.path.abspath(path)
        self.single = None if os.path.isdir(path) else os.path.basename(path)
        super().__init__(path if self.single is None else os.path.dirname(path), read_cap)
        self.walk_problems: list[SourceError] = []
        self._files: list[str] | None = None

    def loose_files(self) -> list[str]:
        """Paths (inside this source) of every file given: the file, or the folder's tree walked
        breadth-first, to a bounded depth and count, without descending through links (a link to
        a file is listed, and a dangling one too, so that its reader reports it)."""
        if self.single is not None:
            return ["/" + self.single]
        if self._files is None:
            self._files = self._walk()
        return self._files

    def problems(self) -> list[SourceError]:
        return list(self.walk_problems)

    def _walk(self) -> list[str]:
        found: list[str] = []
        pending: list[tuple[str, int]] = [("/", 0)]
        while pending and len(found) < MAX_FILES:
            folder, depth = pending.pop(0)
            try:
                names = self.list_dir(folder)
            except SourceError as error:
                self.walk_problems.append(error)
                continue
            for name in names:
                path = folder.rstrip("/") + "/" + name
                try:
                    kind = self.lstat(path).kind
                except SourceError as error:
                    self.walk_problems.append(error)
                    continue
                if kind is FileKind.DIRECTORY and depth < MAX_DEPTH:
                    pending.append((path, depth + 1))
                elif kind is FileKind.REGULAR or (
                    kind is FileKind.SYMLINK and not self.is_dir(path)  # links to folders: skip
                ):
                    found.append(path)
        return found[:MAX_FILES]

    def display_path(self, path: str) -> str:
        return self.root.rstrip("/") + path

    @property
    def host(self) -> str:
        return "unknown"
