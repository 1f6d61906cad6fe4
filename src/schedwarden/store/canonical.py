"""The bytes a snapshot's MAC covers, and the identity that keys a job across snapshots.

A job is stored as its audit-contract document (`outputs.serialize.plain`), encoded as compact JSON
with sorted keys. The canonical form of a snapshot is a fixed tag followed by length-prefixed
fields, bytes not text: its header fields, then (identity, job id, document) of every job in
storage order. Nothing in it depends on SQLite, so a dump of the rows verifies the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..model import ScheduledJob
from ..outputs.serialize import plain

SNAPSHOT_TAG = b"schedwarden.baseline/1 snapshot\x00"
GENESIS_MAC = "0" * 64

Document = dict[str, Any]


def document(job: ScheduledJob) -> Document:
    """A job as in the audit contract (JSON-ready)."""
    result: Document = plain(job)
    return result


def encode(value: object) -> str:
    """Compact JSON with sorted keys: one text for one value, whatever the dict order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity(doc: Mapping[str, Any]) -> str:
    """What makes a job the same job across snapshots: mechanism, location and name.

    `job_id` is not it: it hashes the content, so an edited job gets a new id. For table lines
    (cron) the name carries the line number; `drift.compare` pairs moved lines by content first.
    """
    evidence = doc.get("evidence") or {}
    return encode([doc.get("mechanism"), evidence.get("path"), doc.get("name")])


def _field(out: bytearray, data: bytes) -> None:
    out += len(data).to_bytes(8, "big")
    out += data


def canonical(header: Iterable[str], rows: Iterable[tuple[str, str, str]]) -> bytes:
    """Tag, then each header field, then each row's (identity, job id, document), length-prefixed."""
    out = bytearray(SNAPSHOT_TAG)
    header_fields = list(header)
    _field(out, str(len(header_fields)).encode())
    for text in header_fields:
        _field(out, text.encode("utf-8", "surrogateescape"))
    for row in rows:
        for text in row:
            _field(out, text.encode("utf-8", "surrogateescape"))
    return bytes(out)


def content_digest(canon: bytes) -> str:
    return hashlib.sha256(canon).hexdigest()


def snapshot_mac(key: bytes, canon: bytes, previous_mac: str) -> str:
    """HMAC-SHA256 over the snapshot's canonical bytes and the previous snapshot's MAC."""
    return hmac.new(key, canon + bytes.fromhex(previous_mac), hashlib.sha256).hexdigest()


def key_check(key: bytes) -> str:
    """A value that tells a wrong key from a tampered database (without revealing the key)."""
    return hmac.new(key, b"schedwarden baseline key check", hashlib.sha256).hexdigest()
