"""PO states, the exception log and the audit trail: the record-keeping every step shares."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edi.store.bulk import bulk_insert
from edi.store.pipeline_tables import exception_log, po_line_trail, po_transition, purchase_order


class POState(StrEnum):
    """Business state of one PO version."""

    RECEIVED = "received"
    VALIDATED = "validated"
    ORDERED = "ordered"
    ALLOCATED = "allocated"
    ACKNOWLEDGED = "acknowledged"
    PACKED = "packed"
    SHIPPED = "shipped"
    CLOSED = "closed"
    HELD = "held"
    REJECTED = "rejected"


ALLOWED: dict[POState, frozenset[POState]] = {
    POState.RECEIVED: frozenset({POState.VALIDATED, POState.REJECTED, POState.HELD}),
    POState.VALIDATED: frozenset({POState.ORDERED, POState.HELD, POState.REJECTED}),
    POState.ORDERED: frozenset({POState.ALLOCATED, POState.HELD}),
    POState.ALLOCATED: frozenset({POState.ACKNOWLEDGED, POState.HELD}),
    POState.ACKNOWLEDGED: frozenset({POState.PACKED, POState.SHIPPED, POState.HELD, POState.CLOSED}),
    POState.PACKED: frozenset({POState.SHIPPED, POState.HELD}),
    POState.SHIPPED: frozenset({POState.CLOSED}),
    POState.HELD: frozenset({POState.ORDERED, POState.VALIDATED, POState.REJECTED, POState.ALLOCATED}),
    POState.CLOSED: frozenset(),
    POState.REJECTED: frozenset(),
}




AWAITING_855 = frozenset(st.value for st in (POState.RECEIVED, POState.VALIDATED, POState.ORDERED, POState.ALLOCATED,
                                             POState.HELD))
"""States of a PO whose 855 has not gone out yet (the deadline watch and waiting shipments look at these)."""

NOT_HOLDING = frozenset({"HOT_PO", "DEADLINE", "DEADLINE_MISSED", "ACK_MISSING", "ACK_WITH_ERRORS", "PACK_WAITING",
                         "LINES_REJECTED", "PARTIAL_FILL", "OVER_ALLOCATION", "IMS_UNAVAILABLE"})
"""Exception kinds that flag a PO without being why it is held."""


class TransitionError(RuntimeError):
    """A state change the PO state machine does not allow (an invariant, never bad input)."""


@dataclass(frozen=True, slots=True)
class ExceptionEntry:
    """One typed exception-log record to raise."""

    kind: str
    message: str
    hint: str = ""
    partner: str | None = None
    po_number: str | None = None
    line_number: str | None = None
    key: str | None = None
    info: bool = False
    """Recorded for the audit only (a duplicate with no effect): status ``info``, never ``open``."""
    detail: str | None = None
    """A traceback for INTERNAL_ERROR (never a payload)."""

    def dedupe_key(self) -> str:
        """One open entry per (kind, partner, PO, line, key); a long key is shortened with its hash (fits 200)."""
        key = "|".join(str(x or "") for x in (self.kind, self.partner, self.po_number, self.line_number, self.key))
        if len(key) > 180:
            key = key[:150] + "#" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return key


def raise_exception(conn: Connection, entry: ExceptionEntry, now: datetime) -> bool:
    """Record ``entry`` unless the same problem is already logged; True when a new row was written."""
    values = {"kind": entry.kind, "partner": entry.partner, "po_number": entry.po_number,
              "line_number": entry.line_number, "message": entry.message, "hint": entry.hint,
              "dedupe_key": entry.dedupe_key(), "status": "info" if entry.info else "open", "created_at": now,
              "detail": entry.detail}
    # one statement: an entry already there (or raised by another worker at the same moment) is a no-op
    stmt = _RAISE.get(conn.dialect.name)
    if stmt is None:
        if conn.execute(select(exception_log.c.id).where(exception_log.c.dedupe_key == values["dedupe_key"])).first():
            return False
        stmt = insert(exception_log).returning(exception_log.c.id)
    return conn.execute(stmt, values).scalar_one_or_none() is not None


_RAISE: dict[str, Any] = {
    "postgresql": pg_insert(exception_log).on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(exception_log.c.id),
    "sqlite": sqlite_insert(exception_log).on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(exception_log.c.id),
}
_CURRENT_STATE = select(purchase_order.c.state).where(purchase_order.c.id == bindparam("po_id"))
_SET_STATE = (update(purchase_order).where(purchase_order.c.id == bindparam("po_id"))
              .values(state=bindparam("to_state"), updated_at=bindparam("now")))
_AUDIT = insert(po_transition)


def transition(conn: Connection, po_id: int, to: POState, reason: str, now: datetime, *,
               current: POState | None = None) -> None:
    """Move a PO to ``to`` (checked against ``ALLOWED``) and write the audit row.

    ``current`` may be given by a caller that holds the row locked and knows its state (saves a read).
    """
    if current is None:
        current = POState(conn.execute(_CURRENT_STATE, {"po_id": po_id}).scalar_one())
    if to not in ALLOWED[current] and to is not current:
        raise TransitionError(f"PO record {po_id}: {current} -> {to} is not allowed")
    conn.execute(_SET_STATE, {"po_id": po_id, "to_state": to.value, "now": now})
    conn.execute(_AUDIT, {"po_id": po_id, "at": now, "from_state": current.value, "to_state": to.value,
                          "reason": reason})


def trail_rows(po_id: int, stage: str, lines: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The line-trail rows of one stage of one PO (to insert with others in one round trip)."""
    return [{"po_id": po_id, "line_number": ln, "stage": stage, "at": now,
             "detail": detail if isinstance(detail, str) else json.dumps(detail, default=str)}
            for ln, detail in lines.items()]


def trail(conn: Connection, po_id: int, stage: str, lines: dict[str, Any], now: datetime) -> None:
    """Write one line-trail row per line for ``stage`` (850, sales_order, allocation, ack, asn)."""
    bulk_insert(conn, po_line_trail, trail_rows(po_id, stage, lines, now))


def resolve_exception(conn: Connection, entry_id: int, by: str, note: str, now: datetime) -> bool:
    """Mark one open entry resolved (who, when, why); False when there is no such open entry.

    The entry's dedupe key is retired with it (suffixed with its id), so the same problem, should
    it come back later, opens a new entry instead of being swallowed by the resolved one.
    """
    row = conn.execute(select(exception_log.c.dedupe_key).where(exception_log.c.id == entry_id,
                                                                 exception_log.c.status == "open")).first()
    if row is None:
        return False
    suffix = f"#{entry_id}"
    conn.execute(update(exception_log).where(exception_log.c.id == entry_id).values(
        status="resolved", resolved_at=now, resolved_by=by, resolution=note,
        dedupe_key=row.dedupe_key[: 200 - len(suffix)] + suffix))
    return True


def resolve_open(conn: Connection, entry: ExceptionEntry, by: str, note: str, now: datetime, *,
                 prefix: bool = False) -> int:
    """Resolve the open entry ``entry`` names (same kind, partner, PO, line and key), or with ``prefix`` every
    open entry whose key starts with ``entry.key``. Returns how many were resolved."""
    key = entry.dedupe_key()
    match = exception_log.c.dedupe_key.startswith(key, autoescape=True) if prefix else (
        exception_log.c.dedupe_key == key)
    ids = conn.execute(select(exception_log.c.id).where(exception_log.c.status == "open", match)).scalars().all()
    return sum(resolve_exception(conn, i, by, note, now) for i in ids)


def open_exceptions(conn: Connection, partner: str, po_number: str) -> list[Any]:
    """The open exception-log rows of one PO, oldest first."""
    return list(conn.execute(select(exception_log).where(
        exception_log.c.partner == partner, exception_log.c.po_number == po_number,
        exception_log.c.status == "open").order_by(exception_log.c.id)))
