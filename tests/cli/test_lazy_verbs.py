"""`collect` loads neither the Sigma engine nor the log readers nor the store; `hunt` of a
syslog loads neither the collectors nor the inventory analyzers nor rich."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..conftest import DEBIAN_OS_RELEASE, MakeRoot

PROBE = """
import sys
from schedwarden.cli.main import main
try:
    main([sys.argv[1], sys.argv[2], "-f", "jsonl", "-q"])
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] if not m.startswith("schedwarden") else m for m in sys.modules
                if m.startswith(tuple(sys.argv[3].split(",")))})
print("HEAVY", heavy, file=sys.stderr)
"""


COLLECT_HEAVY = "sigma,schedwarden.analyzers,schedwarden.logs,schedwarden.store,evtx,watchdog"
HUNT_HEAVY = (
    "schedwarden.collectors.registry,schedwarden.collectors.linux.cron_jobs,schedwarden.collectors.k8s,"
    "schedwarden.collectors.windows.hive,schedwarden.analyzers.registry,schedwarden.inventory,"
    "schedwarden.store,regipy,rich,watchdog"
)


def _loaded(verb: str, root: Path, heavy: str = COLLECT_HEAVY) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, verb, str(root), heavy],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return next(line for line in done.stderr.splitlines() if line.startswith("HEAVY"))


def test_collect_loads_only_the_inventory(make_root: MakeRoot) -> None:
    root = make_root({"etc/crontab": "* * * * * root /bin/true\n"}, os_release=DEBIAN_OS_RELEASE)
    assert _loaded("collect", root) == "HEAVY []"
    assert "sigma" in _loaded("audit", root)  # the probe sees what a verb loads


def test_hunt_of_a_syslog_loads_no_collector(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("Nov 27 10:00:01 h CRON[12]: (root) CMD (run-parts /etc/cron.hourly)\n")
    assert _loaded("hunt", log, HUNT_HEAVY) == "HEAVY []"
    assert "regipy" in _loaded("audit", log.parent, HUNT_HEAVY)  # the probe sees what loads
