"""The 855 after allocation, the 856 after pack confirmation, and the outbox.

Each document is rendered once, in the transaction of the event that caused it, with its control
numbers reserved there; its bytes go to the outbox, and every (re)send writes those same bytes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from edi import events
from edi.durable import fsync_dir, write_durably
from edi.errors import OutboundValueError
from edi.failpoints import failpoint
from edi.mapping.views import (
    AllocationMismatchError,
    PackMismatchError,
    accepted_codes,
    acknowledgement_view,
    received_lines,
    shipment_view,
    shippable_codes,
)
from edi.model import Allocation, PackConfirmation, PurchaseOrderAck, SalesOrder, ShipNotice
from edi.pipeline import inbound
from edi.pipeline.checks import check_855, check_pack
from edi.pipeline.context import (
    PartnerContext,
    format_traceback,
    hold_po,
    internal_error,
    is_transient,
    sha256_hex,
)
from edi.pipeline.ims import ImsFileError, ImsUnavailableError
from edi.pipeline.packs import PackFileError, parse_pack
from edi.pipeline.records import (
    AWAITING_855,
    ExceptionEntry,
    POState,
    raise_exception,
    resolve_open,
    trail,
    transition,
)
from edi.store import reserve, transaction
from edi.store.pipeline_tables import (
    inbound_file,
    interchange,
    outbox,
    purchase_order,
    shipment,
)
from edi.x12.ack import document_name
from edi.x12.envelope import Delimiters
from edi.x12.render import Envelope, render_855, render_856
from edi.x12.writer import Party

# -- allocation and 855 -----------------------------------------------------------------------


def submit_pending(ctx: PartnerContext, *, po_id: int | None = None) -> int:
    """Submit the sales orders the IMS could not take earlier (POs validated, with a sales order stored).

    Each PO is claimed in its own transaction; one PO that fails is held and the others go on. After
    ``_GIVE_UP_AFTER`` IMS_UNAVAILABLE answers in a row the rest waits for the next run (the IMS is
    down: no point in timing out once per PO). Returns the number submitted.
    """
    ids = _pos_in(ctx, POState.VALIDATED, po_id, purchase_order.c.sales_order.is_not(None))
    done = unavailable = 0
    for pid in ids:
        now = ctx.clock()
        try:
            with transaction(ctx.engine) as conn:
                row = _claim_po(conn, pid, POState.VALIDATED)
                if row is None:
                    continue
                problems: list[ExceptionEntry] = []
                if not inbound.submit(ctx, conn, SalesOrder.model_validate_json(row.sales_order), problems):
                    for entry in problems:
                        raise_exception(conn, entry, now)
                    unavailable += 1
                    if unavailable >= _GIVE_UP_AFTER:
                        break
                    continue
                unavailable = 0
                transition(conn, pid, POState.ORDERED, "sales order created in the IMS (submitted again)", now)
                done += 1
        except Exception as exc:
            if is_transient(exc):
                raise
            hold_po(ctx, pid, exc, "sales-order submit")
    return done


_GIVE_UP_AFTER = 3


def _pos_in(ctx: PartnerContext, state: POState, po_id: int | None, *where: Any) -> list[int]:
    """This partner's PO records in ``state`` (hot first, then oldest), or just ``po_id``."""
    q = select(purchase_order.c.id).where(purchase_order.c.partner == ctx.settings.partner,
                                          purchase_order.c.state == state.value, *where)
    if po_id is not None:
        q = q.where(purchase_order.c.id == po_id)
    with ctx.engine.connect() as conn:
        return list(conn.execute(q.order_by(purchase_order.c.hot.desc(), purchase_order.c.received_at,
                                            purchase_order.c.id)).scalars())


def _claim_po(conn: Connection, po_id: int, state: POState) -> Any:
    """Lock a PO record for this transaction if it is still in ``state``; None when another worker has it."""
    row = conn.execute(select(purchase_order).where(purchase_order.c.id == po_id)
                       .with_for_update(skip_locked=True)).first()
    return row if row is not None and row.state == state.value else None


def acknowledge(ctx: PartnerContext, *, po_id: int | None = None) -> int:
    """Submit pending sales orders, then allocate ordered POs (hot first) and render their 855s.

    Small POs go ``ACK_BATCH`` to a transaction. A PO of more than ``LARGE_PO_LINES`` lines is
    allocated in the batch, and its 855 is worked out after the batch commits, outside any
    transaction, then written in a short one of its own (``answer_allocated``): a PO of 100,000
    lines never holds the store's write lock while it is mapped and checked. A PO left allocated
    (by that path, or a crash between its two transactions) is answered on the next run.
    With ``po_id``, only that PO. Returns the number acknowledged.
    """
    ctx.refresh_mappings()
    submit_pending(ctx, po_id=po_id)
    done = sum(answer_allocated(ctx, pid) for pid in _pos_in(ctx, POState.ALLOCATED, po_id))
    ids = _pos_in(ctx, POState.ORDERED, po_id)
    for start in range(0, len(ids), ACK_BATCH):
        failed: list[tuple[int, Exception]] = []
        large: list[int] = []
        with transaction(ctx.engine) as conn:  # one commit per batch; a savepoint per PO keeps each one apart
            now = ctx.clock()
            ctx.after_commit.clear()
            for pid in ids[start:start + ACK_BATCH]:
                mark = len(ctx.after_commit)
                savepoint = conn.begin_nested()
                try:
                    got = acknowledge_one(ctx, conn, pid, now, large=large)
                except Exception as exc:
                    savepoint.rollback()
                    del ctx.after_commit[mark:]
                    if pid in large:
                        large.remove(pid)
                    if is_transient(exc):
                        raise  # the batch rolls back; its POs stay ordered for the next run
                    failed.append((pid, exc))
                    continue
                savepoint.commit()
                done += got
        ctx.flush_events()
        for pid, err in failed:
            hold_po(ctx, pid, err, "855 step")
        done += sum(answer_allocated(ctx, pid) for pid in large)
    return done


ACK_BATCH = 50
"""POs allocated and acknowledged per transaction (each in its own savepoint)."""
LARGE_PO_LINES = 2_000
"""Above this many lines a PO's 855 is prepared outside any transaction (see ``acknowledge``)."""


def acknowledge_one(ctx: PartnerContext, conn: Connection, po_id: int, now: datetime, *,
                    large: list[int] | None = None) -> int:
    """Allocate one claimed PO and render its 855; 1 when the 855 went to the outbox.

    With ``large``, a PO of more than ``LARGE_PO_LINES`` lines stops at ALLOCATED and its id is
    appended there, for ``answer_allocated`` after the caller's transaction.
    """
    row = _claim_po(conn, po_id, POState.ORDERED)
    if row is None:
        return 0
    order = SalesOrder.model_validate_json(row.sales_order)
    try:
        allocation = ctx.ims.allocation_for(conn, order, now)
    except ImsUnavailableError as exc:
        raise_exception(conn, ExceptionEntry("IMS_UNAVAILABLE", f"PO {row.po_number}: {exc.args[0]}",
                                             (exc.hint or "") + "; asked again on every run", row.partner,
                                             row.po_number, key="allocation"), now)
        return 0
    except ImsFileError as exc:
        raise_exception(conn, ExceptionEntry("IMS_FILE", str(exc), exc.hint or "", row.partner, row.po_number,
                                             key=exc.__class__.__name__), now)
        return 0
    if allocation is None:
        return 0  # the IMS has not answered yet; the 855 deadline watcher keeps an eye on it
    conn.execute(update(purchase_order).where(purchase_order.c.id == po_id).values(
        allocation=allocation.model_dump_json()))
    trail(conn, po_id, "allocation", {a.line_number: a.model_dump(mode="json") for a in allocation.lines}, now)
    transition(conn, po_id, POState.ALLOCATED, "allocation received from the IMS", now, current=POState.ORDERED)
    if large is not None and len(order.lines) > LARGE_PO_LINES:
        large.append(po_id)
        return 0
    return answer(ctx, conn, row, order, allocation, now)


def answer_allocated(ctx: PartnerContext, po_id: int) -> int:
    """The 855 of a PO already allocated: prepared outside any transaction, written in a short one.

    The PO is claimed again (still ALLOCATED, locked) before anything is written, so two workers
    never both answer it. An unexpected error holds this PO alone. 1 when the 855 went to the outbox.
    """
    with ctx.engine.connect() as conn:
        row = conn.execute(select(purchase_order).where(purchase_order.c.id == po_id)).first()
    if row is None or row.state != POState.ALLOCATED.value or row.allocation is None:
        return 0
    try:
        now = ctx.clock()
        order = SalesOrder.model_validate_json(row.sales_order)
        allocation = Allocation.model_validate_json(row.allocation)
        plan = prepare_answer(ctx, row, order, allocation, now)
        with transaction(ctx.engine) as conn:
            ctx.after_commit.clear()
            claimed = _claim_po(conn, po_id, POState.ALLOCATED)
            if claimed is None or claimed.allocation != row.allocation:
                return 0  # another worker answered it (or a replay changed it) meanwhile
            got = commit_answer(ctx, conn, claimed, order, allocation, plan, now)
        ctx.flush_events()
        return got
    except Exception as exc:
        if is_transient(exc):
            raise
        hold_po(ctx, po_id, exc, "855 step")
        return 0


@dataclass
class AnswerPlan:
    """The 855 of one allocated PO, worked out without touching the store (see ``prepare_answer``)."""

    view: dict[str, Any] | None
    ack: PurchaseOrderAck | None
    problems: list[str]
    mismatch: str | None = None


def prepare_answer(ctx: PartnerContext, row: Any, order: SalesOrder, allocation: Allocation,
                   now: datetime) -> AnswerPlan:
    """View, mapping and pre-send checks of the 855: pure work, no transaction needed."""
    view_850 = json.loads(row.canonical)
    received = received_lines(view_850)
    try:
        view = acknowledgement_view(order, allocation, codes=ctx.codes, today=now.date(), received=received)
    except AllocationMismatchError as exc:
        return AnswerPlan(None, None, [], mismatch=str(exc))
    result = ctx.map_855.apply(view)
    ack = result.target
    if isinstance(ack, PurchaseOrderAck):
        return AnswerPlan(view, ack, check_855(view_850, ack, allocation, accepted_codes(ctx.codes)))
    return AnswerPlan(view, None, [f.one_line() for f in result.failures])


def answer(ctx: PartnerContext,
           conn: Connection, row: Any, order: SalesOrder, allocation: Allocation, now: datetime) -> int:
    """The 855 for an allocated PO: view, mapping, pre-send checks, outbox. 1 when it went to the outbox."""
    return commit_answer(ctx, conn, row, order, allocation, prepare_answer(ctx, row, order, allocation, now), now)


def commit_answer(ctx: PartnerContext, conn: Connection, row: Any, order: SalesOrder, allocation: Allocation,
                  plan: AnswerPlan, now: datetime) -> int:
    """Write what ``prepare_answer`` worked out, in the caller's transaction: the 855 in the outbox, or the hold."""
    po_id = row.id
    if plan.mismatch is not None:
        transition(conn, po_id, POState.HELD, plan.mismatch, now)
        raise_exception(conn, ExceptionEntry("ALLOCATION_MISMATCH", plan.mismatch, "fix the IMS allocation, then "
                                             "replay", row.partner, row.po_number), now)
        return 0
    problems, ack, view = plan.problems, plan.ack, plan.view
    if problems or ack is None or view is None:
        transition(conn, po_id, POState.HELD, "855 pre-send checks failed: nothing sent", now)
        for p in problems:
            raise_exception(conn, ExceptionEntry("ACK_CHECK", p, "the 855 would not match the 850: fix, then "
                                                 "replay", row.partner, row.po_number, key=p[:80]), now)
        return 0
    plan_ack = ack
    try:
        render(ctx, conn, "855", f"{row.po_number}/{row.revision}", row.po_number,
                     lambda e: render_855(plan_ack, e), Delimiters("*", ">", "~", None), now, row.interchange_id)
    except OutboundValueError as exc:
        transition(conn, po_id, POState.HELD, "855 cannot be written: nothing sent", now)
        raise_exception(conn, ExceptionEntry(
            "OUTBOUND_FORBIDDEN_CHAR", f"855 for PO {row.po_number}: {exc.args[0]}",
            "correct the value at its source, then `edi po replay` the PO", row.partner, row.po_number), now)
        return 0
    conn.execute(update(purchase_order).where(purchase_order.c.id == po_id).values(
        acknowledgement=ack.model_dump_json()))
    trail(conn, po_id, "ack", {ln.line_number: [s.model_dump(mode="json") for s in ln.statuses]
                               for ln in ack.lines}, now)
    transition(conn, po_id, POState.ACKNOWLEDGED, f"855 {ack.ack_type} rendered into the outbox", now,
               current=POState.ALLOCATED)
    ordered = {ln.line_number: ln.quantity for ln in order.lines}
    for a in allocation.lines:
        if a.line_number in ordered and a.allocated > ordered[a.line_number]:
            raise_exception(conn, ExceptionEntry(
                "OVER_ALLOCATION", f"line {a.line_number}: the IMS allocated {a.allocated}, the PO orders "
                f"{ordered[a.line_number]}; the 855 accepts {ordered[a.line_number]}",
                "release the surplus in the IMS", row.partner, row.po_number, a.line_number), now)
    short = [ln for ln in view["lines"] if ln["accepted"] < ln["quantity_ordered"]]
    for ln in short:
        raise_exception(conn, ExceptionEntry(
            "PARTIAL_FILL", f"line {ln['line_number']}: accepted {ln['accepted']} of {ln['quantity_ordered']} "
            f"(backordered {ln['backordered']}, rejected {ln['rejected']})",
            "check stock; fill-rate shortfalls risk chargebacks", row.partner, row.po_number, ln["line_number"]),
            now)
    failpoint("confirm.allocation_before_commit")
    ctx.after_commit.append(lambda: events.po_step(step="855", partner=row.partner, po_number=row.po_number,
                                                   revision=row.revision, outcome="acknowledged",
                                                   ack_type=ack.ack_type))
    return 1


def render(ctx: PartnerContext,
           conn: Connection, kind: str, subject: str, label: str, render: Callable[[Envelope], str],
            delims: Delimiters, now: datetime, interchange_id: int | None) -> str:
    """Reserve control numbers and store the rendered bytes in the outbox, in the caller's transaction.

    A value X12 cannot carry (a delimiter or control character in IMS or warehouse data) raises
    OutboundValueError with the reservation rolled back: no control number is spent.
    """
    ours, theirs, usage, connector = parties(conn, interchange_id)
    savepoint = conn.begin_nested()
    try:
        r = reserve(conn, sender=(ours.qualifier, ours.id), receiver=(theirs.qualifier, theirs.id), groups=1,
                    sets_per_group=1, purpose=f"{kind} {label}")
        text = render(Envelope(ours, theirs, usage, delims, now, r.isa13, r.group_numbers[0]))
    except OutboundValueError:
        savepoint.rollback()
        raise
    savepoint.commit()
    name = document_name(kind, (ours.qualifier, ours.id), (theirs.qualifier, theirs.id), r.isa13, label)
    conn.execute(insert(outbox).values(kind=kind, subject=subject, partner=ctx.settings.partner, isa13=r.isa13,
                                       connector=connector, filename=name, payload=text.encode("ascii"),
                                       created_at=now, attempts=0, counterpart=f"{theirs.qualifier}/{theirs.id}",
                                       gs06=r.group_numbers[0]))
    return text


def parties(conn: Connection, interchange_id: int | None) -> tuple[Party, Party, str, str | None]:
    """Who we are, who they are, the usage (ISA15) and the connector for a reply: the PO's own 850, reversed."""
    row = None
    if interchange_id is not None:
        row = conn.execute(select(interchange.c.sender, interchange.c.receiver, interchange.c.usage,
                                  inbound_file.c.connector).join(inbound_file).where(
            interchange.c.id == interchange_id)).first()
    if row is None:
        raise RuntimeError(f"no inbound interchange {interchange_id} to answer")  # an invariant, not input
    theirs_q, theirs_id = row.sender.split("/", 1)
    ours_q, ours_id = row.receiver.split("/", 1)
    return Party(ours_q, ours_id), Party(theirs_q, theirs_id), row.usage, row.connector

# -- pack confirmation and 856 ----------------------------------------------------------------


def confirm_pack(ctx: PartnerContext, data: bytes, name: str) -> str:
    """Apply one pack confirmation (JSON or CSV): checks, then the 856 into the outbox.

    Returns the disposition: ``shipped``; ``waiting`` (a PO in it has no 855 yet: the shipment
    is kept and goes out right after that 855, see ``retry_waiting_packs``); ``held`` (checks
    failed: nothing sent, exceptions logged; a corrected file may be sent under the same id);
    ``duplicate`` (already applied: no effect) or ``invalid`` (the file cannot be read).
    """
    ctx.refresh_mappings()
    return confirm_pack_bytes(ctx, data, name)


def confirm_pack_bytes(ctx: PartnerContext, data: bytes, name: str, reasons: list[str] | None = None) -> str:
    """``confirm_pack`` without the mapping refresh; ``reasons`` gets why the file is invalid or held.

    Nothing one file holds can stop the others: an unexpected error is recorded as INTERNAL_ERROR
    (with its traceback) for this file, the file is ``held`` and nothing of it took effect.
    """
    now = ctx.clock()
    digest = sha256_hex(data)
    reasons = [] if reasons is None else reasons
    try:
        pack = parse_pack(data, name, ctx.settings.partner)
        if pack.partner != ctx.settings.partner:
            raise PackFileError(f"{name}: partner {pack.partner!r} is not this pipeline's "
                                f"({ctx.settings.partner!r})", hint="send it to that partner's pack folder")
    except PackFileError as exc:
        reasons.append(exc.args[0])
        with transaction(ctx.engine) as conn:
            raise_exception(conn, ExceptionEntry("PACK_INVALID", exc.args[0], exc.hint or "",
                                                 ctx.settings.partner, key=digest[:16]), now)
        return "invalid"
    return _isolated(ctx, pack.shipment_id, digest, reasons,
                     lambda: apply_pack(ctx, pack, digest, name, now, retry=False, reasons=reasons))


def _isolated(ctx: PartnerContext, shipment_id: str, digest: str, reasons: list[str],
              apply: Callable[[], str]) -> str:
    """Run one shipment's step; an unexpected error holds that shipment alone (transient ones propagate)."""
    try:
        return apply()
    except Exception as exc:
        if is_transient(exc):
            raise
        what = internal_error(exc, f"shipment {shipment_id}")
        reasons.append(what)
        with transaction(ctx.engine) as conn:
            raise_exception(conn, ExceptionEntry(
                "INTERNAL_ERROR", what, "nothing of this shipment was sent; report the entry (its detail has "
                "the traceback), then put the pack file back into the pack folder once fixed",
                ctx.settings.partner, key=f"{shipment_id}:{digest[:16]}", detail=format_traceback(exc)),
                ctx.clock())
        return "held"


def retry_waiting_packs(ctx: PartnerContext, *, po_number: str | None = None) -> list[tuple[str, str]]:
    """Apply again the shipments that were waiting for an 855 (only those with ``po_number`` when given).

    Returns (shipment id, disposition) per shipment; one that fails unexpectedly is held alone.
    """
    with ctx.engine.connect() as conn:
        waiting = conn.execute(select(shipment.c.pack, shipment.c.pack_sha256).where(
            shipment.c.partner == ctx.settings.partner, shipment.c.state == "waiting")
            .order_by(shipment.c.id)).all()
    out = []
    for r in waiting:
        pack = PackConfirmation.model_validate_json(r.pack)
        if po_number is not None and all(i.vendor_central_po_number != po_number
                                         for c in pack.cartons for i in c.items):
            continue
        again = functools.partial(apply_pack, ctx, pack, r.pack_sha256, f"shipment {pack.shipment_id}",
                                  ctx.clock(), retry=True)
        out.append((pack.shipment_id, _isolated(ctx, pack.shipment_id, r.pack_sha256, [], again)))
    return out


def apply_pack(ctx: PartnerContext, pack: PackConfirmation, digest: str, name: str, now: datetime, *,
               retry: bool, reasons: list[str] | None = None) -> str:
    """Check one shipment against the 855s and render its 856 (see ``confirm_pack``).

    ``reasons`` (when given) receives why the shipment is held.
    """
    with transaction(ctx.engine) as conn:
        before = conn.execute(select(shipment.c.id, shipment.c.state, shipment.c.pack_sha256).where(
            shipment.c.partner == pack.partner, shipment.c.shipment_id == pack.shipment_id)).first()
        if before is not None and (before.state == "shipped" or (before.pack_sha256 == digest and not retry)):
            if before.pack_sha256 != digest:
                raise_exception(conn, ExceptionEntry(
                    "PACK_MISMATCH", f"shipment {pack.shipment_id} was already shipped; {name} changes it",
                    "a changed shipment needs a new shipment id (and a new 856)", pack.partner,
                    key=f"{pack.shipment_id}:{digest[:16]}"), now)
            elif before.state in ("held", "waiting"):
                # the same file again (say its move to rejected/ was cut short by a kill): it is still
                # what it was, and is filed where a clean run filed it, with the same reasons
                if reasons is not None:
                    reasons.extend(_open_reasons(conn, pack.partner, pack.shipment_id))
                return str(before.state)
            return "duplicate"
        pos = sorted({i.vendor_central_po_number for c in pack.cartons for i in c.items})
        rows: dict[str, Any] = {}
        pending: set[str] = set()
        for r in conn.execute(select(purchase_order).where(
                purchase_order.c.partner == pack.partner, purchase_order.c.po_number.in_(pos))
                .order_by(purchase_order.c.revision)):
            if r.state in (POState.ACKNOWLEDGED.value, POState.SHIPPED.value):
                rows[r.po_number] = r
            elif r.state in AWAITING_855:
                pending.add(r.po_number)
        waiting_for = [po for po in pos if po not in rows and po in pending]
        earlier = [PackConfirmation.model_validate_json(r.pack) for r in conn.execute(
            select(shipment.c.pack).where(shipment.c.partner == pack.partner, shipment.c.state == "shipped"))]
        problems = check_pack(pack, {po: PurchaseOrderAck.model_validate_json(r.acknowledgement)
                                     for po, r in rows.items()}, [p for p in pos if p not in waiting_for],
                              earlier, shippable_codes(ctx.codes))
        notice = None
        if not problems and not waiting_for:
            orders = [SalesOrder.model_validate_json(rows[p].sales_order) for p in pos]
            try:
                view = shipment_view(orders, pack, ship_from=ctx.settings.ship_from, created_at=now)
            except PackMismatchError as exc:  # e.g. cartons for two fulfilment centres: one ASN cannot say that
                problems = [str(exc)]
            else:
                result = ctx.map_856.apply(view)
                notice = result.target if isinstance(result.target, ShipNotice) else None
                problems = [f.one_line() for f in result.failures] if notice is None else []
        if reasons is not None:
            reasons.extend(problems)
        state = "held" if problems else "waiting" if waiting_for else "shipped"
        values = {"pack_sha256": digest, "pack": pack.model_dump_json(), "received_at": now, "state": state}
        if before is None:
            conn.execute(insert(shipment).values(shipment_id=pack.shipment_id, partner=pack.partner, **values))
        else:
            conn.execute(update(shipment).where(shipment.c.id == before.id).values(**values))
        if problems:
            for p in problems:
                raise_exception(conn, ExceptionEntry("PACK_MISMATCH", f"shipment {pack.shipment_id}: {p}",
                                                     "correct the pack confirmation; nothing was sent",
                                                     pack.partner, key=f"{pack.shipment_id}:{p[:60]}"), now)
            return "held"
        if waiting_for:
            raise_exception(conn, ExceptionEntry(
                "PACK_WAITING", f"shipment {pack.shipment_id} waits for the 855 of PO(s) "
                f"{', '.join(waiting_for)}; its 856 goes out right after", "nothing to do unless those POs are "
                "held: their exceptions say why", pack.partner, key=f"{pack.shipment_id}:waiting"), now)
            return "waiting"
        assert notice is not None
        ship = notice
        try:
            render(ctx, conn, "856", pack.shipment_id, pack.shipment_id,
                         lambda e: render_856(ship, e, ctx.settings.asn_version),
                         Delimiters("*", ">", "~", "^" if ctx.settings.asn_version == "005010" else None), now,
                         rows[pos[0]].interchange_id)
        except OutboundValueError as exc:
            conn.execute(update(shipment).where(shipment.c.partner == pack.partner,
                                                shipment.c.shipment_id == pack.shipment_id).values(state="held"))
            raise_exception(conn, ExceptionEntry(
                "OUTBOUND_FORBIDDEN_CHAR", f"shipment {pack.shipment_id}: {exc.args[0]}",
                "correct the pack confirmation and submit it again; nothing was sent", pack.partner,
                key=f"{pack.shipment_id}:{digest[:16]}"), now)
            return "held"
        for po in pos:
            r = rows[po]
            trail(conn, r.id, "asn", {i.line_number: {"sscc": c.sscc, "quantity": i.quantity}
                                      for c in pack.cartons for i in c.items
                                      if i.vendor_central_po_number == po}, now)
            transition(conn, r.id, POState.SHIPPED, f"856 for shipment {pack.shipment_id} in the outbox", now)
        if before is not None:  # a corrected or waiting shipment went out: its earlier entries are settled
            for kind in ("PACK_MISMATCH", "PACK_WAITING", "OUTBOUND_FORBIDDEN_CHAR"):
                resolve_open(conn, ExceptionEntry(kind, "", "", pack.partner, key=f"{pack.shipment_id}:"),
                             "pipeline", f"{name} shipped", now, prefix=True)
        failpoint("ship.pack_before_commit")
    return "shipped"


def _open_reasons(conn: Connection, partner: str, shipment_id: str) -> list[str]:
    """The open PACK_* entries of one shipment: why it is held."""
    from edi.store.pipeline_tables import exception_log  # noqa: PLC0415

    return list(conn.execute(select(exception_log.c.message).where(
        exception_log.c.partner == partner, exception_log.c.status == "open",
        exception_log.c.kind.in_(["PACK_MISMATCH", "OUTBOUND_FORBIDDEN_CHAR", "INTERNAL_ERROR"]),
        exception_log.c.dedupe_key.like(f"%{shipment_id}:%")).order_by(exception_log.c.id)).scalars())


def confirm_ims_packs(ctx: PartnerContext) -> list[tuple[str, str]]:
    """Apply the pack confirmations waiting in the IMS adapter's pack folder, if it has one."""
    folder = getattr(ctx.ims, "packs_dir", None)
    return confirm_pack_folder(ctx, folder) if isinstance(folder, Path) else []


def confirm_pack_folder(ctx: PartnerContext, folder: Path, *, move: bool = True) -> list[tuple[str, str]]:
    """Apply every ``*.json`` / ``*.csv`` pack confirmation of ``folder``, oldest name first.

    With ``move`` (the files IMS adapter), an applied or duplicate file goes to ``done/`` and an
    invalid or held one to ``rejected/`` with a ``.error`` note beside it: never deleted, and
    not read again until someone puts a corrected file back. Returns (file name, disposition).
    """
    ctx.refresh_mappings()
    results = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".csv")):
        reasons: list[str] = []
        disposition = confirm_pack_bytes(ctx, path.read_bytes(), path.name, reasons)
        results.append((path.name, disposition))
        if move:
            file_pack(path, disposition, reasons)
    return results


def file_pack(path: Path, disposition: str, reasons: list[str]) -> None:
    """Move a pack file where its disposition says: ``done/``, or ``rejected/`` with its ``.error`` note first.

    The note is written (durably) before the move, so a kill between the two leaves the file in the pack
    folder with a stale note that the next run rewrites: never a rejected file without its note, and
    never a held file filed under ``done/``.
    """
    target = path.parent / ("done" if disposition in ("shipped", "duplicate", "waiting") else "rejected")
    target.mkdir(exist_ok=True)
    if target.name == "rejected":
        why = "".join(f"  - {r}\n" for r in reasons)
        write_durably(target / f"{path.name}.error", (
            f"{disposition}: nothing was sent for this file\n{why}"
            "fix the file and put it back into the pack folder; see `edi exceptions list --open`\n"
        ).encode())
    path.replace(target / path.name)
    fsync_dir(target)
