"""A golden `audit --format json` document for one small Debian image (UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from schedwarden.outputs.json_writer import write_json
from tests.conftest import run_audit

FIXTURE = Path(__file__).parent / "fixtures" / "images" / "small-debian"
GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "small-debian.audit.json"
MTIME = 1_790_000_000
MODES = {"var/spool/cron/crontabs/alice": 0o600, "etc/cron.daily/logrotate": 0o755}
OWNERS = {"var/spool/cron/crontabs/alice": (1000, 1000)}


def _materialize(tmp_path: Path) -> Path:
    """Copy the fixture and set what git does not keep: modes, owners, mtimes."""
    root = tmp_path / "small-debian"
    shutil.copytree(FIXTURE, root)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file():
            os.chmod(path, MODES.get(rel, 0o644))
            uid, gid = OWNERS.get(rel, (0, 0))
            os.chown(path, uid, gid)
        os.utime(path, (MTIME, MTIME))
    return root


def test_small_image_matches_golden(tmp_path: Path) -> None:
    root = _materialize(tmp_path)
    report = run_audit(root)
    with open(tmp_path / "out.json", "w", encoding="utf-8") as stream:
        write_json(report, stream)
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    document["source"]["root"] = "<root>"
    document["tool"]["version"] = "<version>"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert document == expected
    # The contract's fixed parts, independent of the golden file.
    assert list(document) == ["schema", "tool", "source", "jobs", "findings", "issues", "summary"]
    assert document["schema"] == "schedwarden.audit/1"
    job_ids = {job["job_id"] for job in document["jobs"]}
    assert all(f["job_id"] in job_ids for f in document["findings"] if f["job_id"])
