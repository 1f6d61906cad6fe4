"""The baseline store: snapshots of the inventory in SQLite, chained with HMAC-SHA256, and drift."""

from .canonical import Document, document, identity
from .database import (
    SCHEMA,
    BaselineStore,
    Problem,
    Snapshot,
    SnapshotInfo,
    default_path,
    parse_head,
)
from .drift import DIFF_SCHEMA, Drift, FieldChange, JobChange, compare, is_package_path
from .errors import BaselineMissing, BaselineTampered, BaselineUnusable, KeyUnavailable, StoreError
from .keys import ENV_VAR, KdfParams, derive, secret_from_env, secret_from_file

__all__ = [
    "DIFF_SCHEMA",
    "ENV_VAR",
    "SCHEMA",
    "BaselineMissing",
    "BaselineStore",
    "BaselineTampered",
    "BaselineUnusable",
    "Document",
    "Drift",
    "FieldChange",
    "JobChange",
    "KdfParams",
    "KeyUnavailable",
    "Problem",
    "Snapshot",
    "SnapshotInfo",
    "StoreError",
    "compare",
    "default_path",
    "derive",
    "document",
    "identity",
    "is_package_path",
    "parse_head",
    "secret_from_env",
    "secret_from_file",
]
