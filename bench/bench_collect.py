#!/usr/bin/env python3
"""Benchmark `schedwarden collect` on a large cron image, beside dissect.target's cronjobs plugin.

What is timed (best of --repeat runs each, wall clock):

* in-process: `schedwarden.engine.collect(ImageSource(root))`, with a fresh source and every
  `functools.lru_cache` in schedwarden's modules cleared before each run (so every run does the
  work a single real scan does; --warm-caches keeps them);
* our CLI: `schedwarden collect ROOT -f jsonl -o /dev/null -q` (interpreter start, imports,
  collection and JSON serialisation);
* with --dissect-venv PATH: `PATH/bin/target-query -q --no-cache -L dir -f cronjobs ROOT` with its
  records streamed to /dev/null, and once in-process in that venv (`Target.open` + iterating
  `cronjobs()`) to count and classify what dissect returned.

Peak RSS is `ru_maxrss`: of this process for the in-process runs, of each child (os.wait4) for the
command lines. Linux carries a parent's RSS into the `ru_maxrss` of a child it forks and execs, so
the command lines are run first, while this process is still small (its size is printed: no child
figure can be below it). The image is generated into a temporary directory unless --root is given.

    python bench/bench_collect.py
    python bench/bench_collect.py --dissect-venv /tmp/dissect-venv
    python bench/bench_collect.py --root /tmp/cron-image --repeat 5 --json-out /tmp/bench.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schedwarden
from schedwarden.engine import collect
from schedwarden.model import AuditReport, MacroSchedule
from schedwarden.sources import ImageSource

HERE = Path(__file__).resolve().parent
GENERATOR = HERE / "make_cron_image.py"
TARGET_SECONDS = 3.0
TARGET_RATIO = 10.0

# Run inside dissect's venv: open the directory as a target, iterate the plugin, classify records.
DISSECT_COUNT_SCRIPT = r"""
import json, sys, time
from dissect.target import Target
t0 = time.perf_counter()
target = Target.open(sys.argv[1])
t1 = time.perf_counter()
counts = {"cronjob": 0, "environmentvariable": 0, "cronjob_macro_lines": 0, "other": 0}
for record in target.cronjobs():
    name = record._desc.name
    if name == "unix/cronjob":
        counts["cronjob"] += 1
        if record.minute.startswith("@"):
            counts["cronjob_macro_lines"] += 1
    elif name == "unix/environmentvariable":
        counts["environmentvariable"] += 1
    else:
        counts["other"] += 1
t2 = time.perf_counter()
import resource
print(json.dumps({
    "open_seconds": t1 - t0,
    "query_seconds": t2 - t1,
    "loader": type(target._loader).__name__ if hasattr(target, "_loader") else None,
    "os": target.os,
    "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    **counts,
}))
"""


@dataclass(slots=True)
class Timing:
    """One benchmarked way of reading the image."""

    label: str
    runs: list[float] = field(default_factory=list)
    entries: int | None = None
    peak_rss_kib: int | None = None
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def throughput(self) -> float | None:
        return self.entries / self.best if self.entries else None


def _clear_caches() -> int:
    """Clear every module-level lru_cache of schedwarden; return how many there were."""
    caches: dict[int, Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("schedwarden") or module is None:
            continue
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                caches[id(value)] = value  # one function is often imported into several modules
    for cache in caches.values():
        cache.cache_clear()
    return len(caches)


def _revision() -> str:
    """The schedwarden checkout being measured (`-dirty` when it has uncommitted changes)."""
    package = Path(schedwarden.__file__).resolve().parent
    try:
        return subprocess.run(
            ["git", "-C", str(package), "describe", "--always", "--dirty"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"unknown (not a git checkout: {package})"


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _run_child(command: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child; it must exit 0 (or 3: evidence problems)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 3):
        sys.stderr.write(stderr.decode(errors="replace"))
        raise SystemExit(f"{command[0]} exited {child.returncode}")
    return elapsed, usage.ru_maxrss


def build(args: argparse.Namespace, where: Path) -> tuple[Path, dict[str, Any]]:
    root = where / "root"
    command = [
        sys.executable,
        str(GENERATOR),
        "--out",
        str(root),
        "--files",
        str(args.files),
        "--entries",
        str(args.entries),
        "--seed",
        str(args.seed),
        "--spool-share",
        str(args.spool_share),
        "--random-schedules",
        str(args.random_schedules),
        "--json",
    ]
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    stats: dict[str, Any] = json.loads(out)
    (where / "image.json").write_text(json.dumps(stats, indent=2) + "\n")  # beside, not inside
    print(f"built {root} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return root, stats


def _stats_beside(root: Path) -> dict[str, Any] | None:
    """The generator's summary kept next to an image made with --keep, if it is that image's."""
    try:
        stats: dict[str, Any] = json.loads((root.parent / "image.json").read_text())
    except (OSError, ValueError):
        return None
    return stats if stats.get("root") == str(root) else None


def bench_in_process(root: Path, repeat: int, warm: bool) -> tuple[Timing, dict[str, int]]:
    timing = Timing("schedwarden collect, in-process")
    details: dict[str, int] = {}
    for index in range(repeat):
        caches = 0 if warm else _clear_caches()
        gc.collect()
        source = ImageSource(str(root))
        start = time.perf_counter()
        report = collect(source)
        timing.runs.append(time.perf_counter() - start)
        if index == 0:
            details = _describe(report)
            details["lru_caches_cleared"] = caches
        del report, source  # only one report alive at a time: peak RSS is one run's
        print(f"  in-process run {index + 1}: {timing.runs[-1]:.3f} s", file=sys.stderr)
    timing.entries = details["jobs"]
    timing.peak_rss_kib = _peak_rss_kib()
    timing.note = "caches warm" if warm else "caches cleared before each run"
    return timing, details


def _describe(report: AuditReport) -> dict[str, int]:
    jobs = report.jobs
    details = {
        "jobs": len(jobs),
        "macro_jobs": sum(isinstance(j.schedule, MacroSchedule) for j in jobs),
        "jobs_with_stdin": sum(
            any(getattr(a, "stdin", None) is not None for a in j.actions) for j in jobs
        ),
        "jobs_with_environment": sum(bool(j.environment) for j in jobs),
        "effective_jobs": sum(j.effective.runs is True for j in jobs),
        "issues": len(report.issues),
    }
    by_mechanism = Counter(j.mechanism.value for j in jobs)
    details.update({f"jobs_{k}": v for k, v in sorted(by_mechanism.items())})
    return details


def _our_cli() -> list[str]:
    beside = Path(sys.executable).parent / "schedwarden"
    found = str(beside) if beside.exists() else shutil.which("schedwarden")
    if found is None:
        raise SystemExit("the schedwarden command is not installed (pip install -e .)")
    return [found]


def bench_cli(root: Path, repeat: int) -> Timing:
    timing = Timing("schedwarden CLI, jsonl to /dev/null")
    command = [*_our_cli(), "collect", str(root), "-f", "jsonl", "-o", os.devnull, "-q"]
    peak = 0
    for index in range(repeat):
        elapsed, rss = _run_child(command)
        timing.runs.append(elapsed)
        peak = max(peak, rss)
        print(f"  CLI run {index + 1}: {elapsed:.3f} s", file=sys.stderr)
    timing.peak_rss_kib = peak
    return timing


def bench_dissect(
    root: Path, venv: Path, repeat: int
) -> tuple[Timing, Timing, dict[str, Any], str]:
    query = venv / "bin" / "target-query"
    python = venv / "bin" / "python"
    if not query.exists():
        raise SystemExit(f"{query} not found: install dissect.target in {venv}")
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('dissect.target'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    cli = Timing("dissect target-query, records to /dev/null")
    command = [str(query), "-q", "--no-cache", "-L", "dir", "-f", "cronjobs", str(root)]
    peak = 0
    for index in range(repeat):
        elapsed, rss = _run_child(command)
        cli.runs.append(elapsed)
        peak = max(peak, rss)
        print(f"  dissect CLI run {index + 1}: {elapsed:.3f} s", file=sys.stderr)
    cli.peak_rss_kib = peak
    print("  dissect in-process counting run…", file=sys.stderr)
    out = subprocess.run(
        [str(python), "-c", DISSECT_COUNT_SCRIPT, str(root)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    cli.entries = counts["cronjob"]
    in_process = Timing(
        "dissect Target.open + cronjobs(), in-process",
        runs=[counts["open_seconds"] + counts["query_seconds"]],
        entries=counts["cronjob"],
        peak_rss_kib=counts["peak_rss_kib"],
        note=f"one run; open {counts['open_seconds']:.2f} s",
    )
    return cli, in_process, counts, version


def _fmt_rss(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f} MiB"


def print_table(
    timings: list[Timing], stats: dict[str, Any] | None, extra: dict[str, Any], out: Any
) -> None:
    if stats:
        out.write(
            f"\nimage: {stats['files']} crontab files ({stats['cron_d_files']} in /etc/cron.d, "
            f"{stats['spool_files']} user spools), {stats['entries']} entries "
            f"({stats['macro_entries']} @macros, {stats['stdin_entries']} with % stdin), "
            f"{stats['env_lines']} env lines, {stats['passwd_users']} users, "
            f"{stats['distinct_schedules']} distinct schedules, {stats['bytes'] / 1e6:.1f} MB\n"
        )
    header = f"{'':46} {'best s':>8} {'runs':>5} {'entries':>8} {'entries/s':>10} {'peak RSS':>9}"
    out.write("\n" + header + "\n" + "-" * len(header) + "\n")
    for t in timings:
        rate = "-" if t.throughput is None else f"{t.throughput:,.0f}"
        entries = "-" if t.entries is None else str(t.entries)
        out.write(
            f"{t.label:46} {t.best:8.2f} {len(t.runs):5} {entries:>8} {rate:>10} "
            f"{_fmt_rss(t.peak_rss_kib):>9}\n"
        )
    for key, value in extra.items():
        out.write(f"{key}: {value}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="an existing image root (else one is generated)")
    parser.add_argument("--keep", type=Path, help="generate the image here and keep it")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--spool-share", type=float, default=0.3)
    parser.add_argument("--random-schedules", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each of ours (best kept)")
    parser.add_argument("--warm-caches", action="store_true", help="keep lru caches across runs")
    parser.add_argument("--no-cli", action="store_true", help="skip our CLI runs")
    parser.add_argument("--dissect-venv", type=Path, help="venv with dissect.target installed")
    parser.add_argument("--dissect-repeat", type=int, default=3, help="runs of target-query")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.root and args.keep:
        parser.error("give --root or --keep, not both")

    temp: str | None = None
    stats: dict[str, Any] | None = None
    if args.root:
        root = args.root.resolve()
        stats = _stats_beside(root)
    elif args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        root, stats = build(args, args.keep.resolve())
    else:
        temp = tempfile.mkdtemp(prefix="schedwarden-bench-")
        root, stats = build(args, Path(temp))
    try:
        load = os.getloadavg()
        print(f"benchmarking {root} (load average {load[0]:.2f})", file=sys.stderr)
        # Children first: see the module docstring about ru_maxrss.
        launcher_kib = _peak_rss_kib()
        cli = None if args.no_cli else bench_cli(root, args.repeat)
        dissect = None
        if args.dissect_venv:
            dissect = bench_dissect(root, args.dissect_venv.resolve(), args.dissect_repeat)
        ours, details = bench_in_process(root, args.repeat, args.warm_caches)
        timings = [ours]
        if cli is not None:
            cli.entries = ours.entries
            timings.append(cli)
        extra: dict[str, Any] = {
            "schedwarden revision": _revision(),
            "load average at start (1, 5, 15 min)": " ".join(f"{x:.2f}" for x in load),
            "ours": details,
            "note": f"child peak RSS figures include this launcher's {launcher_kib / 1024:.0f} MiB",
        }
        result: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "schedwarden_revision": _revision(),
            "cpus": os.cpu_count(),
            "root": str(root),
            "image": stats,
            "launcher_peak_rss_kib": launcher_kib,
            "load_average_at_start": load,
        }
        if stats and ours.entries != stats["entries"]:
            extra["WARNING"] = (
                f"schedwarden found {ours.entries} jobs but the image has {stats['entries']} "
                "entries: the figures below are not comparable"
            )
        if dissect is not None:
            d_cli, d_in, counts, version = dissect
            timings += [d_cli, d_in]
            extra["dissect"] = (
                f"dissect.target {version}: {counts['cronjob']} cronjob records "
                f"({counts['cronjob_macro_lines']} of them @macro lines split as if five fields), "
                f"{counts['environmentvariable']} environment records"
            )
            if stats:
                dropped = (
                    stats["entries"]
                    + stats["env_lines"]
                    - counts["cronjob"]
                    - counts["environmentvariable"]
                )
                extra["dissect"] += f", {dropped} job/env lines matched neither of its patterns"
            result["dissect"] = {"version": version, **counts}
            ratios = {}
            if cli is not None and cli.throughput and d_cli.throughput:
                ratios["CLI vs CLI"] = cli.throughput / d_cli.throughput
            if ours.throughput and d_in.throughput:
                ratios["in-process vs in-process"] = ours.throughput / d_in.throughput
            for name, ratio in ratios.items():
                extra[f"throughput ratio, {name} (entries/s, ours / dissect)"] = (
                    f"{ratio:.1f}x (target >= {TARGET_RATIO:.0f}x: "
                    f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})"
                )
            result["ratios"] = ratios
        extra[f"whole image in-process under {TARGET_SECONDS:.0f} s"] = (
            f"{'met' if ours.best < TARGET_SECONDS else 'NOT met'} ({ours.best:.2f} s)"
        )
        print_table(timings, stats, extra, sys.stdout)
        result["timings"] = [
            {**asdict(t), "best": t.best, "throughput": t.throughput} for t in timings
        ]
        result["ours"] = details
        if args.json_out:
            args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
