"""The baseline key: from SCHEDWARDEN_BASELINE_KEY, a key file, or a passphrase typed at a prompt.

Whatever its source, the secret is stretched with scrypt and a random salt kept in the database
(the salt is not secret; the key is never written anywhere). A key file inside the database's own
folder is refused: a key stored beside the baseline protects nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .errors import KeyUnavailable

ENV_VAR = "SCHEDWARDEN_BASELINE_KEY"
KEY_FILE_CAP = 64 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class KdfParams:
    """scrypt parameters, stored with the database (N=2^15, r=8, p=1: 32 MiB, ~0.1 s)."""

    salt: bytes
    n: int = 2**15
    r: int = 8
    p: int = 1

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(os.urandom(16))


@lru_cache(maxsize=8)
def derive(secret: bytes, params: KdfParams) -> bytes:
    """The 32-byte MAC key (cached: a long-running monitor derives it once)."""
    if not secret:
        raise KeyUnavailable("the baseline key is empty", "")
    memory = 128 * params.r * params.n * 2 + (1 << 20)
    return hashlib.scrypt(
        secret, salt=params.salt, n=params.n, r=params.r, p=params.p, maxmem=memory, dklen=32
    )


def secret_from_env(environ: Mapping[str, str] | None = None) -> bytes | None:
    value = (os.environ if environ is None else environ).get(ENV_VAR)
    return value.encode("utf-8", "surrogateescape") if value else None


def secret_from_file(path: str, db_path: str) -> bytes:
    """A key file's bytes (one trailing newline dropped). Refused: links, FIFOs, devices, empty
    files, and files in the database's own folder."""
    key_dir = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    db_dir = os.path.realpath(os.path.dirname(os.path.abspath(db_path)))
    if key_dir == db_dir:
        raise KeyUnavailable("refusing a key file stored beside the baseline database", path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise KeyUnavailable(f"cannot open the key file: {exc.strerror or exc}", path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise KeyUnavailable("the key file is not a regular file", path)
        data = os.read(fd, KEY_FILE_CAP + 1)
    finally:
        os.close(fd)
    if len(data) > KEY_FILE_CAP:
        raise KeyUnavailable("the key file is larger than 64 KiB", path)
    if data.endswith(b"\n"):
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    if not data:
        raise KeyUnavailable("the key file is empty", path)
    return data
