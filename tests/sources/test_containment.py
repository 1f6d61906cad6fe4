"""Evidence containment: reference/reliability.md §3.1 (F01–F07) and §7.1–7.2.

Every case is built in tmp_path at test time next to a CANARY: a host file outside the image root
whose content is a valid cron line carrying a unique token. A resolver that let the kernel follow
a link would read it and the token would appear in the output. Each test asserts the Issue code
with its path, that the rest of the scan completes, that the token appears in no output format,
and, through a Python audit hook (PEP 578), that nothing outside the root was opened or listed,
that evidence was opened read-only with O_NOFOLLOW | O_NONBLOCK, that FIFOs and devices were never
opened, and that no process, socket or file-system change happened.

Audit hooks cannot be removed, so one hook is installed once and records only while a module-level
recorder is set, inside `_recording()`. `os.lstat`, `os.stat` and `os.readlink` raise no audit
event; they are wrapped for the same window, since the resolver's own walk is made of them.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import sys
import sysconfig
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

import schedwarden
from schedwarden import engine
from schedwarden.model import AuditReport, CronSchedule, ExecAction, Mechanism
from schedwarden.outputs.registry import WRITERS
from schedwarden.sources import FileKind, ImageSource
from tests.conftest import FIXED_NOW, RHEL_OS_RELEASE, MakeRoot

# ---------------------------------------------------------------------------------------------
# The audit hook

_PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.lstat", "os.stat", "os.readlink"})
_CODE_EVENTS = frozenset({"exec", "compile"})
# Running, networking or changing anything is never allowed while auditing evidence.
_FORBIDDEN_PREFIXES = (
    "subprocess.",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.startfile",
    "pty.",
    "socket.",
    "http.",
    "urllib.",
    "ftplib.",
    "smtplib.",
    "webbrowser.",
    "ctypes.",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.chflags",
    "os.utime",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.putenv",
    "os.unsetenv",
    "shutil.",
    "tempfile.",
    "sqlite3.",
    "pickle.",
    "marshal.loads",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

Event = tuple[str, tuple[Any, ...]]
_RECORDER: list[Event] | None = None
_HOOK_INSTALLED = False


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    recorder = _RECORDER
    if recorder is None:
        return
    if event in _PATH_EVENTS or event in _CODE_EVENTS or event.startswith(_FORBIDDEN_PREFIXES):
        recorder.append((event, args))


def _recorded(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        recorder = _RECORDER
        if recorder is not None:
            recorder.append((name, (path,)))
        return real(path, *args, **kwargs)

    return wrapper


@contextmanager
def _recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Event]]:
    global _RECORDER, _HOOK_INSTALLED
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit_hook)
        _HOOK_INSTALLED = True
    for name in ("lstat", "stat", "readlink"):
        monkeypatch.setattr(os, name, _recorded(f"os.{name}", getattr(os, name)))
    events: list[Event] = []
    _RECORDER = events
    try:
        yield events
    finally:
        _RECORDER = None
        monkeypatch.undo()


# ---------------------------------------------------------------------------------------------
# What the tool may touch outside the root, and nothing else:
# - Python's own installation, read-only (lazy imports, cron-descriptor's message catalogue);
# - the time zone database in zoneinfo.TZPATH (CRON_TZ and the host zone name a zone there);
# - lstat/readlink of the folders leading to the root and to Python's folders (realpath());
# - readlink of /proc/self/fd/N (the resolver checks where an opened descriptor really is).


def _python_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.add(str(Path(schedwarden.__file__).resolve().parent))  # editable install: src/
    return tuple(sorted(os.path.realpath(d) for d in dirs))


def _tz_dirs() -> tuple[str, ...]:
    return tuple(os.path.realpath(d) for d in zoneinfo.TZPATH)


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _text(path: Any) -> str | None:
    if isinstance(path, int):
        return None  # an already open descriptor
    value = os.fsdecode(path)
    return value if os.path.isabs(value) else os.path.abspath(value)


@dataclass
class Verdict:
    """The recorded events, sorted into what the test asserts on."""

    inside: list[tuple[str, str]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # what was opened, listed or lstat'ed
    outside: list[tuple[str, str]] = field(default_factory=list)
    forbidden: list[Event] = field(default_factory=list)
    writes: list[Event] = field(default_factory=list)
    evidence_opens: list[tuple[str, int]] = field(default_factory=list)


def _judge(events: list[Event], root: Path) -> Verdict:
    real_root = os.path.realpath(root)
    python_dirs = _python_dirs()
    tz_dirs = _tz_dirs()
    # realpath() of the root (ImageSource) and of a library's own folder (cron-descriptor finds
    # its message catalogue so) lstat every folder on the way; that reads no evidence.
    ancestors = {real_root, *python_dirs}
    for base in (real_root, *python_dirs):
        ancestors.update(str(p) for p in Path(base).parents)
    verdict = Verdict()
    for event, args in events:
        if event in _CODE_EVENTS:
            code = args[0]
            filename = code.co_filename if isinstance(code, CodeType) else str(args[1])
            if not any(_under(os.path.realpath(filename), d) for d in python_dirs):
                verdict.forbidden.append((event, (filename,)))
            continue
        if event.startswith("sqlite3.connect") and args and args[0] in (":memory:", b":memory:"):
            continue  # Sigma rules run in an in-memory SQLite table: no file, nothing shared
        if event == "sqlite3.connect/handle":
            continue  # the handle of such a connection (files are refused above)
        if event not in _PATH_EVENTS:
            verdict.forbidden.append((event, args))
            continue
        path = _text(args[0])
        if path is None:
            continue
        if event == "open":
            mode, flags = args[1], args[2]
            if (isinstance(mode, str) and set(mode) & set("wax+")) or flags & _WRITE_FLAGS:
                verdict.writes.append((event, args))
        # The resolver lstat()s and readlink()s links it built itself, so for those the parent
        # folder (not the link's target) must be inside; whatever is opened or listed must be
        # inside after every link on the host is followed.
        followed = event in ("open", "os.listdir", "os.scandir", "os.stat")
        real = os.path.realpath(path if followed else os.path.dirname(path))
        if _under(path, str(root)) and _under(real, real_root):
            verdict.inside.append((event, path))
            verdict.touched.add(os.path.realpath(path) if followed else path)
            if event == "open":
                verdict.evidence_opens.append((path, args[2]))
            continue
        # Python's and the package's own files (the shipped Sigma rule pack is listed and read).
        allowed = (
            any(_under(real, d) for d in python_dirs + tz_dirs)
            and event in ("open", "os.stat", "os.lstat", "os.listdir", "os.scandir")
        ) or (event in ("os.lstat", "os.readlink") and path in ancestors)
        # The check that an opened descriptor is really inside the root (reads no evidence).
        allowed = allowed or (event == "os.readlink" and path.startswith("/proc/self/fd/"))
        if not allowed:
            verdict.outside.append((event, path))
    return verdict


# ---------------------------------------------------------------------------------------------
# Fixtures: the canary, a host folder the image must never reach, a deadline


@dataclass(frozen=True)
class Host:
    """Host-side things an image must never reach."""

    canary: Path
    token: str
    folder: Path  # holds cron files with the token


@pytest.fixture
def host(tmp_path: Path) -> Host:
    token = f"canary-{uuid.uuid4().hex}"
    line = f"* * * * * root /bin/echo {token}\n"
    canary = tmp_path / "CANARY"
    canary.write_text(line)
    folder = tmp_path / "hostdir"
    folder.mkdir()
    for name in ("cron", "alice", "crontab.bak", "hourly"):
        (folder / name).write_text(line)
    return Host(canary, token, folder)


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """A FIFO opened for reading without O_NONBLOCK would hang the run: fail instead."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("the scan did not finish in 30 s (blocked on a FIFO or device?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NORMAL = {
    "etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    "etc/cron.d/normal": "30 2 * * * root /usr/local/bin/nightly\n",
}


@dataclass
class Run:
    report: AuditReport
    events: list[Event]
    verdict: Verdict
    outputs: dict[str, str]

    def issues(self) -> dict[str, str]:
        """Issue code by original-host path."""
        return {i.evidence.path: i.code for i in self.report.issues}

    def message(self, path: str) -> str:
        return next(i.message for i in self.report.issues if i.evidence.path == path)

    def commands(self) -> set[str]:
        return {
            getattr(a, "command_line", "")
            for j in self.report.jobs
            if j.mechanism is Mechanism.CRON
            for a in j.actions
        }


def _audit(root: Path, monkeypatch: pytest.MonkeyPatch, host: Host) -> Run:
    # once before recording: the modules an audit and the writers import on first use are
    # loaded (`marshal.loads` of their bytecode), as they are when other tests ran first
    report = engine.audit(ImageSource(str(root)), now=FIXED_NOW)
    for writer in WRITERS.values():
        writer(report, io.StringIO(), color=False)
    with _recording(monkeypatch) as events:
        report = engine.audit(ImageSource(str(root)), now=FIXED_NOW)
        outputs = {}
        for fmt, writer in WRITERS.items():
            stream = io.StringIO()
            writer(report, stream, color=False)
            outputs[fmt] = stream.getvalue()
    run = Run(report, list(events), _judge(events, root), outputs)
    _assert_contained(run, host)
    return run


def _assert_contained(run: Run, host: Host) -> None:
    for fmt, text in run.outputs.items():
        assert host.token not in text, f"CANARY content leaked into {fmt} output"
    verdict = run.verdict
    assert verdict.outside == [], f"opened, listed or stat'ed outside the root: {verdict.outside}"
    assert verdict.forbidden == [], "ran, connected or changed something"
    assert verdict.writes == [], "opened something for writing"
    for secret in (host.canary, host.folder, *host.folder.iterdir()):
        assert str(secret) not in verdict.touched
    for path, flags in verdict.evidence_opens:
        assert flags & os.O_NOFOLLOW, f"{path} opened without O_NOFOLLOW"
        assert flags & os.O_NONBLOCK, f"{path} opened without O_NONBLOCK"
        assert stat.S_ISREG(os.lstat(path).st_mode), f"{path} is not a regular file"


def _escapes_on_host(link: Path, target: Path) -> None:
    """The case is only meaningful if the kernel, left alone, would reach the host file."""
    assert os.path.realpath(link) == os.path.realpath(target)


def _mknod(path: Path, kind: int, major: int, minor: int) -> None:
    try:
        os.mknod(path, kind | 0o644, os.makedev(major, minor))
    except OSError as exc:  # not root, or a container without CAP_MKNOD
        pytest.skip(f"cannot create device nodes here: {exc}")


# ---------------------------------------------------------------------------------------------
# F01–F07, one by one


def test_f01_absolute_link_resolves_inside_the_root(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(NORMAL)
    os.symlink(host.canary, root / "etc/cron.d/a")
    os.symlink("/CANARY", root / "etc/cron.d/a2")  # the exact input of the reference
    _escapes_on_host(root / "etc/cron.d/a", host.canary)
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {
        "/etc/cron.d/a": "DANGLING_SYMLINK",
        "/etc/cron.d/a2": "DANGLING_SYMLINK",
    }
    message = run.message("/etc/cron.d/a")
    assert message.startswith(f"symbolic link to {host.canary} leads to /")
    assert message.endswith(", which is not in the evidence")
    assert "/usr/local/bin/nightly" in run.commands()  # the rest of the scan goes on


def test_f01_the_image_copy_is_read_not_the_host_file(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same absolute link in an image that does hold the target reads the image's copy."""
    inside = str(host.canary).lstrip("/")
    root = make_root({**NORMAL, inside: "0 4 * * * root /bin/image-copy\n"})
    os.symlink(host.canary, root / "etc/cron.d/a")
    run = _audit(root, monkeypatch, host)
    assert run.report.issues == ()
    [job] = [j for j in run.report.jobs if j.evidence.path == "/etc/cron.d/a"]
    assert job.actions == (ExecAction("/bin/image-copy", "/bin/image-copy", shell="/bin/sh"),)
    assert job.evidence.related == (str(host.canary),)  # the path as it was on that host


def test_f02_dotdot_is_clamped_at_the_root(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(NORMAL)
    relative = str(host.canary).lstrip("/")
    os.symlink("../" * 8 + "CANARY", root / "etc/cron.d/b")  # the exact input
    os.symlink("../" * 16 + relative, root / "etc/cron.d/b2")
    os.symlink("../../../CANARY", root / "etc/cron.d/b3")  # exactly one level above the root
    _escapes_on_host(root / "etc/cron.d/b2", host.canary)
    _escapes_on_host(root / "etc/cron.d/b3", host.canary)
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {
        "/etc/cron.d/b": "DANGLING_SYMLINK",
        "/etc/cron.d/b2": "DANGLING_SYMLINK",
        "/etc/cron.d/b3": "DANGLING_SYMLINK",
    }
    assert run.message("/etc/cron.d/b3") == (
        "symbolic link to ../../../CANARY leads to /CANARY, which is not in the evidence"
    )
    assert "/usr/local/bin/nightly" in run.commands()


def test_f03_parent_folder_linked_to_itself_is_a_loop(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`R/etc/cron.d -> /etc/cron.d` is traversed as R/etc/cron.d, which is the link again: a
    loop inside the image (the reference expects "traversed as R/etc/cron.d"; that is what
    happens, and it never ends anywhere else). No host /etc/cron.d is listed."""
    root = make_root({"etc/crontab": NORMAL["etc/crontab"]})
    os.symlink("/etc/cron.d", root / "etc/cron.d")
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {"/etc/cron.d": "SYMLINK_LOOP"}
    assert "cd / && run-parts --report /etc/cron.hourly" in run.commands()
    listed = [p for e, p in run.verdict.inside if e == "os.scandir"]
    assert not [p for p in listed if p.endswith("/etc/cron.d")]


def test_f03_parent_folder_linked_to_a_host_folder(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root({"etc/crontab": NORMAL["etc/crontab"]})
    os.symlink(host.folder, root / "etc/cron.d")
    os.symlink(host.folder, root / "etc/cron.hourly")
    (root / "var/spool/cron").mkdir(parents=True)
    os.symlink(host.folder, root / "var/spool/cron/crontabs")
    (root / "root/.cache").mkdir(parents=True)
    os.symlink(host.folder, root / "root/.cache/crontab")
    _escapes_on_host(root / "etc/cron.d/cron", host.folder / "cron")
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {
        "/etc/cron.d": "DANGLING_SYMLINK",
        "/etc/cron.hourly": "DANGLING_SYMLINK",
        "/var/spool/cron/crontabs": "DANGLING_SYMLINK",
        "/root/.cache/crontab": "DANGLING_SYMLINK",
    }
    assert "cd / && run-parts --report /etc/cron.hourly" in run.commands()


def test_f03_parent_link_is_followed_to_the_image_copy(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = str(host.folder).lstrip("/")
    root = make_root({f"{inside}/decoy": "0 5 * * * root /bin/image-decoy\n"})
    os.symlink(host.folder, root / "etc/cron.d")
    run = _audit(root, monkeypatch, host)
    assert run.report.issues == ()
    [job] = run.report.jobs
    assert job.evidence.path == "/etc/cron.d/decoy"
    assert job.evidence.related == (f"{host.folder}/decoy",)
    assert run.commands() == {"/bin/image-decoy"}


def test_f04_link_loops_end_with_symlink_loop(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(NORMAL)
    os.symlink("b", root / "etc/cron.d/a")
    os.symlink("a", root / "etc/cron.d/b")
    os.symlink("self", root / "etc/cron.d/self")
    (root / "bin").mkdir()
    os.symlink(".", root / "bin/X11")  # dissect#1885
    os.symlink(".", root / "etc/cron.d/X11")
    (root / "etc/cron.daily").mkdir()
    os.symlink(".", root / "etc/cron.daily/X11")
    (root / "etc/periodic/daily").mkdir(parents=True)
    os.symlink(".", root / "etc/periodic/X11")
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {
        "/etc/cron.d/a": "SYMLINK_LOOP",
        "/etc/cron.d/b": "SYMLINK_LOOP",
        "/etc/cron.d/self": "SYMLINK_LOOP",
        "/etc/cron.d/X11": "NOT_REGULAR_FILE",  # a link to its own folder is a folder
    }
    assert "more than 40 symbolic links" in run.message("/etc/cron.d/a")
    assert run.message("/etc/cron.d/X11") == "directory is never opened or read"
    assert "/usr/local/bin/nightly" in run.commands()
    # No folder is listed through X11 (the resolver hands the real folder to the kernel), and
    # each is listed at most once per collector that reads it: nothing walks into the loop.
    listed = [p for e, p in run.verdict.inside if e == "os.scandir"]
    assert not [p for p in listed if "X11" in p]
    assert max(listed.count(p) for p in listed) <= 3


def test_f04_link_to_dot_is_a_directory_for_the_resolver(make_root: MakeRoot) -> None:
    root = make_root({})
    os.symlink(".", root / "etc/here")
    os.symlink("/", root / "etc/top")
    os.symlink("..", root / "etc/up")
    source = ImageSource(str(root))
    for link, real in (("/etc/here", "/etc"), ("/etc/top", "/"), ("/etc/up", "/")):
        info = source.stat(link)
        assert (info.kind, info.real_path) == (FileKind.DIRECTORY, real), link
        assert source.is_dir(link)
        assert source.lstat(link).kind is FileKind.SYMLINK
    assert source.read("/etc/here/hostname").data == b"testhost\n"


def test_f04_forty_links_resolve_and_forty_one_loop(make_root: MakeRoot) -> None:
    """The kernel's own limit (MAXSYMLINKS = 40) applies to the whole resolution."""
    root = make_root({"etc/target": "x\n"})
    chain = root / "etc/chain"
    chain.mkdir()
    os.symlink("/etc/target", chain / "l40")
    for n in range(39, -1, -1):
        os.symlink(f"l{n + 1}", chain / f"l{n}")
    source = ImageSource(str(root))
    assert source.read("/etc/chain/l1").data == b"x\n"  # 40 links
    with pytest.raises(Exception, match="SYMLINK_LOOP"):
        source.read("/etc/chain/l0")  # 41 links


def test_f05_directory_cycle_adds_no_visits(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {**NORMAL, "var/spool/cron/crontabs/alice": ("0 6 * * * /home/alice/x\n", 0o600)}
    plain = _audit(make_root(files, name="plain"), monkeypatch, host)
    root = make_root(files, name="cycle")
    os.chown(root / "var/spool/cron/crontabs/alice", 1000, 1000)
    os.symlink("..", root / "var/spool/cron/crontabs/up")
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {"/var/spool/cron/crontabs/up": "NOT_REGULAR_FILE"}
    assert run.message("/var/spool/cron/crontabs/up") == "directory is never opened or read"
    alice = [j for j in run.report.jobs if j.run_as == "alice"]
    assert len(alice) == 1
    assert alice[0].effective.runs is True

    def visits(r: Run, root: Path) -> dict[str, int]:
        listed = [p[len(str(root)) :] for e, p in r.verdict.inside if e == "os.scandir"]
        return {p: listed.count(p) for p in listed}

    assert visits(run, root) == visits(plain, root.parent / "plain")


def test_f06_fifo_is_never_opened(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(NORMAL)
    os.mkfifo(root / "etc/cron.d/p")
    os.symlink("p", root / "etc/cron.d/pl")
    (root / "var/spool/cron/crontabs").mkdir(parents=True)
    os.mkfifo(root / "var/spool/cron/crontabs/root")
    (root / "etc/cron.daily").mkdir()
    os.mkfifo(root / "etc/cron.daily/p")
    os.mkfifo(root / "etc/anacrontab")
    run = _audit(root, monkeypatch, host)
    issues = run.issues()
    for path in ("/etc/cron.d/p", "/etc/cron.d/pl", "/var/spool/cron/crontabs/root"):
        assert issues.pop(path) == "NOT_REGULAR_FILE"
        assert run.message(path) == "fifo is never opened or read"
    assert issues.pop("/etc/anacrontab") == "NOT_REGULAR_FILE"
    assert issues.pop("/etc/cron.daily/p") == "NOT_REGULAR_FILE"
    assert issues == {}
    assert "/usr/local/bin/nightly" in run.commands()
    opened = {p for e, p in run.verdict.inside if e == "open"}
    assert not [p for p in opened if stat.S_ISFIFO(os.lstat(p).st_mode)]


def test_f07_devices_are_never_opened(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(NORMAL)
    _mknod(root / "etc/cron.d/z", stat.S_IFCHR, 1, 5)  # /dev/zero
    _mknod(root / "etc/cron.d/blk", stat.S_IFBLK, 7, 0)  # /dev/loop0
    (root / "dev").mkdir()
    _mknod(root / "dev/zero", stat.S_IFCHR, 1, 5)
    os.symlink("/dev/zero", root / "etc/cron.d/zero")  # resolves to the image's own node
    os.symlink("/dev/urandom", root / "etc/cron.d/urandom")  # absent in the image
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {
        "/etc/cron.d/z": "NOT_REGULAR_FILE",
        "/etc/cron.d/blk": "NOT_REGULAR_FILE",
        "/etc/cron.d/zero": "NOT_REGULAR_FILE",
        "/etc/cron.d/urandom": "DANGLING_SYMLINK",
    }
    assert run.message("/etc/cron.d/z") == "char_device is never opened or read"
    assert run.message("/etc/cron.d/blk") == "block_device is never opened or read"
    assert "/usr/local/bin/nightly" in run.commands()
    opened = [os.lstat(p).st_mode for e, p in run.verdict.inside if e == "open"]
    assert not [m for m in opened if stat.S_ISCHR(m) or stat.S_ISBLK(m)]


def test_link_through_a_file_is_dangling_not_absent(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link whose target runs through a regular file is broken evidence, never silently
    dropped; a missing name below a good directory link is simply absent."""
    root = make_root(NORMAL)
    os.symlink("/etc/passwd/x", root / "etc/cron.d/c")
    (root / "var/lib/spool").mkdir(parents=True)
    os.symlink("/var/lib/spool", root / "var/spool")  # a good link; its children are absent
    run = _audit(root, monkeypatch, host)
    assert run.issues() == {"/etc/cron.d/c": "DANGLING_SYMLINK"}
    assert run.message("/etc/cron.d/c") == (
        "symbolic link to /etc/passwd/x goes through /etc/passwd, which is not a directory"
    )


# ---------------------------------------------------------------------------------------------
# Everything at once, with the audit hook: §7.1 "never execute" and §7.2 "read-only, in the root"


def test_audit_of_a_hostile_image_stays_inside_and_runs_nothing(
    make_root: MakeRoot, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = str(host.canary).lstrip("/")
    files = {
        **NORMAL,
        "etc/cron.d/normal": (
            f"CRON_TZ=../../../../../../../../{inside}\n"
            f"0 1 * * * root /bin/tz-traversal\n"
            f"CRON_TZ={host.canary}\n"
            "0 2 * * * root /bin/tz-absolute\n"
            "CRON_TZ=Europe/Paris\n"
            "0 3 * * * root /bin/tz-good\n"
        ),
        "etc/cron.daily/logrotate": ("#!/bin/sh\n/usr/sbin/logrotate /etc/logrotate.conf\n", 0o755),
        "etc/anacrontab": "1 5 cron.daily run-parts /etc/cron.daily\n",
        "var/spool/cron/crontabs/alice": ("0 6 * * * /home/alice/backup.sh\n", 0o600),
        "etc/timezone": f"../../../../../../{inside}\n",
    }
    root = make_root(files, os_release=RHEL_OS_RELEASE)  # cronie: CRON_TZ is honoured
    cron_d, spool = root / "etc/cron.d", root / "var/spool/cron/crontabs"
    os.chown(spool / "alice", 1000, 1000)
    # F01, F02
    os.symlink(host.canary, cron_d / "a")
    os.symlink("../" * 8 + "CANARY", cron_d / "b")
    os.symlink("../../../CANARY", cron_d / "b3")
    # F03 (on the other spools, /etc/cron.d itself holds the rest)
    os.symlink("/etc/crontabs", root / "etc/crontabs")
    os.symlink(host.folder, root / "var/spool/cron/tabs")
    (root / "root/.cache").mkdir(parents=True)
    os.symlink(host.folder, root / "root/.cache/crontab")
    # F04
    os.symlink("loop2", cron_d / "loop1")
    os.symlink("loop1", cron_d / "loop2")
    os.symlink(".", cron_d / "X11")
    (root / "bin").mkdir()
    os.symlink(".", root / "bin/X11")
    os.symlink(".", root / "etc/cron.daily/X11")
    # F05
    os.symlink("..", spool / "up")
    # F06
    os.mkfifo(cron_d / "p")
    os.mkfifo(root / "etc/cron.daily/p")
    # F07 (skipped cleanly where device nodes cannot be made)
    devices = True
    try:
        os.mknod(cron_d / "z", stat.S_IFCHR | 0o644, os.makedev(1, 5))
        os.mknod(cron_d / "blk", stat.S_IFBLK | 0o644, os.makedev(7, 0))
    except OSError:
        devices = False
    # Host facts read from the image that point at the canary
    (root / "etc/hostname").unlink()
    os.symlink("../../../CANARY", root / "etc/hostname")
    os.symlink(f"/usr/share/zoneinfo/../../../{inside}", root / "etc/localtime")
    (root / "var/spool/anacron").mkdir(parents=True)
    os.symlink(host.canary, root / "var/spool/anacron/cron.daily")

    run = _audit(root, monkeypatch, host)

    issues = run.issues()
    expected = {
        "/etc/cron.d/a": "DANGLING_SYMLINK",
        "/etc/cron.d/b": "DANGLING_SYMLINK",
        "/etc/cron.d/b3": "DANGLING_SYMLINK",
        "/etc/crontabs": "SYMLINK_LOOP",
        "/var/spool/cron/tabs": "DANGLING_SYMLINK",
        "/root/.cache/crontab": "DANGLING_SYMLINK",
        "/etc/cron.d/loop1": "SYMLINK_LOOP",
        "/etc/cron.d/loop2": "SYMLINK_LOOP",
        "/etc/cron.d/X11": "NOT_REGULAR_FILE",
        "/var/spool/cron/crontabs/up": "NOT_REGULAR_FILE",
        "/etc/cron.d/p": "NOT_REGULAR_FILE",
        "/etc/cron.daily/p": "NOT_REGULAR_FILE",
    }
    if devices:
        expected |= {"/etc/cron.d/z": "NOT_REGULAR_FILE", "/etc/cron.d/blk": "NOT_REGULAR_FILE"}
    assert {p: issues.get(p) for p in expected} == expected
    # The scan completed: every normal definition is there.
    commands = run.commands()
    for command in (
        "cd / && run-parts --report /etc/cron.hourly",
        "/bin/tz-traversal",
        "/bin/tz-absolute",
        "/bin/tz-good",
        "/home/alice/backup.sh",
    ):
        assert command in commands
    mechanisms = {j.mechanism for j in run.report.jobs}
    assert {Mechanism.CRON, Mechanism.PERIODIC, Mechanism.ANACRON} <= mechanisms
    # Evidence names never reach the host's time zone database outside its own folders.
    zones = {
        j.actions[0].command_line: j.schedule.timezone
        for j in run.report.jobs
        if isinstance(j.schedule, CronSchedule)
        and isinstance(j.actions[0], ExecAction)
        and j.evidence.path == "/etc/cron.d/normal"
    }
    assert zones == {
        "/bin/tz-traversal": None,
        "/bin/tz-absolute": None,
        "/bin/tz-good": "Europe/Paris",
    }
    assert run.report.source["host"] == "root"  # /etc/hostname led outside: not used
    # Sanity of the recorder itself: it saw the evidence being read.
    assert ("open", str(root / "etc/crontab")) in run.verdict.inside
    assert any(e == "os.scandir" for e, _ in run.verdict.inside)
