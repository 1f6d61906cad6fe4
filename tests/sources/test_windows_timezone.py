"""The time zone of a Windows image from its SYSTEM hive (`RootedSource.timezone`), the hives built
by tests/fixtures/windows/make_hives.py; Linux images and the live host keep their own zone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden.cli.main import main
from schedwarden.collectors.windows import time_zone
from schedwarden.collectors.windows.time_zone import (
    fixed_offset_zone,
    iana_of_windows,
    key_name,
    zone_of_system_hive,
)
from schedwarden.sources import FileContent, ImageSource, LiveSource
from tests.conftest import MakeRoot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"
IMAGE = FIXTURES / "image"
IMAGE_SYSTEM = IMAGE / "WINDOWS" / "system32" / "config" / "SYSTEM"
VARIANTS = FIXTURES / "system_hives"


def _windows_root(
    tmp_path: Path, hive: bytes | None, where: str = "Windows/System32/config"
) -> Path:
    """An image root holding only a SYSTEM hive (or only its folder when `hive` is None)."""
    root = tmp_path / "win"
    folder = root / where
    folder.mkdir(parents=True)
    if hive is not None:
        (folder / "SYSTEM").write_bytes(hive)
    return root


# ---------------------------------------------------------------------------------------------
# The fixture image and the variants


def test_fixture_image_is_europe_berlin() -> None:
    source = ImageSource(str(IMAGE))  # WINDOWS/system32/config/SYSTEM: letter case differs
    assert source.timezone == "Europe/Berlin"
    assert source.describe()["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("dst_off", "Etc/GMT-1"),  # daylight saving off: standard time (UTC+1) all year
        ("unmapped", None),  # "Mars Standard Time" is in no mapping
        ("current_2", "Asia/Tokyo"),  # Select\Current = 2; a stale zone in ControlSet001
        ("no_select", "Asia/Calcutta"),  # no Select key: ControlSet001 (CLDR's name for Kolkata)
        ("half_hour_dst_off", None),  # UTC+5:30 fixed: no Etc zone for it
        ("no_tzi", None),  # no TimeZoneInformation key
        # Windows XP / Server 2003: no TimeZoneKeyName; the English StandardName is the key's
        ("xp_pacific", "America/Los_Angeles"),
        ("xp_dst_off", "Etc/GMT-1"),  # DisableAutoDaylightTimeSet: XP's "daylight saving off"
        ("xp_localized", None),  # "Pazifik Normalzeit" is no key name
        ("xp_wrong_bias", None),  # Tokyo's name with Los Angeles' bias: not trusted
        ("legacy_flag", "Europe/Berlin"),  # XP's flag means nothing from Vista on
    ],
)
def test_system_hive_variants(tmp_path: Path, variant: str, expected: str | None) -> None:
    hive = (VARIANTS / f"{variant}.hive").read_bytes()
    assert zone_of_system_hive(hive) == expected
    root = _windows_root(tmp_path, hive, where="windows/SYSTEM32/Config")
    os.rename(root / "windows/SYSTEM32/Config/SYSTEM", root / "windows/SYSTEM32/Config/system")
    assert ImageSource(str(root)).timezone == expected


def test_key_name_is_cut_at_the_first_nul_as_windows_pads_it() -> None:
    assert key_name("Tokyo Standard Time\x00ard Time") == "Tokyo Standard Time"
    assert key_name("W. Europe Standard Time\x00\x00\x00") == "W. Europe Standard Time"
    assert key_name("Tokyo Standard Time\x00x".encode("utf-16-le") + b"\x00") == (
        "Tokyo Standard Time"
    )
    assert key_name("\x00W. Europe Standard Time") is None
    assert key_name(None) is None
    assert key_name(7) is None
    assert key_name(["W. Europe Standard Time"]) is None


def test_windows_names_map_through_cldr_ignoring_case() -> None:
    assert iana_of_windows("W. Europe Standard Time") == "Europe/Berlin"
    assert iana_of_windows("w. europe standard time") == "Europe/Berlin"  # registry keys: no case
    assert iana_of_windows("Eastern Standard Time") == "America/New_York"
    assert iana_of_windows("UTC") == "Etc/UTC"
    assert iana_of_windows("W. Europe Standard Time ") is None
    assert iana_of_windows("") is None


def test_fixed_offset_zone_sign_and_range() -> None:
    assert fixed_offset_zone(-60) == "Etc/GMT-1"  # UTC = local - 60 min: UTC+01:00
    assert fixed_offset_zone(300) == "Etc/GMT+5"  # UTC-05:00
    assert fixed_offset_zone(0) == "Etc/GMT"
    assert fixed_offset_zone(-840) == "Etc/GMT-14"
    assert fixed_offset_zone(720) == "Etc/GMT+12"
    assert fixed_offset_zone(-330) is None
    assert fixed_offset_zone(-900) is None
    assert fixed_offset_zone(780) is None


# ---------------------------------------------------------------------------------------------
# Bad or missing evidence: None, never an exception


def test_corrupt_hives_give_none(tmp_path: Path) -> None:
    good = IMAGE_SYSTEM.read_bytes()
    for bad in (b"", b"regf" + b"\x00" * 100, good[:4096], good[:5000], b"\xff" * len(good)):
        assert zone_of_system_hive(bad) is None
    root = _windows_root(tmp_path, good[:4096] + b"hbin" + b"\xff" * 9000)
    assert ImageSource(str(root)).timezone is None


def test_scribbled_hives_never_raise() -> None:
    good = IMAGE_SYSTEM.read_bytes()
    for start in range(4096, len(good), 61):
        data = bytearray(good)
        data[start : start + 8] = b"\xff" * 8
        assert zone_of_system_hive(bytes(data)) in ("Europe/Berlin", None)
        assert zone_of_system_hive(good[:start]) in ("Europe/Berlin", None)


def test_no_system_hive_gives_none(tmp_path: Path) -> None:
    assert ImageSource(str(_windows_root(tmp_path, None))).timezone is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ImageSource(str(empty)).timezone is None


def test_unusable_system_hive_gives_none(tmp_path: Path) -> None:
    root = _windows_root(tmp_path, None)
    config = root / "Windows/System32/config"
    (config / "SYSTEM").mkdir()  # a folder
    assert ImageSource(str(root)).timezone is None
    (config / "SYSTEM").rmdir()
    os.mkfifo(config / "SYSTEM")  # never opened
    assert ImageSource(str(root)).timezone is None
    os.remove(config / "SYSTEM")
    outside = tmp_path / "outside.hive"
    shutil.copy(IMAGE_SYSTEM, outside)
    os.symlink(str(outside), config / "SYSTEM")  # an absolute link restarts at the image root
    assert ImageSource(str(root)).timezone is None
    os.remove(config / "SYSTEM")
    os.symlink("../../../../outside.hive", config / "SYSTEM")  # `..` never climbs above it
    assert ImageSource(str(root)).timezone is None


def test_oversized_system_hive_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _windows_root(tmp_path, IMAGE_SYSTEM.read_bytes())
    monkeypatch.setattr(time_zone, "SYSTEM_HIVE_READ_CAP", 8192)
    assert ImageSource(str(root)).timezone is None


# ---------------------------------------------------------------------------------------------
# Linux images, the live host, and reading once


def test_linux_zone_comes_first(make_root: MakeRoot) -> None:
    hive = IMAGE_SYSTEM.read_bytes()
    root = make_root({"Windows/System32/config/SYSTEM": hive, "etc/timezone": "Etc/UTC\n"})
    os.symlink("../usr/share/zoneinfo/America/New_York", root / "etc/localtime")
    assert ImageSource(str(root)).timezone == "America/New_York"
    os.remove(root / "etc/localtime")
    assert ImageSource(str(root)).timezone == "Etc/UTC"
    os.remove(root / "etc/timezone")
    assert ImageSource(str(root)).timezone == "Europe/Berlin"


def test_linux_image_without_a_zone_is_still_unknown(make_root: MakeRoot) -> None:
    assert ImageSource(str(make_root({"etc/crontab": ""}))).timezone is None


class CountingSource(ImageSource):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, path: str, cap: int | None = None) -> FileContent:
        self.reads.append(path)
        return super().read(path, cap)


def test_the_hive_is_read_once_per_source_and_the_linux_zone_each_time(
    make_root: MakeRoot,
) -> None:
    source = CountingSource(str(IMAGE))
    assert [source.timezone for _ in range(3)] == ["Europe/Berlin"] * 3
    assert source.reads.count("/WINDOWS/system32/config/SYSTEM") == 1
    root = make_root({"etc/timezone": "Europe/Paris\n"})
    linux = ImageSource(str(root))
    assert linux.timezone == "Europe/Paris"
    (root / "etc/timezone").write_text("Asia/Tokyo\n")
    assert linux.timezone == "Asia/Tokyo"  # as before: /etc is cheap and read every time


def test_the_live_host_never_reads_a_hive(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(source: object) -> str:
        raise AssertionError("the live host must not look for a SYSTEM hive")

    monkeypatch.setattr(time_zone, "windows_timezone", fail)
    monkeypatch.setattr(LiveSource, "_unix_timezone", lambda self: None)
    assert LiveSource().timezone is None


# ---------------------------------------------------------------------------------------------
# End to end


def test_audit_json_reports_the_image_zone() -> None:
    result = CliRunner().invoke(main, ["audit", str(IMAGE), "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["source"]["timezone"] == "Europe/Berlin"
    assert document["issues"] == []
