"""The 855 after allocation, the 856 after pack confirmation, and the outbox.

Each document is rendered once, in the transaction of the event that caused it, with its control
numbers reserved there; its bytes go to the outbox, and every (re)send writes those same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from edi.errors import OutboundValueError
from edi.failpoints import failpoint
from edi.mapping.views import (
    AllocationMismatchError,
    accepted_codes,
    acknowledgement_view,
    received_lines,
    shipment_view,
    shippable_codes,
)
from edi.model import Allocation, PackConfirmation, PurchaseOrderAck, SalesOrder, ShipNotice
from edi.pipeline.base import StepsBase, is_transient, sha256_hex
from edi.pipeline.checks import check_855, check_pack
from edi.pipeline.durable import write_durably
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
    interchange,
    outbox,
    purchase_order,
    shipment,
)
from edi.x12.envelope import Delimiters
from edi.x12.render import Envelope, render_855, render_856
from edi.x12.writer import Party

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


class OutboundSteps(StepsBase):
    """The 855 after allocation, the 856 after pack confirmation, and the outbox."""

    # -- allocation and 855 -----------------------------------------------------------------------

    def submit_pending(self) -> int:
        """Submit the sales orders the IMS could not take earlier (POs validated, with a sales order stored).

        Stops at the first failure (the IMS is still down: no point in timing out once per PO).
        Returns the number submitted.
        """
        with self.engine.connect() as conn:
            ids = [r.id for r in conn.execute(
                select(purchase_order.c.id).where(purchase_order.c.partner == self.settings.partner,
                                                  purchase_order.c.state == POState.VALIDATED.value,
                                                  purchase_order.c.sales_order.is_not(None))
                .order_by(purchase_order.c.hot.desc(), purchase_order.c.received_at, purchase_order.c.id))]
        done = 0
        for po_id in ids:
            now = self.clock()
            with transaction(self.engine) as conn:
                row = conn.execute(select(purchase_order.c.state, purchase_order.c.sales_order).where(
                    purchase_order.c.id == po_id)).one()
                if row.state != POState.VALIDATED.value:
                    continue
                problems: list[ExceptionEntry] = []
                if not self._submit(conn, SalesOrder.model_validate_json(row.sales_order), problems):
                    for entry in problems:
                        raise_exception(conn, entry, now)
                    break
                transition(conn, po_id, POState.ORDERED, "sales order created in the IMS (submitted again)", now)
                done += 1
        return done

    def allocate_and_acknowledge(self) -> int:
        """Submit pending sales orders, allocate ordered POs (hot first), render their 855s, then ship
        the shipments that were waiting for them.

        Returns the number acknowledged.
        """
        self.refresh_mappings()
        self.submit_pending()
        done = 0
        with self.engine.connect() as conn:
            ids = [r.id for r in conn.execute(
                select(purchase_order.c.id).where(purchase_order.c.partner == self.settings.partner,
                                                  purchase_order.c.state == POState.ORDERED.value)
                .order_by(purchase_order.c.hot.desc(), purchase_order.c.received_at, purchase_order.c.id))]
        for po_id in ids:
            try:
                with transaction(self.engine) as conn:
                    done += self._acknowledge(conn, po_id, self.clock())
            except Exception as exc:
                if is_transient(exc):
                    raise  # the PO stays ordered: the next run tries again
                self._hold_po(po_id, exc, "855 step")
        self.retry_waiting_packs()
        return done

    def _acknowledge(self, conn: Connection, po_id: int, now: datetime) -> int:
        row = conn.execute(select(purchase_order).where(purchase_order.c.id == po_id)).one()
        if row.state != POState.ORDERED.value:
            return 0
        order = SalesOrder.model_validate_json(row.sales_order)
        try:
            allocation = self.ims.allocation_for(conn, order, now)
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
        transition(conn, po_id, POState.ALLOCATED, "allocation received from the IMS", now)
        return self._answer(conn, row, order, allocation, now)

    def _answer(self, conn: Connection, row: Any, order: SalesOrder, allocation: Allocation, now: datetime) -> int:
        """The 855 for an allocated PO: view, mapping, pre-send checks, outbox. 1 when it went to the outbox."""
        po_id = row.id
        view_850 = json.loads(row.canonical)
        received = received_lines(view_850)
        try:
            view = acknowledgement_view(order, allocation, codes=self.codes, today=now.date(), received=received)
        except AllocationMismatchError as exc:
            transition(conn, po_id, POState.HELD, str(exc), now)
            raise_exception(conn, ExceptionEntry("ALLOCATION_MISMATCH", str(exc), "fix the IMS allocation, then "
                                                 "replay", row.partner, row.po_number), now)
            return 0
        result = self.map_855.apply(view)
        ack = result.target
        if isinstance(ack, PurchaseOrderAck):
            problems = check_855(view_850, ack, allocation, accepted_codes(self.codes))
        else:
            problems = [f.one_line() for f in result.failures]
        if problems or not isinstance(ack, PurchaseOrderAck):
            transition(conn, po_id, POState.HELD, "855 pre-send checks failed: nothing sent", now)
            for p in problems:
                raise_exception(conn, ExceptionEntry("ACK_CHECK", p, "the 855 would not match the 850: fix, then "
                                                     "replay", row.partner, row.po_number, key=p[:80]), now)
            return 0
        try:
            self._render(conn, "855", f"{row.po_number}/{row.revision}", row.po_number,
                         lambda e: render_855(ack, e), Delimiters("*", ">", "~", None), now, row.interchange_id)
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
        transition(conn, po_id, POState.ACKNOWLEDGED, f"855 {ack.ack_type} rendered into the outbox", now)
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
        return 1

    def _render(self, conn: Connection, kind: str, subject: str, label: str, render: Callable[[Envelope], str],
                delims: Delimiters, now: datetime, interchange_id: int | None) -> str:
        """Reserve control numbers and store the rendered bytes in the outbox, in the caller's transaction.

        A value X12 cannot carry (a delimiter or control character in IMS or warehouse data) raises
        OutboundValueError with the reservation rolled back: no control number is spent.
        """
        ours, theirs, usage = self._parties(conn, interchange_id)
        savepoint = conn.begin_nested()
        try:
            r = reserve(conn, sender=(ours.qualifier, ours.id), receiver=(theirs.qualifier, theirs.id), groups=1,
                        sets_per_group=1, purpose=f"{kind} {label}")
            text = render(Envelope(ours, theirs, usage, delims, now, r.isa13, r.group_numbers[0]))
        except OutboundValueError:
            savepoint.rollback()
            raise
        savepoint.commit()
        safe = _SAFE_NAME.sub("_", label)[:40]  # a file name from partner data: never a path
        conn.execute(insert(outbox).values(kind=kind, subject=subject, partner=self.settings.partner, isa13=r.isa13,
                                           filename=f"{kind}_{safe}_{r.isa13:09d}.edi", payload=text.encode("ascii"),
                                           created_at=now, attempts=0, counterpart=f"{theirs.qualifier}/{theirs.id}",
                                           gs06=r.group_numbers[0]))
        return text

    def _parties(self, conn: Connection, interchange_id: int | None) -> tuple[Party, Party, str]:
        """Who we are, who they are and the usage (ISA15) for a reply: the reverse of the PO's own 850."""
        row = None
        if interchange_id is not None:
            row = conn.execute(select(interchange.c.sender, interchange.c.receiver, interchange.c.usage).where(
                interchange.c.id == interchange_id)).first()
        if row is None:
            raise RuntimeError(f"no inbound interchange {interchange_id} to answer")  # an invariant, not input
        theirs_q, theirs_id = row.sender.split("/", 1)
        ours_q, ours_id = row.receiver.split("/", 1)
        return Party(ours_q, ours_id), Party(theirs_q, theirs_id), row.usage

    # -- pack confirmation and 856 ----------------------------------------------------------------

    def confirm_pack(self, data: bytes, name: str) -> str:
        """Apply one pack confirmation (JSON or CSV): checks, then the 856 into the outbox.

        Returns the disposition: ``shipped``; ``waiting`` (a PO in it has no 855 yet: the shipment
        is kept and goes out right after that 855, see ``retry_waiting_packs``); ``held`` (checks
        failed: nothing sent, exceptions logged; a corrected file may be sent under the same id);
        ``duplicate`` (already applied: no effect) or ``invalid`` (the file cannot be read).
        """
        self.refresh_mappings()
        return self._confirm_pack(data, name)

    def _confirm_pack(self, data: bytes, name: str) -> str:
        now = self.clock()
        digest = sha256_hex(data)
        try:
            pack = parse_pack(data, name, self.settings.partner)
            if pack.partner != self.settings.partner:
                raise PackFileError(f"{name}: partner {pack.partner!r} is not this pipeline's "
                                    f"({self.settings.partner!r})", hint="send it to that partner's pack folder")
        except PackFileError as exc:
            with transaction(self.engine) as conn:
                raise_exception(conn, ExceptionEntry("PACK_INVALID", exc.args[0], exc.hint or "",
                                                     self.settings.partner, key=digest[:16]), now)
            return "invalid"
        return self._apply_pack(pack, digest, name, now, retry=False)

    def retry_waiting_packs(self) -> list[tuple[str, str]]:
        """Apply again the shipments that were waiting for an 855; returns (shipment id, disposition)."""
        with self.engine.connect() as conn:
            waiting = conn.execute(select(shipment.c.pack, shipment.c.pack_sha256).where(
                shipment.c.partner == self.settings.partner, shipment.c.state == "waiting")
                .order_by(shipment.c.id)).all()
        out = []
        for r in waiting:
            pack = PackConfirmation.model_validate_json(r.pack)
            out.append((pack.shipment_id, self._apply_pack(pack, r.pack_sha256, f"shipment {pack.shipment_id}",
                                                            self.clock(), retry=True)))
        return out

    def _apply_pack(self, pack: PackConfirmation, digest: str, name: str, now: datetime, *, retry: bool) -> str:
        with transaction(self.engine) as conn:
            before = conn.execute(select(shipment.c.id, shipment.c.state, shipment.c.pack_sha256).where(
                shipment.c.partner == pack.partner, shipment.c.shipment_id == pack.shipment_id)).first()
            if before is not None and (before.state == "shipped" or (before.pack_sha256 == digest and not retry)):
                if before.pack_sha256 != digest:
                    raise_exception(conn, ExceptionEntry(
                        "PACK_MISMATCH", f"shipment {pack.shipment_id} was already shipped; {name} changes it",
                        "a changed shipment needs a new shipment id (and a new 856)", pack.partner,
                        key=f"{pack.shipment_id}:{digest[:16]}"), now)
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
                                  earlier, shippable_codes(self.codes))
            notice = None
            if not problems and not waiting_for:
                orders = [SalesOrder.model_validate_json(rows[p].sales_order) for p in pos]
                view = shipment_view(orders, pack, ship_from=self.settings.ship_from, created_at=now)
                result = self.map_856.apply(view)
                notice = result.target if isinstance(result.target, ShipNotice) else None
                problems = [f.one_line() for f in result.failures] if notice is None else []
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
                self._render(conn, "856", pack.shipment_id, pack.shipment_id,
                             lambda e: render_856(ship, e, self.settings.asn_version),
                             Delimiters("*", ">", "~", "^" if self.settings.asn_version == "005010" else None), now,
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

    def confirm_ims_packs(self) -> list[tuple[str, str]]:
        """Apply the pack confirmations waiting in the IMS adapter's pack folder, if it has one."""
        folder = getattr(self.ims, "packs_dir", None)
        return self.confirm_pack_folder(folder) if isinstance(folder, Path) else []

    def confirm_pack_folder(self, folder: Path, *, move: bool = True) -> list[tuple[str, str]]:
        """Apply every ``*.json`` / ``*.csv`` pack confirmation of ``folder``, oldest name first.

        With ``move`` (the files IMS adapter), an applied or duplicate file goes to ``done/`` and an
        invalid or held one to ``rejected/`` with a ``.error`` note beside it: never deleted, and
        not read again until someone puts a corrected file back. Returns (file name, disposition).
        """
        self.refresh_mappings()
        results = []
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".csv")):
            disposition = self._confirm_pack(path.read_bytes(), path.name)
            results.append((path.name, disposition))
            if not move:
                continue
            target = folder / ("done" if disposition in ("shipped", "duplicate", "waiting") else "rejected")
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)
            if target.name == "rejected":
                (target / f"{path.name}.error").write_text(
                    f"{disposition}: see `edi exceptions list --open` (PACK_INVALID / PACK_MISMATCH)\n",
                    encoding="utf-8")
        return results

    # -- outbox and deadlines ---------------------------------------------------------------------

    def send_outbox(self, out_dir: Path) -> list[Path]:
        """Write every unsent outbox document to ``out_dir/<kind>/`` (same bytes on every retry)."""
        written = []
        with self.engine.connect() as conn:
            pending = conn.execute(select(outbox.c.id, outbox.c.kind, outbox.c.filename, outbox.c.payload)
                                   .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)).all()
        for row in pending:
            failpoint("out.rendered_before_send")
            target = out_dir / row.kind / row.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != row.payload:
                write_durably(target, row.payload)
            failpoint("out.sent_before_mark")
            with transaction(self.engine) as conn:
                conn.execute(update(outbox).where(outbox.c.id == row.id).values(
                    sent_at=self.clock(), attempts=outbox.c.attempts + 1))
            written.append(target)
        return written

