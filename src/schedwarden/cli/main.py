"""The `schedwarden` command: one module per verb; no logic beyond argument handling."""

from __future__ import annotations

import click

from .. import __version__
from .allowlist import allowlist_command
from .audit import audit_command
from .baseline import baseline_command
from .collect import collect_command
from .hunt import hunt_command
from .monitor import monitor_command
from .rules import rules_command
from .timeline import timeline_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="schedwarden")
def main() -> None:
    """Find, audit and watch persistence through scheduled tasks and jobs (MITRE ATT&CK T1053)."""


main.add_command(allowlist_command)
main.add_command(audit_command)
main.add_command(baseline_command)
main.add_command(collect_command)
main.add_command(hunt_command)
main.add_command(monitor_command)
main.add_command(rules_command)
main.add_command(timeline_command)
