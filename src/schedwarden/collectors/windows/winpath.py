"""Windows paths in an image read on Linux: names matched case-insensitively, shown as on the host.

A mounted or extracted C: keeps the case each file was created with (`Windows/System32/Tasks`,
`WINDOWS/system32/tasks`, `Windows/system32/config/SOFTWARE`), while Windows itself ignores case.
`CaseFolder` finds a path by listing each folder through the collect context and matching names
with `str.casefold`; nothing is opened except through the source. `windows_path` turns a path of
the image back into the path Windows used (`C:\\Windows\\System32\\Tasks\\Foo`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ...model import Issue
from ...sources import FileKind, SourceError
from ..base import CollectContext

DRIVE = "C:"
MAX_DEPTH = 32
MAX_FILES = 100_000


def resolve_folded(path: str, names: Callable[[str], list[str]]) -> str | None:
    """The path whose components match `path` ignoring case (an exact match wins), `names`
    listing each folder; None when a component is missing."""
    current = ""
    for part in (p for p in path.split("/") if p):
        listed = names(current or "/")
        if part in listed:
            match: str | None = part
        else:
            folded = part.casefold()
            match = next((n for n in listed if n.casefold() == folded), None)
        if match is None:
            return None
        current = f"{current}/{match}"
    return current or "/"


class CaseFolder:
    """Case-insensitive lookups in one source, with each folder listed at most once."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.issues: list[Issue] = []
        self._listings: dict[str, list[str]] = {}

    def names(self, folder: str) -> list[str]:
        """Names in a folder of the image; none when missing (an unusable folder is an issue)."""
        if folder not in self._listings:
            found = self.ctx.list_dir(folder)
            if isinstance(found, Issue):
                self.issues.append(found)
                found = []
            self._listings[folder] = found
        return self._listings[folder]

    def resolve(self, path: str) -> str | None:
        """The image path whose components match `path` ignoring case (an exact match wins)."""
        return resolve_folded(path, self.names)

    def files(self, folder: str, deepest: int = MAX_DEPTH) -> Iterator[str]:
        """Regular files under `folder`, breadth first, sorted, to a bounded depth and count.
        Links are followed inside the root by the source; problems become issues."""
        pending = [(folder, 0)]
        count = 0
        while pending:
            directory, depth = pending.pop(0)
            for name in self.names(directory):
                path = f"{directory.rstrip('/')}/{name}"
                try:
                    kind = self.ctx.source.stat(path).kind
                except SourceError as error:
                    self.issues.append(self.ctx.issue_from(error))
                    continue
                if kind is FileKind.DIRECTORY:
                    if depth < deepest:
                        pending.append((path, depth + 1))
                    else:
                        self.issues.append(
                            self.ctx.issue(
                                "TOO_DEEP",
                                f"folders deeper than {deepest} levels were not read",
                                path,
                            )
                        )
                elif kind is FileKind.REGULAR:
                    count += 1
                    if count > MAX_FILES:
                        self.issues.append(
                            self.ctx.issue(
                                "TOO_MANY_FILES",
                                f"only the first {MAX_FILES} files were read",
                                folder,
                            )
                        )
                        return
                    yield path


def windows_path(image_path: str, drive: str = DRIVE) -> str:
    """`/Windows/System32/Tasks/Foo` → `C:\\Windows\\System32\\Tasks\\Foo`."""
    return drive + image_path.replace("/", "\\")


def task_path_of(image_path: str, tasks_root: str) -> str:
    """The task path (`\\Folder\\Name`) of a file under a Tasks folder of the image."""
    relative = image_path[len(tasks_root) :].strip("/")
    return "\\" + relative.replace("/", "\\")
