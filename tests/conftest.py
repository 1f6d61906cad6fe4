"""Shared test helpers: build small image roots, find the shared corpus, run an audit."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schedwarden import engine
from schedwarden.model import AuditReport
from schedwarden.sources import ImageSource

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
RHEL_OS_RELEASE = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
ALPINE_OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.0\n'
PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nalice:x:1000:\ncrontab:x:101:\n"


# A Security log of share accesses and logons (5145, 4624), with a 4702, over several chunks
DONPAPI = (
    "windows",
    "evtx",
    "task",
    "hayabusa-sample-evtx",
    "EVTX-to-MITRE-Attack",
    "EVTX_full_APT_attack_steps",
    "ID5145-4624-DonPAPI full extraction.evtx",
)


@pytest.fixture(autouse=True, scope="session")
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the user's cache (`log_rule_cache`): the session has its own,
    set in the environment so that forked children and CLI subprocesses use it too."""
    os.environ["SCHEDWARDEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus; the calling test is skipped when the corpus is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus not available: {path}")
    return path


FileSpec = bytes | str | tuple[bytes | str, int]

MakeRoot = Callable[..., Path]


@pytest.fixture
def make_root(tmp_path: Path) -> MakeRoot:
    """Build an image root: `make_root({"etc/crontab": "...", "etc/cron.daily/x": ("...", 0o755)})`.

    `os_release` picks the distribution (default Debian); passwd and group are added unless given.
    """

    def build(
        files: Mapping[str, FileSpec],
        *,
        os_release: str | None = DEBIAN_OS_RELEASE,
        accounts: bool = True,
        name: str = "root",
    ) -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        defaults: dict[str, FileSpec] = {}
        if os_release is not None:
            defaults["etc/os-release"] = os_release
        if accounts:
            defaults["etc/passwd"] = PASSWD
            defaults["etc/group"] = GROUP
        defaults["etc/hostname"] = "testhost\n"
        for rel, spec in {**defaults, **files}.items():
            content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            path.write_bytes(data)
            os.chmod(path, mode)
        return root

    return build


def run_audit(root: Path) -> AuditReport:
    return engine.audit(ImageSource(str(root)), now=FIXED_NOW)


def run_collect(root: Path) -> AuditReport:
    return engine.collect(ImageSource(str(root)), now=FIXED_NOW)
