"""Where alerts go: standard output, an append-only JSONL file, syslog, a webhook.

Every sink receives the same alert document, whose strings were already escaped by
`render_untrusted` (so a JSON line, a syslog record or a webhook body never carries a raw control,
bidi or escape character from the evidence). A sink that fails reports it and keeps going; it
never stops the monitor.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import socket
import stat
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

Alert = Mapping[str, Any]


class Sink(Protocol):
    name: str

    def emit(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


class SinkError(Exception):
    """A sink specification that cannot be used (bad address, unsafe file...)."""


def alert_line(alert: Alert) -> str:
    """One alert as one line of ASCII JSON (no raw newline can split it)."""
    return json.dumps(alert, ensure_ascii=True, separators=(",", ":"), sort_keys=False)


class StreamSink:
    """JSON lines on a text stream (standard output by default), flushed per alert."""

    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def emit(self, alert: Alert) -> None:
        self._stream.write(alert_line(alert) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()


class FileSink:
    """An append-only JSONL file: opened O_APPEND|O_NOFOLLOW (never a link, FIFO or device),
    created 0600, each alert written in one write() and fsync'ed before the next."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.path = path
        flags = (
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        )
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG
        if stat.S_ISLNK(mode):
            raise SinkError(f"cannot append alerts to {path}: it is a symbolic link")
        if not stat.S_ISREG(mode):
            raise SinkError(f"cannot append alerts to {path}: not a regular file")
        try:
            self._fd = os.open(path, flags, 0o600)
        except OSError as exc:
            reason = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            raise SinkError(f"cannot append alerts to {path}: {reason}") from None
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise SinkError(f"cannot append alerts to {path}: not a regular file")
        self._lock = threading.Lock()

    def emit(self, alert: Alert) -> None:
        data = (alert_line(alert) + "\n").encode("ascii")
        with self._lock:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


# ---------------------------------------------------------------------------------------------
# syslog (RFC 5424)

SYSLOG_FACILITY_AUTH = 4
SYSLOG_SEVERITY = {
    "critical": 2,
    "high": 3,
    "medium": 4,
    "low": 5,
    "informational": 6,
}
SD_ID = "schedwarden@32473"  # 32473: the private enterprise number reserved for documentation
UDP_MESSAGE_CAP = 8192


def _sd_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(
    alert: Alert, *, hostname: str, app: str = "schedwarden", pid: int | None = None
) -> str:
    """`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`, MSG being the alert as ASCII JSON."""
    severity = SYSLOG_SEVERITY.get(str(alert.get("severity")), 5)
    pri = SYSLOG_FACILITY_AUTH * 8 + severity
    stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    msgid = _header_token(str(alert.get("kind") or "-"), 32)
    params = " ".join(
        f'{key}="{_sd_value(str(alert.get(key)))}"'
        for key in ("kind", "severity", "trigger")
        if alert.get(key) is not None
    )
    structured = f"[{SD_ID} {params}]" if params else "-"
    return (
        f"<{pri}>1 {stamp} {_header_token(hostname, 255)} {_header_token(app, 48)} "
        f"{pid if pid is not None else os.getpid()} {msgid} {structured} {alert_line(alert)}"
    )


def _header_token(text: str, cap: int) -> str:
    """Header fields are printable US-ASCII without spaces (RFC 5424 §6.2)."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)[:cap]
    return cleaned or "-"


def _reduced(alert: Alert) -> dict[str, Any]:
    """What still fits in a datagram: the alert without the full job documents."""
    keep = {k: v for k, v in alert.items() if k not in ("before", "after", "job")}
    keep["truncated"] = True
    return keep


class SyslogSink:
    """RFC 5424 records to the local socket (/dev/log), or to HOST:PORT over UDP or TCP (TCP uses
    RFC 6587 octet counting and reconnects after a failure)."""

    name = "syslog"

    def __init__(
        self, transport: str = "unix", address: str | tuple[str, int] = "/dev/log"
    ) -> None:
        self.transport = transport
        self.address = address
        self.hostname = socket.gethostname() or "-"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        if self.transport == "unix":
            assert isinstance(self.address, str)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.address)
            return sock
        assert isinstance(self.address, tuple)
        kind = socket.SOCK_DGRAM if self.transport == "udp" else socket.SOCK_STREAM
        info = socket.getaddrinfo(self.address[0], self.address[1], type=kind)[0]
        sock = socket.socket(info[0], kind)
        sock.settimeout(5.0)
        sock.connect(info[4])
        return sock

    def _record(self, alert: Alert) -> bytes:
        text = rfc5424(alert, hostname=self.hostname)
        data = text.encode("ascii", "replace")
        if self.transport == "udp" and len(data) > UDP_MESSAGE_CAP:
            data = rfc5424(_reduced(alert), hostname=self.hostname).encode("ascii", "replace")
        return data

    def emit(self, alert: Alert) -> None:
        data = self._record(alert)
        with self._lock:
            for attempt in range(2):
                try:
                    if self._sock is None:
                        self._sock = self._connect()
                    if self._sock.type == socket.SOCK_STREAM:
                        framed = str(len(data)).encode() + b" " + data
                        if self.transport == "unix":
                            framed = data + b"\n"
                        self._sock.sendall(framed)
                    else:
                        self._sock.send(data)
                    return
                except OSError:
                    self._drop()
                    if attempt:
                        raise

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._drop()


# ---------------------------------------------------------------------------------------------
# webhook


class WebhookSink:
    """JSON POSTs from a background thread through a bounded queue: a slow or dead receiver never
    blocks the monitor. Retries with exponential backoff on network errors, 429 and 5xx; when the
    queue is full the oldest alert is dropped and counted (reported on the next delivery)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = 1000,
        attempts: int = 5,
        backoff: float = 0.5,
        timeout: float = 5.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SinkError(f"a webhook needs an http:// or https:// URL, not {url!r}")
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.dropped = 0
        self.delivered = 0
        self._on_error = on_error or (lambda text: sys.stderr.write(f"schedwarden: {text}\n"))
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="schedwarden-webhook", daemon=True)
        self._thread.start()

    def emit(self, alert: Alert) -> None:
        while True:
            try:
                self._queue.put_nowait(alert)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                if alert is None:
                    return
                self._deliver(alert)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert) -> None:
        body = dict(alert)
        if self.dropped:
            body["dropped_before"] = self.dropped
        data = json.dumps(body, ensure_ascii=True).encode("ascii")
        for attempt in range(self.attempts):
            request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
                self.url,
                data=data,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "schedwarden-monitor"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read(1024)
                self.delivered += 1
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    self._on_error(f"webhook refused an alert: HTTP {exc.code}")
                    return
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                reason = str(getattr(exc, "reason", exc))
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff * (2**attempt))
        self._on_error(f"webhook delivery failed after {self.attempts} attempts: {reason}")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self.flush()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            return
        self._thread.join(timeout=self.timeout)


# ---------------------------------------------------------------------------------------------


def parse_sink(spec: str) -> Sink:
    """`stdout`, `file:PATH`, `syslog` (/dev/log), `syslog:/path/to/socket`,
    `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`, `http://...` or `https://...`."""
    if spec in ("stdout", "-"):
        return StreamSink()
    if spec.startswith("file:"):
        return FileSink(spec[5:])
    if spec == "syslog":
        return SyslogSink()
    if spec.startswith("syslog:"):
        return SyslogSink("unix", spec[7:])
    if spec.startswith(("syslog+udp://", "syslog+tcp://")):
        parts = urlsplit(spec)
        if not parts.hostname or not parts.port:
            raise SinkError(f"syslog over the network needs HOST:PORT: {spec!r}")
        return SyslogSink(parts.scheme.split("+")[1], (parts.hostname, parts.port))
    if spec.startswith(("http://", "https://")):
        return WebhookSink(spec)
    raise SinkError(
        f"unknown sink {spec!r} (stdout, file:PATH, syslog, syslog+udp://HOST:PORT, "
        "syslog+tcp://HOST:PORT, http(s)://URL)"
    )
