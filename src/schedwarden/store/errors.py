"""Why a baseline database cannot be trusted or used. Each class maps to its own exit code."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every baseline problem: a stable `code` and a one-sentence message."""

    code = "BASELINE_ERROR"

    def __init__(self, message: str, path: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        if code is not None:
            self.code = code


class BaselineUnusable(StoreError):
    """The file is not a baseline we may read or write: corrupt, foreign, or not a regular file.
    It is kept untouched for evidence."""

    code = "BASELINE_CORRUPT"


class BaselineTampered(StoreError):
    """The database is readable, but its content or chain does not verify with the key."""

    code = "BASELINE_TAMPERED"


class BaselineMissing(StoreError):
    """There is no baseline where one was expected (deleted, or never saved)."""

    code = "BASELINE_MISSING"


class KeyUnavailable(StoreError):
    """No key could be obtained (no environment variable, key file or terminal for a prompt)."""

    code = "BASELINE_NO_KEY"
