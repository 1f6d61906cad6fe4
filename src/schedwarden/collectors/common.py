"""Small helpers every collector needs: splitting a command line, daemon verdicts, raw excerpts."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from ..model import Effective, ExecAction

RAW_EXCERPT_CAP = 4096
_NEEDS_SPLITTING = re.compile(r"[\\'\"]")


def exec_action(
    command_line: str,
    *,
    stdin: str | None = None,
    shell: str | None = None,
    working_dir: str | None = None,
) -> ExecAction:
    """The executable and arguments as a POSIX shell would split them (nothing is expanded)."""
    words = split_words(command_line)
    return ExecAction(
        command_line=command_line,
        executable=words[0] if words else None,
        arguments=tuple(words[1:]),
        working_dir=working_dir,
        stdin=stdin,
        shell=shell,
    )


_IFS = " \t\n"  # the shell splits words on these only: not on \r, NBSP or other spaces
_BLANKS = re.compile(r"[ \t\n]+")
_OTHER_SPACE = re.compile(r"[^\S \t\n]")  # whitespace to Python that is not to the shell
_WORD = re.compile(r"""(?:[^ \t\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.)+""", re.S)
_PART = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^'"\\]+)""", re.S)
_DOUBLE_QUOTED_ESCAPE = re.compile(r"""\\([$`"\\\n])""")


def split_words(command: str) -> list[str]:
    """Words as a POSIX shell splits them, quotes removed, nothing expanded (shlex's rules; a
    regex does it in a fraction of shlex's time, which matters on hosts with 50,000 jobs)."""
    if not _NEEDS_SPLITTING.search(command):
        if not _OTHER_SPACE.search(command):  # only blanks str.split() and the shell agree on
            return command.split()
        return [word for word in _BLANKS.split(command) if word]
    words = []
    covered = 0
    for match in _WORD.finditer(command):
        covered += match.end() - match.start()
        words.append("".join(_unquote(part) for part in _PART.finditer(match.group(0))))
    blanks = command.count(" ") + command.count("\t") + command.count("\n")
    if covered != len(command) - blanks:
        lexer = shlex.shlex(command, posix=True)  # an unterminated quote: shlex's reading
        lexer.whitespace, lexer.whitespace_split, lexer.commenters = _IFS, True, ""
        try:
            return list(lexer)
        except ValueError:
            return [word for word in _BLANKS.split(command) if word]
    return words


def _unquote(part: re.Match[str]) -> str:
    single, double, escaped, plain = part.groups()
    if single is not None:
        return single
    if double is not None:
        return _DOUBLE_QUOTED_ESCAPE.sub(r"\1", double)
    return escaped if escaped is not None else plain


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
