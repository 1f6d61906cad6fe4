"""Least privilege: who else could change what a job runs (T1053 + T1574 style persistence).

A root job whose script is group-writable by www-data is a root shell for anyone who owns
www-data; no scheduler file has to change for it to happen. This analyzer works in two steps:

1. `wanted_paths(job)` names, from the job alone, every path whose owner and mode matter: the
   definition and related unit files, the programs a command line starts (each simple command of
   a shell line), scripts given to interpreters, files sourced with `.`, systemd
   EnvironmentFile=s, each PATH folder a bare command name is looked up in, and folders whose
   `*` a tar/chown/chmod/rsync line expands.
2. The engine stats those paths and every ancestor folder through the source (`enrich.py`), with
   the host's own passwd and group, and `analyze` judges them: a file or an ancestor folder that
   a user other than root and the job's own user can write (owner, group member, everyone), a
   missing file in a folder others can create in, a writable PATH folder searched before the real
   command, a wildcard in a folder others can create files in.

Windows tasks get the one check an offline image allows without ACLs: an unquoted program path
with spaces, naming the files Windows would try first.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Iterator, Sequence

from ..model import ExecAction, Finding, Issue, Mechanism, ScheduledJob, Severity
from .base import Analyzer, for_dormant, is_privileged
from .context import EMPTY_CONTEXT, AnalysisContext, HostAccounts, PathFact, Wanted, ancestors
from .sigma_fields import script_path

LINUX = frozenset(
    {Mechanism.CRON, Mechanism.ANACRON, Mechanism.PERIODIC, Mechanism.AT, Mechanism.SYSTEMD_TIMER}
)
SHELL_MECHANISMS = frozenset({Mechanism.CRON, Mechanism.ANACRON, Mechanism.AT})
# Where a bare command name is looked up when the job sets no PATH.
DEFAULT_PATH = {
    Mechanism.CRON: "/usr/bin:/bin",
    Mechanism.ANACRON: "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin",
    Mechanism.AT: "/usr/local/bin:/usr/bin:/bin",
    Mechanism.SYSTEMD_TIMER: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    Mechanism.PERIODIC: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}
WRAPPERS = frozenset(
    {"nohup", "exec", "command", "nice", "ionice", "timeout", "env", "setsid", "chrt", "taskset"}
)
WRAPPER_OPERANDS = {"flock": 1, "su": 0}
BUILTINS = frozenset(
    {
        "test", "[", "[[", "echo", "printf", "true", "false", "exit", "return", "set", "unset",
        "export", "read", "cd", "eval", "shift", "wait", "trap", "umask", "ulimit", "type",
        "hash", "local", "let", ":", "break", "continue", "kill", "alias", "getopts", "readonly",
        "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case",
        "esac", "!", "time", "{", "}", "function", "select",
    }
)  # fmt: skip
KEYWORDS = frozenset({"{", "}", "if", "then", "else", "elif", "do", "while", "until", "!", "time"})
WILDCARD_COMMANDS = frozenset({"tar", "chown", "chmod", "chgrp", "rsync", "zip", "7z", "scp"})
SOURCES = frozenset({".", "source"})
OPERATORS = ("&&", "||", ";;", ";", "|", "&", "\n", "(", ")")
_OPERATOR_STARTS = frozenset(op[0] for op in OPERATORS)
MAX_WANTED = 64

RULES: dict[str, str] = {
    "WRITABLE_JOB_TARGET": "Job runs a file that other users can change",
    "MISSING_TARGET_IN_WRITABLE_DIR": "Job runs a missing file that other users can create",
    "WRITABLE_PATH_ENTRY": "Job's command name is looked up in a folder other users can write",
    "WILDCARD_INJECTION": "Wildcard expands in a folder other users can write",
    "WRITABLE_JOB_DEFINITION": "Job definition that other users can change",
    "UNQUOTED_PATH_WITH_SPACES": "Task program path with spaces is not quoted",
}
REMEDIATION = {
    "WRITABLE_JOB_TARGET": "Make the file and every folder above it owned by root (or the job's "
    "user) and not writable by group or others (chown root: and chmod go-w); then check that "
    "the file was not changed.",
    "MISSING_TARGET_IN_WRITABLE_DIR": "Remove the job or restore the file; make the folder "
    "writable by root only.",
    "WRITABLE_PATH_ENTRY": "Call the command by its absolute path, or drop the writable folder "
    "from PATH.",
    "WILDCARD_INJECTION": "Do not expand * in folders others can write: use `--` before file "
    "names, or `find DIR -print0 | xargs -0`, or run the job as that folder's owner.",
    "WRITABLE_JOB_DEFINITION": "chown root: and chmod go-w the definition file and its folders; "
    "then check what was changed.",
    "UNQUOTED_PATH_WITH_SPACES": 'Quote the program path in the task ("C:\\Program Files\\...").',
}


# ---------------------------------------------------------------------------------------------
# step 1: which paths matter (pure: from the job alone)


def wanted_paths(job: ScheduledJob) -> list[Wanted]:
    if job.mechanism not in LINUX:
        return []
    found: list[Wanted] = [Wanted("definition", job.evidence.path)]
    found += [Wanted("definition", p) for p in job.evidence.related if p.startswith("/")]
    env = dict(job.environment)
    for name in _strings(job.extra.get("environment_files")):
        found.append(Wanted("environment_file", name.lstrip("-")))
    search = env.get("PATH", DEFAULT_PATH.get(job.mechanism, "/usr/bin:/bin"))
    home = _home_hint(job)
    for index, action in enumerate(job.actions, 1):
        if not isinstance(action, ExecAction):
            continue
        if job.mechanism in SHELL_MECHANISMS:
            found += _shell_wanted(action, index, search, action.working_dir or home)
        else:
            found += _argv_wanted(action, index, search)
    unique = list(dict.fromkeys(w for w in found if w.path.startswith("/")))
    return unique[:MAX_WANTED]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def _home_hint(job: ScheduledJob) -> str | None:
    home = dict(job.environment).get("HOME")
    return home if home and home.startswith("/") else None


def _argv_wanted(action: ExecAction, index: int, search: str) -> list[Wanted]:
    found: list[Wanted] = []
    executable = action.executable
    if executable:
        found += _program(executable, index, search, action.working_dir)
    script = script_path(executable, action.arguments)
    if script:
        found += _file("script", script, index, action.working_dir)
    return found


def _shell_wanted(action: ExecAction, index: int, search: str, cwd: str | None) -> list[Wanted]:
    found: list[Wanted] = []
    for words in simple_commands(action.command_line):
        texts = [w for w, _ in words]
        if not texts:
            continue
        head, rest = texts[0], texts[1:]
        if head == "cd" and rest and rest[0].startswith("/") and "$" not in rest[0]:
            cwd = rest[0]
            continue
        if head in SOURCES and rest:
            found += _file("sourced", rest[0], index, cwd)
            continue
        if head in BUILTINS or "$" in head or "`" in head:
            continue
        found += _program(head, index, search, cwd)
        script = script_path(head, tuple(rest))
        if script:
            found += _file("script", script, index, cwd)
        if posixpath.basename(head) in WILDCARD_COMMANDS:
            for word, globbing in words[1:]:
                if globbing and "*" in word:
                    folder = posixpath.dirname(word) if "/" in word else cwd
                    if folder and folder.startswith("/") and "*" not in folder:
                        shown = " ".join(texts)
                        shown = shown if len(shown) <= 80 else shown[:80] + "…"
                        found.append(Wanted("wildcard_dir", folder, index, shown))
    return found


def _program(word: str, index: int, search: str, cwd: str | None) -> list[Wanted]:
    if "$" in word or "`" in word:
        return []
    if "/" in word:
        return _file("executable", word, index, cwd)
    found = []
    for folder in search.split(":"):
        if folder.startswith("/"):
            found.append(Wanted("path_entry", posixpath.join(folder, word), index, word))
    return found


def _file(role: str, word: str, index: int, cwd: str | None) -> list[Wanted]:
    if "$" in word or "`" in word or "*" in word:
        return []
    if not word.startswith("/"):
        if not cwd or not cwd.startswith("/"):
            return []
        word = posixpath.join(cwd, word)
    return [Wanted(role, posixpath.normpath(word), index)]


Word = tuple[str, bool]  # the word without quotes, and whether an unquoted glob is in it


def simple_commands(line: str) -> list[list[Word]]:
    """The simple commands of a shell line, as words: quotes removed, `$(...)` and backquoted
    parts kept opaque, redirection targets dropped. Nothing is expanded or run."""
    commands: list[list[Word]] = [[]]
    word: list[str] = []
    globbing = False
    in_word = False
    redirect = False
    i = 0
    n = len(line)

    def finish() -> None:
        nonlocal word, globbing, in_word, redirect
        if in_word:
            if redirect:
                redirect = False
            else:
                commands[-1].append(("".join(word), globbing))
        word, globbing, in_word = [], False, False

    while i < n:
        c = line[i]
        if c in " \t\r":
            finish()
            i += 1
            continue
        operator = (
            next((op for op in OPERATORS if line.startswith(op, i)), None)
            if c in _OPERATOR_STARTS
            else None
        )
        if operator is not None and not (operator == "(" and line.startswith("$(", i - 1)):
            finish()
            redirect = False
            commands.append([])
            i += len(operator)
            continue
        if c in "<>":
            if in_word and "".join(word).isdigit():
                word, globbing, in_word = [], False, False  # the fd number of `2>`
            finish()
            start = i
            while i < n and line[i] in "<>&0123456789-|":
                i += 1
            redirect = not re.fullmatch(r"[<>]+&[0-9-]+", line[start:i])  # 2>&1 has no target
            continue
        in_word = True
        if c == "\\" and i + 1 < n:
            word.append(line[i + 1])
            i += 2
        elif c == "'":
            end = line.find("'", i + 1)
            end = n if end < 0 else end
            word.append(line[i + 1 : end])
            i = end + 1
        elif c == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            word.append(line[i + 1 : j].replace('\\"', '"'))
            i = j + 1
        elif c == "`" or line.startswith("$(", i):
            closing = "`" if c == "`" else ")"
            start = i + (1 if c == "`" else 2)
            end = line.find(closing, start)
            end = n if end < 0 else end
            word.append(line[i : end + 1])
            i = end + 1
        else:
            if c in "*?[":
                globbing = True
            word.append(c)
            i += 1
    finish()
    return [words for words in (_strip_prefixes(c) for c in commands) if words]


def _strip_prefixes(words: list[Word]) -> list[Word]:
    """Drop `VAR=value` assignments and wrappers (nice -n 10, nohup, timeout 5, flock FILE...)."""
    i = 0
    while i < len(words):
        text = words[i][0]
        if text in KEYWORDS or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", text, re.S):
            i += 1
            continue
        name = posixpath.basename(text)
        if name in WRAPPERS or name in WRAPPER_OPERANDS:
            i += 1
            while i < len(words) and (
                words[i][0].startswith("-") or words[i][0].isdigit() or "=" in words[i][0]
            ):
                i += 1
            i += WRAPPER_OPERANDS.get(name, 0)
            continue
        break
    return words[i:]


# ---------------------------------------------------------------------------------------------
# step 2: judge the facts


def analyze(
    jobs: Sequence[ScheduledJob],
    issues: Sequence[Issue],
    context: AnalysisContext = EMPTY_CONTEXT,
) -> Iterator[Finding]:
    for job in jobs:
        if job.mechanism is Mechanism.WINDOWS_TASK:
            yield from _unquoted(job)
        elif context.file_facts and job.mechanism in LINUX:
            yield from _linux(job, context)


def _linux(job: ScheduledJob, context: AnalysisContext) -> Iterator[Finding]:
    wanted = context.wanted.get(job.job_id)
    if wanted is None:
        wanted = wanted_paths(job)
    trusted = _trusted(job, context.accounts)
    seen: set[tuple[str, str]] = set()
    by_command: dict[tuple[int | None, str], list[Wanted]] = {}
    for item in wanted:
        if item.role == "path_entry":
            by_command.setdefault((item.action, item.detail), []).append(item)
            continue
        if item.role == "wildcard_dir":
            finding = _wildcard(job, item, context, trusted)
        elif item.role == "definition":
            finding = _definition(job, item, context, trusted)
        else:
            finding = _target(job, item, context, trusted)
        if finding is not None and (finding.rule_id, finding.message) not in seen:
            seen.add((finding.rule_id, finding.message))
            yield finding
    for (_, name), entries in by_command.items():
        finding = _search_path(job, name, entries, context, trusted)
        if finding is not None and (finding.rule_id, finding.message) not in seen:
            seen.add((finding.rule_id, finding.message))
            yield finding


def _trusted(job: ScheduledJob, accounts: HostAccounts) -> frozenset[str]:
    names = {"root", "0"}
    if job.run_as:
        names.add(job.run_as)
        user = accounts.user(job.run_as)
        if user is not None:
            names |= {user.name, str(user.uid)}
    return frozenset(names)


def writers(
    fact: PathFact, accounts: HostAccounts, trusted: frozenset[str], *, creating: bool = False
) -> list[str]:
    """Why users other than `trusted` can change `fact` (replace it, or create in it when
    `creating`): its owner, a group with other members, everyone. Empty when nobody can."""
    if fact.mode is None or fact.uid is None:
        return []
    reasons: list[str] = []
    owner = fact.owner or accounts.user_name(fact.uid) or f"uid {fact.uid}"
    if fact.uid != 0 and owner not in trusted and str(fact.uid) not in trusted:
        reasons.append(f"it is owned by {owner}")
    sticky = bool(fact.mode & 0o1000) and fact.is_dir
    if fact.mode & 0o020 and fact.gid is not None and (creating or not sticky):
        group = fact.group or accounts.groups.get(fact.gid) or f"gid {fact.gid}"
        members = accounts.group_members(fact.gid)
        if members is None:
            if fact.gid != 0:
                reasons.append(f"group {group} can write it (mode {fact.mode_text})")
        else:
            others = [m for m in members if m not in trusted]
            if others:
                shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
                reasons.append(
                    f"group {group} can write it (mode {fact.mode_text}; members: {shown})"
                )
    if fact.mode & 0o002 and (creating or not sticky):
        reasons.append(f"every user can write it (mode {fact.mode_text})")
    return reasons


def _severity(job: ScheduledJob, reasons: Sequence[str]) -> Severity:
    if not is_privileged(job.run_as):
        return Severity.MEDIUM
    if any(r.startswith("every user") for r in reasons):
        return Severity.CRITICAL
    return Severity.HIGH


def _chain(path: str, context: AnalysisContext) -> list[PathFact]:
    """The file's facts, then each ancestor folder's (of the path and of its real path)."""
    facts: list[PathFact] = []
    fact = context.fact(path)
    if fact is not None:
        facts.append(fact)
    folders = ancestors(path)
    if fact is not None and fact.real_path and fact.real_path != path:
        folders += [a for a in ancestors(fact.real_path) if a not in folders]
    for folder in folders:
        found = context.fact(folder)
        if found is not None:
            facts.append(found)
    return facts


def _first_writable(
    path: str, context: AnalysisContext, trusted: frozenset[str]
) -> tuple[PathFact, list[str]] | None:
    for fact in _chain(path, context):
        if not fact.exists:
            continue
        reasons = writers(fact, context.accounts, trusted)
        if reasons:
            return fact, reasons
    return None


def _nearest_existing(path: str, context: AnalysisContext) -> PathFact | None:
    for folder in ancestors(path):
        fact = context.fact(folder)
        if fact is not None and fact.exists:
            return fact
    return None


ROLE_TEXT = {
    "executable": "runs",
    "script": "has its interpreter run",
    "sourced": "sources",
    "environment_file": "reads its environment from",
}


def _target(
    job: ScheduledJob, item: Wanted, context: AnalysisContext, trusted: frozenset[str]
) -> Finding | None:
    fact = context.fact(item.path)
    if fact is None or fact.problem:
        return None
    verb = ROLE_TEXT.get(item.role, "uses")
    who = _who(job)
    if not fact.exists:
        parent = _nearest_existing(item.path, context)
        if parent is None:
            return None
        reasons = writers(parent, context.accounts, trusted, creating=True)
        if not reasons:
            return None
        message = (
            f"{who} {verb} {item.path}, which does not exist, and {parent.path} lets others "
            f"create it: {'; '.join(reasons)}"
        )
        return _finding(job, "MISSING_TARGET_IN_WRITABLE_DIR", _severity(job, reasons), message)
    hit = _first_writable(item.path, context, trusted)
    if hit is None:
        return None
    writable, reasons = hit
    where = (
        item.path
        if writable.path == item.path
        else f"{item.path} (through its folder {writable.path})"
    )
    if (
        fact.real_path
        and fact.real_path != item.path
        and writable.path in (item.path, fact.real_path)
    ):
        where = f"{item.path} (a link to {fact.real_path})"
    message = f"{who} {verb} {where}, and {'; '.join(reasons)}"
    if writable.path != item.path and writable.is_dir:
        message += ", so the file can be replaced"
    return _finding(job, "WRITABLE_JOB_TARGET", _severity(job, reasons), message)


def _definition(
    job: ScheduledJob, item: Wanted, context: AnalysisContext, trusted: frozenset[str]
) -> Finding | None:
    fact = context.fact(item.path)
    if fact is None or not fact.exists:
        return None
    cron_table = job.mechanism in (Mechanism.CRON, Mechanism.ANACRON)
    for candidate in _chain(item.path, context):
        if not candidate.exists:
            continue
        reasons = writers(candidate, context.accounts, trusted)
        if candidate.path == item.path and cron_table:
            # cron_hygiene's WRITABLE_CRON_FILE reports the table's own mode bits
            reasons = [r for r in reasons if r.startswith("it is owned")]
        if not reasons:
            continue
        where = (
            item.path if candidate.path == item.path else f"{item.path} (folder {candidate.path})"
        )
        message = (
            f"{_who(job)} is defined in {where}, and {'; '.join(reasons)}, so others can "
            "change what it runs"
        )
        return _finding(job, "WRITABLE_JOB_DEFINITION", _severity(job, reasons), message)
    return None


def _search_path(
    job: ScheduledJob,
    name: str,
    entries: list[Wanted],
    context: AnalysisContext,
    trusted: frozenset[str],
) -> Finding | None:
    """Every PATH folder searched before the one that holds `name` (or all, if none does)."""
    for entry in entries:
        fact = context.fact(entry.path)
        if fact is not None and fact.exists:
            return None  # found here first; earlier folders were clean
        folder = posixpath.dirname(entry.path)
        folder_fact = context.fact(folder)
        if folder_fact is not None and folder_fact.exists:
            reasons = writers(folder_fact, context.accounts, trusted, creating=True)
            where = folder
        else:
            parent = _nearest_existing(folder, context)
            if parent is None:
                continue
            reasons = writers(parent, context.accounts, trusted, creating=True)
            where = f"{folder} (missing; created through {parent.path})"
        if reasons:
            message = (
                f"{_who(job)} runs '{name}' by name; PATH searches {where} first, and "
                f"{'; '.join(reasons)}, so a file named {name} there runs instead"
            )
            return _finding(job, "WRITABLE_PATH_ENTRY", _severity(job, reasons), message)
    return None


def _wildcard(
    job: ScheduledJob, item: Wanted, context: AnalysisContext, trusted: frozenset[str]
) -> Finding | None:
    fact = context.fact(item.path)
    if fact is None or not fact.exists:
        return None
    reasons = writers(fact, context.accounts, trusted, creating=True)
    if not reasons:
        return None
    message = (
        f"{_who(job)} runs '{item.detail}' in {item.path}, and {'; '.join(reasons)}: a file "
        "named like an option (--checkpoint-action=exec=..., --reference=...) becomes an "
        "argument"
    )
    return _finding(job, "WILDCARD_INJECTION", _severity(job, reasons), message)


def _who(job: ScheduledJob) -> str:
    return f"the job (as {job.run_as})" if job.run_as else "the job"


def _finding(job: ScheduledJob, rule_id: str, severity: Severity, message: str) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=RULES[rule_id],
        severity=for_dormant(severity, job),
        techniques=tuple(dict.fromkeys((job.technique, "T1574"))),
        job_id=job.job_id,
        evidence=job.evidence,
        message=message,
        remediation=REMEDIATION[rule_id],
    )


# ---------------------------------------------------------------------------------------------
# Windows: unquoted program paths

PROGRAM_SUFFIXES = (".exe", ".com", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".msc")
ABSOLUTE_WINDOWS = re.compile(r"^(?:[A-Za-z]:\\|%[A-Za-z0-9_()]+%\\|\\\\)")
# Folders where, by default, only administrators can create files: the drive root, Windows,
# Program Files, and ProgramData\Microsoft (which does not inherit ProgramData's "Users may
# create files" entry). ProgramData itself, folders made at the drive root and the known
# user-writable folders under Windows (Temp, Tasks, Tracing, spool\drivers\color) are not.
PROTECTED = re.compile(
    r"(?i)^(?:[a-z]:|%systemdrive%)\\?$"
    r"|^(?:[a-z]:\\(?:program files(?: \(x86\))?|programdata\\microsoft|windows"
    r"(?!\\(?:temp|tasks|tracing|system32\\spool\\drivers\\color)(?:\\|$)))"
    r"|%(?:programfiles(?:\(x86\))?|programw6432|windir|systemroot)%)(?:\\|$)"
)


def _unquoted(job: ScheduledJob) -> Iterator[Finding]:
    for action in job.actions:
        if not isinstance(action, ExecAction):
            continue
        line = action.command_line.lstrip()
        if not line or line.startswith('"') or not ABSOLUTE_WINDOWS.match(line):
            continue
        program = _intended_program(line, action.executable)
        if program is None or " " not in program:
            continue
        candidates = _candidates(program)
        if not candidates:
            continue
        open_ones = [c for c in candidates if not PROTECTED.match(ntpath.dirname(c))]
        privileged = is_privileged(job.run_as)
        if open_ones:
            severity = Severity.MEDIUM if privileged else Severity.LOW
            why = (
                f"{', '.join(open_ones)} would run first if created: "
                f"{', '.join(sorted({ntpath.dirname(c) for c in open_ones}))} is not a folder "
                "only administrators can write by default (check its ACL)"
            )
        elif privileged:
            severity = Severity.INFORMATIONAL
            why = (
                f"{', '.join(candidates)} would run first if created (only administrators can "
                "create them by default)"
            )
        else:
            continue
        message = (
            f"the task (as {job.run_as or 'its principal'}) starts {program} without quotes; "
            f"Windows tries the path up to each space: {why}"
        )
        yield _finding(job, "UNQUOTED_PATH_WITH_SPACES", severity, message)


def _intended_program(line: str, executable: str | None) -> str | None:
    """The program path the command line means: the executable if it has a program suffix,
    else the shortest prefix of the line ending in one (`C:\\Program Files\\x\\a.bat arg`)."""
    if (
        executable
        and executable.casefold().endswith(PROGRAM_SUFFIXES)
        and line.startswith(executable)
    ):
        return executable
    match = re.match(r"^(.+?\.(?:exe|com|bat|cmd|ps1|vbs|js|msc))(?=\s|$)", line, re.IGNORECASE)
    return match.group(1) if match else executable


def _candidates(program: str) -> list[str]:
    found: list[str] = []
    for index, char in enumerate(program):
        if char != " ":
            continue
        prefix = program[:index]
        if prefix.endswith("\\") or not ntpath.basename(prefix):
            continue
        found.append(prefix + ".exe")
    return found


ANALYZER = Analyzer(
    name="privilege",
    description="least privilege: writable targets, definitions, PATH folders and wildcard "
    "folders of jobs; unquoted Windows program paths",
    analyze=analyze,
)
