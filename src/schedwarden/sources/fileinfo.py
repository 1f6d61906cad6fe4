"""What a source tells about one file: the lstat facts a scheduler checks before it loads a file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class FileKind(StrEnum):
    REGULAR = "regular"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    FIFO = "fifo"
    SOCKET = "socket"
    CHAR_DEVICE = "char_device"
    BLOCK_DEVICE = "block_device"
    OTHER = "other"


def file_kind(mode: int) -> FileKind:
    if stat.S_ISREG(mode):
        return FileKind.REGULAR
    if stat.S_ISDIR(mode):
        return FileKind.DIRECTORY
    if stat.S_ISLNK(mode):
        return FileKind.SYMLINK
    if stat.S_ISFIFO(mode):
        return FileKind.FIFO
    if stat.S_ISSOCK(mode):
        return FileKind.SOCKET
    if stat.S_ISCHR(mode):
        return FileKind.CHAR_DEVICE
    if stat.S_ISBLK(mode):
        return FileKind.BLOCK_DEVICE
    return FileKind.OTHER


@dataclass(frozen=True, slots=True)
class FileInfo:
    """`path` is the original-host path asked for; `real_path` the same after resolving links."""

    path: str
    real_path: str
    kind: FileKind
    mode: int
    uid: int
    gid: int
    nlink: int
    size: int
    mtime: datetime
    dev: int
    ino: int

    @classmethod
    def from_stat(cls, path: str, real_path: str, st: os.stat_result) -> FileInfo:
        return cls(
            path=path,
            real_path=real_path,
            kind=file_kind(st.st_mode),
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            nlink=st.st_nlink,
            size=st.st_size,
            mtime=datetime.fromtimestamp(st.st_mtime, UTC),
            dev=st.st_dev,
            ino=st.st_ino,
        )

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"


@dataclass(frozen=True, slots=True)
class FileContent:
    """Bytes read from a regular file, at most the source's cap; `truncated` when there was more."""

    info: FileInfo
    data: bytes
    truncated: bool
    sha256: str | None
