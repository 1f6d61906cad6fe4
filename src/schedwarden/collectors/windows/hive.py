"""Registry keys behind one small interface: an offline hive through regipy, or (on Windows, for the
live host) the running registry through winreg.

Hive bytes come from the source like every other file (the collector reads
`Windows/System32/config/SOFTWARE` case-insensitively), and regipy parses them from memory, so no
path of the evidence is ever opened by the library itself. Hives are hostile input too: a subkey
list can point back at an ancestor (python-registry#57), a cell can have a size of 0 or point past
the end. Walks are bounded in depth and key count and refuse a key that repeats one of its
ancestors; any exception from the parser becomes a `HiveError` for that key, and the walk goes on.

The winreg backend is import-guarded and only used on a Windows live host; it has not been run in
our test environment (Linux).
"""

from __future__ import annotations

import logging
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Protocol

from regipy.registry import Cell, NKRecord

from .blobs import filetime

REGF_HEADER_SIZE = 4096
HBIN_HEADER_SIZE = 32
ROOT_OFFSET_FIELD = 0x24
MAX_SUBKEYS = 100_000
MAX_VALUES = 1024

RegData = bytes | str | int | list[str] | None


# regipy logs what it skips in a corrupt hive; here every such problem becomes an Issue instead,
# so its messages must not reach the user's terminal a second time.
_REGIPY_LOG = logging.getLogger("regipy")
_REGIPY_LOG.addHandler(logging.NullHandler())
_REGIPY_LOG.propagate = False


def _flat(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


class HiveError(Exception):
    """A hive, key or value that could not be parsed."""


class RegKey(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def last_write(self) -> datetime | None: ...

    @property
    def identity(self) -> tuple[object, ...]: ...

    def subkeys(self) -> list[RegKey]: ...

    def values(self) -> dict[str, RegData]: ...


@dataclass(frozen=True, slots=True)
class HiveKey:
    """A key of an offline hive (regipy NKRecord)."""

    record: NKRecord

    @property
    def name(self) -> str:
        return str(self.record.name)

    @property
    def last_write(self) -> datetime | None:
        return filetime(int(self.record.header.last_modified))

    @property
    def identity(self) -> tuple[object, ...]:
        header = self.record.header
        return (
            int(header.subkeys_list_offset),
            int(header.values_list_offset),
            int(header.last_modified),
            self.name,
        )

    def subkeys(self) -> list[RegKey]:
        found: list[RegKey] = []
        try:
            for record in self.record.iter_subkeys() or ():  # type: ignore[no-untyped-call]
                if isinstance(record, NKRecord):
                    found.append(HiveKey(record))
                if len(found) > MAX_SUBKEYS:
                    raise HiveError(f"more than {MAX_SUBKEYS} subkeys")
        except HiveError:
            raise
        except Exception as error:  # regipy and construct raise many types on a corrupt hive
            raise HiveError(
                f"subkey list of {self.name!r}: {type(error).__name__}: {_flat(error)}"
            ) from None
        return found

    def values(self) -> dict[str, RegData]:
        found: dict[str, RegData] = {}
        try:
            for value in self.record.iter_values(trim_values=False) or ():  # type: ignore[no-untyped-call]
                data = value.value
                if isinstance(data, bytes | str | int) or data is None:
                    found[str(value.name)] = data
                elif isinstance(data, list):
                    found[str(value.name)] = [str(item) for item in data]
                else:
                    found[str(value.name)] = str(data)
                if len(found) > MAX_VALUES:
                    raise HiveError(f"more than {MAX_VALUES} values")
        except HiveError:
            raise
        except Exception as error:  # regipy and construct raise many types on a corrupt hive
            raise HiveError(
                f"values of {self.name!r}: {type(error).__name__}: {_flat(error)}"
            ) from None
        return found


def open_hive(data: bytes) -> RegKey:
    """The root key of a hive held in memory; HiveError when it is not a usable hive. The root is
    the key the header names (not the first cell of the first hbin, which may be another cell)."""
    if data[:4] != b"regf":
        raise HiveError("not a registry hive (no regf signature)")
    if len(data) < REGF_HEADER_SIZE + HBIN_HEADER_SIZE + 8:
        raise HiveError(f"{len(data)} bytes: too short for a hive")
    if data[REGF_HEADER_SIZE : REGF_HEADER_SIZE + 4] != b"hbin":
        raise HiveError("no hbin block after the header")
    (root_offset,) = struct.unpack_from("<I", data, ROOT_OFFSET_FIELD)
    position = REGF_HEADER_SIZE + root_offset
    if position + 8 > len(data):
        raise HiveError(f"root key offset 0x{root_offset:X} is past the end of the hive")
    (size,) = struct.unpack_from("<i", data, position)
    if size >= 0 or data[position + 4 : position + 6] != b"nk":
        raise HiveError(f"no allocated key cell at the root offset 0x{root_offset:X}")
    try:
        cell = Cell(cell_type="nk", offset=position + 6, size=-size)
        return HiveKey(NKRecord(cell, BytesIO(data)))  # type: ignore[no-untyped-call]
    except Exception as error:  # regipy and construct raise many types on a corrupt hive
        raise HiveError(f"root key: {type(error).__name__}: {_flat(error)}") from None


def subkey(key: RegKey, name: str) -> RegKey | None:
    """A direct subkey by name, ignoring case as Windows does."""
    folded = name.casefold()
    return next((k for k in key.subkeys() if k.name.casefold() == folded), None)


def find(key: RegKey, path: str) -> RegKey | None:
    """A key below `key` by a `\\`-separated path, ignoring case."""
    current: RegKey | None = key
    for part in (p for p in path.split("\\") if p):
        if current is None:
            return None
        current = subkey(current, part)
    return current


@dataclass(frozen=True, slots=True)
class Walked:
    """One key of a walk: its path below the start (`A\\B`), the key, or the problem met."""

    path: str
    key: RegKey | None
    problem: str | None = None


def walk(start: RegKey, max_depth: int, max_keys: int) -> Iterator[Walked]:
    """Every key below `start`, depth first in name order, bounded, refusing ancestor cycles."""
    count = 0
    stack: list[tuple[str, RegKey, tuple[tuple[object, ...], ...]]] = [
        ("", start, (start.identity,))
    ]
    while stack:
        path, key, ancestors = stack.pop()
        if path:
            yield Walked(path, key)
        if len(ancestors) > max_depth:
            yield Walked(path, None, f"keys nested deeper than {max_depth} levels were not read")
            continue
        try:
            children = sorted(key.subkeys(), key=lambda k: k.name.casefold())
        except HiveError as error:
            yield Walked(path, None, str(error))
            continue
        for child in reversed(children):
            child_path = f"{path}\\{child.name}" if path else child.name
            if child.identity in ancestors:
                yield Walked(child_path, None, "subkey list loops back to an ancestor key")
                continue
            count += 1
            if count > max_keys:
                yield Walked(path, None, f"more than {max_keys} keys: the rest was not read")
                return
            stack.append((child_path, child, (*ancestors, child.identity)))


if sys.platform == "win32":  # pragma: no cover - the live registry exists only on Windows
    import winreg

    @dataclass(frozen=True, slots=True)
    class LiveKey:
        """A key of the running registry, opened read-only (untested outside Windows)."""

        handle_path: str
        key_name: str

        @property
        def name(self) -> str:
            return self.key_name

        @property
        def identity(self) -> tuple[object, ...]:
            return (self.handle_path.casefold(),)

        @property
        def last_write(self) -> datetime | None:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, self.handle_path) as handle:
                _, _, modified = winreg.QueryInfoKey(handle)
            return filetime(int(modified))

        def subkeys(self) -> list[RegKey]:
            found: list[RegKey] = []
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, self.handle_path) as handle:
                    count, _, _ = winreg.QueryInfoKey(handle)
                    for index in range(min(count, MAX_SUBKEYS)):
                        name = winreg.EnumKey(handle, index)
                        found.append(LiveKey(f"{self.handle_path}\\{name}", name))
            except OSError as error:
                raise HiveError(f"{self.handle_path}: {error}") from None
            return found

        def values(self) -> dict[str, RegData]:
            found: dict[str, RegData] = {}
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, self.handle_path) as handle:
                    _, count, _ = winreg.QueryInfoKey(handle)
                    for index in range(min(count, MAX_VALUES)):
                        name, data, _kind = winreg.EnumValue(handle, index)
                        found[name] = data if isinstance(data, bytes | str | int) else str(data)
            except OSError as error:
                raise HiveError(f"{self.handle_path}: {error}") from None
            return found

    def live_software() -> RegKey:
        """HKLM\\SOFTWARE of the running host."""
        return LiveKey("SOFTWARE", "SOFTWARE")
