"""The MITRE ATT&CK T1053 (Scheduled Task/Job) table and the technique of each mechanism."""

from __future__ import annotations

from .enums import Mechanism

TECHNIQUES: dict[str, str] = {
    "T1053": "Scheduled Task/Job",
    "T1053.002": "At",
    "T1053.003": "Cron",
    "T1053.005": "Scheduled Task",
    "T1053.006": "Systemd Timers",
    "T1053.007": "Container Orchestration Job",
}

TECHNIQUE_OF_MECHANISM: dict[Mechanism, str] = {
    Mechanism.CRON: "T1053.003",
    Mechanism.ANACRON: "T1053.003",
    Mechanism.PERIODIC: "T1053.003",
    Mechanism.AT: "T1053.002",
    Mechanism.SYSTEMD_TIMER: "T1053.006",
    Mechanism.WINDOWS_TASK: "T1053.005",
    Mechanism.K8S_CRONJOB: "T1053.007",
}


def technique_url(technique: str) -> str:
    """The ATT&CK page of a technique id (`T1053.003` → .../techniques/T1053/003/)."""
    return "https://attack.mitre.org/techniques/" + technique.replace(".", "/") + "/"
