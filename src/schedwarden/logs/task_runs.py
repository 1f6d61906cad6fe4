"""The runs of tasks registered in a Security log: a process created (Security 4688, Sysmon 1)
whose command line is the action of a task registered (4698) or changed (4702) before it, on the
same host, and whose parent is the Task Scheduler or not named. The EVTX reader looks for them
in the file that registered the task, in a second pass (`evtx_reader._Reading.runs`); and the
task processes of any file (`task_process`, whose parent is the Task Scheduler) that no
TaskScheduler 129 names are named so too (`correlate.name_task_processes`).

Why: with only the Security log collected (the TaskScheduler/Operational log is off by default
on many Windows versions), a task's run leaves no TaskScheduler 100/129/200. Windows 10 and later
start an Exec action from the Schedule service's own svchost, and 4688 gives no parent command
line, so `evtx_reader.launched_by_scheduler` cannot tell it from any service's child. The
command line can: impacket's atexec registers `cmd.exe /C whoami > %windir%\\Temp\\X.tmp 2>&1`,
and 7 ms later 4688 shows `cmd.exe /C whoami > C:\\Windows\\Temp\\X.tmp 2>&1` under svchost.exe.
This is the "ran" of the create, run, delete sequence (T1053.005, T1053.002 through atsvc).

How it matches: the action's command and arguments, lowercased, with each `%VARIABLE%` standing
for any text (the Task Scheduler expands them), optional quotes around the command, a batch
file's `cmd.exe /c` before it (its quotes doubled too, as Windows may give them), runs of spaces
equal to one. The process records are chosen for
rendering by the action's longest word (`evtx_select`, as every other keyword): a record whose
command line does not hold it cannot match. The patterns run on RE2 (linear time: a command with
many variables cannot make the match backtrack); the second pass looks for the words of the
first MAX_WORDS actions of a file, and the file's time budget bounds the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import re2

from ..model import ExecAction, JobEvent, ScheduledJob
from .evtx_select import RecordChooser, WalkedTemplates

PROCESS_IDS = (1, 4688)
EARLIER = timedelta(seconds=2)  # a process recorded this much before its task's registration
MIN_WORD = 4  # an action whose words are all shorter is not looked for
MAX_WORD = 48  # the part of a longer word that is looked for
MAX_K = 2  # nor a word with more `k`s (the chooser tries each with the Kelvin sign too)
# words the chooser of a file looks for: they make its Hyperscan database (1,024 words of two
# `k`s: 8,192 patterns, compiled in about 0.7 s); the actions of other words are not looked for
MAX_WORDS = 1024
MAX_ACTIONS = 65_536  # actions remembered
PARENTS = ("\\svchost.exe", "\\taskeng.exe", "\\taskhostw.exe")
_VARIABLE = re.compile(r"%[^%\s]+%")
_SPACES = re.compile(r"\s+")
_BATCH = (".bat", ".cmd")


@dataclass(frozen=True, slots=True)
class TaskAction:
    """An Exec action of a task registered (or changed) at `registered` by record `record_id`."""

    host: str
    task: str
    registered: datetime
    record_id: object
    line: re2._Regexp  # the process's command line as the action makes it, lowercased
    word: str  # a word of that line, lowercase ASCII, without which it cannot match


def actions_of(event: JobEvent) -> list[TaskAction]:
    """The Exec actions of the task a 4698/4702 event carries, those that can be looked for."""
    definition = event.extra.get("definition")
    if not isinstance(definition, ScheduledJob) or event.action not in ("registered", "updated"):
        return []
    found: list[TaskAction] = []
    for action in definition.actions:
        if isinstance(action, ExecAction) and action.executable:
            made = _line(action.executable, _arguments(action))
            if made is not None:
                line, word = made
                found.append(
                    TaskAction(
                        event.host.casefold(),
                        event.job_name or "",
                        event.time,
                        event.extra.get("record_id"),
                        line,
                        word,
                    )
                )
    return found


def _arguments(action: ExecAction) -> str:
    """The action's arguments as written (its command line is the command, then them)."""
    line, command = action.command_line, action.executable or ""
    for written in (f'"{command}"', command):
        if line.startswith(written):
            return line[len(written) :].strip()
    return ""


@lru_cache(maxsize=4096)  # a task's action is met again: its 4702s, other hosts, other files
def _line(command: str, arguments: str) -> tuple[re2._Regexp, str] | None:
    """The pattern of the process's command line and the word to choose its records by."""
    command, arguments = command.strip().lower(), _SPACES.sub(" ", arguments.strip().lower())
    word = _word(f"{command} {arguments}")
    if word is None:
        return None
    pattern = '"?' + _expanded(command) + '"?'
    if arguments:
        pattern += " " + _expanded(arguments)
    if command.endswith(_BATCH):
        pattern = r'(?:(?:"?[^"]*\\)?cmd(?:\.exe)?"? /[ck] )?"?' + pattern + '"?'
    return re2.compile("(?s)" + pattern), word


def _expanded(text: str) -> str:
    """`text` as a pattern: literal, each %VARIABLE% any text but empty."""
    pieces = _VARIABLE.split(text)
    return ".+?".join(re.escape(piece) for piece in pieces)


def _word(text: str) -> str | None:
    """The longest ASCII word of `text` outside its variables and quotes, cut to MAX_WORD."""
    words = [w for piece in _VARIABLE.split(text) for w in piece.replace('"', " ").split()]
    usable = [w[:MAX_WORD] for w in words if w.isascii() and len(w) >= MIN_WORD]
    usable = [w for w in usable if w.count("k") <= MAX_K]
    return max(usable, key=len) if usable else None


class ActionRuns:
    """The actions of the tasks registered (in one file, or in all), and the process records
    read already (in that file)."""

    def __init__(self) -> None:
        self.actions: list[TaskAction] = []
        self.on_host: dict[str, list[TaskAction]] = {}
        self.seen: set[object] = set()  # record ids of the process records already read

    def note(self, event: JobEvent) -> None:
        """An event as read: its actions, or its process record."""
        if event.extra.get("event_id") in PROCESS_IDS:
            self.seen.add(event.extra.get("record_id"))
            return
        for action in actions_of(event)[: MAX_ACTIONS - len(self.actions)]:
            self.actions.append(action)
            self.on_host.setdefault(action.host, []).append(action)

    def chooser(self, walked: WalkedTemplates) -> RecordChooser | None:
        """The chooser of the process records that may be runs of the actions (None: none)."""
        words = list(dict.fromkeys(action.word for action in self.actions))[:MAX_WORDS]
        return _chooser(frozenset(words), walked) if words else None

    def run_of(
        self, record_id: object, host: str, moment: datetime, data: Mapping[str, Any]
    ) -> TaskAction | None:
        """The action a process record is a run of: the latest registered before it on its host
        whose command line it has, if its parent is the Task Scheduler or not named."""
        if record_id in self.seen:
            return None  # read as a task tool run or a task process already
        parent = str(data.get("ParentImage") or data.get("ParentProcessName") or "")
        if parent and not parent.replace("/", "\\").casefold().endswith(PARENTS):
            return None
        line = _SPACES.sub(" ", str(data.get("CommandLine") or "").strip().lower())
        matching = [
            action
            for action in self.on_host.get(host.casefold(), ())
            if action.registered - EARLIER <= moment
            and action.word in line
            and action.line.fullmatch(line) is not None
        ]
        return max(matching, key=lambda action: action.registered, default=None)


@lru_cache(maxsize=64)
def _chooser(words: frozenset[str], walked: WalkedTemplates) -> RecordChooser:
    return RecordChooser(always=(), searched=dict.fromkeys(PROCESS_IDS, words), walked=walked)
