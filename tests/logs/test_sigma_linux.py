"""Sigma over Linux records: SigmaHQ's cron, auditd, process_creation and file_event rules on the
records the syslog, journal and auditd readers keep, with the field names those rules use."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from schedwarden import engine
from schedwarden.analyzers.log_sigma import load_log_rules
from schedwarden.analyzers.log_sigma_linux import decode, linux_rows
from schedwarden.cli.main import main
from schedwarden.logs.reader import read_logs
from tests.conftest import corpus_path

# a web shell (www-data, no login uid) installs a crontab from /tmp, a root shell appends to
# /etc/cron.d, alice lists her crontab and edits it, someone schedules `at` and a transient timer
AUDIT = (
    "type=SYSCALL msg=audit(1764000100.000:50): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=812 pid=4242 auid=4294967295 uid=33 gid=33 "
    'euid=33 tty=(none) ses=4294967295 comm="crontab" exe="/usr/bin/crontab" key="cron_exec"\n'
    'type=EXECVE msg=audit(1764000100.000:50): argc=2 a0="crontab" a1="/tmp/.c"\n'
    'type=CWD msg=audit(1764000100.000:50): cwd="/var/www/html"\n'
    'type=PATH msg=audit(1764000100.000:50): item=0 name="/usr/bin/crontab" nametype=NORMAL\n'
    "type=PROCTITLE msg=audit(1764000100.000:50): proctitle=63726F6E746162002F746D702F2E63\n"
    "type=SYSCALL msg=audit(1764000101.000:51): arch=c000003e syscall=257 success=yes exit=3 "
    'a0=ffffff9c a1=55e0 a2=441 a3=1b6 ppid=900 pid=901 auid=1000 uid=0 tty=pts0 ses=3 comm="bash" '
    'exe="/usr/bin/bash" key="cron"\n'
    'type=CWD msg=audit(1764000101.000:51): cwd="/root"\n'
    'type=PATH msg=audit(1764000101.000:51): item=0 name="/etc/cron.d/" nametype=PARENT\n'
    'type=PATH msg=audit(1764000101.000:51): item=1 name="/etc/cron.d/x" nametype=CREATE\n'
    "type=SYSCALL msg=audit(1764000102.000:52): arch=c000003e syscall=59 success=yes exit=0 "
    'ppid=700 pid=702 auid=1000 uid=1000 tty=pts1 ses=4 comm="crontab" exe="/usr/bin/crontab"\n'
    'type=EXECVE msg=audit(1764000102.000:52): argc=2 a0="crontab" a1="-l"\n'
    "type=SYSCALL msg=audit(1764000103.000:53): arch=c000003e syscall=59 success=yes exit=0 "
    'ppid=700 pid=703 auid=1000 uid=1000 tty=pts1 ses=4 comm="at" exe="/usr/bin/at"\n'
    'type=EXECVE msg=audit(1764000103.000:53): argc=4 a0="at" a1="now" a2="+" a3="1"\n'
    "type=SYSCALL msg=audit(1764000104.000:54): arch=c000003e syscall=59 success=yes exit=0 "
    'ppid=700 pid=704 auid=1000 uid=0 tty=pts1 ses=4 comm="systemd-run" exe="/usr/bin/systemd-run"\n'
    'type=EXECVE msg=audit(1764000104.000:54): argc=3 a0="systemd-run" '
    'a1="--on-calendar=*:0/5" a2=2F746D702F2E782F626561636F6E\n'
)
CRON_LOG = (
    "Nov 27 10:00:01 box crontab[3121]: (www-data) AUTH (crontab command not allowed)\n"
    "Nov 27 10:00:02 box crontab[3122]: (root) REPLACE (root)\n"
    "Nov 27 10:01:01 box CRON[3130]: (root) CMD (/tmp/.x/run;^M# nightly backup)\n"
    "Nov 27 10:02:01 box CRON[3131]: (root) CMD (/usr/local/bin/backup)\n"
)


def _logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "audit.log").write_text(AUDIT)
    (folder / "cron.log").write_text(CRON_LOG)
    return folder


def test_auditd_values_are_decoded_by_field() -> None:
    assert decode("EXECVE", "a2", "2F746D70") == "/tmp"
    assert decode("SYSCALL", "a2", "2F746D70") == "2F746D70"  # a syscall argument: a number
    assert decode("PROCTITLE", "proctitle", "63726F6E746162002D65") == "crontab -e"
    assert decode("SYSCALL", "exe", '"/usr/bin/crontab"') == "/usr/bin/crontab"
    assert decode("PATH", "name", "(null)") == "(null)"
    assert decode("PATH", "name", "2F6") == "2F6"  # odd length: kept raw


def test_rows_for_each_linux_log_source(tmp_path: Path) -> None:
    events, issues = read_logs([str(_logs(tmp_path))])
    assert not issues
    rows = list(linux_rows(events))
    scopes: dict[str, list[dict[str, object]]] = {}
    for names, _, row, _ in rows:
        for name in names:
            scopes.setdefault(name, []).append(row)
    process = scopes["linux/process_creation"]
    assert process[0] == {
        "Image": "/usr/bin/crontab",
        "CommandLine": "crontab /tmp/.c",
        "CurrentDirectory": "/var/www/html",
        "User": "33",
        "LogonId": "4294967295",
        "ProcessId": "4242",
        "ParentProcessId": "812",
        "TerminalSessionId": "4294967295",
    }
    assert [r["CommandLine"] for r in process][1:] == [
        "crontab -l",
        "at now + 1",
        "systemd-run --on-calendar=*:0/5 /tmp/.x/beacon",
    ]
    # the bash write; no file rows for the PATH records of an execve (the program run)
    assert [(r["TargetFilename"], r["Image"]) for r in scopes["linux/file_event"]] == [
        ("/etc/cron.d/x", "/usr/bin/bash")
    ]
    auditd = scopes["linux/auditd"]
    assert auditd[0]["type"] == "SYSCALL" and auditd[0]["exe"] == "/usr/bin/crontab"
    assert auditd[0]["key"] == "cron_exec" and auditd[0]["a0"] == "55d1"
    assert {"type": "EXECVE", "a0": "crontab", "a1": "/tmp/.c"}.items() <= auditd[1].items()
    cron = scopes["linux/cron"]
    assert cron[0]["Text"] == "(www-data) AUTH (crontab command not allowed)"  # no tag
    assert (cron[0]["program"], cron[0]["pid"], cron[0]["user"]) == ("crontab", "3121", "www-data")
    assert len(scopes["linux/syslog"]) == len(cron) == 4
    # the evidence of an auditd row is its own record's line
    assert [w.line for names, _, _, w in rows if "linux/auditd" in names][:5] == [1, 2, 3, 4, 5]


def test_sigmahq_linux_rules_on_the_records(tmp_path: Path) -> None:
    rules = load_log_rules([corpus_path("sigma", "rules")])
    linux = {r.title for r in rules.rules if r.scope.startswith("linux/")}
    assert {
        "Modifying Crontab",
        "Scheduled Task/Job At",
        "Crontab Enumeration",
        "New Cron File Created",
        "Scheduled Cron Task/Job - Linux",
        "Masquerading as Linux Crond Process",
    } <= linux
    # Linux rules about other things stay out (sshd, firewall, ...)
    assert all("ssh" not in title.lower() for title in linux)
    report = engine.hunt([str(_logs(tmp_path))], sigma=rules, builtin_rules=False)
    found = {(f.title, f.evidence.path.rsplit("/", 1)[-1], f.evidence.line) for f in report.findings
             if f.rule_id.startswith("SIGMA_")}  # fmt: skip
    assert found == {
        ("Modifying Crontab", "cron.log", 2),
        ("Scheduled Cron Task/Job - Linux", "audit.log", 1),  # crontab with a file in /tmp
        ("Crontab Enumeration", "audit.log", 10),
        ("Scheduled Task/Job At", "audit.log", 12),
        ("New Cron File Created", "audit.log", 9),  # the PATH record of the created file
    }


def test_linux_rules_find_nothing_in_benign_and_unrelated_logs() -> None:
    rules = load_log_rules([corpus_path("sigma", "rules")])
    report = engine.hunt(
        [str(corpus_path("linux", "syslog")), str(corpus_path("linux", "auditd"))],
        sigma=rules,
    )
    assert report.events and not report.findings


def test_hunt_cli_runs_linux_rules_of_a_folder(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "at.yml").write_text(
        "title: at run by a user\nid: 5a3c0d6e-1111-4222-8333-944455556666\nlevel: medium\n"
        "tags: [attack.persistence, attack.t1053.002]\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection: {selection: {type: EXECVE, a0: at}, condition: selection}\n"
    )
    result = CliRunner().invoke(
        main, ["hunt", str(_logs(tmp_path)), "--sigma", str(rules), "-f", "json"]
    )
    document = json.loads(result.stdout)
    mine = [f for f in document["findings"] if f["rule_id"].startswith("SIGMA_5a3c0d6e")]
    assert [(f["evidence"]["line"], f["techniques"]) for f in mine] == [(13, ["T1053.002"])]
    assert "auditd EXECVE record" in mine[0]["message"]
    assert document["summary"]["sigma_rules"] == 1
