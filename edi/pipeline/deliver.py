"""Delivery: unsent outbox rows go out through their connector's transport, the same bytes on every try.

A row belongs to the connector its PO or interchange came in by (``outbox.connector``); rows made
before connectors existed, or by commands without one, go to any connector of their partner.
Transient failures are retried with backoff within the run (tenacity); a row that still fails
keeps its bytes and stays deliverable, and after ``alert_after_failures`` runs a
``DELIVERY_FAILED`` exception tells a person. A name already taken by other bytes is never
overwritten (``DELIVERY_CONFLICT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, or_, select, update
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from edi.failpoints import failpoint
from edi.pipeline.context import Clock
from edi.pipeline.records import ExceptionEntry, raise_exception, resolve_open
from edi.store import transaction
from edi.store.pipeline_tables import outbox
from edi.transports.base import DeliveryConflictError, Transport, TransportError


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retries within one run and when a failing row becomes an exception."""

    attempts: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    alert_after_failures: int = 3


@dataclass
class Delivered:
    """What one delivery run did."""

    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    """Set when the run stopped early because the destination is unreachable."""


def deliver(engine: Engine, clock: Clock, transport: Transport, *, partner: str, connector: str | None,
            policy: DeliveryPolicy | None = None, ids: list[int] | None = None) -> Delivered:
    """Deliver the unsent rows for ``connector`` (and its partner's rows without a destination)."""
    policy = policy or DeliveryPolicy()
    q = select(outbox.c.id, outbox.c.kind, outbox.c.filename, outbox.c.payload, outbox.c.failures).where(
        outbox.c.sent_at.is_(None), outbox.c.partner == partner)
    if connector is not None:
        q = q.where(or_(outbox.c.connector == connector, outbox.c.connector.is_(None)))
    if ids is not None:
        q = q.where(outbox.c.id.in_(ids))
    with engine.connect() as conn:
        pending = conn.execute(q.order_by(outbox.c.id)).all()
    out = Delivered()
    retrying = Retrying(stop=stop_after_attempt(policy.attempts), reraise=True,
                        wait=wait_exponential(multiplier=policy.backoff_seconds, max=policy.max_backoff_seconds),
                        retry=retry_if_exception_type(TransportError))
    done: list[tuple[int, str, int]] = []
    for row in pending:
        failpoint("out.rendered_before_send")
        try:
            retrying(transport.deliver, row.filename, row.payload)
        except DeliveryConflictError as exc:
            _failed(engine, clock, row, partner, connector, "DELIVERY_CONFLICT", str(exc), policy, always=True)
            out.failed.append((row.filename, str(exc)))
            continue
        except TransportError as exc:
            _failed(engine, clock, row, partner, connector, "DELIVERY_FAILED", str(exc), policy)
            out.failed.append((row.filename, str(exc)))
            out.error = str(exc)
            break  # the destination is down: the rest waits for the next run, in order
        failpoint("out.sent_before_mark")
        done.append((row.id, row.filename, row.failures))
        if len(done) >= MARK_BATCH:
            _mark_sent(engine, clock, transport, done, partner, connector, out)
    _mark_sent(engine, clock, transport, done, partner, connector, out)
    return out


MARK_BATCH = 200
"""Delivered rows marked sent per transaction. A crash before the mark delivers them again: the same bytes
under the same names, which the transport treats as a no-op."""

_MARK = (update(outbox).where(outbox.c.id == bindparam("row_id"))
         .values(sent_at=bindparam("now"), attempts=outbox.c.attempts + 1, connector=bindparam("dest"),
                 last_error=None))


def _mark_sent(engine: Engine, clock: Clock, transport: Transport, done: list[tuple[int, str, int]], partner: str,
               connector: str | None, out: Delivered) -> None:
    """Make the delivered files durable (the transport's ``flush``, if it has one), then mark their rows sent."""
    if not done:
        return
    flush = getattr(transport, "flush", None)
    if callable(flush):
        flush()
    now = clock()
    with transaction(engine) as conn:
        conn.execute(_MARK, [{"row_id": i, "now": now, "dest": connector} for i, _, _ in done])
        for i, _, failures in done:
            if failures:
                for kind in ("DELIVERY_FAILED", "DELIVERY_CONFLICT"):
                    resolve_open(conn, ExceptionEntry(kind, "", "", partner, key=f"outbox:{i}"), "pipeline",
                                 "delivered", now)
    out.sent += [name for _, name, _ in done]
    done.clear()


def _failed(engine: Engine, clock: Clock, row: object, partner: str, connector: str | None, kind: str, why: str,
            policy: DeliveryPolicy, *, always: bool = False) -> None:
    now = clock()
    row_id, filename, failures = row.id, row.filename, row.failures + 1  # type: ignore[attr-defined]
    with transaction(engine) as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id).values(
            failures=outbox.c.failures + 1, attempts=outbox.c.attempts + policy.attempts, last_error=why[:2000]))
        if always or failures >= policy.alert_after_failures:
            raise_exception(conn, ExceptionEntry(
                kind, f"{filename} to {connector or 'its destination'}: {why} (failed {failures} run(s))",
                "nothing was lost: the document stays in the outbox with the same bytes and control numbers; fix "
                "the destination and it goes out on the next run (`edi outbox list` shows it)", partner,
                key=f"outbox:{row_id}"), now)
