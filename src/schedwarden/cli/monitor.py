"""`schedwarden monitor [PATH|--root DIR]`: watch the host (or a root) and alert on every change of
a scheduled job, one JSON alert per line; readiness and heartbeats on stderr."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from ..model import render_untrusted
from ..monitor import Monitor, Sink, SinkError, parse_sink
from ..monitor.sinks import FileSink, StreamSink
from ..sources import LiveSource, LooseFilesSource, RootedSource
from ..store import Document, StoreError
from .baseline import db_path, expect_head_option, fail, open_verified, store_options
from .common import open_source, source_options


def _sinks(specs: tuple[str, ...], output: Path | None, source: RootedSource) -> list[Sink]:
    sinks: list[Sink] = []
    try:
        for spec in specs:
            sinks.append(parse_sink(spec))
        if output is not None:
            sinks.append(FileSink(str(output)))
    except SinkError as error:
        for sink in sinks:
            sink.close()
        raise click.UsageError(str(error)) from None
    if not sinks:
        sinks.append(StreamSink())
    if not isinstance(source, LiveSource):
        root = os.path.realpath(source.root).rstrip("/") + "/"
        for sink in sinks:
            if isinstance(sink, FileSink) and os.path.realpath(sink.path).startswith(root):
                for other in sinks:
                    other.close()
                raise click.UsageError("refusing to write alerts inside the evidence root")
    return sinks


@click.command("monitor")
@source_options
@store_options
@expect_head_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append alerts to FILE (JSON lines, fsync per alert); same as --sink file:FILE.",
)
@click.option(
    "--sink",
    "sink_specs",
    multiple=True,
    metavar="SPEC",
    help="stdout (default), file:PATH, syslog, syslog:SOCKET, syslog+udp://HOST:PORT, "
    "syslog+tcp://HOST:PORT, or an http(s):// webhook URL. Repeatable.",
)
@click.option(
    "--rescan-interval",
    type=click.FloatRange(min=1.0),
    default=600.0,
    show_default=True,
    help="Seconds between full rescans (recovers anything the events missed).",
)
@click.option(
    "--debounce",
    type=click.FloatRange(min=0.0, max=1.0),
    default=0.2,
    show_default=True,
    help="Seconds of quiet before a burst of events is processed.",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds between heartbeat lines on stderr.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Poll every SECONDS instead of using inotify (network filesystems, Windows).",
)
def monitor_command(
    path: Path | None,
    root: Path | None,
    db: Path | None,
    key_file: Path | None,
    expect_head: str | None,
    output: Path | None,
    sink_specs: tuple[str, ...],
    rescan_interval: float,
    debounce: float,
    heartbeat: float,
    poll: float | None,
) -> None:
    """Alert within seconds when a scheduled job appears, changes or disappears. With --db,
    the latest verified snapshot is the starting state (drift since it is alerted at once).
    Stops cleanly on SIGINT or SIGTERM (exit 0); exit 4 or 5 when the baseline cannot be
    trusted."""
    source = open_source(path, root)
    if isinstance(source, LooseFilesSource):
        raise click.UsageError(
            "monitor watches a system root (a host or an image), not loose files"
        )
    baseline: list[Document] | None = None
    watched_db = None
    if db is not None or expect_head is not None:
        target = db_path(db)
        try:
            with open_verified(target, key_file, expect_head) as store:
                baseline = list(store.load().documents)
        except StoreError as error:
            fail(error)
        watched_db = target
    sinks = _sinks(sink_specs, output, source)
    monitor = Monitor(
        source,
        sinks,
        baseline=baseline,
        debounce=debounce,
        rescan_interval=rescan_interval,
        heartbeat=heartbeat,
        poll=poll,
        watch_db=watched_db,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, request_stop)
    monitor.run(stop)
    monitor.say(f"stopped ({monitor.counters.alerts} alerts, root {render_untrusted(source.root)})")
    raise SystemExit(0)
