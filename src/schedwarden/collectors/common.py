"""Small helpers every collector needs: splitting a command line, daemon verdicts, raw excerpts."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from ..model import Effective, ExecAction

RAW_EXCERPT_CAP = 4096


def exec_action(
    command_line: str,
    *,
    stdin: str | None = None,
    shell: str | None = None,
    working_dir: str | None = None,
) -> ExecAction:
    """The executable and arguments as a POSIX shell would split them (nothing is expanded)."""
    try:
        words = shlex.split(command_line, comments=False, posix=True)
    except ValueError:
        words = command_line.split()
    return ExecAction(
        command_line=command_line,
        executable=words[0] if words else None,
        arguments=tuple(words[1:]),
        working_dir=working_dir,
        stdin=stdin,
        shell=shell,
    )


def excerpt(text: str) -> str:
    return text if len(text) <= RAW_EXCERPT_CAP else text[:RAW_EXCERPT_CAP] + "…"


def combine_verdicts(verdicts: Mapping[str, str | None], runs_text: str) -> Effective:
    """One Effective from each candidate daemon's objection (None = it would run the job).

    With one daemon that is its verdict; with several (the host's daemon is unknown) the job runs
    only if all agree, is dormant if none would run it, and is undecided otherwise.
    """
    if len(verdicts) == 1:
        daemon, objection = next(iter(verdicts.items()))
        if objection is None:
            return Effective(True, f"{runs_text} ({daemon})", daemon)
        return Effective(False, objection, daemon)
    objections = {d: o for d, o in verdicts.items() if o is not None}
    if not objections:
        return Effective(True, f"{runs_text} (every candidate daemon)", None)
    if len(objections) == len(verdicts):
        return Effective(False, "; ".join(objections.values()), None)
    parts = [f"{d}: {o or 'runs'}" for d, o in verdicts.items()]
    return Effective(None, "depends on the cron daemon: " + "; ".join(parts), None)
