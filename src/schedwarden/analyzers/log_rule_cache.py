"""The conversions of a user's Sigma rule files (`hunt --sigma DIR`), remembered between runs.

Converting a rule folder through pySigma is the longest part of loading it: SigmaHQ's 3,141
files cost 0.6 s of processor time on every hunt (importing pySigma 0.17 s, reading and testing
the files 0.1 s, YAML 0.1 s, pySigma's rule objects 0.15 s, conversion to SQL 0.3 s). What a
file converts to depends only on its bytes and on the converter, so it is remembered under the
sha256 of the bytes, in one file per user (`CACHE_FILE` in the cache folder) that also records
which converter made it: this version of schedwarden, of pySigma, its SQLite backend and PyYAML,
and the bytes of our modules that convert. A file is converted again when its bytes or the
converter change; nothing else is reused, so the cache can only save time, never change a result.
A file that is not about scheduled tasks is remembered too (as converting to nothing): most of a
folder is such files.

The folder is `$SCHEDWARDEN_CACHE_DIR`, else `$XDG_CACHE_HOME/schedwarden`, else
`~/.cache/schedwarden`; `SCHEDWARDEN_CACHE_DIR` set empty, or `hunt --no-cache`, turns the cache
off. The file is JSON (never pickle: nothing in it is code to Python), written whole to a
temporary file and renamed, readable by its owner only. A file that cannot be read, of another
converter, not in the expected shape, or that another user could have written is ignored and
made again; a folder that cannot be
written to only means no cache. The converted conditions are SQL that the rule table runs (as
the conversions of the rule files themselves): the cache is as trusted as the rule folder, and
lives in the user's own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from .log_sigma import FileRules, rule_document, rule_of

CACHE_FILE = "sigma-log-rules.json"
SCHEMA = "schedwarden.sigma-log-rules-cache/1"
MAX_ENTRIES = 100_000  # files remembered; past that, the cache starts again
# Our modules whose code decides what a rule file converts to
_CONVERTER_MODULES = ("log_sigma.py", "log_sigma_linux.py", "sigma_backend.py", "sigma_table.py")
_DISTRIBUTIONS = ("schedwarden", "pysigma", "pysigma-backend-sqlite", "pyyaml")


def cache_folder() -> Path | None:
    """Where the cache lives; None when it is turned off."""
    given = os.environ.get("SCHEDWARDEN_CACHE_DIR")
    if given is not None:
        return Path(given) if given else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "schedwarden"


@cache
def converter() -> str:
    """What decides a conversion: versions, and our converting modules' code."""
    from importlib import metadata  # only to convert: most runs find the conversions cached

    found = hashlib.sha256()
    for name in _DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        found.update(f"{name} {version}\0".encode())
    here = Path(__file__).parent
    for module in _CONVERTER_MODULES:
        found.update(module.encode() + b"\0" + (here / module).read_bytes())
    return found.hexdigest()


class RuleCache:
    """The conversions remembered in `path` (read when made), and those added since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, FileRules] = _read(path)
        self.added = False

    @classmethod
    def default(cls) -> RuleCache | None:
        folder = cache_folder()
        return None if folder is None else cls(folder / CACHE_FILE)

    def get(self, data: bytes) -> FileRules | None:
        return self.entries.get(_key(data))

    def put(self, data: bytes, found: FileRules) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[_key(data)] = found
        self.added = True

    def save(self) -> None:
        """Write the cache if something was added; a folder that cannot be written is no
        error (the next run converts again)."""
        if not self.added:
            return
        import tempfile  # only to write: most runs find every conversion cached

        document = {
            "schema": SCHEMA,
            "converter": converter(),
            "files": {
                key: [[rule_document(r) for r in found.rules], list(found.problems)]
                for key, found in self.entries.items()
            },
        }
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                prefix=".sigma-", suffix=".json", dir=self.path.parent
            )
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                    json.dump(document, stream, ensure_ascii=False, separators=(",", ":"))
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            return
        self.added = False


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> dict[str, FileRules]:
    """The conversions in `path`, if it is a cache of this converter that only this user could
    have written (owned by them, not writable by others: a cache folder given in a shared place
    must not let another user choose what the rules become); else none."""
    try:
        with path.open(encoding="utf-8") as stream:
            if not _own(os.fstat(stream.fileno())):
                return {}
            document = json.load(stream)
        if document["schema"] != SCHEMA or document["converter"] != converter():
            return {}
        return {str(key): _entry(value) for key, value in document["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _own(stat: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)  # not on Windows, where the user's folder is theirs
    return getuid is None or (stat.st_uid == getuid() and not stat.st_mode & 0o022)


def _entry(value: Any) -> FileRules:
    rules, problems = value
    if not isinstance(rules, list) or not isinstance(problems, list):
        raise TypeError("not a cache entry")
    if not all(isinstance(p, str) for p in problems):
        raise TypeError("not a cache entry")
    return FileRules(tuple(rule_of(r) for r in rules), tuple(problems))
