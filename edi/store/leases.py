"""Leases: one holder at a time per job kind or connector, across every daemon on one database.

A lease is a row (name, holder, expiry). Taking it succeeds when there is no row, the row is ours,
or it has expired (its holder died); the check and the write happen in one transaction, and a
racing insert loses on the primary key. A holder renews by taking it again and gives it back when done.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from edi.store.engine import transaction
from edi.store.pipeline_tables import lease

__all__ = ["acquire", "held", "release"]


def acquire(engine: Engine, name: str, holder: str, ttl_seconds: float, now: datetime) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False when someone else holds it."""
    expires = now + timedelta(seconds=ttl_seconds)
    try:
        with transaction(engine) as conn:
            row = conn.execute(select(lease.c.holder, lease.c.expires_at).where(lease.c.name == name)
                               .with_for_update()).first()
            if row is None:
                conn.execute(insert(lease).values(name=name, holder=holder, acquired_at=now, expires_at=expires))
                return True
            if row.holder != holder and row.expires_at > now and not _holder_dead(row.holder):
                return False
            conn.execute(update(lease).where(lease.c.name == name).values(
                holder=holder, acquired_at=now, expires_at=expires))
            return True
    except IntegrityError:
        return False  # another holder inserted it first


def _holder_dead(holder: str) -> bool:
    """True when the holder (``host:pid:tag``) ran on this host and its process is gone (it was killed)."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease back (only if we still hold it)."""
    with transaction(engine) as conn:
        conn.execute(delete(lease).where(lease.c.name == name, lease.c.holder == holder))


@contextmanager
def held(engine: Engine, name: str, holder: str, ttl_seconds: float, clock: Callable[[], datetime]) -> Iterator[bool]:
    """``with held(...) as mine:`` runs the body knowing whether the lease is ours; released on the way out."""
    mine = acquire(engine, name, holder, ttl_seconds, clock())
    try:
        yield mine
    finally:
        if mine:
            release(engine, name, holder)
