#!/usr/bin/env python3
"""Benchmark `schedwarden hunt` (issue 7), side by side in one run.

(a) EVTX: the task and negative EVTX of ../shared/corpus replicated (file copies) to about
    --records records (or the folder --evtx-dir as it is); `schedwarden hunt DIR -f json -o
    /dev/null` (CLI: without --sigma; with the rules of the --sigma folder tagged with the
    --technique, T1053 by default, as the issue names them; with the whole --sigma folder; each
    with the rules converted before and converted in the run) versus the raw `evtx` parse of the
    same files (`PyEvtxParser(f).records_json()`, every record, in-process). Wall clock and CPU
    time (user + system, steadier than wall clock on a shared machine), each the best of
    --repeat, after one unmeasured run of each that also leaves the package's bytecode cached, as an installed
    package has it. With --zircolite ZIRCOLITE.PY (and --zircolite-python, the interpreter of its
    throwaway venv), Zircolite too, on the same folder with the same rules: the Windows rules the
    hunt takes from the whole --sigma folder plus our pack's, converted to a Zircolite ruleset by pySigma's SQLite
    backend (its "zircolite" format); run as `zircolite.py --evtx DIR --ruleset RULES.json
    --noexternal` (the `evtx` package, no evtx_dump binary; tested with Zircolite 2.30.1), best of
    --zircolite-repeat. Zircolite is not installable from the package index; bench/README.md
    says how the copy measured was made.
(b) syslog: a generated file of --syslog-mb megabytes per --cron-share (the share of lines that are
    cron CMD lines, the rest sshd/kernel/systemd; by default 0.25, the heavy mixture, and 0.01, a
    realistic one: loghub's Linux sample has 0.1% cron lines, its Thunderbird sample 3.2%);
    `schedwarden hunt FILE -f jsonl` versus `grep -c CRON FILE`.

Wall clock, best of --repeat.

    python bench/bench_hunt.py
    python bench/bench_hunt.py --records 150000 --syslog-mb 1024 --sigma ../shared/corpus/sigma/rules
    python bench/bench_hunt.py --syslog-only --syslog-mb 1024 --cron-share 0.25 --cron-share 0.01
    python bench/bench_hunt.py --evtx-only --evtx-dir /tmp/evtx-150k --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CRON_LINE = "Nov 27 10:{m:02d}:01 host1 CRON[{p}]: (root) CMD (run-parts /etc/cron.hourly)\n"
OTHER_LINES = (
    "Nov 27 10:{m:02d}:02 host1 sshd[{p}]: Accepted publickey for alice from 10.0.0.1 port 50000 ssh2\n",
    "Nov 27 10:{m:02d}:03 host1 kernel: [{p}.000] eth0: link up, 1000Mbps, full-duplex\n",
    "Nov 27 10:{m:02d}:04 host1 systemd[{p}]: Started Session 42 of user alice.\n",
)
CRON_SHARES = (0.25, 0.01)


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def replicate_evtx(target: Path, records: int) -> int:
    import evtx

    files = sorted((CORPUS / "windows" / "evtx").rglob("*.evtx"))
    counts = {f: sum(1 for _ in evtx.PyEvtxParser(str(f)).records()) for f in files}
    total = index = 0
    while total < records:
        for f in files:
            shutil.copyfile(f, target / f"{index:06d}.evtx")
            index += 1
            total += counts[f]
    return total


def raw_parse(folder: Path) -> int:
    import evtx

    return sum(
        1 for f in sorted(folder.glob("*.evtx")) for _ in evtx.PyEvtxParser(str(f)).records_json()
    )


def best_wall_cpu(repeat: int, run: Callable[[], object], *, children: bool) -> tuple[float, float]:
    """Best wall clock and best CPU time (user + system, of this process or of its children)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(who)
        started = time.perf_counter()
        run()
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(who)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def hunt_evtx(folder: Path, *extra: str) -> None:
    """`schedwarden hunt FOLDER -f json -o /dev/null`, writing bytecode (this machine may set
    PYTHONDONTWRITEBYTECODE, which would make every run compile the package again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "schedwarden", "hunt", str(folder), *extra]
    done = subprocess.run(
        [*command, "-f", "json", "-o", os.devnull, "-q"], check=False, capture_output=True, env=env
    )
    if done.returncode not in (0, 1, 3):  # 1: findings, 3: some evidence unreadable
        raise SystemExit(f"hunt failed ({done.returncode}): {done.stderr.decode(errors='replace')}")


def bench_evtx(options: argparse.Namespace, work: Path) -> None:
    print(f"(a) EVTX, load average at start {os.getloadavg()[0]:.2f} (2 cores are shared)")
    folder = options.evtx_dir or work / "evtx"
    if options.evtx_dir is None:
        folder.mkdir()
        replicate_evtx(folder, options.records)
    total = raw_parse(folder)
    raw, raw_cpu = best_wall_cpu(options.repeat, lambda: raw_parse(folder), children=False)
    print(f"    {total} records in {len(list(folder.glob('*.evtx')))} files")
    print(f"    raw evtx records_json():                  {raw:7.2f} s  (CPU {raw_cpu:.2f} s)")
    # converted rules are remembered here (not in the user's cache): the first, unmeasured run
    # of `--sigma` fills it; `--no-cache` converts on every run, as a first run does
    os.environ["SCHEDWARDEN_CACHE_DIR"] = str(work / "rule-cache")
    runs: list[tuple[str, tuple[str, ...]]] = [("schedwarden hunt (CLI):", ())]
    if options.sigma.exists():
        tagged = work / f"sigma-{options.technique}"
        count = technique_rules(options.sigma, options.technique, tagged)
        print(f"    --sigma {options.technique.upper()}: the {count} files of {options.sigma} tagged "
              f"attack.{options.technique}[.*]; --sigma all: the whole folder")  # fmt: skip
        for name, rules in ((options.technique.upper(), tagged), ("all", options.sigma)):
            sigma = ("--sigma", str(rules))
            runs.append((f"hunt --sigma {name}, converted before:", sigma))
            runs.append((f"hunt --sigma {name} --no-cache:", (*sigma, "--no-cache")))
    measured: dict[str, float] = {}
    for label, extra in runs:
        hunt_evtx(folder, *extra)  # unmeasured: bytecode, file cache
        hunt, cpu = best_wall_cpu(options.repeat, partial(hunt_evtx, folder, *extra), children=True)
        measured[label] = hunt
        print(
            f"    {label:42s}{hunt:7.2f} s  ({hunt / raw:.1f}x raw; CPU {cpu:.2f} s, "
            f"{cpu / raw_cpu:.1f}x raw CPU)"
        )
    if options.zircolite is not None and options.sigma.exists():
        bench_zircolite(options, folder, work, measured)


def technique_rules(sigma: Path, technique: str, target: Path) -> int:
    """Copies the rule files under `sigma` tagged with the ATT&CK `technique` (`t1053`) or one of
    its sub-techniques into `target`, keeping their relative paths: how many."""
    import yaml

    wanted = f"attack.{technique.lower()}"
    count = 0
    for path in sorted(sigma.rglob("*.yml")):
        data = path.read_bytes()
        if wanted.encode() not in data.lower():
            continue  # most files: no YAML parse
        try:
            documents = list(yaml.safe_load_all(data))
        except yaml.YAMLError:
            continue
        tags = [
            str(t).lower() for d in documents if isinstance(d, dict) for t in d.get("tags") or ()
        ]
        if any(tag == wanted or tag.startswith(wanted + ".") for tag in tags):
            copy = target / path.relative_to(sigma)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            count += 1
    return count


def zircolite_ruleset(sigma: Path, target: Path) -> int:
    """The rules a `hunt --sigma` runs on EVTX (the Windows ones it keeps from `sigma`, and our
    pack's Windows rules) as a Zircolite ruleset: how many rules it holds."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    from schedwarden.analyzers.log_sigma import load_log_rules
    from schedwarden.analyzers.log_sigma_pack import FOLDER

    kept = {rule.path for rule in load_log_rules([sigma]).rules if "/" not in rule.scope}
    pack = Path(__file__).resolve().parents[1] / "src" / "schedwarden" / Path(*FOLDER)
    kept |= {str(path) for path in pack.glob("win_*.yml")}
    backend, ruleset = sqliteBackend(), []
    for path in sorted(kept):
        for rule in SigmaCollection.from_yaml(Path(path).read_text(encoding="utf-8")).rules:
            for query in backend.convert_rule(rule, "zircolite"):
                ruleset.append(json.loads(query) if isinstance(query, str) else query)
    target.write_text(json.dumps(ruleset), encoding="utf-8")
    return len(ruleset)


def bench_zircolite(
    options: argparse.Namespace, folder: Path, work: Path, measured: dict[str, float]
) -> None:
    script = options.zircolite.resolve()
    rules = work / "zircolite-rules.json"
    count = zircolite_ruleset(options.sigma, rules)
    out = work / "zircolite-out.json"

    def run() -> None:
        done = subprocess.run(
            [options.zircolite_python, script.name, "--evtx", str(folder), "--ruleset",
             str(rules), "--noexternal", "--outfile", str(out), "--logfile", str(work / "z.log")],
            cwd=script.parent, check=False, capture_output=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"zircolite failed: {done.stderr.decode(errors='replace')[-2000:]}")

    took = best(options.zircolite_repeat, run)
    detected = json.loads(out.read_text(encoding="utf-8"))
    matches = sum(int(item.get("count") or len(item.get("matches", ()))) for item in detected)
    print(f"    Zircolite ({count} rules):      {took:7.2f} s  ({matches} matches of "
          f"{len(detected)} rules)")  # fmt: skip
    for label, hunt in measured.items():
        if "--sigma all" in label:  # the same rules
            print(f"      {label:40s}{took / hunt:5.1f}x faster than Zircolite")


def generate_syslog(path: Path, megabytes: int, cron_share: float = 0.25) -> None:
    """`megabytes` MiB of syslog lines, `cron_share` of them cron CMD lines (at random places)."""
    rng = random.Random(7)
    target = megabytes * 1024 * 1024
    with open(path, "w", encoding="ascii") as out:
        size = 0
        while size < target:
            block = "".join(
                (CRON_LINE if rng.random() < cron_share else rng.choice(OTHER_LINES)).format(
                    m=rng.randrange(60), p=rng.randrange(99999)
                )
                for _ in range(50_000)
            )
            out.write(block)
            size += len(block)


def cpu_of_children(run: Callable[[], object]) -> float:
    """User + system CPU seconds of the child processes `run` waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_syslog(options: argparse.Namespace, work: Path) -> None:
    print(f"(b) syslog, load average at start {os.getloadavg()[0]:.2f} (2 cores are shared)")
    for share in options.cron_share or CRON_SHARES:
        bench_syslog_mixture(options, work, share)


def bench_syslog_mixture(options: argparse.Namespace, work: Path, share: float) -> None:
    log = work / "syslog"
    generate_syslog(log, options.syslog_mb, share)
    size = log.stat().st_size / 1e6

    def grep_run() -> None:
        subprocess.run(["grep", "-c", "CRON", str(log)], check=False, capture_output=True)

    def hunt_run() -> None:
        cli("hunt", str(log), "-f", "jsonl", "-o", str(work / "h.jsonl"), "-q")

    grep, hunt = best(options.repeat, grep_run), best(options.repeat, hunt_run)
    grep_cpu, hunt_cpu = cpu_of_children(grep_run), cpu_of_children(hunt_run)
    with open(work / "h.jsonl", "rb") as output:
        output.seek(max(0, output.seek(0, os.SEEK_END) - 4096))
        summary = json.loads(output.read().splitlines()[-1])
    log.unlink()
    print(f"    {size:.0f} MB, {share * 100:g}% cron lines, {summary['events']} events")
    print(f"    grep -c CRON:                 {grep:7.2f} s  ({size / grep:.0f} MB/s)")
    print(
        f"    schedwarden hunt (CLI):       {hunt:7.2f} s  ({size / hunt:.0f} MB/s, "
        f"{hunt / grep:.1f}x grep)"
    )
    print(f"    CPU s (user+sys), one run:    grep {grep_cpu:.2f}, hunt {hunt_cpu:.2f}")


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "schedwarden", *args], check=False, capture_output=True)


def interpreter_speed() -> float:
    """Seconds for ten million steps of a Python loop: about 0.45 s on this machine when it has
    its cores to itself. The host of this virtual machine is shared too; when the figure is two
    or three times that, Python code runs that much slower while `grep` and the Rust `evtx`
    parser hardly slow down, so every ratio in the run is worse than on a quiet host."""
    started = time.perf_counter()
    total = 0
    for step in range(10_000_000):
        total += step
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=150_000)
    parser.add_argument("--evtx-dir", type=Path, help="(a) on this folder of EVTX files as it is")
    parser.add_argument("--evtx-only", action="store_true", help="run (a) only")
    parser.add_argument("--syslog-mb", type=int, default=256)
    parser.add_argument(
        "--cron-share",
        type=float,
        action="append",
        help="share of cron lines in the generated syslog (repeatable; default: 0.25 and 0.01)",
    )
    parser.add_argument("--syslog-only", action="store_true", help="run (b) only")
    parser.add_argument("--sigma", type=Path, default=CORPUS / "sigma" / "rules")
    parser.add_argument(
        "--technique", default="t1053", help="(a) also with the --sigma rules of this technique"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zircolite", type=Path, help="zircolite.py of a Zircolite copy, for (a)")
    parser.add_argument("--zircolite-python", default=sys.executable, help="its venv's python")
    parser.add_argument("--zircolite-repeat", type=int, default=1)
    options = parser.parse_args()
    print(f"interpreter speed: 10M loop steps in {interpreter_speed():.2f} s (0.45 s when quiet)")
    if options.syslog_only:
        with tempfile.TemporaryDirectory(prefix="sw-bench-") as temp:
            bench_syslog(options, Path(temp))
        return
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as temp:
        work = Path(temp)
        bench_evtx(options, work)
        if not options.evtx_only:
            bench_syslog(options, work)


if __name__ == "__main__":
    main()
