"""The `schedwarden` command: one module per verb; no logic beyond argument handling.

A verb's module is imported only when that verb runs: `collect` need not load the Sigma engine,
the log readers or the store (a third of a second of start-up on every run).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading

import click

from .. import __version__

# verb → module in this package; each module defines `<verb>_command`
VERBS = ("allowlist", "audit", "baseline", "collect", "hunt", "monitor", "rules", "timeline")


class VerbGroup(click.Group):
    """A group whose verbs are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in VERBS:
            return None
        module = importlib.import_module(f".{cmd_name}", __package__)
        command: click.Command = getattr(module, f"{cmd_name}_command")
        return command


@click.group(cls=VerbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="schedwarden")
def main() -> None:
    """Find, audit and watch persistence through scheduled tasks and jobs (MITRE ATT&CK T1053)."""


def run() -> None:
    """The `schedwarden` script: `main`, and an exit without the interpreter's last walks over
    every object. A run ends holding its report (after a big hunt or audit, hundreds of
    thousands of records, which form no cycles); the collections at exit would examine them all
    again, most of a second per million objects, and freeing them one by one takes a few
    hundredths more. Once the output is flushed and no other thread runs, the process ends
    there (`os._exit`); else, frozen, they are freed by reference counts."""
    try:
        main()  # click ends it with SystemExit and the exit status
    except SystemExit as done:
        status = done.code
    else:
        status = 0
    finally:
        gc.freeze()
    if threading.active_count() > 1 or not isinstance(status, int | None):
        raise SystemExit(status)  # as Python ends: threads joined, a message printed
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: as Python reports it at exit
        raise SystemExit(status) from None
    if "logging" in sys.modules:  # its handlers flushed, as at exit
        sys.modules["logging"].shutdown()
    os._exit(status or 0)
