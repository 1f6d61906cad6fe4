"""A filesystem tree read through our own root-clamped resolver; the base of live and image sources.

Every path is walked one component at a time with lstat. Symlinks are followed by us, not by the
kernel: an absolute target restarts at the evidence root, `..` never climbs above it, and after 40
links the walk stops with SYMLINK_LOOP (the kernel's own limit). Files are then opened with
O_NOFOLLOW | O_NONBLOCK (a FIFO never blocks us), fstat'ed, and rejected unless they are the regular
file the walk found (same device and inode) and, where /proc is there to ask, really inside the root.
FIFOs, sockets and devices are never opened. Reads stop at a byte cap.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import stat
from collections import deque
from dataclasses import replace

from ..model import Evidence, SourceKind
from .accounts import Accounts, parse_group, parse_passwd
from .errors import EvidenceError, NotFound, SourceError
from .fileinfo import FileContent, FileInfo, FileKind
from .osinfo import CRON_MARKERS, FAMILY_MARKERS, OsInfo, parse_os_release

MAX_SYMLINK_HOPS = 40
DEFAULT_READ_CAP = 16 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NOATIME = getattr(os, "O_NOATIME", 0)


def normalize(path: str) -> str:
    """An absolute `/`-separated original-host path without empty or `.` components.

    `..` is kept: only the resolver may interpret it, because `link/..` is not the parent of `link`.
    """
    return "/" + "/".join(p for p in path.split("/") if p not in ("", "."))


class RootedSource:
    """Read-only access to the tree under `root`, as the host whose root it was would see it."""

    kind: SourceKind = SourceKind.IMAGE

    def __init__(self, root: str, read_cap: int = DEFAULT_READ_CAP) -> None:
        self.root = os.path.abspath(root)
        self.read_cap = read_cap
        self._real_root = os.path.realpath(self.root)
        self._dir_cache: dict[str, tuple[str, os.stat_result]] = {}
        self._os: OsInfo | None = None
        self._accounts: Accounts | None = None
        self._host: str | None = None
        self._windows_zone: str | None = None
        self._windows_zone_read = False

    # -- the resolver -----------------------------------------------------------------------

    def _host_path(self, original: str) -> str:
        return self.root if original == "/" else self.root.rstrip("/") + original

    def _resolve(self, path: str, follow_final: bool = True) -> tuple[str, os.stat_result]:
        """Resolve `path` inside the root; return the resolved original-host path and its lstat."""
        path = normalize(path)
        parent, name = posixpath.split(path)
        cached = self._dir_cache.get(parent) if name else None
        if cached is not None:
            resolved = [p for p in cached[0].split("/") if p]
            pending: deque[tuple[str, bool]] = deque([(name, False)])
        else:
            resolved = []
            pending = deque((p, False) for p in path.split("/") if p)
        hops = 0
        target = ""  # the last link target read, for messages
        st = os.lstat(self.root) if not pending else None
        while pending:
            part, from_link = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                st = None
                continue
            candidate = "/" + "/".join([*resolved, part])
            try:
                st = os.lstat(self._host_path(candidate))
            except FileNotFoundError:
                if from_link:
                    raise EvidenceError(
                        "DANGLING_SYMLINK",
                        f"symbolic link to {target} leads to {candidate}, which is not in the "
                        "evidence",
                        path,
                    ) from None
                raise NotFound(path) from None
            except NotADirectoryError:
                raise NotFound(path) from None
            except OSError as exc:
                raise _os_error(exc, path) from None
            if stat.S_ISLNK(st.st_mode) and (pending or follow_final):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise EvidenceError(
                        "SYMLINK_LOOP", f"more than {MAX_SYMLINK_HOPS} symbolic links", path
                    )
                try:
                    target = os.readlink(self._host_path(candidate))
                except OSError as exc:
                    raise _os_error(exc, path) from None
                if target.startswith("/"):
                    resolved = []
                pending.extendleft((p, True) for p in reversed(target.split("/")))
                st = None  # the link's own lstat is not the answer (`x -> .`, `x -> /`)
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                if pending[0][1]:
                    raise EvidenceError(
                        "DANGLING_SYMLINK",
                        f"symbolic link to {target} goes through {candidate}, which is not a "
                        "directory",
                        path,
                    )
                raise NotFound(path)
            resolved.append(part)
        real = "/" + "/".join(resolved)
        if st is None:  # ended on "..", or on a link whose target ends on "." or "/"
            try:
                st = os.lstat(self._host_path(real))
            except OSError as exc:
                raise _os_error(exc, path) from None
        return real, st

    # -- public API used by collectors ------------------------------------------------------

    def stat(self, path: str) -> FileInfo:
        """Facts about `path` after following links inside the root."""
        real, st = self._resolve(path)
        return FileInfo.from_stat(normalize(path), real, st)

    def lstat(self, path: str) -> FileInfo:
        """Facts about `path` itself (a final symlink is not followed)."""
        real, st = self._resolve(path, follow_final=False)
        return FileInfo.from_stat(normalize(path), real, st)

    def exists(self, path: str) -> bool:
        try:
            self._resolve(path)
        except (NotFound, EvidenceError):
            return False
        return True

    def is_dir(self, path: str) -> bool:
        try:
            return self.stat(path).kind is FileKind.DIRECTORY
        except (NotFound, EvidenceError):
            return False

    def read_link(self, path: str) -> str:
        """The target text of a symbolic link (not resolved)."""
        path = normalize(path)
        parent, name = posixpath.split(path)
        real_parent, _ = self._resolve(parent)
        try:
            return os.readlink(self._host_path(posixpath.join(real_parent, name)))
        except FileNotFoundError:
            raise NotFound(path) from None
        except OSError as exc:
            raise _os_error(exc, path) from None

    @property
    def timezone(self) -> str | None:
        """The host's local zone (an IANA name): /etc/localtime's link target, else /etc/timezone,
        else, for a Windows image, the zone its SYSTEM hive names (read once per source)."""
        zone = self._unix_timezone()
        if zone is not None:
            return zone
        if not self._windows_zone_read:
            self._windows_zone = self._image_windows_timezone()
            self._windows_zone_read = True
        return self._windows_zone

    def _unix_timezone(self) -> str | None:
        """/etc/localtime's link target, else /etc/timezone: read each time, as they are cheap and
        the monitor's live host may change zone while it runs."""
        try:
            target = self.read_link("/etc/localtime")
        except (NotFound, EvidenceError):
            target = ""
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
        text = (self.read_text("/etc/timezone") or "").strip()
        return text.splitlines()[0].strip() if text else None

    def _image_windows_timezone(self) -> str | None:
        """The zone of a Windows installation under the root (its SYSTEM hive), else None."""
        try:
            top = self.list_dir("/")
        except (NotFound, EvidenceError):
            return None
        if not any(name.casefold() == "windows" for name in top):
            return None  # not a Windows image: the hive code is not even loaded
        # Imported here, not at the top: the hive parser belongs to the Windows collectors, a
        # higher layer that itself imports this package (a top-level import would be a cycle);
        # sources/ stays importable alone, and regipy and the zone table are loaded only when an
        # image's /etc does not name its zone.
        from ..collectors.windows.time_zone import windows_timezone

        return windows_timezone(self)

    def list_dir(self, path: str) -> list[str]:
        """Names in a directory, sorted bytewise as the daemons' readdir order does not matter."""
        path = normalize(path)
        real, st = self._resolve(path)
        if not stat.S_ISDIR(st.st_mode):
            raise EvidenceError("NOT_A_DIRECTORY", "expected a directory", path)
        self._dir_cache[path] = (real, st)
        try:
            with os.scandir(self._host_path(real)) as entries:
                names = [entry.name for entry in entries]
        except OSError as exc:
            raise _os_error(exc, path) from None
        return sorted(names, key=os.fsencode)

    def read(self, path: str, cap: int | None = None) -> FileContent:
        """The bytes of a regular file (at most `cap`), opened without following anything."""
        path = normalize(path)
        limit = self.read_cap if cap is None else cap
        real, st = self._resolve(path)
        info = FileInfo.from_stat(path, real, st)
        if info.kind is not FileKind.REGULAR:
            raise EvidenceError(
                "NOT_REGULAR_FILE", f"{info.kind.value} is never opened or read", path
            )
        host = self._host_path(real)
        try:
            try:
                fd = os.open(host, _OPEN_FLAGS | _NOATIME)
            except PermissionError:
                fd = os.open(host, _OPEN_FLAGS)
        except OSError as exc:
            raise _os_error(exc, path) from None
        try:
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(fst.st_mode):
                raise EvidenceError("CHANGED_WHILE_READ", "file was replaced during the scan", path)
            self._check_inside_root(fd, path)
            chunks: list[bytes] = []
            remaining = limit + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            raise _os_error(exc, path) from None
        finally:
            os.close(fd)
        data = b"".join(chunks)
        truncated = len(data) > limit
        if truncated:
            data = data[:limit]
        digest = None if truncated else hashlib.sha256(data).hexdigest()
        return FileContent(
            info=FileInfo.from_stat(path, real, fst), data=data, truncated=truncated, sha256=digest
        )

    def _check_inside_root(self, fd: int, path: str) -> None:
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return  # no /proc: the lstat walk and the inode check are all we have
        if not opened.startswith("/"):
            return
        root = self._real_root.rstrip("/") + "/"
        if self._real_root != "/" and not (opened + "/").startswith(root):
            raise EvidenceError("ESCAPED_ROOT", "file resolved outside the evidence root", path)

    # -- facts about the host ----------------------------------------------------------------

    def read_text(self, path: str, cap: int = 1 << 20) -> str | None:
        """Small configuration files; None when absent or unusable."""
        try:
            return self.read(path, cap).data.decode("utf-8", "surrogateescape")
        except (NotFound, EvidenceError):
            return None

    @property
    def os_info(self) -> OsInfo:
        if self._os is None:
            text = self.read_text("/etc/os-release") or self.read_text("/usr/lib/os-release")
            info = parse_os_release(text) if text else OsInfo()
            if text:
                info = replace(info, basis="/etc/os-release")
            if info.family is None:
                for marker, family in FAMILY_MARKERS:
                    if self.exists(marker):
                        info = replace(info, family=family, basis=marker)
                        break
            if info.cron_flavour is None:
                for marker, flavour in CRON_MARKERS:
                    if self.exists(marker):
                        info = replace(info, cron_hint=flavour, basis=marker)
                        break
            self._os = info
        return self._os

    @property
    def accounts(self) -> Accounts:
        if self._accounts is None:
            self._accounts = self._load_accounts()
        return self._accounts

    def _load_accounts(self) -> Accounts:
        accounts = Accounts()
        parse_passwd(self.read_text("/etc/passwd", DEFAULT_READ_CAP) or "", accounts)
        parse_group(self.read_text("/etc/group", DEFAULT_READ_CAP) or "", accounts)
        return accounts

    @property
    def host(self) -> str:
        if self._host is None:
            text = self.read_text("/etc/hostname") or ""
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            self._host = first or os.path.basename(self.root.rstrip("/")) or "unknown"
        return self._host

    def describe(self) -> dict[str, object]:
        info = self.os_info
        return {
            "kind": self.kind.value,
            "root": self.root,
            "host": self.host,
            "os": {
                "id": info.id,
                "name": info.name,
                "version": info.version,
                "family": info.family,
            },
            "cron_daemon": info.cron_flavour.value if info.cron_flavour else None,
            "os_basis": info.basis,
            "accounts": "loaded" if self.accounts.loaded else "unavailable",
            "timezone": self.timezone,
        }

    def loose_files(self) -> list[str]:
        """Files given directly to be read as definitions (manifests, exports); none in a root."""
        return []

    def problems(self) -> list[SourceError]:
        """Problems the source met on its own (walking a folder of loose files), to report."""
        return []

    def display_path(self, path: str) -> str:
        """The path to show: as it was on the original host (a root's own view)."""
        return path

    def evidence(
        self,
        info: FileInfo,
        *,
        line: int | None = None,
        offset: int | None = None,
        sha256: str | None = None,
        related: tuple[str, ...] = (),
    ) -> Evidence:
        """Evidence for a file, with owner and group named from the host's own account tables."""
        accounts = self.accounts
        return Evidence(
            source_kind=self.kind,
            host=self.host,
            path=self.display_path(info.path),
            related=tuple(self.display_path(p) for p in related),
            line=line,
            offset=offset,
            sha256=sha256,
            owner=accounts.user_name(info.uid),
            group=accounts.group_name(info.gid),
            uid=info.uid,
            gid=info.gid,
            mode=info.mode_text,
            mtime=info.mtime,
        )

    def path_evidence(self, path: str) -> Evidence:
        """Evidence for a path that could not be stat'ed (only where it was)."""
        return Evidence(
            source_kind=self.kind, host=self.host, path=self.display_path(normalize(path))
        )


def _os_error(exc: OSError, path: str) -> EvidenceError:
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    if exc.errno == errno.ELOOP:
        return EvidenceError("SYMLINK_LOOP", "symbolic link loop", path)
    return EvidenceError("UNREADABLE", f"{code}: {exc.strerror or exc}", path)
