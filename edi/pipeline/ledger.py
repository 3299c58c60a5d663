"""The inbound ledger: raw bytes archived (fsynced, content-addressed) and committed before anything else.

``receive_stream`` is the ledger's door for every transport (``edi.transports.base.InboundSink``):
it copies the stream to a temporary file in the archive while hashing it, stops at the bound,
fsyncs and renames the file to its SHA-256, and commits the ``inbound_file`` row. Only then may a
transport delete or move the remote copy (design invariant 1). The same bytes again, or the same
transport key (an AS2 Message-ID), is recorded as a duplicate and has no effect.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from edi.durable import fsync_dir
from edi.failpoints import failpoint
from edi.pipeline.context import Clock
from edi.store import transaction
from edi.store.pipeline_tables import inbound_duplicate, inbound_file
from edi.transports.base import FileTooLargeError, Received, escape_name, read_bounded


class Disposition(StrEnum):
    """What became of an inbound file (a closed set: ``edi explain`` documents each)."""

    NEW = "new"
    PROCESSED = "processed"
    QUARANTINED = "quarantined"
    FAILED = "failed"
    DUPLICATE_TRANSPORT = "duplicate_transport"
    DUPLICATE_INTERCHANGE = "duplicate_interchange"
    CONTROL_NUMBER_REUSE = "control_number_reuse"
    NOT_X12 = "not_x12"
    UNKNOWN_PARTNER = "unknown_partner"


class Ledger:
    """The ledger of one store and archive folder; callable as an ``InboundSink``."""

    def __init__(self, engine: Engine, archive: Path, clock: Clock) -> None:
        self.engine = engine
        self.archive = archive
        self.clock = clock

    def __call__(self, stream: BinaryIO, *, remote_name: str, connector: str, transport_key: str | None = None,
                 max_bytes: int = 50 * 1024 * 1024) -> Received:
        """Archive ``stream`` and commit its row; see the module docstring. Raises FileTooLargeError."""
        return receive_stream(self, stream, remote_name=remote_name, connector=connector,
                              transport_key=transport_key, max_bytes=max_bytes)


def receive_stream(ledger: Ledger, stream: BinaryIO, *, remote_name: str, connector: str,
                   transport_key: str | None = None, max_bytes: int = 50 * 1024 * 1024) -> Received:
    """Copy ``stream`` into the archive (bounded, hashed, fsynced) and commit its ledger row.

    The remote name is data, not text we trust: it is stored escaped (``escape_name``: bytes that
    are not UTF-8 and control characters as ``\\xNN``, a backslash doubled), which is lossless and
    safe to print on one line. The transport keeps the raw name for its own moves.
    """
    remote_name = escape_name(remote_name)
    if transport_key is not None:
        seen = _by_transport_key(ledger, connector, transport_key)
        if seen is not None:
            _record_duplicate(ledger, connector, remote_name, seen[1], Disposition.DUPLICATE_TRANSPORT)
            return Received(seen[0], False, Disposition.DUPLICATE_TRANSPORT.value)
    ledger.archive.mkdir(parents=True, exist_ok=True)
    tmp = ledger.archive / f".incoming-{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for chunk in read_bounded(stream, max_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLargeError(
                        f"{remote_name} ({connector}) is larger than max_file_bytes ({max_bytes:,} "
                        "bytes); nothing was stored", hint="raise max_file_bytes in the connector if the file is "
                        "legitimate; the file is left on the remote side")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        target = ledger.archive / sha[:2] / sha
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            tmp.replace(target)  # a unique temporary name: two workers taking one file never collide here
            fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    failpoint("in.fsynced_before_commit")
    now = ledger.clock()
    try:
        with transaction(ledger.engine) as conn:
            hit = conn.execute(select(inbound_file.c.id).where(inbound_file.c.sha256 == sha)).first()
            if hit is None:
                file_id = conn.execute(insert(inbound_file).values(
                    connector=connector, remote_name=remote_name, size=size, sha256=sha, archive_path=str(target),
                    received_at=now, disposition=Disposition.NEW.value, transport_key=transport_key)
                    .returning(inbound_file.c.id)).scalar_one()
                return Received(file_id, True, Disposition.NEW.value)
    except IntegrityError:
        pass  # another worker committed the same bytes (or transport key) first: a duplicate
    with ledger.engine.connect() as conn:
        first = conn.execute(select(inbound_file.c.id).where(inbound_file.c.sha256 == sha)).scalar_one_or_none()
    if first is None and transport_key is not None:
        seen = _by_transport_key(ledger, connector, transport_key)
        first = seen[0] if seen else None
    _record_duplicate(ledger, connector, remote_name, sha, Disposition.DUPLICATE_TRANSPORT)
    return Received(first or 0, False, Disposition.DUPLICATE_TRANSPORT.value)


def receive_bytes(ledger: Ledger, data: bytes, remote_name: str, connector: str) -> bool:
    """Archive ``data`` and commit its ledger row; False for a duplicate (tests and the CLI use it)."""
    return receive_stream(ledger, io.BytesIO(data), remote_name=remote_name, connector=connector,
                          max_bytes=max(len(data), 1)).new


def _by_transport_key(ledger: Ledger, connector: str, key: str) -> tuple[int, str] | None:
    with ledger.engine.connect() as conn:
        row = conn.execute(select(inbound_file.c.id, inbound_file.c.sha256).where(
            inbound_file.c.connector == connector, inbound_file.c.transport_key == key)).first()
    return (row.id, row.sha256) if row is not None else None


def _record_duplicate(ledger: Ledger, connector: str, remote_name: str, sha: str, why: Disposition) -> None:
    with transaction(ledger.engine) as conn:
        _insert_duplicate(conn, connector, remote_name, sha, why, ledger.clock())


def _insert_duplicate(conn: Connection, connector: str, remote_name: str, sha: str, why: Disposition,
                      now: object) -> None:
    conn.execute(insert(inbound_duplicate).values(connector=connector, remote_name=remote_name, sha256=sha,
                                                  seen_at=now, disposition=why.value))
