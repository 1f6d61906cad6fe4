"""at jobs (T1053.002): one-shot jobs in atd's spool, Debian /var/spool/cron/atjobs, RHEL
/var/spool/at, SUSE /var/spool/atjobs.

`at` and `batch` queue a command to run once, later, as the submitting user. Attackers use it for
delayed execution after they leave, for a payload that re-queues itself (periodic persistence with
one spool file and no cron artifact), and, as root, to drop a forged job file straight into the
spool, which no `at` process and no log line records. Each job file becomes one job: the run time,
queue and job number decoded from its name, the user and mail recipient from its header, the
submitter's exported environment (SSH_CONNECTION and SSH_CLIENT name the address the submitter
came from; SUDO_USER, PWD and OLDPWD say who and where), the directory the job starts in, and the
commands between the here-document delimiters. `effective` applies atd's own tests: a name it can
read, a letter queue, a regular file (not a symbolic link) with the owner-exec bit, at most two
links (the second is atd's `=` lock), a header that parses, and `uid=` equal to the file's owner.
Lines at(1) never writes are reported as actions too, since /bin/sh runs the whole file.

`.SEQ` holds the last job number at(1) issued (its mtime is the last submission), and
/etc/at.allow and /etc/at.deny say who may use at(1); both are recorded on every job (atd checks
neither, so a forged file bypasses them). Output files of running jobs (atspool, spool) are
listed as evidence.

References: at(1), atd(8), at 3.2 sources; reference/linux.md §b items 17–20 and §e item 9;
reference/reliability.md C20; https://attack.mitre.org/techniques/T1053/002/
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime

from ...model import (
    TECHNIQUE_OF_MECHANISM,
    Action,
    Effective,
    ExecAction,
    Issue,
    Mechanism,
    OneShotSchedule,
    Schedule,
    ScheduledJob,
    UnknownSchedule,
    make_job_id,
)
from ...sources import FileContent, FileInfo, FileKind, NotFound, SourceError
from ..base import CollectContext, Collector, CollectorOutput
from ..common import excerpt, exec_action
from .at_syntax import AtJobFile, JobName, parse_job_file, parse_job_name, scan_hex

JOB_READ_CAP = 1 << 20
ACCESS_FILES = ("/etc/at.allow", "/etc/at.deny")
SEQ_NAME = ".SEQ"
LOCK_QUEUE = "="
ATD_SHELL = "/bin/sh"  # atd feeds the job file to /bin/sh; the payload runs in ${SHELL:-/bin/sh}
MAIL_WHEN = {1: "always", -1: "never"}
_LATEST = datetime(9999, 12, 31, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class AtSpool:
    jobs: str
    output: str
    family: str


SPOOLS: tuple[AtSpool, ...] = (
    AtSpool("/var/spool/cron/atjobs", "/var/spool/cron/atspool", "debian"),
    AtSpool("/var/spool/at", "/var/spool/at/spool", "rhel"),
    AtSpool("/var/spool/atjobs", "/var/spool/atspool", "suse"),
)


@dataclass(frozen=True, slots=True)
class SpoolFacts:
    """What every job of one spool shares: the sequence file, lock links and output files."""

    spool: AtSpool
    names: frozenset[str]
    extra: dict[str, object]
    outputs: frozenset[str]


def collect(ctx: CollectContext) -> CollectorOutput:
    access = _at_access(ctx)
    by_folder = {spool.jobs: spool for spool in SPOOLS}
    for folder in ctx.distinct_folders(by_folder):
        if isinstance(folder, Issue):
            yield folder
            continue
        spool = by_folder[folder]
        names = ctx.list_dir(spool.jobs)
        if isinstance(names, Issue):
            yield names
            continue
        facts = yield from _spool_facts(ctx, spool, names)
        for name in names:
            if name == SEQ_NAME:
                continue
            if name.startswith(LOCK_QUEUE) and _locked_job(name, facts.names):
                continue  # atd's lock link of a job file that is still there
            yield from _job_file(ctx, facts, name, access)


def _spool_facts(
    ctx: CollectContext, spool: AtSpool, names: list[str]
) -> Generator[Issue, None, SpoolFacts]:
    extra: dict[str, object] = {}
    seq = ctx.read(f"{spool.jobs}/{SEQ_NAME}", cap=64)
    if isinstance(seq, Issue):
        yield seq
    elif seq is not None:
        number = scan_hex(seq.data, 0, 5)  # at(1) reads it back with fscanf("%5lx")
        if number is not None:
            extra["last_job_number"] = number[0]
        extra["last_submission"] = seq.info.mtime
    outputs = ctx.list_dir(spool.output)
    if isinstance(outputs, Issue):
        yield outputs
        outputs = []
    if outputs:
        extra["spool_outputs"] = [f"{spool.output}/{name}" for name in outputs]
    return SpoolFacts(spool, frozenset(names), extra, frozenset(outputs))


def _locked_job(lock: str, names: frozenset[str]) -> str | None:
    """The job file a `=` lock link belongs to: the same name with a queue letter first."""
    rest = lock[1:]
    for name in sorted(names):
        if name[1:] == rest and name[:1].isascii() and name[:1].isalpha():
            return name
    return None


def _job_file(
    ctx: CollectContext, facts: SpoolFacts, name: str, access: dict[str, str]
) -> CollectorOutput:
    path = f"{facts.spool.jobs}/{name}"
    try:
        link = ctx.source.lstat(path)
    except NotFound:
        return
    except SourceError as error:
        yield ctx.issue_from(error)
        return
    if link.kind is FileKind.DIRECTORY:
        return  # RHEL keeps its output folder here; atd runs regular files only
    content = ctx.read(path, JOB_READ_CAP)
    if content is None:
        return
    if isinstance(content, Issue):
        yield content
        return
    info = content.info
    decoded = parse_job_name(name)
    if decoded is None or not decoded.exact:
        yield ctx.issue("BAD_AT_JOB_NAME", _name_problem(name, decoded), info)
    if content.truncated:
        yield ctx.issue(
            "OVERSIZED_FILE",
            f"read only the first {len(content.data)} bytes; the rest was not examined",
            info,
        )
    parsed = parse_job_file(content.data)
    if not parsed.recognized:
        yield ctx.issue(
            "UNPARSEABLE_AT_JOB",
            "not an at job: neither the '#!/bin/sh', '# atrun uid=N gid=N', '# mail USER N' "
            "header atd reads nor an at(1) here-document; atd would abort it as in wrong format",
            info,
        )
        return
    yield _job(ctx, facts, name, link, content, decoded, parsed, access)


def _name_problem(name: str, decoded: JobName | None) -> str:
    text = (
        f"job file name {name!r} is not <queue letter><5 hex digits of job number>"
        "<8 hex digits of minutes since the epoch> as at(1) writes it"
    )
    if decoded is None:
        return text + "; atd cannot read it and ignores the file"
    return (
        text + f"; atd reads it as queue {decoded.queue!r}, job {decoded.job_number}, "
        f"{decoded.minutes} minutes after the epoch"
    )


def _job(
    ctx: CollectContext,
    facts: SpoolFacts,
    name: str,
    link: FileInfo,
    content: FileContent,
    decoded: JobName | None,
    parsed: AtJobFile,
    access: dict[str, str],
) -> ScheduledJob:
    info = content.info
    path = info.path
    header = parsed.header
    env = dict(parsed.environment)
    run_uid = header.uid if header is not None else info.uid
    run_as = ctx.source.accounts.user_name(run_uid) or str(run_uid)
    lock = LOCK_QUEUE + name[1:]
    has_lock = not name.startswith(LOCK_QUEUE) and lock in facts.names
    at = _run_time(decoded)
    related = [info.real_path] if info.real_path != path else []
    related += [f"{facts.spool.output}/{o}" for o in sorted(facts.outputs) if o[1:] == name[1:]]
    extra = _extra(decoded, parsed, env)
    extra.update(facts.extra)
    last = facts.extra.get("last_job_number")
    if decoded is not None and isinstance(last, int) and decoded.job_number > last:
        extra["job_number_beyond_seq"] = True  # at(1) has not issued this number yet
    extra["at_access"] = access.get(run_as, access["*"])
    if has_lock:
        extra["lock_link"] = f"{facts.spool.jobs}/{lock}"
    if decoded is not None and decoded.queue == LOCK_QUEUE:
        extra["running"] = True
    if content.truncated:
        extra["truncated"] = True
    return ScheduledJob(
        job_id=make_job_id(
            Mechanism.AT,
            path,
            str(run_uid),
            parsed.payload or "",
            *(stray.text for stray in parsed.stray),
        ),
        mechanism=Mechanism.AT,
        technique=TECHNIQUE_OF_MECHANISM[Mechanism.AT],
        name=path,
        run_as=run_as,
        schedule=_schedule(ctx, decoded, at),
        actions=_actions(parsed, env),
        effective=_verdict(ctx, facts, name, link, info, decoded, parsed, at, has_lock),
        evidence=ctx.source.evidence(
            info,
            line=parsed.payload_line,
            offset=parsed.payload_offset,
            sha256=content.sha256,
            related=tuple(related),
        ),
        environment=parsed.environment,
        hidden=parsed.stray_count > 0,
        raw=excerpt(content.data.decode("utf-8", "surrogateescape")),
        extra=extra,
    )


def _run_time(decoded: JobName | None) -> datetime | None:
    if decoded is None or decoded.minutes * 60 > _LATEST:
        return None
    return datetime.fromtimestamp(decoded.minutes * 60, UTC)


def _is_batch(queue: str) -> bool:
    """atd's batch queues: `b` and every uppercase letter (run one at a time, when load permits)."""
    return queue.isascii() and (queue.isupper() or queue == "b")


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _schedule(ctx: CollectContext, decoded: JobName | None, at: datetime | None) -> Schedule:
    if decoded is None:
        return UnknownSchedule("no run time: atd cannot read the file name")
    if at is None:
        return UnknownSchedule(
            f"run time {decoded.minutes} minutes after the epoch is past the year 9999"
        )
    queue = decoded.queue
    if queue == LOCK_QUEUE:
        return OneShotSchedule(at, f"Once, at {_when(at)}; running (only atd's lock link is left)")
    description = f"Once, at {_when(at)} ({'batch queue' if _is_batch(queue) else 'queue'} {queue})"
    if _is_batch(queue):
        description += ", or later when the load average permits"
    if at <= ctx.now:
        description += "; overdue, so atd runs it as soon as it next scans the spool"
    return OneShotSchedule(at, description)


def _actions(parsed: AtJobFile, env: dict[str, str]) -> tuple[Action, ...]:
    """The payload, with the lines at(1) never writes where /bin/sh meets them."""
    shell = (env.get("SHELL") or ATD_SHELL) if parsed.here_document else ATD_SHELL
    start = parsed.payload_offset if parsed.payload_offset is not None else -1
    actions: list[Action] = [
        exec_action(s.text, shell=ATD_SHELL) for s in parsed.stray if s.offset < start
    ]
    if parsed.payload:
        first = next(
            (
                line.strip()
                for line in parsed.payload.splitlines()
                if line.strip() and not line.strip().startswith("#")
            ),
            "",
        )
        words = exec_action(first)
        actions.append(
            ExecAction(
                command_line=parsed.payload,
                executable=words.executable,
                arguments=words.arguments,
                working_dir=parsed.working_dir,
                shell=shell,
            )
        )
    actions += [exec_action(s.text, shell=ATD_SHELL) for s in parsed.stray if s.offset > start]
    return tuple(actions)


def _extra(decoded: JobName | None, parsed: AtJobFile, env: dict[str, str]) -> dict[str, object]:
    extra: dict[str, object] = {}
    if decoded is not None:
        extra["queue"] = decoded.queue
        extra["job_number"] = decoded.job_number
        if decoded.queue != LOCK_QUEUE:
            extra["batch"] = _is_batch(decoded.queue)
    header = parsed.header
    if header is not None:
        extra["atrun_uid"] = header.uid
        extra["atrun_gid"] = header.gid
        extra["mail_user"] = header.mail_user
        extra["mail_when"] = MAIL_WHEN.get(header.mail_mode, "if the job writes output")
    if parsed.umask is not None:
        extra["umask"] = parsed.umask
    extra.update(_ssh_origin(env))
    for variable, key in (
        ("SUDO_USER", "sudo_user"),
        ("PWD", "submit_pwd"),
        ("OLDPWD", "submit_oldpwd"),
    ):
        if variable in env:
            extra[key] = env[variable]
    if not parsed.here_document and parsed.payload is not None:
        extra["format"] = "at 3.1 (commands without a here-document)"
    if not parsed.terminated:
        extra["payload_unterminated"] = True
    if parsed.stray:
        extra["unexpected_lines"] = [{"line": s.line, "text": s.text} for s in parsed.stray]
        if parsed.stray_count > len(parsed.stray):
            extra["unexpected_line_count"] = parsed.stray_count
    return extra


def _ssh_origin(env: dict[str, str]) -> dict[str, object]:
    """Where the submitter came from: SSH_CONNECTION `src port dst port`, else SSH_CLIENT
    `src port dport`."""
    connection = env.get("SSH_CONNECTION", "").split()
    client = env.get("SSH_CLIENT", "").split()
    if len(connection) == 4:
        src, sport, dst, dport = connection
    elif len(client) == 3:
        src, sport, dport = client
        dst = ""
    else:
        return {}
    origin: dict[str, object] = {"ssh_source_ip": src, "ssh_source_port": _port(sport)}
    if dst:
        origin["ssh_destination_ip"] = dst
    origin["ssh_destination_port"] = _port(dport)
    return origin


def _port(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else text


def _verdict(
    ctx: CollectContext,
    facts: SpoolFacts,
    name: str,
    link: FileInfo,
    info: FileInfo,
    decoded: JobName | None,
    parsed: AtJobFile,
    at: datetime | None,
    has_lock: bool,
) -> Effective:
    """atd's tests in its own order: run_loop (name, queue, exec bit, links), then run_file
    (owner known, no symbolic link, links, header, mail name, uid)."""
    spool = facts.spool
    family = ctx.source.os_info.family
    home = next((s for s in SPOOLS if s.family == family), None)
    if home is not None and home.jobs != spool.jobs:
        return Effective(
            False, f"the atd of this {family} host reads {home.jobs}, not {spool.jobs}", "atd"
        )
    if decoded is None:
        return _skips("its name is not a queue letter, a hex job number and hex minutes")
    if decoded.queue == LOCK_QUEUE:
        return Effective(
            False,
            "running when the evidence was taken: only atd's lock link is left (atd unlinks the "
            "job file when it starts the job) and atd never starts a lock link",
            "atd",
        )
    job = f"job {decoded.job_number} ({name})"
    if not (decoded.queue.isascii() and decoded.queue.isalpha()):
        return _skips(f"queue {decoded.queue!r} is not a letter")
    if not info.mode & 0o100:
        return _skips(
            f"mode {info.mode_text} has no owner-exec bit (at(1) sets it once the job is written)"
        )
    if info.nlink == 2 and not has_lock:
        return _skips(
            f"2 hard links and no lock link {LOCK_QUEUE}{name[1:]}: atd takes it for a job it "
            "is already running"
        )
    accounts = ctx.source.accounts
    if accounts.loaded and accounts.user_by_uid(info.uid) is None:
        return _rejects(f"Userid {info.uid} not found - aborting {job}")
    if link.kind is FileKind.SYMLINK:
        return _rejects(f"Symbolic link encountered in {job} - aborting")
    if info.nlink > 2:
        return _rejects(
            f"Somebody is trying to run a linked script for {job} ({info.nlink} hard links; "
            "atd allows its own lock link only)"
        )
    header = parsed.header
    if header is None:
        return _rejects(f"File {name} is in wrong format - aborting")
    if header.mail_user.startswith("-"):
        return _rejects(f"illegal mail name {header.mail_user} in {job}")
    if header.uid % (1 << 32) != info.uid:
        return _rejects(
            f"Job {decoded.job_number} ({name}) - userid {header.uid} does not match file uid "
            f"{info.uid}"
        )
    if has_lock:
        return Effective(
            True, f"being started by atd now (its lock link {LOCK_QUEUE}{name[1:]} exists)", "atd"
        )
    if _is_batch(decoded.queue):
        return Effective(
            True,
            "queued in a batch queue: atd runs it once its time has come and the load average "
            "is below atd's limit, one batch job at a time",
            "atd",
        )
    if at is None or at > ctx.now:
        return Effective(True, f"queued: atd runs it at {_when(at) if at else 'that time'}", "atd")
    return Effective(
        True, "queued and overdue: atd runs it as soon as it next scans the spool", "atd"
    )


def _skips(reason: str) -> Effective:
    return Effective(False, f"atd skips it: {reason}", "atd")


def _rejects(reason: str) -> Effective:
    return Effective(False, f"atd will reject it: {reason}", "atd")


def _at_access(ctx: CollectContext) -> dict[str, str]:
    """Who may use at(1), by user name; `*` is everybody else. at(1) matches whole lines that end
    in a newline; root may always use it; with neither file only root may."""
    lists: dict[str, list[str] | None] = {}
    for path in ACCESS_FILES:
        text = ctx.source.read_text(path)
        lists[path] = None if text is None else text.split("\n")[:-1]
    allow, deny = lists["/etc/at.allow"], lists["/etc/at.deny"]
    if allow is not None:
        result = {user: "allowed (listed in /etc/at.allow)" for user in allow}
        result["*"] = "denied (not in /etc/at.allow)"
    elif deny is not None:
        result = {user: "denied (listed in /etc/at.deny)" for user in deny}
        result["*"] = "allowed (not in /etc/at.deny)"
    else:
        result = {"*": "denied (neither /etc/at.allow nor /etc/at.deny exists: only root may)"}
    result[ctx.source.accounts.user_name(0) or "root"] = "allowed (root may always use at(1))"
    return result


COLLECTOR = Collector(
    name="at",
    mechanism=Mechanism.AT,
    platform="linux",
    locations=(
        *(spool.jobs for spool in SPOOLS),
        *(spool.output for spool in SPOOLS),
        *ACCESS_FILES,
    ),
    collect=collect,
)
