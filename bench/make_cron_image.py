#!/usr/bin/env python3
"""Write a large, deterministic Debian-like image root full of crontabs, for benchmarks.

The image has /etc/os-release (Debian 12), /etc/debian_version, /etc/hostname, /etc/passwd and
/etc/group with every user it needs, the stock Debian /etc/crontab, many tables in /etc/cron.d
(names in run-parts' [A-Za-z0-9_-]) and one user table per user in /var/spool/cron/crontabs
(mode 0600, owned by the user when this runs as root).

By default: 10,000 crontab files holding 50,000 job entries, plus environment lines (SHELL=,
PATH=, MAILTO=, quoted values, a few with blanks around `=`), comments, commented-out jobs, blank
lines, `@` macros, ranges, steps, lists, month and weekday names, `%` stdin, escaped `\\%` and
long-ish commands. Every job line is valid for Debian cron, so every tool should find all of them.

The same `--seed` and counts give byte-identical files (mtimes are pinned too).

    python bench/make_cron_image.py --out /tmp/cron-image
    python bench/make_cron_image.py --out /tmp/small --files 100 --entries 500 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_FILES = 10_000
DEFAULT_ENTRIES = 50_000
DEFAULT_SEED = 20240601
DEFAULT_SPOOL_SHARE = 0.3
DEFAULT_RANDOM_SCHEDULES = 0.3  # share of entries with a freshly composed (mostly unique) schedule
MACRO_SHARE = 0.10
FIXED_MTIME = 1_717_243_200  # 2024-06-01T12:00:00Z: pinned so two runs give identical images
CRONTAB_GID = 107  # Debian's `crontab` group
FIRST_UID = 10_000

# The stock Debian 12 /etc/crontab (4 entries).
SYSTEM_CRONTAB = """\
# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
# You can also override PATH, but by default, newer versions inherit it from the environment
#PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
#
"""
SYSTEM_CRONTAB_ENTRIES = 4

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

# (name, uid, gid, home, shell) of the accounts a Debian server ships with.
SYSTEM_USERS: tuple[tuple[str, int, int, str, str], ...] = (
    ("root", 0, 0, "/root", "/bin/bash"),
    ("daemon", 1, 1, "/usr/sbin", "/usr/sbin/nologin"),
    ("bin", 2, 2, "/bin", "/usr/sbin/nologin"),
    ("sys", 3, 3, "/dev", "/usr/sbin/nologin"),
    ("sync", 4, 65534, "/bin", "/bin/sync"),
    ("man", 6, 12, "/var/cache/man", "/usr/sbin/nologin"),
    ("mail", 8, 8, "/var/mail", "/usr/sbin/nologin"),
    ("www-data", 33, 33, "/var/www", "/usr/sbin/nologin"),
    ("backup", 34, 34, "/var/backups", "/usr/sbin/nologin"),
    ("nobody", 65534, 65534, "/nonexistent", "/usr/sbin/nologin"),
    ("systemd-network", 998, 998, "/", "/usr/sbin/nologin"),
    ("messagebus", 100, 107, "/nonexistent", "/usr/sbin/nologin"),
    ("sshd", 101, 65534, "/run/sshd", "/usr/sbin/nologin"),
    ("postgres", 102, 110, "/var/lib/postgresql", "/bin/bash"),
    ("redis", 103, 111, "/var/lib/redis", "/usr/sbin/nologin"),
    ("prometheus", 104, 112, "/var/lib/prometheus", "/usr/sbin/nologin"),
)
SYSTEM_GROUPS: tuple[tuple[str, int], ...] = (
    ("root", 0),
    ("daemon", 1),
    ("bin", 2),
    ("sys", 3),
    ("adm", 4),
    ("man", 12),
    ("mail", 8),
    ("www-data", 33),
    ("backup", 34),
    ("systemd-network", 998),
    ("crontab", CRONTAB_GID),
    ("postgres", 110),
    ("redis", 111),
    ("prometheus", 112),
    ("users", 100),
    ("nogroup", 65534),
)
SYSTEM_TABLE_USERS = ("root", "www-data", "postgres", "backup", "redis", "prometheus", "nobody")
SYSTEM_TABLE_USER_WEIGHTS = (60, 12, 6, 6, 3, 3, 2)

FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe",
)  # fmt: skip
APPS = (
    "billing", "search", "mailer", "reports", "crm", "wiki", "metrics", "ledger", "gitlab",
    "nextcloud", "shop", "intranet", "api", "ingest", "media", "tickets", "auth", "cache",
)  # fmt: skip
TASKS = (
    "cleanup", "rotate", "backup", "sync", "reindex", "digest", "purge", "vacuum", "export",
    "import", "healthcheck", "report", "compact", "refresh", "expire", "notify", "archive",
)  # fmt: skip
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# Schedules real hosts repeat over and over; most entries use one of these.
COMMON_SCHEDULES: tuple[str, ...] = (
    "*/5 * * * *", "*/10 * * * *", "*/15 * * * *", "*/2 * * * *", "* * * * *", "0 * * * *",
    "17 * * * *", "30 * * * *", "0 0 * * *", "30 2 * * *", "0 3 * * *", "15 4 * * *",
    "0 4 * * 0", "0 5 * * 1", "0 */6 * * *", "0 */2 * * *", "0 9-17 * * mon-fri",
    "30 8 * * 1-5", "0 12 * * sat,sun", "0 0 1 jan *", "15,45 * * * *", "0 22 * * 1-5",
    "5 0 * * *", "0 1 1 * *", "*/30 9-18 * * MON-FRI", "10 3 * jan,apr,jul,oct 1",
    "0 2 1-7 * sun", "0 6,18 * * *", "45 23 * * *", "0 0 1,15 * *", "20 1 * * 6",
    "0 8-20/4 * * *", "*/20 * * * 1-5", "0 7 * jun-aug *", "59 23 28-31 * *",
)  # fmt: skip
MACROS = (
    "@reboot",
    "@daily",
    "@hourly",
    "@weekly",
    "@monthly",
    "@midnight",
    "@yearly",
    "@annually",
)
MACRO_WEIGHTS = (30, 30, 20, 8, 6, 2, 2, 2)
STEPS = (2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


@dataclass(slots=True)
class ImageStats:
    """What was written; `entries` counts job lines (not env lines, comments or blank lines)."""

    root: str
    seed: int
    files: int = 0
    system_crontab_files: int = 0
    cron_d_files: int = 0
    spool_files: int = 0
    entries: int = 0
    macro_entries: int = 0
    stdin_entries: int = 0
    env_lines: int = 0
    comment_lines: int = 0
    commented_out_jobs: int = 0
    blank_lines: int = 0
    bytes: int = 0
    passwd_users: int = 0
    distinct_schedules: int = 0
    schedules: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        del data["schedules"]
        return data


class Generator:
    """All randomness flows through one seeded `random.Random`, in a fixed order."""

    def __init__(self, rng: random.Random, stats: ImageStats, random_schedules: float) -> None:
        self.rng = rng
        self.stats = stats
        self.common_below = 1.0 - random_schedules

    # -- schedules ------------------------------------------------------------------------

    def schedule(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < MACRO_SHARE:
            return rng.choices(MACROS, MACRO_WEIGHTS)[0]
        if roll < self.common_below:
            return rng.choice(COMMON_SCHEDULES)
        return " ".join(
            (self._minute(), self._hour(), self._day_of_month(), self._month(), self._weekday())
        )

    def _range(self, low: int, high: int) -> tuple[int, int]:
        a, b = sorted(self.rng.sample(range(low, high + 1), 2))
        return a, b

    def _minute(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.45:
            return str(rng.randrange(60))
        if kind < 0.65:
            return f"*/{rng.choice(STEPS)}"
        if kind < 0.80:
            return ",".join(str(m) for m in sorted(rng.sample(range(60), rng.randint(2, 4))))
        if kind < 0.90:
            a, b = self._range(0, 59)
            return f"{a}-{b}"
        a, b = self._range(0, 30)
        return f"{a}-{b + 29}/{rng.choice((5, 10, 15))}"

    def _hour(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.30:
            return "*"
        if kind < 0.65:
            return str(rng.randrange(24))
        if kind < 0.78:
            a, b = self._range(0, 23)
            return f"{a}-{b}"
        if kind < 0.88:
            return ",".join(str(h) for h in sorted(rng.sample(range(24), rng.randint(2, 3))))
        if kind < 0.95:
            return f"*/{rng.choice((2, 3, 4, 6, 8, 12))}"
        a, b = self._range(0, 11)
        return f"{a}-{b + 12}/{rng.choice((2, 3))}"

    def _day_of_month(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.75:
            return "*"
        if kind < 0.87:
            return str(rng.randint(1, 28))
        if kind < 0.94:
            start = rng.choice((1, 8, 15, 22))
            return f"{start}-{start + 6}"
        return ",".join(str(d) for d in sorted(rng.sample(range(1, 29), 2)))

    def _month(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.85:
            return "*"
        if kind < 0.90:
            return rng.choice(MONTHS)
        if kind < 0.94:
            a, b = self._range(1, 12)
            return f"{MONTHS[a - 1]}-{MONTHS[b - 1]}"
        if kind < 0.97:
            return ",".join(MONTHS[m] for m in sorted(rng.sample(range(12), 3)))
        return f"*/{rng.choice((2, 3, 4, 6))}"

    def _weekday(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.70:
            return "*"
        if kind < 0.78:
            return rng.choice(("mon-fri", "MON-FRI", "Mon-Fri"))
        if kind < 0.85:
            return "1-5"
        if kind < 0.91:
            return rng.choice((*DAYS, "0", "7"))
        if kind < 0.96:
            return ",".join(DAYS[d] for d in sorted(rng.sample(range(7), 2)))
        return str(rng.randint(0, 6))

    # -- commands -------------------------------------------------------------------------

    def command(self, owner: str) -> str:
        rng = self.rng
        app, task = rng.choice(APPS), rng.choice(TASKS)
        n = rng.randrange(1000)
        if rng.random() < 0.02:
            return rng.choice(
                (
                    f'/usr/bin/mail -s "{app} {task} report" ops@example.com%'
                    f"Daily {task} report for {app}%Generated by cron on host%",
                    f"/usr/bin/wall%Maintenance of {app} starts in 10 minutes%-- ops",
                    f"cat >> /var/log/{app}/heartbeat.log%tick {n}",
                    f'/usr/local/bin/{app}-ctl --stdin {task}%{{"task": "{task}", "n": {n}}}',
                )
            )
        templates = (
            f"/usr/local/bin/{app}-{task}.sh",
            f"/usr/local/bin/{app}-{task}.sh >/dev/null 2>&1",
            f"cd /srv/{app} && /usr/bin/php artisan schedule:run >> /dev/null 2>&1",
            f"/usr/bin/flock -n /run/lock/{app}-{task}.lock /opt/{app}/bin/{task} --config "
            f"/etc/{app}/{task}.yaml --log-level info >> /var/log/{app}/{task}.log 2>&1",
            f"test -x /usr/sbin/{app}ctl && /usr/sbin/{app}ctl {task} --quiet",
            "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
            "/usr/lib/php/sessionclean; fi",
            f"/usr/bin/curl -fsS -m 30 --retry 3 https://hc.example.com/ping/{app}-{task}-{n:03d}"
            " > /dev/null",
            f"find /var/tmp/{app} -type f -mtime +{rng.randint(1, 30)} -delete",
            f"/usr/bin/pg_dump -Fc {app} > /var/backups/{app}-$(date +\\%Y\\%m\\%d).dump",
            f"/usr/bin/python3 /opt/{app}/manage.py {task} --settings={app}.settings.production",
            f"/usr/sbin/logrotate -s /var/lib/logrotate/{app}.status /etc/logrotate.d/{app}",
            f"run-parts --report /etc/{app}/cron.d",
            f"/usr/bin/rsync -aH --delete --exclude '*.tmp' /srv/{app}/ "
            f"backup@backup01.example.net:/srv/backup/{owner}/{app}/",
            f"sleep $((RANDOM \\% 300)); /usr/local/bin/{app}-{task}.sh",
            f'/usr/bin/nice -n 19 /usr/bin/ionice -c3 tar czf "/var/backups/{app}-{task}.tgz" '
            f"/srv/{app}/data 2>>/var/log/{app}/tar.err",
            f"/usr/bin/docker exec {app}-worker-{n % 8} /app/bin/{task} --batch-size {n + 100}",
            f"/usr/bin/env LANG=C.UTF-8 /opt/{app}/venv/bin/python -m {app}.jobs.{task}",
            f"/bin/systemctl --quiet is-active {app}.service || /bin/systemctl restart {app}",
        )
        return rng.choice(templates)

    # -- files ----------------------------------------------------------------------------

    def env_block(self, owner: str) -> list[str]:
        rng = self.rng
        lines: list[str] = []
        if rng.random() < 0.5:
            lines.append(rng.choice(("SHELL=/bin/bash", "SHELL=/bin/sh", "SHELL = /bin/bash")))
        if rng.random() < 0.45:
            lines.append(
                rng.choice(
                    (
                        "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin",
                        "PATH=/usr/local/bin:/usr/bin:/bin",
                        'PATH="/opt/app/bin:/usr/local/bin:/usr/bin:/bin"',
                    )
                )
            )
        if rng.random() < 0.55:
            lines.append(
                rng.choice(
                    (
                        'MAILTO=""',
                        "MAILTO=ops@example.com",
                        f'MAILTO="{owner}@example.com"',
                        "MAILTO='root'",
                        "MAILTO=ops@example.com,oncall@example.com",
                    )
                )
            )
        if rng.random() < 0.10:
            lines.append(rng.choice(("HOME=/srv/app", "LANG='C.UTF-8'", 'LC_ALL="C"')))
        return lines

    def table(self, entries: int, *, owner: str, system_users: bool) -> str:
        """One crontab with exactly `entries` job lines; `system_users` adds the user field."""
        rng = self.rng
        stats = self.stats
        lines: list[str] = []
        if rng.random() < 0.6:
            lines.append(
                rng.choice(
                    (
                        "# Managed by Puppet -- do not edit by hand",
                        f"# {owner}: scheduled jobs",
                        "# DO NOT EDIT THIS FILE - edit the master and reinstall.",
                        "# m h  dom mon dow   command",
                    )
                )
            )
            stats.comment_lines += 1
        env = self.env_block(owner)
        lines.extend(env)
        stats.env_lines += len(env)
        if env or lines:
            lines.append("")
            stats.blank_lines += 1
        for index in range(entries):
            roll = rng.random()
            if roll < 0.08:
                lines.append(f"# {rng.choice(TASKS)} for {rng.choice(APPS)}")
                stats.comment_lines += 1
            elif roll < 0.11:
                lines.append(f"#{self._job_line(owner, system_users, count=False)}")
                stats.commented_out_jobs += 1
            elif roll < 0.14:
                lines.append("")
                stats.blank_lines += 1
            elif roll < 0.16 and index:
                lines.append(rng.choice(("MAILTO=root", 'SHELL="/bin/bash"', "MAILTO = ''")))
                stats.env_lines += 1
            lines.append(self._job_line(owner, system_users, count=True))
        if rng.random() < 0.2:
            lines.append("# end")
            stats.comment_lines += 1
        return "\n".join(lines) + "\n"

    def _job_line(self, owner: str, system_users: bool, *, count: bool) -> str:
        rng = self.rng
        stats = self.stats
        schedule = self.schedule()
        if system_users:
            user = rng.choices(SYSTEM_TABLE_USERS, SYSTEM_TABLE_USER_WEIGHTS)[0]
            command = self.command(user)
            sep = "\t" if rng.random() < 0.3 else " "
            line = f"{schedule}{sep}{user}{sep}{command}"
        else:
            command = self.command(owner)
            line = f"{schedule} {command}"
        if count:  # a commented-out job is not an entry
            stats.entries += 1
            stats.schedules[schedule] += 1
            stats.macro_entries += schedule.startswith("@")
            stats.stdin_entries += "%" in command.replace("\\%", "")
        return line


def _user_names(rng: random.Random, count: int) -> list[str]:
    names = []
    for i in range(count):
        if rng.random() < 0.7:
            names.append(f"{rng.choice(FIRST_NAMES)}{i:05d}")
        else:
            names.append(f"svc-{rng.choice(APPS)}{i:05d}")
    return names


def _allocate(rng: random.Random, files: int, entries: int) -> list[int]:
    """Entries per file: at least one each, the rest skewed (a few tables are big)."""
    counts = [1] * files
    weights = [min(rng.paretovariate(1.3), 400.0) for _ in range(files)]
    for index in rng.choices(range(files), weights, k=entries - files):
        counts[index] += 1
    return counts


def _write(path: Path, text: str, mode: int, owner: tuple[int, int]) -> int:
    """Write a new file with exactly `mode` (and `owner` when root); return its size."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)  # not subject to the umask
        if os.geteuid() == 0:
            os.fchown(fd, *owner)
    finally:
        os.close(fd)
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return len(data)


def build_image(
    out: Path,
    *,
    files: int = DEFAULT_FILES,
    entries: int = DEFAULT_ENTRIES,
    seed: int = DEFAULT_SEED,
    spool_share: float = DEFAULT_SPOOL_SHARE,
    random_schedules: float = DEFAULT_RANDOM_SCHEDULES,
) -> ImageStats:
    """Write the image under `out` (which must be missing or empty) and say what it holds."""
    if files < 2:
        raise ValueError("need at least 2 files (/etc/crontab and one more)")
    if entries < files - 1 + SYSTEM_CRONTAB_ENTRIES:
        raise ValueError(f"need at least {files - 1 + SYSTEM_CRONTAB_ENTRIES} entries")
    if not 0.0 <= spool_share <= 1.0:
        raise ValueError("--spool-share must be between 0 and 1")
    if not 0.0 <= random_schedules <= 1.0 - MACRO_SHARE:
        raise ValueError(f"--random-schedules must be between 0 and {1.0 - MACRO_SHARE}")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    rng = random.Random(seed)
    stats = ImageStats(root=str(out.resolve()), seed=seed)
    gen = Generator(rng, stats, random_schedules)

    others = files - 1
    spool_count = round(others * spool_share)
    cron_d_count = others - spool_count
    users = _user_names(rng, max(spool_count - 1, 0))  # root's table is one of the spools
    spool_users = (["root"] if spool_count else []) + users
    uid_of = {name: (uid, gid) for name, uid, gid, _, _ in SYSTEM_USERS}
    for i, name in enumerate(users):
        uid_of[name] = (FIRST_UID + i, FIRST_UID + i)

    etc = out / "etc"
    cron_d = etc / "cron.d"
    spool = out / "var" / "spool" / "cron" / "crontabs"
    for directory in (cron_d, spool):
        directory.mkdir(parents=True, exist_ok=True)
    os.chmod(spool, 0o1730)
    if os.geteuid() == 0:
        os.chown(spool, 0, CRONTAB_GID)

    root_owner = (0, 0)
    passwd = [
        f"{name}:x:{uid}:{gid}:{name}:{home}:{shell}"
        for name, uid, gid, home, shell in SYSTEM_USERS
    ]
    passwd += [
        f"{name}:x:{uid_of[name][0]}:{uid_of[name][1]}:{name}:/home/{name}:/bin/bash"
        for name in users
    ]
    groups = [f"{name}:x:{gid}:" for name, gid in SYSTEM_GROUPS]
    groups += [f"{name}:x:{uid_of[name][1]}:" for name in users]
    stats.passwd_users = len(passwd)
    for name, text, mode in (
        ("os-release", OS_RELEASE, 0o644),
        ("debian_version", "12.7\n", 0o644),
        ("hostname", "cronhost01\n", 0o644),
        ("passwd", "\n".join(passwd) + "\n", 0o644),
        ("group", "\n".join(groups) + "\n", 0o644),
    ):
        _write(etc / name, text, mode, root_owner)

    stats.bytes += _write(etc / "crontab", SYSTEM_CRONTAB, 0o644, root_owner)
    stats.files += 1
    stats.system_crontab_files = 1
    stats.entries += SYSTEM_CRONTAB_ENTRIES
    for schedule in ("17 * * * *", "25 6 * * *", "47 6 * * 7", "52 6 1 * *"):
        stats.schedules[schedule] += 1

    counts = _allocate(rng, others, entries - SYSTEM_CRONTAB_ENTRIES)
    used_names: set[str] = set()
    for index in range(cron_d_count):
        while True:
            name = f"{rng.choice(APPS)}{rng.choice(('-', '_', ''))}{rng.choice(TASKS)}-{index:05d}"
            if name not in used_names:
                used_names.add(name)
                break
        text = gen.table(counts[index], owner="root", system_users=True)
        stats.bytes += _write(cron_d / name, text, 0o644, root_owner)
        stats.files += 1
        stats.cron_d_files += 1
    for offset, user in enumerate(spool_users):
        text = gen.table(counts[cron_d_count + offset], owner=user, system_users=False)
        stats.bytes += _write(spool / user, text, 0o600, (uid_of[user][0], CRONTAB_GID))
        stats.files += 1
        stats.spool_files += 1

    for directory in (cron_d, spool, spool.parent, etc):
        os.utime(directory, (FIXED_MTIME, FIXED_MTIME))
    stats.distinct_schedules = len(stats.schedules)
    assert stats.files == files, (stats.files, files)
    assert stats.entries == entries, (stats.entries, entries)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="image root (missing or empty)")
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="crontab files in all")
    parser.add_argument("--entries", type=int, default=DEFAULT_ENTRIES, help="job lines in all")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--spool-share",
        type=float,
        default=DEFAULT_SPOOL_SHARE,
        help="share of the files (besides /etc/crontab) that are user spools, one user each",
    )
    parser.add_argument(
        "--random-schedules",
        type=float,
        default=DEFAULT_RANDOM_SCHEDULES,
        help="share of entries with a freshly composed schedule (the rest: 10%% macros, and "
        "schedules real hosts repeat)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        stats = build_image(
            args.out,
            files=args.files,
            entries=args.entries,
            seed=args.seed,
            spool_share=args.spool_share,
            random_schedules=args.random_schedules,
        )
    except ValueError as exc:
        parser.error(str(exc))
    summary = stats.summary()
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        for key, value in summary.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
