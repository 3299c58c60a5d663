"""Support work on held POs: replay once the cause is fixed, and the 855 deadline watch.

Both act only on what is stored (the 850's view, the sales order, the allocation), so a replay
never depends on the sender and never creates a second sales order or a second 855.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from edi.errors import DocumentError
from edi.failpoints import failpoint
from edi.mapping.views import (
    AllocationMismatchError,
    acknowledgement_view,
    received_lines,
)
from edi.model import Allocation, SalesOrder
from edi.pipeline import inbound, outbound
from edi.pipeline.context import PartnerContext, hold_po, is_transient, order_trail
from edi.pipeline.records import (
    AWAITING_855,
    NOT_HOLDING,
    ExceptionEntry,
    POState,
    open_exceptions,
    raise_exception,
    resolve_exception,
    trail,
    transition,
)
from edi.store import transaction
from edi.store.pipeline_tables import outbox, purchase_order


class ReplayRefusedError(DocumentError):
    """A PO cannot be replayed as asked (unknown, not held, or a revision that needs a person)."""

    code = "REPLAY_REFUSED"




# -- replay: support staff fixed the cause of a hold --------------------------------------------


def replay(ctx: PartnerContext, po_number: str, by: str, note: str) -> str:
    """Take a held PO through the step that held it again, from what is stored; returns what happened.

    Mapping holds (an unknown SKU, say, after the cross-reference was fixed) re-map the stored 850
    and create the sales order; 855 holds re-run the 855 from the stored allocation, or ask the IMS
    again when the allocation itself was wrong. The PO's open exceptions are resolved (by, note)
    when the step passes; nothing is duplicated: the PO record, its revision and the IMS
    idempotency key stay the same. Raises ReplayRefusedError when the PO cannot be replayed.
    """
    now = ctx.clock()
    s = ctx.settings
    ctx.refresh_mappings()
    with transaction(ctx.engine) as conn:
        row = conn.execute(select(purchase_order).where(
            purchase_order.c.partner == s.partner, purchase_order.c.po_number == po_number)
            .order_by(purchase_order.c.revision.desc())).first()
        if row is None:
            raise ReplayRefusedError(f"no PO {po_number} for partner {s.partner}",
                                     hint="check the number with `edi exceptions list`")
        if row.state != POState.HELD.value:
            raise ReplayRefusedError(f"PO {po_number} is {row.state}, not held: nothing to replay",
                                     hint="only held POs are replayed; `edi po show` gives its history")
        if row.sales_order is None and row.revision > 1:
            raise ReplayRefusedError(
                f"PO {po_number} revision {row.revision} changes a PO that already has a sales order",
                hint="compare both versions in Vendor Central, change the sales order in the IMS by hand, "
                     "then resolve the REVISION exception")
        before = open_exceptions(conn, s.partner, po_number)
        why = f"replayed by {by}: {note}"
        if row.sales_order is None:
            order, exceptions, submitted = inbound.make_order(ctx, conn, json.loads(row.canonical), po_number,
                                                            row.revision, s.hot_list())
            if order is None:
                for entry in exceptions:
                    raise_exception(conn, entry, now)
                return f"still held: {len(exceptions)} exception(s) remain; see `edi exceptions list --open`"
            conn.execute(update(purchase_order).where(purchase_order.c.id == row.id).values(
                sales_order=order.model_dump_json(), hot=order.hot))
            trail(conn, row.id, "sales_order", order_trail(order), now)
            if submitted:
                transition(conn, row.id, POState.ORDERED, f"sales order created in the IMS ({why})", now)
                outcome = "ordered: the sales order is in the IMS; the 855 follows its allocation"
            else:
                transition(conn, row.id, POState.VALIDATED, f"mapped; the IMS is unavailable ({why})", now)
                outcome = "validated: the IMS is unavailable; the sales order is submitted on the next run"
        elif row.allocation is None:
            exceptions = []
            transition(conn, row.id, POState.ORDERED, f"asking the IMS again ({why})", now)
            outcome = "ordered: waiting for the IMS's allocation again"
        else:
            exceptions = []  # the 855 step logs its own problems
            order = SalesOrder.model_validate_json(row.sales_order)
            allocation = Allocation.model_validate_json(row.allocation)
            try:
                acknowledgement_view(order, allocation, codes=ctx.codes, received=received_lines(
                    json.loads(row.canonical)))
            except AllocationMismatchError:
                conn.execute(update(purchase_order).where(purchase_order.c.id == row.id).values(allocation=None))
                transition(conn, row.id, POState.ORDERED, f"allocation did not match: asking the IMS again "
                           f"({why})", now)
                outcome = "ordered: the stored allocation did not match; waiting for the IMS again"
            else:
                transition(conn, row.id, POState.ALLOCATED, f"855 step again ({why})", now)
                if not outbound.answer(ctx, conn, row, order, allocation, now):
                    return "still held: the 855 checks failed again; see `edi exceptions list --open`"
                outcome = "acknowledged: the 855 is in the outbox"
        again = {e.dedupe_key() for e in exceptions}
        for x in before:
            if x.kind != "HOT_PO" and x.dedupe_key not in again:
                resolve_exception(conn, x.id, by, f"replayed: {note}", now)
        for entry in exceptions:
            raise_exception(conn, entry, now)
        failpoint("replay.before_commit")
    return outcome


def reject_unknown_items(ctx: PartnerContext) -> int:
    """Before the 855 deadline, unstick POs held only by unknown items: order the known lines, reject the rest.

    At ``reject_unknown_items_at_hours`` after receipt, a held PO whose open exceptions are
    all line-level mapping exceptions (an unknown SKU, say) is mapped again with those lines
    rejected: the sales order carries the known lines, and its 855 answers the others with the
    invalid-item code. A PO whose every line is unknown, or held for any other reason, stays
    held (the DEADLINE alarms go on). Returns the number of POs released.
    """
    s = ctx.settings
    if s.reject_unknown_items_at_hours is None:
        return 0
    now = ctx.clock()
    ctx.refresh_mappings()
    hot_list = s.hot_list()
    with ctx.engine.connect() as conn:
        held = conn.execute(select(purchase_order.c.id).where(
            purchase_order.c.partner == s.partner, purchase_order.c.state == POState.HELD.value,
            purchase_order.c.sales_order.is_(None), purchase_order.c.revision == 1,
            purchase_order.c.received_at <= now - timedelta(hours=s.reject_unknown_items_at_hours))
            .order_by(purchase_order.c.id)).scalars().all()
    released = 0
    for po_id in held:  # one transaction per PO: one that fails does not keep the others (or the alarms) back
        try:
            with transaction(ctx.engine) as conn:
                released += release_known_lines(ctx, conn, po_id, hot_list, now)
        except Exception as exc:
            if is_transient(exc):
                raise
            hold_po(ctx, po_id, exc, "unknown-item release")
    return released


def release_known_lines(ctx: PartnerContext,
                        conn: Connection, po_id: int, hot_list: frozenset[str], now: datetime) -> int:
    s = ctx.settings
    r = conn.execute(select(purchase_order.c.po_number, purchase_order.c.revision, purchase_order.c.state,
                            purchase_order.c.canonical).where(purchase_order.c.id == po_id)).one()
    if r.state != POState.HELD.value:
        return 0
    lines_only = [x for x in open_exceptions(conn, s.partner, r.po_number) if x.kind not in NOT_HOLDING]
    if not lines_only or any(x.line_number is None or x.kind in ("MAPPING", "PRICE_MISMATCH")
                             for x in lines_only):
        return 0  # held for something else than unknown items: a person decides
    order, exceptions, submitted = inbound.make_order(ctx, conn, json.loads(r.canonical), r.po_number, r.revision,
                                                    hot_list, reject_lines=True)
    if order is None:
        return 0
    hours = s.reject_unknown_items_at_hours
    rejected = sorted({str(x.line_number) for x in lines_only}, key=lambda n: (len(n), n))
    conn.execute(update(purchase_order).where(purchase_order.c.id == po_id).values(
        sales_order=order.model_dump_json(), hot=order.hot))
    trail(conn, po_id, "sales_order", order_trail(order), now)
    transition(conn, po_id, POState.ORDERED if submitted else POState.VALIDATED,
               f"still held at {hours} h: line(s) {', '.join(rejected)} rejected as invalid items so the 855 "
               "is on time", now)
    for x in lines_only:
        resolve_exception(conn, x.id, "pipeline", f"line {x.line_number} answered rejected (invalid item) in "
                          f"the 855 at {hours} h", now)
    raise_exception(conn, ExceptionEntry(
        "LINES_REJECTED", f"PO {r.po_number}: line(s) {', '.join(rejected)} rejected as unknown items at "
        f"{hours} h to meet the 855 deadline",
        "fix the cross-reference for the next POs; rejected units count against the fill rate",
        s.partner, r.po_number), now)
    for entry in exceptions:
        if entry.kind in NOT_HOLDING or entry.kind == "PRICE_MISMATCH":
            raise_exception(conn, entry, now)
    return 1


def watch_deadlines(ctx: PartnerContext) -> int:
    """Alarm on POs without an 855: DEADLINE at ``alarm_hours``, DEADLINE_MISSED at the deadline (each once).

    Each entry says why the 855 has not gone out (held, waiting for the IMS, ...). Returns the
    number of entries raised. POs held only by unknown items are released first when their
    time has come (``reject_unknown_items``).
    """
    reject_unknown_items(ctx)
    now = ctx.clock()
    s = ctx.settings
    raised = 0
    with transaction(ctx.engine) as conn:
        due = conn.execute(select(
            purchase_order.c.id, purchase_order.c.partner, purchase_order.c.po_number, purchase_order.c.revision,
            purchase_order.c.state, purchase_order.c.hot, purchase_order.c.deadline_855_at,
            purchase_order.c.alarm_raised, purchase_order.c.deadline_missed).where(
            purchase_order.c.partner == s.partner, purchase_order.c.state.in_(AWAITING_855),
            purchase_order.c.received_at <= now - timedelta(hours=s.alarm_hours),
            (purchase_order.c.alarm_raised.is_(False)) | (
                (purchase_order.c.deadline_missed.is_(False)) & (purchase_order.c.deadline_855_at <= now)))
        ).all()
        for r in due:
            why = {"held": "held for a person (see its exceptions: `edi po show " + r.po_number + "`)",
                   "ordered": "waiting for the IMS's allocation"}.get(r.state, f"in state {r.state}")
            hot = " (hot PO)" if r.hot else ""
            changes: dict[str, bool] = {}
            if not r.alarm_raised:
                raise_exception(conn, ExceptionEntry(
                    "DEADLINE", f"PO {r.po_number}{hot}: no 855 after {s.alarm_hours} h; due "
                    f"{r.deadline_855_at:%Y-%m-%d %H:%M} UTC; {why}", "resolve its exceptions now; Amazon "
                    f"expects the 855 within {s.deadline_hours} h", r.partner, r.po_number,
                    key=str(r.revision)), now)
                changes["alarm_raised"] = True
            if not r.deadline_missed and r.deadline_855_at <= now:
                raise_exception(conn, ExceptionEntry(
                    "DEADLINE_MISSED", f"PO {r.po_number}{hot}: the 855 was due {r.deadline_855_at:%Y-%m-%d %H:%M}"
                    f" UTC and has not gone out; {why}", "send the 855 as soon as possible and check the "
                    "compliance dashboard in Vendor Central", r.partner, r.po_number, key=str(r.revision)), now)
                changes["deadline_missed"] = True
            conn.execute(update(purchase_order).where(purchase_order.c.id == r.id).values(**changes))
            raised += len(changes)
        raised += overdue_997s(ctx, conn, now)
    return raised


def overdue_997s(ctx: PartnerContext, conn: Connection, now: datetime) -> int:
    """ACK_MISSING (once) for each 855/856 sent ``expect_997_within_hours`` ago without the partner's 997."""
    s = ctx.settings
    if s.expect_997_within_hours is None:
        return 0
    late = conn.execute(select(outbox.c.id, outbox.c.kind, outbox.c.subject, outbox.c.filename,
                               outbox.c.sent_at).where(
        outbox.c.partner == s.partner, outbox.c.kind.in_(["855", "856"]), outbox.c.ack_status.is_(None),
        outbox.c.sent_at <= now - timedelta(hours=s.expect_997_within_hours))).all()
    for r in late:
        po = r.subject.split("/")[0] if r.kind == "855" else None
        raise_exception(conn, ExceptionEntry(
            "ACK_MISSING", f"no 997 for our {r.kind} {r.filename} ({'PO ' + po if po else 'shipment ' + r.subject})"
            f", sent {r.sent_at:%Y-%m-%d %H:%M} UTC", "check that the partner received it (transport, ids); the "
            "partner may not have taken it", s.partner, po, key=f"{r.kind}/{r.id}"), now)
        conn.execute(update(outbox).where(outbox.c.id == r.id).values(ack_status="overdue"))
    return len(late)


