"""Why a path of the evidence could not be used. Collectors turn these into Issues."""

from __future__ import annotations


class SourceError(Exception):
    """Base of every problem a source reports about a path."""

    def __init__(self, code: str, message: str, path: str) -> None:
        super().__init__(f"{code}: {message} ({path})")
        self.code = code
        self.message = message
        self.path = path


class NotFound(SourceError):
    """The path does not exist. Not a problem by itself: most locations are optional."""

    def __init__(self, path: str) -> None:
        super().__init__("NOT_FOUND", "no such file or directory", path)


class EvidenceError(SourceError):
    """The path exists but cannot be used safely: a dangling or looping link, a FIFO, a device,
    a permission error, a file that changed while it was read. Always reported as an Issue."""
