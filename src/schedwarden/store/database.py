"""The baseline database: SQLite (stdlib) in WAL mode with synchronous=FULL, one transaction per
snapshot, an HMAC chain over the snapshots, and a file that is never trusted before it is checked.

Opening an existing file: it is opened with O_NOFOLLOW and must be a regular file (a symbolic
link, FIFO or device is refused), start with the SQLite header, have no foreign or damaged
write-ahead log beside it, pass `PRAGMA quick_check` on a read-only connection, and carry our
schema. Anything else is reported and the file is left exactly as it was: nothing is ever
rewritten, repaired or replaced. A new database is built under a temporary name and linked into
place, so a crash during creation never leaves a half-made baseline at the real path.
"""

from __future__ import annotations

import errno
import hmac
import json
import os
import re
import sqlite3
import stat
import struct
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ..model import AuditReport
from ..outputs.serialize import plain
from .canonical import (
    GENESIS_MAC,
    Document,
    canonical,
    content_digest,
    document,
    encode,
    identity,
    key_check,
    snapshot_mac,
)
from .errors import BaselineMissing, BaselineTampered, BaselineUnusable, StoreError
from .keys import KdfParams, derive

SCHEMA = "schedwarden.baseline/1"
SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = (0x377F0682, 0x377F0683)
WAL_VERSION = 3007000
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")

DDL = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE,
    created_at TEXT NOT NULL,
    host TEXT NOT NULL,
    source TEXT NOT NULL,
    job_count INTEGER NOT NULL,
    issue_count INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state = 'complete')
) STRICT;
CREATE TABLE jobs (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    seq INTEGER NOT NULL,
    identity TEXT NOT NULL,
    job_id TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, seq)
) STRICT;
"""


def default_path() -> str:
    """$XDG_DATA_HOME/schedwarden/baseline.db, else ~/.local/share/schedwarden/baseline.db."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "schedwarden", "baseline.db")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: int
    name: str | None
    created_at: str
    host: str
    source: str
    job_count: int
    issue_count: int
    content_sha256: str
    prev_mac: str
    mac: str
    state: str

    @property
    def head(self) -> str:
        """The chain head to keep off the host: `ID:MAC`."""
        return f"{self.id}:{self.mac}"

    def header(self) -> tuple[str, ...]:
        return (
            str(self.id),
            self.name or "",
            self.created_at,
            self.host,
            self.source,
            str(self.job_count),
            str(self.issue_count),
        )

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "host": self.host,
            "jobs": self.job_count,
            "issues": self.issue_count,
            "head": self.head,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    info: SnapshotInfo
    documents: tuple[Document, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something `verify` found: a stable code (all mean "do not trust this baseline")."""

    code: str
    message: str
    snapshot_id: int | None = None


def parse_head(text: str) -> tuple[int, str]:
    match = _HEAD.match(text.strip().lower())
    if not match:
        raise ValueError("a chain head looks like ID:MAC (64 hex digits), as printed by save")
    return int(match.group(1)), match.group(2)


# ---------------------------------------------------------------------------------------------
# Checking a file before SQLite sees it


def _refuse(path: str, what: str) -> BaselineUnusable:
    return BaselineUnusable(
        f"refusing to use {what} as the baseline database", path, "BASELINE_REFUSED"
    )


def _check_regular(path: str) -> tuple[os.stat_result, bytes]:
    """The file's fstat and its first 100 bytes, opened without following a link."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise BaselineMissing("there is no baseline database", path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "a symbolic link") from None
        raise BaselineUnusable(
            f"cannot open the baseline database: {exc.strerror or exc}", path
        ) from None
    try:
        st = os.fstat(fd)
        kind = st.st_mode
        if stat.S_ISFIFO(kind):
            raise _refuse(path, "a FIFO")
        if stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
            raise _refuse(path, "a device")
        if not stat.S_ISREG(kind):
            raise _refuse(path, "something that is not a regular file")
        head = os.read(fd, 100)
    finally:
        os.close(fd)
    return st, head


def _check_companions(path: str) -> None:
    """-wal, -shm and -journal beside the database must be regular files when they exist."""
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            st = os.lstat(path + suffix)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BaselineUnusable(
                f"cannot inspect {suffix}: {exc.strerror or exc}", path
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, f"a database whose {suffix} file is not a regular file")


def _wal_checksum(data: bytes, big_endian: bool) -> tuple[int, int]:
    fmt = ">" if big_endian else "<"
    s0 = s1 = 0
    for x0, x1 in struct.iter_unpack(fmt + "II", data):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


def _check_wal(path: str, db_head: bytes) -> None:
    """A write-ahead log left by a crash is normal; one whose header is not SQLite's, or was made
    for a different page size, is foreign: SQLite would silently drop or misapply it."""
    wal = path + "-wal"
    try:
        fd = os.open(wal, _OPEN_FLAGS)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise BaselineUnusable(f"cannot open the -wal file: {exc.strerror or exc}", path) from None
    try:
        header = os.read(fd, 32)
    finally:
        os.close(fd)
    if len(header) < 32:
        return  # empty (or never written): SQLite ignores it as well
    magic, version, page_size = struct.unpack(">III", header[:12])
    db_page = int.from_bytes(db_head[16:18], "big")
    db_page = 65536 if db_page == 1 else db_page
    valid = (
        magic in WAL_MAGICS
        and version == WAL_VERSION
        and page_size == db_page
        and _wal_checksum(header[:24], magic & 1 == 1) == struct.unpack(">II", header[24:32])
    )
    if not valid:
        raise BaselineUnusable(
            "the write-ahead log beside the database is foreign or damaged",
            path,
            "BASELINE_CORRUPT",
        )


def _uri(path: str, mode: str) -> str:
    return f"{Path(os.path.abspath(path)).as_uri()}?mode={mode}"


def _connect(path: str, mode: str) -> sqlite3.Connection:
    conn = sqlite3.connect(_uri(path, mode), uri=True, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA cell_size_check=ON")
    return conn


# ---------------------------------------------------------------------------------------------


class BaselineStore:
    """One open baseline database. `open` checks it; `unlock` derives the key and checks it."""

    def __init__(self, path: str, conn: sqlite3.Connection, params: KdfParams, check: str) -> None:
        self.path = path
        self._conn = conn
        self._params = params
        self._key_check = check
        self._key: bytes | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str, *, writable: bool = False) -> BaselineStore:
        """Check and open an existing database (read-only unless `writable`)."""
        st, head = _check_regular(path)
        _check_companions(path)
        if not head.startswith(SQLITE_MAGIC):
            what = "an empty file" if not head else "not an SQLite database"
            raise BaselineUnusable(f"the baseline file is {what}", path)
        _check_wal(path, head)
        try:
            probe = _connect(path, "ro")
        except sqlite3.Error as exc:
            raise BaselineUnusable(f"SQLite cannot open the database: {exc}", path) from None
        with closing(probe):
            meta = cls._check_content(probe, path, "quick_check")
        if writable:
            conn = _connect(path, "rw")
            after = os.lstat(path)
            if (after.st_dev, after.st_ino) != (st.st_dev, st.st_ino):
                conn.close()
                raise _refuse(path, "a file that was replaced while it was opened")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise BaselineUnusable(f"cannot use write-ahead logging (got {mode})", path)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
        else:
            conn = _connect(path, "ro")
        try:
            params = KdfParams(
                salt=bytes.fromhex(meta["kdf_salt"]),
                n=int(meta["kdf_n"]),
                r=int(meta["kdf_r"]),
                p=int(meta["kdf_p"]),
            )
        except (KeyError, ValueError):
            conn.close()
            raise BaselineTampered(
                "the key parameters of the baseline are missing or malformed",
                path,
                "BASELINE_TAMPERED",
            ) from None
        return cls(path, conn, params, meta.get("key_check", ""))

    @staticmethod
    def _check_content(conn: sqlite3.Connection, path: str, check: str) -> dict[str, str]:
        """`check` is quick_check (on every open) or integrity_check (on verify)."""
        try:
            rows = [str(r[0]) for r in conn.execute(f"PRAGMA {check}")]
        except sqlite3.DatabaseError as exc:
            raise BaselineUnusable(f"the database is damaged: {exc}", path) from None
        if rows != ["ok"]:
            detail = "; ".join(rows[:3])
            raise BaselineUnusable(f"the database failed {check}: {detail}", path)
        try:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not {"meta", "snapshots", "jobs"} <= tables:
                raise BaselineUnusable(
                    "an SQLite database, but not a schedwarden baseline", path, "BASELINE_FOREIGN"
                )
            meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        except sqlite3.DatabaseError as exc:
            raise BaselineUnusable(f"the database is damaged: {exc}", path) from None
        if meta.get("schema") != SCHEMA:
            raise BaselineUnusable(
                f"an SQLite database with schema {meta.get('schema')!r}, not {SCHEMA}",
                path,
                "BASELINE_FOREIGN",
            )
        return meta

    @classmethod
    def create(cls, path: str, secret: bytes) -> BaselineStore:
        """A new, empty baseline at `path`, which must not exist. Built under a temporary name in
        the same folder and hard-linked into place (never over an existing file)."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.path.lexists(path):
            raise BaselineUnusable("a file already exists there", path, "BASELINE_EXISTS")
        params = KdfParams.fresh()
        key = derive(secret, params)
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.new-", dir=folder)
        os.close(fd)
        try:
            with closing(sqlite3.connect(temp, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(DDL)
                conn.execute("BEGIN IMMEDIATE")
                meta = {
                    "schema": SCHEMA,
                    "created_at": _now_text(),
                    "kdf": "scrypt",
                    "kdf_salt": params.salt.hex(),
                    "kdf_n": str(params.n),
                    "kdf_r": str(params.r),
                    "kdf_p": str(params.p),
                    "key_check": key_check(key),
                }
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
                conn.execute("COMMIT")
            _fsync_file(temp)
            os.link(temp, path)  # fails, rather than overwrite, when the path appeared meanwhile
            _fsync_dir(folder)
        except FileExistsError:
            raise BaselineUnusable("a file already exists there", path, "BASELINE_EXISTS") from None
        finally:
            for leftover in (temp, temp + "-wal", temp + "-shm"):
                with suppress(FileNotFoundError):
                    os.unlink(leftover)
        store = cls.open(path, writable=True)
        store.unlock(secret)
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> BaselineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the key -----------------------------------------------------------------------------

    def unlock(self, secret: bytes) -> None:
        """Derive the key; a key that does not match the database's key check is refused as
        tampering (a wrong key and an altered database cannot be told apart)."""
        key = derive(secret, self._params)
        if not hmac.compare_digest(key_check(key), self._key_check):
            raise BaselineTampered(
                "the key does not match this baseline: a wrong key, or the database was altered",
                self.path,
                "BASELINE_KEY_MISMATCH",
            )
        self._key = key

    def _need_key(self) -> bytes:
        if self._key is None:
            raise StoreError("the baseline is locked: no key given", self.path)
        return self._key

    # -- reading -----------------------------------------------------------------------------

    def snapshots(self, *, complete_only: bool = True) -> list[SnapshotInfo]:
        query = (
            "SELECT id, name, created_at, host, source, job_count, issue_count, content_sha256, "
            "prev_mac, mac, state FROM snapshots"
        )
        if complete_only:
            query += " WHERE state = 'complete'"
        try:
            return [SnapshotInfo(*row) for row in self._conn.execute(query + " ORDER BY id")]
        except (sqlite3.Error, TypeError) as exc:
            raise BaselineUnusable(f"cannot read the snapshots: {exc}", self.path) from None

    def find(self, ref: str | None) -> SnapshotInfo:
        """A snapshot by number, name or `latest` (the default)."""
        known = self.snapshots()
        if not known:
            raise BaselineMissing("the baseline database holds no snapshot yet", self.path)
        if ref is None or ref == "latest":
            return known[-1]
        for info in known:
            if ref == str(info.id) or ref == info.name:
                return info
        raise BaselineMissing(f"no snapshot named {ref!r}", self.path, "BASELINE_NO_SNAPSHOT")

    def _rows(self, snapshot_id: int) -> list[tuple[int, str, str, str]]:
        return [
            (int(seq), str(ident), str(job_id), str(doc))
            for seq, ident, job_id, doc in self._conn.execute(
                "SELECT seq, identity, job_id, document FROM jobs WHERE snapshot_id = ? "
                "ORDER BY seq",
                (snapshot_id,),
            )
        ]

    def load(self, ref: str | None = None) -> Snapshot:
        """A complete snapshot's job documents, after checking its own MAC."""
        info = self.find(ref)
        rows = self._rows(info.id)
        problems = self._check_snapshot(info, rows)
        if problems:
            raise BaselineTampered(problems[0].message, self.path, problems[0].code)
        return Snapshot(info, tuple(json.loads(doc) for _, _, _, doc in rows))

    # -- writing -----------------------------------------------------------------------------

    def save(
        self, report: AuditReport, *, name: str | None = None, now: datetime | None = None
    ) -> SnapshotInfo:
        """One snapshot in one transaction, chained to the previous one. The chain (and the MAC
        of the snapshot it extends) is verified first, inside the same transaction: a tampered
        baseline is never extended. Older snapshots are re-hashed by `verify` (and diff), not
        here, so a save costs the same however long the history is."""
        key = self._need_key()
        if name is not None and (name.isdigit() or name == "latest" or not name.strip()):
            raise StoreError("a snapshot name must not be a number, empty or 'latest'", self.path)
        docs = [document(job) for job in report.jobs]
        rows = sorted((identity(d), str(d["job_id"]), encode(d)) for d in docs)
        created = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            problems = self.verify(every_mac=False)
            if problems:
                raise BaselineTampered(problems[0].message, self.path, problems[0].code)
            if (
                name is not None
                and conn.execute("SELECT 1 FROM snapshots WHERE name = ?", (name,)).fetchone()
            ):
                raise StoreError(f"a snapshot named {name!r} exists already", self.path)
            last = conn.execute("SELECT id, mac FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
            new_id, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS_MAC)
            draft = SnapshotInfo(
                id=new_id,
                name=name,
                created_at=created,
                host=str(report.source.get("host", "")),
                source=encode(plain(report.source)),
                job_count=len(rows),
                issue_count=len(report.issues),
                content_sha256="",
                prev_mac=prev,
                mac="",
                state="complete",
            )
            canon = canonical(draft.header(), rows)
            info = replace(
                draft, content_sha256=content_digest(canon), mac=snapshot_mac(key, canon, prev)
            )
            conn.execute(
                "INSERT INTO snapshots (id, name, created_at, host, source, job_count, "
                "issue_count, content_sha256, prev_mac, mac, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.id,
                    info.name,
                    info.created_at,
                    info.host,
                    info.source,
                    info.job_count,
                    info.issue_count,
                    info.content_sha256,
                    info.prev_mac,
                    info.mac,
                    info.state,
                ),
            )
            conn.executemany(
                "INSERT INTO jobs (snapshot_id, seq, identity, job_id, document) "
                "VALUES (?, ?, ?, ?, ?)",
                ((info.id, seq, *row) for seq, row in enumerate(rows)),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return info

    # -- verifying ---------------------------------------------------------------------------

    def _check_snapshot(
        self, info: SnapshotInfo, rows: Sequence[tuple[int, str, str, str]]
    ) -> list[Problem]:
        key = self._need_key()
        found: list[Problem] = []
        if info.state != "complete":
            found.append(Problem("BASELINE_TAMPERED", "a snapshot is not marked complete", info.id))
        if [seq for seq, *_ in rows] != list(range(info.job_count)):
            found.append(
                Problem(
                    "BASELINE_TAMPERED",
                    f"snapshot {info.id} should hold {info.job_count} jobs, it holds {len(rows)} "
                    "(rows added or deleted)",
                    info.id,
                )
            )
        canon = canonical(info.header(), ((ident, job_id, doc) for _, ident, job_id, doc in rows))
        if content_digest(canon) != info.content_sha256:
            found.append(
                Problem("BASELINE_TAMPERED", f"snapshot {info.id}: its content was edited", info.id)
            )
        try:
            expected = snapshot_mac(key, canon, info.prev_mac)
        except ValueError:
            expected = ""
        if not hmac.compare_digest(expected, info.mac):
            found.append(
                Problem(
                    "BASELINE_TAMPERED",
                    f"snapshot {info.id}: its MAC does not verify (edited without the key)",
                    info.id,
                )
            )
        return found

    def verify(
        self, expect_head: str | None = None, *, full: bool = False, every_mac: bool = True
    ) -> list[Problem]:
        """Every snapshot's MAC, the chain, the numbering, stray rows, and the expected head.
        `full` runs `PRAGMA integrity_check` first (damage raises BaselineUnusable). Without
        `every_mac` (before a save) only the newest snapshot's content is re-hashed: the chain
        and numbering are still checked whole, and older edits stay visible to every verify."""
        if full:
            self._check_content(self._conn, self.path, "integrity_check")
        problems: list[Problem] = []
        previous_id, previous_mac = 0, GENESIS_MAC
        infos = self.snapshots(complete_only=False)
        for position, info in enumerate(infos):
            if info.id != previous_id + 1:
                gap = (
                    f"snapshot {previous_id + 1} is"
                    if info.id == previous_id + 2
                    else f"snapshots {previous_id + 1} to {info.id - 1} are"
                )
                problems.append(
                    Problem("BASELINE_SNAPSHOT_DELETED", f"{gap} missing from the chain", info.id)
                )
            elif info.prev_mac != previous_mac:
                problems.append(
                    Problem(
                        "BASELINE_SNAPSHOT_DELETED",
                        f"snapshot {info.id} does not follow snapshot {previous_id} "
                        "(the chain is broken)",
                        info.id,
                    )
                )
            if every_mac or position == len(infos) - 1:
                problems += self._check_snapshot(info, self._rows(info.id))
            previous_id, previous_mac = info.id, info.mac
        stray = self._conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE snapshot_id NOT IN (SELECT id FROM snapshots)"
        ).fetchone()[0]
        if stray:
            problems.append(
                Problem(
                    "BASELINE_SNAPSHOT_DELETED",
                    f"{stray} job rows belong to no snapshot (a snapshot row was deleted)",
                )
            )
        if expect_head is not None:
            problems += self._check_head(expect_head, infos)
        return problems

    def _check_head(self, expect_head: str, infos: Sequence[SnapshotInfo]) -> list[Problem]:
        head_id, head_mac = parse_head(expect_head)
        latest = infos[-1].id if infos else 0
        match = next((i for i in infos if i.id == head_id), None)
        if match is None:
            return [
                Problem(
                    "BASELINE_ROLLBACK",
                    f"the expected head is snapshot {head_id}, but the database ends at "
                    f"{latest}: it was rolled back or truncated",
                )
            ]
        if not hmac.compare_digest(match.mac, head_mac):
            return [
                Problem(
                    "BASELINE_ROLLBACK",
                    f"snapshot {head_id} is not the one the expected head names: the database "
                    "was replaced by another copy",
                    head_id,
                )
            ]
        return []

    def iter_documents(self, snapshot_id: int) -> Iterator[Document]:
        for *_, doc in self._rows(snapshot_id):
            yield json.loads(doc)


def _now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
