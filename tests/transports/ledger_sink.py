"""A small real ``InboundSink`` for transport tests: fsynced files plus a SQLite table.

Same contract as the ledger's: bytes archived and the row committed before it returns; a known
transport key (per connector) or known bytes (SHA-256) come back as ``new=False``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import BinaryIO

from edi.transports.base import FileTooLargeError, Received, read_bounded


class SinkDown(Exception):  # noqa: N818 - a test double's switch, named after what it simulates
    """Raised instead of storing while ``SqliteSink.down`` is set (the ledger unavailable)."""


class SqliteSink:
    """Archive under ``root`` and index in ``root/ledger.sqlite``; thread-safe."""

    def __init__(self, root: Path, max_bytes: int = 50 << 20) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(root / "ledger.sqlite", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS inbound_file (id INTEGER PRIMARY KEY, connector TEXT, "
                        "remote_name TEXT, transport_key TEXT, sha256 TEXT, size INTEGER, path TEXT, "
                        "UNIQUE (connector, transport_key))")
        self.lock = threading.Lock()
        self.calls = 0
        self.down: Exception | None = None
        self.gate: threading.Event | None = None
        """When set, every call waits for it first (a slow ledger)."""

    def __call__(self, stream: BinaryIO, *, remote_name: str, connector: str,
                 transport_key: str | None = None) -> Received:
        if self.gate is not None:
            self.gate.wait(10)
        with self.lock:
            self.calls += 1
            if self.down is not None:
                raise self.down
            data = b"".join(read_bounded(stream, self.max_bytes))
            if len(data) > self.max_bytes:
                raise FileTooLargeError(f"{remote_name}: over {self.max_bytes} bytes")
            sha = hashlib.sha256(data).hexdigest()
            row = self.db.execute("SELECT id FROM inbound_file WHERE connector = ? "
                                  "AND (transport_key = ? OR sha256 = ?)", (connector, transport_key, sha)).fetchone()
            if row is not None:
                return Received(row[0], False, "duplicate_message")
            path = self.root / f"{sha}.bin"
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            cur = self.db.execute("INSERT INTO inbound_file (connector, remote_name, transport_key, sha256, size, path)"
                                  " VALUES (?, ?, ?, ?, ?, ?)", (connector, remote_name, transport_key, sha,
                                                                 len(data), str(path)))
            return Received(int(cur.lastrowid or 0), True, "received")

    def rows(self) -> list[tuple[str, str, str | None, bytes]]:
        """(connector, remote_name, transport_key, bytes) of every stored file."""
        with self.lock:
            out = self.db.execute("SELECT connector, remote_name, transport_key, path FROM inbound_file "
                                  "ORDER BY id").fetchall()
        return [(c, n, k, Path(p).read_bytes()) for c, n, k, p in out]

    def close(self) -> None:
        self.db.close()
