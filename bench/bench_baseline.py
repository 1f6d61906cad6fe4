"""Figures for the baseline and the monitor (issue 6; reliability M5, M8-lite):

1. crash durability: N runs of `baseline save` killed with SIGKILL at a random moment, then the
   database is checked (header, -wal, quick_check + integrity_check, every MAC, the chain, no half
   snapshot, the last acknowledged head still there);
2. alert latency: M changes to a watched image, time from the write to the alert at the sink;
3. idle CPU of `schedwarden monitor` on the live host, from /proc over a quiet interval;
4. tamper detection (M7-lite): random single-byte flips in a closed database; a flip is a silent
   accept only if verify passes and the rows read differ from the original rows.

    python bench/bench_baseline.py [--runs 1000] [--changes 200] [--idle 30] [--flips 500]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schedwarden import engine
from schedwarden.monitor import Monitor, run_in_thread
from schedwarden.sources import ImageSource
from schedwarden.store import BaselineStore, BaselineTampered, BaselineUnusable
from tests.store.test_crash import crash_runs, make_image


def bench_crash(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "image"
        make_image(root, jobs=120)
        db = Path(folder) / "state" / "baseline.db"
        start = time.perf_counter()
        done, snapshots, problems = crash_runs(root, db, runs, max_delay=0.35, seed=6, rotate=100)
        elapsed = time.perf_counter() - start
    print(
        f"crash: {done} SIGKILL runs in {elapsed:.0f} s, {snapshots} snapshots committed, "
        f"{len(problems)} corrupt/half/lost"
    )
    for problem in problems[:10]:
        print("  ", problem)


class _Timing:
    name = "timing"

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.event = threading.Condition()

    def emit(self, alert: Any) -> None:
        with self.event:
            job = alert.get("after") or alert.get("before") or {}
            self.seen[str(job.get("name"))] = time.monotonic()
            self.event.notify_all()

    def close(self) -> None:
        pass

    def wait(self, name: str, timeout: float = 10.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self.event:
            while name not in self.seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.event.wait(left)
            return self.seen[name]


def bench_latency(changes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "image"
        make_image(root, jobs=120)
        sink = _Timing()
        monitor = Monitor(ImageSource(str(root)), [sink], heartbeat=3600)
        thread, stop = run_in_thread(monitor)
        monitor.ready.wait(30)
        latencies: list[float] = []
        missed = 0
        for number in range(changes):
            name = f"/etc/cron.d/change{number}:1"
            path = root / f"etc/cron.d/change{number}"
            start = time.monotonic()
            if number % 3 == 2:  # a rename-over save
                temp = root / "etc/cron.d/.tmp"
                temp.write_text(f"{number % 60} * * * * root /opt/c{number}\n")
                os.replace(temp, path)
            else:
                path.write_text(f"{number % 60} * * * * root /opt/c{number}\n")
            seen = sink.wait(name)
            if seen is None:
                missed += 1
            else:
                latencies.append(seen - start)
        stop.set()
        thread.join(10)
    print(
        f"latency: {changes} changes, median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {statistics.quantiles(latencies, n=20)[18] * 1000:.0f} ms, "
        f"worst {max(latencies) * 1000:.0f} ms, missed {missed} "
        f"(debounce {monitor.debounce * 1000:.0f} ms)"
    )


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def bench_idle(seconds: float) -> None:
    alerts = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)  # noqa: SIM115
    alerts.close()
    process = subprocess.Popen(
        [sys.executable, "-c", "from schedwarden.cli.main import main; main()", "monitor",
         "--heartbeat", "60", "-o", alerts.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        ready = process.stderr.readline().strip()
        time.sleep(2)
        before = _cpu_ticks(process.pid)
        time.sleep(seconds)
        used = (_cpu_ticks(process.pid) - before) / os.sysconf("SC_CLK_TCK")
        threads = len(os.listdir(f"/proc/{process.pid}/task"))
    finally:
        process.terminate()
        process.wait(10)
        os.unlink(alerts.name)
    print(f"idle: {ready}")
    print(
        f"idle: live host, {used:.2f} s CPU over {seconds:.0f} s = {used / seconds * 100:.2f} % "
        f"of one core, {threads} threads"
    )


def _rows(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = list(con.execute("SELECT * FROM snapshots ORDER BY id"))
        rows += list(con.execute("SELECT * FROM jobs ORDER BY snapshot_id, seq"))
        rows += list(con.execute("SELECT * FROM meta ORDER BY key"))
        return rows
    finally:
        con.close()


def bench_tamper(flips: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "image"
        make_image(root, jobs=40)
        original = Path(folder) / "state" / "baseline.db"
        with BaselineStore.create(str(original), b"k") as store:
            for _ in range(3):
                store.save(engine.collect(ImageSource(str(root))))
        truth = _rows(original)
        data = original.read_bytes()
        outcome = {"tampered": 0, "corrupt": 0, "harmless": 0, "silent": 0}
        for _ in range(flips):
            copy = Path(folder) / "copy.db"
            for leftover in ("", "-wal", "-shm"):
                Path(str(copy) + leftover).unlink(missing_ok=True)
            flipped = bytearray(data)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            copy.write_bytes(bytes(flipped))
            try:
                with BaselineStore.open(str(copy)) as store:
                    store.unlock(b"k")
                    problems = store.verify(full=True)
            except BaselineTampered:
                problems = ["key"]
            except (BaselineUnusable, sqlite3.Error):
                outcome["corrupt"] += 1
                continue
            if problems:
                outcome["tampered"] += 1
            else:
                try:
                    same = _rows(copy) == truth
                except sqlite3.Error:
                    same = False
                outcome["harmless" if same else "silent"] += 1
    print(
        f"tamper: {flips} random bit flips in a {len(data) // 1024} KiB baseline: "
        f"{outcome['tampered']} tampered, {outcome['corrupt']} corrupt, "
        f"{outcome['harmless']} in unused bytes (rows unchanged), {outcome['silent']} silent accepts"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--flips", type=int, default=500)
    args = parser.parse_args()
    if args.runs:
        bench_crash(args.runs)
    if args.changes:
        bench_latency(args.changes)
    if args.idle:
        bench_idle(args.idle)
    if args.flips:
        bench_tamper(args.flips)


if __name__ == "__main__":
    main()
