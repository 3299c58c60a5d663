"""Control-number ledger: ISA13 and GS06 counters per sender/receiver pair (I4, F51).

One counter row per (sender, receiver, kind) is locked (``SELECT ... FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite, see `edi.store.engine`) and advanced inside the caller's business
transaction, so a rollback hands the numbers back with no gap and a commit makes them final; a
database sequence would leave gaps on rollback. Every reservation, and every audited admin override,
writes one ``control_number_reservation`` row. Counters run from 1 to ``wrap_at`` (999999999, the
largest nine-digit ISA13/GS06) and then wrap back to 1 with a logged warning.

ST02 numbers are not counted here: they start at 1 within each group (``Reservation.set_numbers``);
zero-padding them ("0001") is the writer's job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Index,
    Insert,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from edi.store._base import ID_TYPE, UTCDateTime, metadata, utc_now
from edi.store.errors import StoreBusyError, UnsupportedDatabaseError, translate_busy

__all__ = [
    "DEFAULT_WRAP_AT",
    "Kind",
    "Party",
    "Reservation",
    "control_number",
    "control_number_reservation",
    "peek",
    "reserve",
    "set_next",
]

logger = logging.getLogger("edi.store")

DEFAULT_WRAP_AT = 999_999_999
MAX_SETS_PER_GROUP = 999_999_999  # ST02 is at most nine digits
_MAX_QUALIFIER_LEN = 2
_MAX_ID_LEN = 15

Kind = Literal["ISA", "GS"]
Party = tuple[str, str]
"""An interchange party as (qualifier, id), e.g. ("ZZ", "AMAZON"); surrounding blanks are ignored."""

_PAIR_COLUMNS = ("sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id")

control_number = Table(
    "control_number",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("sender_qualifier", String(2), nullable=False),
    Column("sender_id", String(35), nullable=False),
    Column("receiver_qualifier", String(2), nullable=False),
    Column("receiver_id", String(35), nullable=False),
    Column("kind", String(3), nullable=False),
    Column("last_value", BigInteger(), nullable=False, server_default=text("0")),
    Column("wrap_at", BigInteger(), nullable=False, server_default=text(str(DEFAULT_WRAP_AT))),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("kind IN ('ISA', 'GS')", name="kind"),
    CheckConstraint("wrap_at >= 1", name="wrap_at_positive"),
    CheckConstraint("last_value >= 0 AND last_value <= wrap_at", name="last_value_range"),
    UniqueConstraint(*_PAIR_COLUMNS, "kind", name="uq_control_number_pair_kind"),
)
"""One counter per (sender, receiver, kind); ``last_value`` is the last number handed out (0: none)."""

control_number_reservation = Table(
    "control_number_reservation",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("sender_qualifier", String(2), nullable=False),
    Column("sender_id", String(35), nullable=False),
    Column("receiver_qualifier", String(2), nullable=False),
    Column("receiver_id", String(35), nullable=False),
    Column("isa13", BigInteger(), nullable=True),
    Column("gs06", BigInteger(), nullable=True),
    Column("gs06_last", BigInteger(), nullable=True),
    Column("st02_first", BigInteger(), nullable=True),
    Column("st02_last", BigInteger(), nullable=True),
    Column("previous_last_value", BigInteger(), nullable=True),
    Column("reserved_at", UTCDateTime(), nullable=False),
    Column("purpose", Text(), nullable=False),
    Index(
        "ix_control_number_reservation_isa13",
        "sender_qualifier",
        "sender_id",
        "receiver_qualifier",
        "receiver_id",
        "isa13",
    ),
)
"""Audit trail: one row per reservation or admin override (``purpose`` 'admin:<reason>')."""


@dataclass(frozen=True)
class Reservation:
    """Control numbers reserved for one outbound interchange.

    Attributes:
        isa13: the interchange control number (ISA13/IEA02).
        group_numbers: one GS06/GE02 per functional group, in order (may wrap past ``wrap_at``).
        sets_per_group: how many transaction sets each group holds.
        reservation_id: the audit row written for this reservation.
    """

    isa13: int
    group_numbers: tuple[int, ...]
    sets_per_group: int
    reservation_id: int

    def set_numbers(self, group_index: int) -> range:
        """Return the ST02/SE02 numbers of the group at ``group_index`` (0-based), starting at 1."""
        if not 0 <= group_index < len(self.group_numbers):
            raise IndexError(f"group index {group_index} outside 0..{len(self.group_numbers) - 1}")
        return range(1, self.sets_per_group + 1)


def _normalise(party: Party, role: str) -> Party:
    """Strip an ISA party and check its shape."""
    qualifier, ident = (party[0].strip(), party[1].strip())
    if not 1 <= len(qualifier) <= _MAX_QUALIFIER_LEN:
        raise ValueError(f"{role} qualifier {party[0]!r} must be 1-{_MAX_QUALIFIER_LEN} characters")
    if not 1 <= len(ident) <= _MAX_ID_LEN:
        raise ValueError(f"{role} id {party[1]!r} must be 1-{_MAX_ID_LEN} characters")
    return qualifier, ident


def _pair_values(sender: Party, receiver: Party) -> dict[str, str]:
    """Return the four pair columns as a dict."""
    return dict(zip(_PAIR_COLUMNS, (*sender, *receiver), strict=True))


def _counter_filter(pair: dict[str, str], kind: Kind) -> ColumnElement[bool]:
    """Select the counter row of ``pair`` and ``kind``."""
    return and_(
        *(control_number.c[name] == value for name, value in pair.items()), control_number.c.kind == kind
    )


def _insert_ignoring_conflict(conn: Connection, values: dict[str, object]) -> None:
    """Create a counter row unless a concurrent transaction already did (race-safe first use)."""
    keys = [*_PAIR_COLUMNS, "kind"]
    stmt: Insert
    if conn.dialect.name == "sqlite":
        stmt = sqlite.insert(control_number).values(values).on_conflict_do_nothing(index_elements=keys)
    elif conn.dialect.name == "postgresql":
        stmt = postgresql.insert(control_number).values(values).on_conflict_do_nothing(index_elements=keys)
    else:
        raise UnsupportedDatabaseError(f"control numbers are not supported on {conn.dialect.name!r}")
    conn.execute(stmt)


def _ensure_counter(conn: Connection, pair: dict[str, str], kind: Kind, now: datetime) -> None:
    """Make sure the counter row exists (last_value 0, default wrap)."""
    _insert_ignoring_conflict(conn, {**pair, "kind": kind, "last_value": 0, "updated_at": now})


def _statements() -> tuple[Any, Any]:
    """The lock and bump statements, built once with bound parameters (they run twice per reservation)."""
    col = control_number.c
    match = and_(*(control_number.c[name] == bindparam(f"p_{name}") for name in _PAIR_COLUMNS),
                 col.kind == bindparam("p_kind"))
    lock = select(col.last_value, col.wrap_at).where(match).with_for_update()
    bump = (update(control_number).where(match, col.last_value == bindparam("p_old"))
            .values(last_value=bindparam("p_new"), updated_at=bindparam("p_now")))
    return lock, bump


_LOCK, _BUMP = _statements()


def _advance(conn: Connection, pair: dict[str, str], kind: Kind, count: int, now: datetime) -> list[int]:
    """Lock the counter row, advance it by ``count`` and return the numbers handed out, in order."""
    params = {f"p_{k}": v for k, v in pair.items()} | {"p_kind": kind}
    row = conn.execute(_LOCK, params).one_or_none()
    if row is None:
        _ensure_counter(conn, pair, kind, now)
        row = conn.execute(_LOCK, params).one()
    old_last, wrap_at = int(row.last_value), int(row.wrap_at)
    if count > wrap_at:
        raise ValueError(f"cannot reserve {count} {kind} numbers at once: counter wraps at {wrap_at}")
    numbers = [(old_last + k) % wrap_at + 1 for k in range(count)]
    # The WHERE on the old value makes a lost update impossible even without the row lock.
    updated = conn.execute(_BUMP, params | {"p_old": old_last, "p_new": numbers[-1], "p_now": now})
    if updated.rowcount != 1:
        raise StoreBusyError(f"{kind} counter changed concurrently; retry the transaction")
    if old_last + count > wrap_at:
        logger.warning(
            "control number counter wrapped",
            extra={
                "event": "control_number_wrapped",
                "kind": kind,
                "sender": f"{pair['sender_qualifier']}/{pair['sender_id']}",
                "receiver": f"{pair['receiver_qualifier']}/{pair['receiver_id']}",
                "wrap_at": wrap_at,
                "next_value": numbers[-1] % wrap_at + 1,
            },
        )
    return numbers


_RESERVATION = insert(control_number_reservation).returning(control_number_reservation.c.id)


def reserve(
    conn: Connection,
    *,
    sender: Party,
    receiver: Party,
    groups: int = 1,
    sets_per_group: int = 1,
    purpose: str,
    now: datetime | None = None,
) -> Reservation:
    """Reserve an ISA13, ``groups`` GS06 numbers and ST02 ranges inside the caller's transaction.

    The numbers become final when the caller commits (with its business event) and are released,
    leaving no gap, when it rolls back. ``groups=0`` reserves an ISA13 only (a TA1-only interchange).

    Args:
        conn: a connection inside the caller's open transaction.
        sender: ISA05/ISA06 of the outbound interchange (us).
        receiver: ISA07/ISA08 (the partner).
        groups: number of functional groups.
        sets_per_group: transaction sets in each group (ST02 runs 1..sets_per_group).
        purpose: what the numbers are for, e.g. "855 PO 1PCPDX1U v2"; stored in the audit row.
        now: reservation time (aware); defaults to the current UTC time.

    Raises:
        ValueError: bad arguments, or ``conn`` is not in a transaction.
        StoreBusyError: the counter lock was not obtained in time.
    """
    if not conn.in_transaction():
        raise ValueError("reserve() must run inside the caller's transaction (use conn.begin())")
    if groups < 0:
        raise ValueError("groups must be >= 0")
    if not 1 <= sets_per_group <= MAX_SETS_PER_GROUP:
        raise ValueError(f"sets_per_group must be 1..{MAX_SETS_PER_GROUP}")
    if not purpose.strip():
        raise ValueError("purpose must not be empty")
    pair = _pair_values(_normalise(sender, "sender"), _normalise(receiver, "receiver"))
    now = now or utc_now()
    with translate_busy():
        (isa13,) = _advance(conn, pair, "ISA", 1, now)
        group_numbers = tuple(_advance(conn, pair, "GS", groups, now)) if groups else ()
        reservation_id = conn.execute(_RESERVATION, {
            **pair,
            "isa13": isa13,
            "gs06": group_numbers[0] if group_numbers else None,
            "gs06_last": group_numbers[-1] if group_numbers else None,
            "st02_first": 1 if group_numbers else None,
            "st02_last": sets_per_group if group_numbers else None,
            "reserved_at": now,
            "purpose": purpose,
        }).scalar_one()
    return Reservation(
        isa13=isa13,
        group_numbers=group_numbers,
        sets_per_group=sets_per_group,
        reservation_id=int(reservation_id),
    )


def peek(conn: Connection, sender: Party, receiver: Party, kind: Kind) -> int | None:
    """Return the number the next reservation of ``kind`` would get, or None if never used.

    Reading does not lock: the value may be taken by another transaction before you use it.
    """
    pair = _pair_values(_normalise(sender, "sender"), _normalise(receiver, "receiver"))
    col = control_number.c
    with translate_busy():
        row = conn.execute(
            select(col.last_value, col.wrap_at).where(_counter_filter(pair, kind))
        ).one_or_none()
    if row is None:
        return None
    return int(row.last_value) % int(row.wrap_at) + 1


def set_next(
    conn: Connection,
    sender: Party,
    receiver: Party,
    kind: Kind,
    *,
    value: int,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Set the number the next reservation of ``kind`` gets: an audited admin override.

    Writes a reservation row with purpose ``admin:<reason>``, the new next value in ``isa13`` or
    ``gs06`` and the counter's previous ``last_value``. Moving backwards can reissue numbers the
    partner has already seen, so it is logged as a warning.

    Raises:
        ValueError: ``value`` is outside 1..wrap_at, ``reason`` is empty or ``kind`` is unknown.
    """
    if kind not in ("ISA", "GS"):
        raise ValueError(f"kind must be 'ISA' or 'GS', not {kind!r}")
    if not reason.strip():
        raise ValueError("an admin override needs a reason")
    pair = _pair_values(_normalise(sender, "sender"), _normalise(receiver, "receiver"))
    now = now or utc_now()
    col = control_number.c
    with translate_busy():
        _ensure_counter(conn, pair, kind, now)
        row = conn.execute(
            select(col.last_value, col.wrap_at).where(_counter_filter(pair, kind)).with_for_update()
        ).one()
        previous, wrap_at = int(row.last_value), int(row.wrap_at)
        if not 1 <= value <= wrap_at:
            raise ValueError(f"next value {value} outside 1..{wrap_at}")
        conn.execute(
            update(control_number)
            .where(_counter_filter(pair, kind))
            .values(last_value=value - 1, updated_at=now)
        )
        conn.execute(
            insert(control_number_reservation).values(
                **pair,
                isa13=value if kind == "ISA" else None,
                gs06=value if kind == "GS" else None,
                previous_last_value=previous,
                reserved_at=now,
                purpose=f"admin:{reason.strip()}",
            )
        )
    extra = {"event": "control_number_set", "kind": kind, "next_value": value, "previous_last": previous}
    if value <= previous:
        logger.warning("control number counter moved backwards by an admin override", extra=extra)
    else:
        logger.info("control number counter set by an admin override", extra=extra)
