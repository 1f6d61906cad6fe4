"""`collect` loads neither the Sigma engine nor the log readers nor the store."""

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
                if m.startswith(("sigma", "schedwarden.analyzers", "schedwarden.logs",
                                 "schedwarden.store", "evtx", "watchdog"))})
print("HEAVY", heavy, file=sys.stderr)
"""


def _loaded(verb: str, root: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, verb, str(root)],
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
