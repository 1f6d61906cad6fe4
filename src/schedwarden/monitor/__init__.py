"""Live monitoring: watch every collector location, re-collect what changed, diff, alert."""

from .plan import WatchPlan, build_plan
from .service import ALERT_SCHEMA, Monitor, escaped, run_in_thread
from .sinks import FileSink, Sink, SinkError, StreamSink, SyslogSink, WebhookSink, parse_sink
from .watcher import Note, Watcher

__all__ = [
    "ALERT_SCHEMA",
    "FileSink",
    "Monitor",
    "Note",
    "Sink",
    "SinkError",
    "StreamSink",
    "SyslogSink",
    "WatchPlan",
    "Watcher",
    "WebhookSink",
    "build_plan",
    "escaped",
    "parse_sink",
    "run_in_thread",
]
