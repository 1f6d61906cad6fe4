"""Alert sinks against listeners started here on 127.0.0.1 (or a socket file): webhook with retry
and a bounded queue, syslog RFC 5424 over UDP, TCP and a local socket, the append-only file."""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from schedwarden.monitor import (
    FileSink,
    SinkError,
    StreamSink,
    SyslogSink,
    WebhookSink,
    escaped,
    parse_sink,
)

ALERT: dict[str, Any] = escaped(
    {
        "schema": "schedwarden.alert/1",
        "kind": "job_added",
        "severity": "high",
        "trigger": "event",
        "message": "new cron job x runs /tmp/a\x1b]52;c;ZXZpbA==\x07\nFAKE ok \u202e",
        "after": {"name": "x\r\nINFO baseline verified", "environment": {"K\x1b": "v"}},
    }
)


def test_escaped_alerts_carry_no_raw_control_or_bidi() -> None:
    text = json.dumps(ALERT, ensure_ascii=False)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", text)
    assert ALERT["message"].endswith("\\x07\\x0aFAKE ok \\u202e")
    assert ALERT["after"]["environment"] == {"K\\x1b": "v"}


# -- webhook ---------------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: Any = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.gate.wait(10)
        server.calls += 1
        if server.calls <= server.fail_first:
            self.send_response(503)
            self.end_headers()
            return
        server.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Any]:
    server: Any = HTTPServer(("127.0.0.1", 0), _Hook)
    server.calls, server.fail_first, server.received = 0, 0, []
    server.gate = threading.Event()
    server.gate.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()


def test_webhook_posts_json_and_retries(hook: Any) -> None:
    hook.fail_first = 2
    errors: list[str] = []
    sink = WebhookSink(
        f"http://127.0.0.1:{hook.server_address[1]}/alerts", backoff=0.01, on_error=errors.append
    )
    sink.emit(ALERT)
    assert sink.flush(10)
    sink.close()
    assert hook.calls == 3
    assert hook.received == [("application/json", ALERT)]
    assert errors == [] and sink.delivered == 1


def test_webhook_gives_up_after_its_attempts_and_on_4xx(hook: Any) -> None:
    hook.fail_first = 100
    errors: list[str] = []
    url = f"http://127.0.0.1:{hook.server_address[1]}/"
    sink = WebhookSink(url, attempts=3, backoff=0.01, on_error=errors.append)
    sink.emit(ALERT)
    assert sink.flush(10)
    sink.close()
    assert hook.calls == 3
    assert errors == ["webhook delivery failed after 3 attempts: HTTP 503"]


def test_webhook_queue_is_bounded_and_drops_the_oldest(hook: Any) -> None:
    hook.gate.clear()  # the receiver hangs: alerts pile up
    url = f"http://127.0.0.1:{hook.server_address[1]}/"
    sink = WebhookSink(url, queue_size=2, backoff=0.01)
    for number in range(6):
        sink.emit({**ALERT, "n": number})
    assert sink.dropped >= 3
    hook.gate.set()
    assert sink.flush(10)
    sink.close()
    numbers = [body["n"] for _, body in hook.received]
    assert numbers[-1] == 5 and len(numbers) <= 3
    assert any("dropped_before" in body for _, body in hook.received[1:])


def test_webhook_needs_http() -> None:
    with pytest.raises(SinkError):
        parse_sink("file-and-not-a-url")
    with pytest.raises(SinkError):
        WebhookSink("ftp://127.0.0.1/x")


# -- syslog ----------------------------------------------------------------------------------

RFC5424 = re.compile(
    r"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (\S+) schedwarden (\d+) job_added "
    r'\[schedwarden@32473 kind="job_added" severity="high" trigger="event"\] (\{.*\})$'
)


def _check_record(record: str) -> None:
    match = RFC5424.match(record)
    assert match, record
    assert match.group(1) == str(4 * 8 + 3)  # auth.err for a high alert
    assert json.loads(match.group(5)) == ALERT
    assert all(32 <= ord(c) < 127 for c in record)


def test_syslog_udp() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]
    sink = parse_sink(f"syslog+udp://127.0.0.1:{port}")
    assert isinstance(sink, SyslogSink)
    sink.emit(ALERT)
    sink.close()
    data, _ = listener.recvfrom(65536)
    listener.close()
    _check_record(data.decode("ascii"))


def test_syslog_udp_datagram_stays_small() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    sink = SyslogSink("udp", ("127.0.0.1", listener.getsockname()[1]))
    sink.emit({**ALERT, "after": {"raw": "x" * 20000}})
    data, _ = listener.recvfrom(65536)
    listener.close()
    assert len(data) < 8192
    assert json.loads(data.decode().split("] ", 1)[1])["truncated"] is True


class _TcpCollector(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        while True:
            length = b""
            while (char := self.rfile.read(1)) not in (b" ", b""):
                length += char
            if not length:
                return
            server.records.append(self.rfile.read(int(length)).decode("ascii"))
            server.got.set()


def test_syslog_tcp_octet_counting_and_reconnect() -> None:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TcpCollector)
    server.records, server.got = [], threading.Event()
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = parse_sink(f"syslog+tcp://127.0.0.1:{server.server_address[1]}")
        sink.emit(ALERT)
        sink.emit(ALERT)
        assert isinstance(sink, SyslogSink) and sink._sock is not None
        sink._sock.close()  # the connection breaks: the next alert reconnects
        sink.emit(ALERT)
        sink.close()
        for _ in range(100):
            if len(server.records) == 3:
                break
            time.sleep(0.05)
        assert len(server.records) == 3
        for record in server.records:
            _check_record(record)
    finally:
        server.shutdown()
        server.server_close()


def test_syslog_local_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(5)
    sink = parse_sink(f"syslog:{path}")
    sink.emit(ALERT)
    sink.close()
    _check_record(listener.recv(65536).decode("ascii"))
    listener.close()


# -- file and stdout -------------------------------------------------------------------------


def test_file_sink_appends_and_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "alerts.jsonl"
    target.write_text('{"earlier": true}\n')
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    sink = parse_sink(f"file:{target}")
    sink.emit(ALERT)
    sink.emit(ALERT)
    sink.close()
    lines = target.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": True}
    assert [json.loads(line) for line in lines[1:]] == [ALERT, ALERT]
    assert len(synced) == 2


def test_file_sink_refuses_links_and_fifos(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("")
    os.symlink(real, tmp_path / "link.jsonl")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(SinkError, match="symbolic link"):
        FileSink(str(tmp_path / "link.jsonl"))
    with pytest.raises(SinkError, match="not a regular file"):
        FileSink(str(tmp_path / "fifo"))
    assert real.read_text() == ""


def test_stdout_sink_one_line_per_alert(capsys: pytest.CaptureFixture[str]) -> None:
    sink = parse_sink("stdout")
    assert isinstance(sink, StreamSink)
    sink.emit(ALERT)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out) == ALERT
