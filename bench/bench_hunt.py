#!/usr/bin/env python3
"""Benchmark `schedwarden hunt` (issue 7), side by side in one run.

(a) EVTX: the task and negative EVTX of ../shared/corpus replicated (file copies) to about
    --records records; `schedwarden hunt DIR -f json` (CLI, with and without --sigma) versus the raw
    `evtx` parse of the same files (`PyEvtxParser(f).records_json()`, every record, in-process).
(b) syslog: a generated file of --syslog-mb megabytes (a quarter of the lines are cron CMD lines,
    the rest sshd/kernel/systemd); `schedwarden hunt FILE -f jsonl` versus `grep -c CRON FILE`.

Wall clock, best of --repeat. Zircolite is not run here (it needs its own venv; see the note).

    python bench/bench_hunt.py
    python bench/bench_hunt.py --records 150000 --syslog-mb 1024 --sigma ../shared/corpus/sigma/rules
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
LINES = (
    "Nov 27 10:{m:02d}:01 host1 CRON[{p}]: (root) CMD (run-parts /etc/cron.hourly)\n",
    "Nov 27 10:{m:02d}:02 host1 sshd[{p}]: Accepted publickey for alice from 10.0.0.1 port 50000 ssh2\n",
    "Nov 27 10:{m:02d}:03 host1 kernel: [{p}.000] eth0: link up, 1000Mbps, full-duplex\n",
    "Nov 27 10:{m:02d}:04 host1 systemd[{p}]: Started Session 42 of user alice.\n",
)


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


def generate_syslog(path: Path, megabytes: int) -> None:
    rng = random.Random(7)
    target = megabytes * 1024 * 1024
    with open(path, "w", encoding="ascii") as out:
        size = 0
        while size < target:
            block = "".join(
                rng.choice(LINES).format(m=rng.randrange(60), p=rng.randrange(99999))
                for _ in range(50_000)
            )
            out.write(block)
            size += len(block)


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "schedwarden", *args], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=150_000)
    parser.add_argument("--syslog-mb", type=int, default=256)
    parser.add_argument("--sigma", type=Path, default=CORPUS / "sigma" / "rules")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as temp:
        work = Path(temp)
        folder = work / "evtx"
        folder.mkdir()
        total = replicate_evtx(folder, options.records)
        raw = best(options.repeat, lambda: raw_parse(folder))
        hunt = best(
            options.repeat,
            lambda: cli("hunt", str(folder), "-f", "json", "-o", str(work / "h.json"), "-q"),
        )
        print(f"(a) EVTX {total} records in {len(list(folder.iterdir()))} files")
        print(f"    raw evtx records_json():      {raw:7.2f} s")
        print(f"    schedwarden hunt (CLI):       {hunt:7.2f} s  ({hunt / raw:.1f}x raw)")
        if options.sigma.exists():
            sigma = best(
                options.repeat,
                lambda: cli(
                    "hunt",
                    str(folder),
                    "--sigma",
                    str(options.sigma),
                    "-f",
                    "json",
                    "-o",
                    str(work / "s.json"),
                    "-q",
                ),
            )
            print(f"    hunt --sigma (CLI):           {sigma:7.2f} s  ({sigma / raw:.1f}x raw)")
        log = work / "syslog"
        generate_syslog(log, options.syslog_mb)
        size = log.stat().st_size / 1e6
        grep = best(
            options.repeat,
            lambda: subprocess.run(
                ["grep", "-c", "CRON", str(log)], check=False, capture_output=True
            ),
        )
        hunt = best(
            options.repeat,
            lambda: cli("hunt", str(log), "-f", "jsonl", "-o", str(work / "h.jsonl"), "-q"),
        )
        print(f"(b) syslog {size:.0f} MB")
        print(f"    grep -c CRON:                 {grep:7.2f} s  ({size / grep:.0f} MB/s)")
        print(
            f"    schedwarden hunt (CLI):       {hunt:7.2f} s  ({size / hunt:.0f} MB/s, {hunt / grep:.0f}x grep)"
        )


if __name__ == "__main__":
    main()
