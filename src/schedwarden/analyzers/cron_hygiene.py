"""Findings that only a faithful cron parser can make: text hidden from `cat` and `crontab -l`,
payloads smuggled through `%` stdin, silenced logging, poisoned environments, writable tables.

Each rule names the exact offending part. A job that the daemon would not run keeps its finding,
one severity level lower (it is evidence, and a package change can wake it up).
See reference/reliability.md §2 and §3.2, reference/linux.md §b items 9–12.

Messages quote the evidence as it is; the writers escape it at their one choke point.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence

from ..model import ExecAction, Finding, Issue, Mechanism, ScheduledJob, Severity
from .base import Analyzer, for_dormant
from .context import EMPTY_CONTEXT, AnalysisContext

CRON_MECHANISMS = (Mechanism.CRON, Mechanism.ANACRON)
T1053_003 = ("T1053.003",)
SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "csh", "tcsh"}
)
INTERPRETERS = SHELLS | frozenset(
    {
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "php",
        "node",
        "lua",
        "awk",
        "gawk",
        "tclsh",
        "nc",
        "ncat",
        "socat",
    }
)
STANDARD_SHELLS = frozenset(
    {
        "/bin/sh",
        "/bin/bash",
        "/usr/bin/bash",
        "/bin/dash",
        "/usr/bin/sh",
        "/usr/bin/dash",
        "/bin/zsh",
        "/usr/bin/zsh",
        "/bin/ash",
        "/bin/ksh",
        "/usr/bin/ksh",
    }
)
LOADER_VARIABLES = (
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "NODE_OPTIONS",
)
WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/user", "/var/lock", "/run/lock")
# The rules of this analyzer (what Sigma cannot express: they need the parser's own facts).
RULES: dict[str, str] = {
    "CR_IN_COMMAND": "Carriage return hides part of a cron command",
    "ANSI_ESCAPE_IN_COMMAND": "Terminal escape sequence in a cron command",
    "NUL_BYTE": "NUL byte inside a cron line",
    "PAYLOAD_IN_STDIN": "Cron feeds text after '%' to the command's standard input",
    "CRON_LOGGING_SUPPRESSED": "Cron job runs without being logged",
    "CRON_COMMAND_OVERLONG": "Cron command longer than cron keeps",
    "CRON_ENV_SHELL": "Cron table replaces the shell that runs its jobs",
    "CRON_ENV_STARTUP_FILE": "BASH_ENV or ENV makes the shell source a file first",
    "CRON_ENV_LOADER": "Loader or interpreter variable set for cron jobs",
    "CRON_ENV_WRITABLE_PATH": "Cron PATH searches writable or relative folders",
    "CRON_TZ_INVALID": "CRON_TZ names no known time zone",
    "WRITABLE_CRON_FILE": "Cron table writable by others than its owner",
}


def analyze(
    jobs: Sequence[ScheduledJob],
    issues: Sequence[Issue],
    context: AnalysisContext = EMPTY_CONTEXT,
) -> Iterator[Finding]:
    writable_files: dict[str, ScheduledJob] = {}
    for job in jobs:
        if job.mechanism not in CRON_MECHANISMS:
            continue
        yield from _hidden_text(job)
        yield from _stdin_payload(job)
        yield from _environment(job)
        if job.extra.get("no_log"):
            yield _finding(
                job,
                "CRON_LOGGING_SUPPRESSED",
                "Cron job runs without being logged",
                Severity.HIGH,
                "the line starts with '-', so cronie writes no CMD line to syslog when it runs",
                "Remove the leading '-' and find out who added it; review the command.",
            )
        if job.extra.get("overlong_command"):
            yield _finding(
                job,
                "CRON_COMMAND_OVERLONG",
                "Cron command longer than cron keeps",
                Severity.MEDIUM,
                "the command reaches 131072 bytes; cron cuts it, and padding this long hides text",
                "Inspect the full line in the file; legitimate commands are never this long.",
            )
        if not job.extra.get("backup") and _writable_definition(job):
            writable_files.setdefault(job.evidence.path, job)
    for path, job in writable_files.items():
        mode = job.evidence.mode or "?"
        yield Finding(
            rule_id="WRITABLE_CRON_FILE",
            title="Cron table writable by others than its owner",
            severity=Severity.HIGH,
            techniques=T1053_003,
            job_id=None,
            evidence=job.evidence,
            message=f"{(path)} has mode {mode} (group or world writable), so "
            "users other than its owner can add jobs to it",
            remediation=f"chmod go-w {path}; cron daemons refuse such files, so also check "
            "whether it was made writable on purpose.",
        )


def _finding(
    job: ScheduledJob,
    rule_id: str,
    title: str,
    severity: Severity,
    message: str,
    remediation: str,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=title,
        severity=for_dormant(severity, job),
        techniques=T1053_003,
        job_id=job.job_id,
        evidence=job.evidence,
        message=message,
        remediation=remediation,
    )


def _commands(job: ScheduledJob) -> Iterator[ExecAction]:
    for action in job.actions:
        if isinstance(action, ExecAction):
            yield action


def _hidden_text(job: ScheduledJob) -> Iterator[Finding]:
    raw = str(job.extra.get("command_raw", "")) or " ".join(a.command_line for a in _commands(job))
    if "\r" in raw:
        before, _, after = raw.partition("\r")
        if after.strip("\r"):
            why = (
                f"the command contains a carriage return: a terminal shows only "
                f"'{(after[:80])}', but cron runs "
                f"'{(before[:80])}' and everything after it"
            )
        else:
            why = (
                f"the command ends in a carriage return (a CRLF line end), which cron keeps: "
                f"it runs '{(raw[-80:])}', and the shell takes the carriage return "
                "as part of the last word"
            )
        yield _finding(
            job,
            "CR_IN_COMMAND",
            "Carriage return hides part of a cron command",
            Severity.HIGH,
            why,
            "Show the file with `cat -A`; remove the line and investigate the hidden command.",
        )
    if "\x1b" in raw:
        yield _finding(
            job,
            "ANSI_ESCAPE_IN_COMMAND",
            "Terminal escape sequence in a cron command",
            Severity.HIGH,
            f"the command contains ESC ({(raw[raw.index(chr(27)) :][:16])}), "
            "which can move the cursor or erase text when the table is displayed",
            "Show the file with `cat -v`; remove the line and investigate.",
        )
    after_nul = job.extra.get("after_nul")
    if after_nul is not None:
        yield _finding(
            job,
            "NUL_BYTE",
            "NUL byte inside a cron line",
            Severity.HIGH,
            f"a NUL ends the command early; cron reads on after it as if a new line began: "
            f"'{(str(after_nul)[:80])}'",
            "Text files never contain NUL bytes: remove the line and investigate its origin.",
        )


def _stdin_payload(job: ScheduledJob) -> Iterator[Finding]:
    for action in _commands(job):
        if not action.stdin:
            continue
        program = posixpath.basename(action.executable or "")
        base = program.rstrip("0123456789.")
        interpreter = program in INTERPRETERS or base in INTERPRETERS
        yield _finding(
            job,
            "PAYLOAD_IN_STDIN",
            "Cron feeds text after '%' to the command's standard input",
            Severity.HIGH if interpreter else Severity.LOW,
            f"the visible command is '{(action.command_line[:80])}', and cron "
            f"pipes '{(action.stdin[:120])}' into it"
            + (f" — {program} runs that text as code" if interpreter else ""),
            "Escape '%' as '\\%' in legitimate commands; treat a script fed to a shell this way "
            "as an intrusion.",
        )


def _environment(job: ScheduledJob) -> Iterator[Finding]:
    env = dict(job.environment)
    shell = env.get("SHELL")
    if shell is not None and shell not in STANDARD_SHELLS:
        yield _finding(
            job,
            "CRON_ENV_SHELL",
            "Cron table replaces the shell that runs its jobs",
            Severity.HIGH,
            f"SHELL={(shell)} is set before this job, so cron runs "
            f"'{(shell)} -c <command>' instead of /bin/sh",
            "Remove the SHELL line or point it at a standard shell; inspect the program it names.",
        )
    for name in ("BASH_ENV", "ENV"):
        if env.get(name):
            yield _finding(
                job,
                "CRON_ENV_STARTUP_FILE",
                f"{name} makes the shell source a file first",
                Severity.HIGH,
                f"{name}={(env[name])} is set before this job; the shell reads "
                "and runs that file before every command",
                f"Remove the {name} line and inspect the file it names.",
            )
    for name in LOADER_VARIABLES:
        if env.get(name):
            yield _finding(
                job,
                "CRON_ENV_LOADER",
                f"{name} set for cron jobs",
                Severity.HIGH,
                f"{name}={(env[name])} is set before this job; it loads code into "
                "every program the job starts",
                f"Remove the {name} line and inspect what it points at.",
            )
    path = env.get("PATH")
    if path is not None:
        risky = [p for p in path.split(":") if _risky_path_entry(p)]
        if risky:
            shown = ", ".join((p) or "(empty = current dir)" for p in risky)
            yield _finding(
                job,
                "CRON_ENV_WRITABLE_PATH",
                "Cron PATH searches writable or relative folders",
                Severity.HIGH,
                f"PATH={(path)} puts {shown} in the search path, so a file "
                "dropped there replaces commands this job runs",
                "Use a PATH of root-owned system folders only (/usr/sbin:/usr/bin:/sbin:/bin).",
            )
    tz = env.get("CRON_TZ")
    if tz is not None and job.extra.get("cron_tz_invalid"):
        yield _finding(
            job,
            "CRON_TZ_INVALID",
            "CRON_TZ names no known time zone",
            Severity.LOW,
            f"CRON_TZ={(tz)} is not a time zone; cronie falls back to UTC or "
            "local time, so the job runs at an unexpected hour",
            "Set CRON_TZ to an IANA zone name, or remove it.",
        )


def _risky_path_entry(entry: str) -> bool:
    if not entry.startswith("/"):
        return True
    entry = posixpath.normpath(entry)
    return any(entry == d or entry.startswith(d + "/") for d in WRITABLE_DIRS)


def _writable_definition(job: ScheduledJob) -> bool:
    mode = job.evidence.mode
    if mode is None:
        return False
    return bool(int(mode, 8) & 0o022)


ANALYZER = Analyzer(
    name="cron_hygiene",
    description="hidden text, stdin payloads, silenced logging, poisoned environment, "
    "writable tables",
    analyze=analyze,
)
