"""The order pipeline: receive -> validate + 997 -> sales order -> allocate -> 855 -> pack -> 856 -> send.

Every step commits its state change, outbox documents (with their control numbers) and exception
entries in one transaction, so a process killed anywhere continues on restart without loss or
duplication: inbound files are archived and committed before anything else (ledger before
touch), the unique keys of the store stop a second business effect, and the outbox holds the
bytes every (re)send uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from edi.config.partner import PartnerSettings
from edi.errors import DocumentError, OutboundValueError
from edi.failpoints import failpoint
from edi.mapping import load_mapping
from edi.mapping.source import document_view
from edi.mapping.views import (
    AllocationMismatchError,
    accepted_codes,
    acknowledgement_view,
    received_lines,
    shipment_view,
    shippable_codes,
)
from edi.model import Allocation, PackConfirmation, PurchaseOrderAck, SalesOrder, ShipNotice
from edi.pipeline.checks import check_855, check_pack
from edi.pipeline.ims import EmbeddedIms, ImsAdapter, ImsFileError
from edi.pipeline.packs import PackFileError, parse_pack
from edi.pipeline.records import (
    ExceptionEntry,
    POState,
    open_exceptions,
    raise_exception,
    resolve_exception,
    trail,
    trail_insert,
    trail_rows,
    transition,
)
from edi.store import reserve, transaction
from edi.store.bulk import bulk_insert
from edi.store.pipeline_tables import (
    exception_log,
    inbound_duplicate,
    inbound_file,
    interchange,
    outbox,
    po_transition,
    purchase_order,
    shipment,
)
from edi.x12 import AckBuilder, X12Validator
from edi.x12.envelope import Delimiters
from edi.x12.guide import default_registry
from edi.x12.render import Envelope, render_855, render_856
from edi.x12.validator import Document
from edi.x12.writer import Party

Clock = Callable[[], datetime]
_INSERT_PO = insert(purchase_order)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
ORDER_BATCH = 100
"""850s recorded per round trip (all in the file's one transaction)."""


class ReplayRefusedError(DocumentError):
    """A PO cannot be replayed as asked (unknown, not held, or a revision that needs a person)."""

    code = "REPLAY_REFUSED"


class _ConnNumbers:
    """Control numbers reserved on the caller's connection, inside its transaction (I4)."""

    def __init__(self, conn: Connection, purpose: str) -> None:
        self.conn, self.purpose = conn, purpose

    @contextmanager
    def reserving(self, sender: tuple[str, str], receiver: tuple[str, str],
                  groups: int) -> Iterator[tuple[int, list[int]]]:
        r = reserve(self.conn, sender=sender, receiver=receiver, groups=groups, sets_per_group=1,
                    purpose=self.purpose)
        yield r.isa13, list(r.group_numbers)


class _Memory(io.BytesIO):
    def __init__(self, store: dict[str, bytes], name: str) -> None:
        super().__init__()
        self.store, self.name = store, name

    def __exit__(self, *exc: object) -> None:
        self.store[self.name] = self.getvalue()
        super().__exit__(*exc)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Pipeline:
    """One partner's order flow over one store."""

    def __init__(self, engine: Engine, data_dir: Path, settings: PartnerSettings | None = None,
                 clock: Clock | None = None, ims: ImsAdapter | None = None) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.archive = data_dir / "archive"
        self.archive.mkdir(parents=True, exist_ok=True)
        self.settings = settings or PartnerSettings.load(Path("mappings/amazon"))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.validator = X12Validator(default_registry(self.settings.partner), keep_documents=True)
        self.refresh_mappings()
        self.ims: ImsAdapter = ims or EmbeddedIms()

    def refresh_mappings(self) -> None:
        """(Re)load the partner's mappings; a changed mapping or lookup table is compiled anew, else reused."""
        m = self.settings.mappings_dir
        self.map_850 = load_mapping(m / "850_to_sales_order.yaml")
        self.map_855 = load_mapping(m / "sales_order_to_855.yaml")
        self.map_856 = load_mapping(m / "shipment_to_856.yaml")
        self.codes = {k: str(v) for k, v in self.map_855.spec.constants.items()}

    # -- receive: ledger before touch -------------------------------------------------------------

    def receive_folder(self, folder: Path, connector: str = "folder") -> tuple[int, int]:
        """Archive and record every regular file of ``folder``; returns (new, duplicate)."""
        new = dup = 0
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.is_symlink() or path.name.startswith("."):
                continue
            data = path.read_bytes()
            if self.receive_bytes(data, path.name, connector):
                new += 1
            else:
                dup += 1
        return new, dup

    def receive_bytes(self, data: bytes, remote_name: str, connector: str) -> bool:
        """Archive ``data`` (fsynced, content-addressed) and commit its ledger row; False for a duplicate."""
        digest = _sha256(data)
        now = self.clock()
        with transaction(self.engine) as conn:
            if conn.execute(select(inbound_file.c.id).where(inbound_file.c.sha256 == digest)).first():
                conn.execute(insert(inbound_duplicate).values(connector=connector, remote_name=remote_name,
                                                              sha256=digest, seen_at=now,
                                                              disposition="duplicate_transport"))
                return False
            target = self.archive / digest[:2] / digest
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                _write_durably(target, data)
            failpoint("in.fsynced_before_commit")
            conn.execute(insert(inbound_file).values(connector=connector, remote_name=remote_name, size=len(data),
                                                     sha256=digest, archive_path=str(target), received_at=now,
                                                     disposition="new"))
        return True

    # -- validate, 997, sales orders --------------------------------------------------------------

    def process_inbound(self) -> int:
        """Validate each new ledger file whole, write its 997s, then create sales orders. Returns files done."""
        self.refresh_mappings()
        with self.engine.connect() as conn:
            pending = conn.execute(select(inbound_file.c.id, inbound_file.c.archive_path, inbound_file.c.remote_name,
                                          inbound_file.c.received_at)
                                   .where(inbound_file.c.disposition == "new").order_by(inbound_file.c.id)).all()
        for row in pending:
            self._process_file(row.id, Path(row.archive_path), row.remote_name, row.received_at)
        return len(pending)

    def _process_file(self, file_id: int, path: Path, name: str, received_at: datetime) -> None:
        now = self.clock()
        with transaction(self.engine) as conn:
            acks: dict[str, bytes] = {}
            staged = _Staging()

            savepoint = conn.begin_nested()
            builder = AckBuilder(lambda n: _Memory(acks, n), _ConnNumbers(conn, f"997 for {name}"))
            tee = _Tee(builder, staged)
            report = self.validator.validate_path(path, tee)
            keys = [(f"{ic.isa[5]}/{ic.isa[6].strip()}", f"{ic.isa[7]}/{ic.isa[8].strip()}", ic.control_number)
                    if len(ic.isa) > 13 else None for ic in report.interchanges]
            digests = _interchange_digests(path, [ic.byte_offset for ic in report.interchanges])
            earlier = {}
            for k in keys:
                if k is not None:
                    hit = conn.execute(select(interchange.c.sha256, inbound_file.c.remote_name)
                                       .join(inbound_file).where(interchange.c.sender == k[0],
                                                                 interchange.c.receiver == k[1],
                                                                 interchange.c.isa13 == k[2])).first()
                    if hit is not None:
                        earlier[k] = hit
            if earlier:
                savepoint.rollback()  # no 997 numbers consumed: nothing of this file takes effect
                self._envelope_duplicate(conn, file_id, name, keys, digests, earlier, now)
                return
            savepoint.commit()
            ic_ids = {}
            for ic, key, digest in zip(report.interchanges, keys, digests, strict=True):
                if key is None:
                    continue
                ic_ids[ic.control_number] = conn.execute(insert(interchange).values(
                    inbound_file_id=file_id, sender=key[0], receiver=key[1], isa13=key[2], sha256=digest,
                    usage=ic.isa[15] if len(ic.isa) > 15 else "P", accepted=not ic.rejected)).inserted_primary_key[0]
            for ack in builder.written:
                conn.execute(insert(outbox).values(
                    kind=ack.kind, subject=f"{ack.answers_isa13}/{ack.answers_gs06 or '-'}",
                    partner=self.settings.partner,
                    isa13=ack.isa13, filename=ack.name, payload=acks[ack.name], created_at=now, attempts=0))
            for finding in report.errors[:50]:
                raise_exception(conn, ExceptionEntry("VALIDATION", finding.one_line().replace(str(path), name),
                                                     finding.hint, self.settings.partner,
                                                     key=f"{path.name[:12]}:{finding.code}:"
                                                         f"{finding.position.segment_index}:{finding.position.element}"),
                                now)
            # validate the whole interchange before mapping anything (I3): accepted sets were staged
            # to a spool file while validating, so memory stays flat however many POs the file holds
            ok_interchanges = {ic.control_number for ic in report.interchanges if not ic.rejected}
            hot_list = self.settings.hot_list()
            batch: list[Document] = []
            for doc in staged.documents(self.validator):
                if doc.set_id == "850" and doc.isa13 in ok_interchanges:
                    batch.append(doc)
                    if len(batch) == ORDER_BATCH:
                        self._orders(conn, batch, ic_ids, received_at, now, hot_list)
                        batch.clear()
            self._orders(conn, batch, ic_ids, received_at, now, hot_list)
            staged.close()
            conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
                disposition="processed" if report.accepted else "quarantined", processed_at=now))
            failpoint("parse.validated_before_commit")

    def _envelope_duplicate(self, conn: Connection, file_id: int, name: str,
                            keys: list[tuple[str, str, str] | None], digests: list[str],
                            earlier: dict[tuple[str, str, str], Any], now: datetime) -> None:
        """A file whose interchange(s) were received before: no effect, and the reason on record.

        Same control number and same bytes: ``duplicate_interchange`` (Amazon re-dropped it).
        Same control number, other bytes: ``control_number_reuse``: quarantined for a person, since
        either the sender reused ISA13 or the content changed without a new interchange. A file
        mixing received and new interchanges is quarantined as well (split it and resubmit).
        """
        s = self.settings
        changed = [k for k, d in zip(keys, digests, strict=True) if k in earlier and earlier[k].sha256 != d]
        fresh = [k for k in keys if k is not None and k not in earlier]
        first = next(iter(earlier))
        if changed:
            k = changed[0]
            disposition, entry = "control_number_reuse", ExceptionEntry(
                "CONTROL_NUMBER_REUSE", f"{name}: interchange {k[2]} from {k[0]} reuses the control number of "
                f"{earlier[k].remote_name} with different content; nothing was processed",
                "ask the sender to resend with a new ISA13; compare both files in the archive", s.partner,
                key=f"{k[0]}/{k[2]}/{file_id}")
        elif fresh:
            disposition, entry = "quarantined", ExceptionEntry(
                "PARTIAL_DUPLICATE", f"{name}: interchange(s) {', '.join(k[2] for k in earlier)} were received "
                f"before, {', '.join(k[2] for k in fresh)} are new; nothing was processed",
                "split the file and put the new interchange(s) back", s.partner, key=f"{first[2]}/{file_id}")
        else:
            disposition, entry = "duplicate_interchange", ExceptionEntry(
                "DUPLICATE", f"{name}: interchange {first[2]} from {first[0]} was already received "
                f"(in {earlier[first].remote_name}); no effect", "no action needed", s.partner, key=first[2])
        conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
            disposition=disposition, processed_at=now))
        raise_exception(conn, entry, now)

    def _orders(self, conn: Connection, docs: list[Document], ic_ids: dict[str, int], received_at: datetime,
                now: datetime, hot_list: frozenset[str]) -> None:
        """Record a batch of accepted 850s: PO records, their audited paths, line trails, sales orders.

        Each PO keeps its own guarantees (dedupe on content, revision held, sales order only for a
        new PO); the batch only shares the round trips: one lookup of earlier versions, one insert
        of the PO rows, one of the transitions and one of the trail rows.
        """
        if not docs:
            return
        s = self.settings
        views = [document_view(doc) for doc in docs]
        numbers = {str((v.get("BEG") or {}).get("BEG03", "")) for v in views}
        latest: dict[str, tuple[int, str]] = {}
        for r in conn.execute(select(purchase_order.c.po_number, purchase_order.c.revision,
                                     purchase_order.c.content_hash).where(
                purchase_order.c.partner == s.partner, purchase_order.c.po_number.in_(numbers))):
            if r.po_number not in latest or r.revision > latest[r.po_number][0]:
                latest[r.po_number] = (r.revision, r.content_hash)
        po_rows: list[dict[str, Any]] = []
        later: list[tuple[list[Any], dict[str, str], SalesOrder | None]] = []
        exceptions: list[ExceptionEntry] = []
        deadline = received_at + timedelta(hours=s.deadline_hours)
        for doc, view in zip(docs, views, strict=True):
            canonical = {k: v for k, v in view.items() if k not in ("_envelope", "ST", "SE")}
            canonical_text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
            content_hash = _sha256(canonical_text.encode())
            po_number = str((view.get("BEG") or {}).get("BEG03", ""))
            existing = latest.get(po_number)
            if existing is not None and existing[1] == content_hash:
                exceptions.append(ExceptionEntry("DUPLICATE", f"PO {po_number} received again with identical "
                                                 "content; no business effect", "no action needed", s.partner,
                                                 po_number, key=f"{doc.isa13}/{doc.control_number}"))
                continue
            revision = 1 if existing is None else existing[0] + 1
            latest[po_number] = (revision, content_hash)  # a later copy in this batch sees this version
            # the PO's path through the state machine, written as one audited batch
            path = [(None, POState.RECEIVED, "850 received"),
                    (POState.RECEIVED, POState.VALIDATED, f"850 accepted (ISA {doc.isa13} / ST {doc.control_number})")]
            order: SalesOrder | None = None
            if existing is not None:
                path.append((POState.VALIDATED, POState.HELD, "revision of an existing PO: held for review"))
                exceptions.append(ExceptionEntry(
                    "REVISION", f"PO {po_number} received again with different content (revision {revision})",
                    "compare with the earlier version in Vendor Central; no second sales order is created",
                    s.partner, po_number, key=str(revision)))
            else:
                order, found = self._make_order(conn, view, po_number, revision, hot_list)
                exceptions += found
                path.append((POState.VALIDATED, POState.ORDERED, "sales order created in the IMS") if order else
                            (POState.VALIDATED, POState.HELD, "mapping raised exceptions: held for a person"))
            stored = canonical_text[:-1] + ',"_envelope":' + json.dumps(view.get("_envelope"), default=str) + "}"
            po_rows.append({
                "partner": s.partner, "po_number": po_number, "revision": revision, "content_hash": content_hash,
                "state": path[-1][1].value, "hot": order is not None and order.hot, "received_at": received_at,
                "deadline_855_at": deadline, "alarm_raised": False, "deadline_missed": False,
                "interchange_id": ic_ids.get(doc.isa13), "st02": doc.control_number, "canonical": stored,
                "sales_order": order.model_dump_json() if order else None, "allocation": None,
                "acknowledgement": None, "updated_at": now})
            # the 850 line as received (its PO1 segment) and what the sales order made of it
            es = doc.delimiters.element
            later.append((path, {raw.split(es, 2)[1]: raw for raw in doc.segments if raw.startswith("PO1" + es)},
                          order))
        if po_rows:
            ids = conn.execute(_INSERT_PO.returning(purchase_order.c.id, sort_by_parameter_order=True),
                               po_rows).scalars().all()
            bulk_insert(conn, po_transition, [
                {"po_id": po_id, "at": now, "from_state": a.value if a else None, "to_state": b.value, "reason": why}
                for po_id, (path, _, _) in zip(ids, later, strict=True) for a, b, why in path])
            lines: list[dict[str, Any]] = []
            for po_id, (_, received, order) in zip(ids, later, strict=True):
                lines += trail_rows(po_id, "850", received, now)
                if order is not None:
                    lines += trail_rows(po_id, "sales_order", _order_trail(order), now)
            trail_insert(conn, lines)
        for entry in exceptions:
            raise_exception(conn, entry, now)

    def _make_order(self, conn: Connection, view: dict[str, Any], po_number: str, revision: int,
                    hot_list: frozenset[str], *, reject_lines: bool = False
                    ) -> tuple[SalesOrder | None, list[ExceptionEntry]]:
        """Map the 850 view to a sales order and submit it to the IMS; the order (None: held) and exceptions."""
        s = self.settings
        result = self.map_850.apply(view, reject_lines=reject_lines)
        order = result.target if isinstance(result.target, SalesOrder) else None
        exceptions = [ExceptionEntry(e.code, e.message, e.hint, s.partner, po_number, e.line)
                      for e in result.exceptions]
        exceptions += [ExceptionEntry("MAPPING", f.one_line(), "fix the mapping or the data, then replay",
                                      s.partner, po_number, f.line, key=f.field) for f in result.failures]
        if order is None:
            return None, exceptions
        priced = [ln for ln in order.lines if ln.list_cost is not None and ln.unit_price != ln.list_cost]
        for ln in priced:
            exceptions.append(ExceptionEntry(
                "PRICE_MISMATCH", f"line {ln.line_number} ({ln.sku}): PO cost {ln.unit_price} differs from the agreed "
                f"cost {ln.list_cost}", "the 855 echoes Amazon's price: dispute the cost in Vendor Central or correct "
                "the cost in sku-xref.csv" + (", then `edi po replay` the PO" if s.price_mismatch == "hold" else ""),
                s.partner, po_number, ln.line_number, key=f"{ln.unit_price}/{ln.list_cost}"))
        if priced and s.price_mismatch == "hold":
            return None, exceptions
        hot_why = s.hot_reason(po_number, order.order_type, order.order_date, order.ship_window_end, hot_list)
        changes: dict[str, Any] = {"revision": revision, "hot": hot_why is not None}
        if s.backorders == "never":
            changes["backorder_allowed"] = False  # partner setting: short lines are rejected, never backordered
        order = order.model_copy(update=changes)
        self.ims.submit_order(conn, order)
        if hot_why is not None:
            exceptions.append(ExceptionEntry(
                "HOT_PO", f"PO {po_number} is hot ({hot_why}; ship window ends {order.ship_window_end}): "
                "allocated first", "watch its fill rate: shortfalls on hot POs risk chargebacks", s.partner,
                po_number))
        return order, exceptions

    # -- allocation and 855 -----------------------------------------------------------------------

    def allocate_and_acknowledge(self) -> int:
        """Allocate ordered POs (hot first), then render their 855s. Returns the number acknowledged."""
        self.refresh_mappings()
        done = 0
        with self.engine.connect() as conn:
            ids = [r.id for r in conn.execute(
                select(purchase_order.c.id).where(purchase_order.c.state == POState.ORDERED.value)
                .order_by(purchase_order.c.hot.desc(), purchase_order.c.received_at, purchase_order.c.id))]
        for po_id in ids:
            with transaction(self.engine) as conn:
                done += self._acknowledge(conn, po_id, self.clock())
        return done

    def _acknowledge(self, conn: Connection, po_id: int, now: datetime) -> int:
        row = conn.execute(select(purchase_order).where(purchase_order.c.id == po_id)).one()
        if row.state != POState.ORDERED.value:
            return 0
        order = SalesOrder.model_validate_json(row.sales_order)
        try:
            allocation = self.ims.allocation_for(conn, order, now)
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
                         lambda e: render_855(ack, e), Delimiters("*", ">", "~", None), now)
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
                delims: Delimiters, now: datetime) -> str:
        """Reserve control numbers and store the rendered bytes in the outbox, in the caller's transaction.

        A value X12 cannot carry (a delimiter or control character in IMS or warehouse data) raises
        OutboundValueError with the reservation rolled back: no control number is spent.
        """
        ours, theirs = self._parties(conn)
        savepoint = conn.begin_nested()
        try:
            r = reserve(conn, sender=(ours.qualifier, ours.id), receiver=(theirs.qualifier, theirs.id), groups=1,
                        sets_per_group=1, purpose=f"{kind} {label}")
            text = render(Envelope(ours, theirs, "P", delims, now, r.isa13, r.group_numbers[0]))
        except OutboundValueError:
            savepoint.rollback()
            raise
        savepoint.commit()
        safe = _SAFE_NAME.sub("_", label)[:40]  # a file name from partner data: never a path
        conn.execute(insert(outbox).values(kind=kind, subject=subject, partner=self.settings.partner, isa13=r.isa13,
                                           filename=f"{kind}_{safe}_{r.isa13:09d}.edi", payload=text.encode("ascii"),
                                           created_at=now, attempts=0))
        return text

    def _parties(self, conn: Connection) -> tuple[Party, Party]:
        row = conn.execute(select(interchange.c.sender, interchange.c.receiver).order_by(interchange.c.id)).first()
        if row is None:
            return Party("ZZ", "VENDOR"), Party("ZZ", "AMAZON")
        theirs_q, theirs_id = row.sender.split("/", 1)
        ours_q, ours_id = row.receiver.split("/", 1)
        return Party(ours_q, ours_id), Party(theirs_q, theirs_id)

    # -- pack confirmation and 856 ----------------------------------------------------------------

    def confirm_pack(self, data: bytes, name: str) -> str:
        """Apply one pack confirmation (JSON or CSV): checks, then the 856 into the outbox.

        Returns the disposition: ``shipped``, ``held`` (checks failed: nothing sent, exceptions
        logged), ``duplicate`` (this shipment was already applied: no effect) or ``invalid`` (the
        file cannot be read). A held shipment may be corrected and sent again under the same id.
        """
        self.refresh_mappings()
        now = self.clock()
        digest = _sha256(data)
        try:
            pack = parse_pack(data, name, self.settings.partner)
        except PackFileError as exc:
            with transaction(self.engine) as conn:
                raise_exception(conn, ExceptionEntry("PACK_INVALID", str(exc).split("; hint:")[0], exc.hint or "",
                                                     self.settings.partner, key=digest[:16]), now)
            return "invalid"
        with transaction(self.engine) as conn:
            before = conn.execute(select(shipment.c.id, shipment.c.state, shipment.c.pack_sha256).where(
                shipment.c.partner == pack.partner, shipment.c.shipment_id == pack.shipment_id)).first()
            if before is not None and (before.state == "shipped" or before.pack_sha256 == digest):
                if before.pack_sha256 != digest:
                    raise_exception(conn, ExceptionEntry(
                        "PACK_MISMATCH", f"shipment {pack.shipment_id} was already shipped; {name} changes it",
                        "a changed shipment needs a new shipment id (and a new 856)", pack.partner,
                        key=f"{pack.shipment_id}:{digest[:16]}"), now)
                return "duplicate"
            pos = sorted({i.vendor_central_po_number for c in pack.cartons for i in c.items})
            rows = {r.po_number: r for r in conn.execute(select(purchase_order).where(
                purchase_order.c.partner == pack.partner, purchase_order.c.po_number.in_(pos),
                purchase_order.c.state.in_([POState.ACKNOWLEDGED.value, POState.SHIPPED.value])))}
            earlier = [PackConfirmation.model_validate_json(r.pack) for r in conn.execute(
                select(shipment.c.pack).where(shipment.c.partner == pack.partner, shipment.c.state == "shipped"))]
            problems = check_pack(pack, {po: PurchaseOrderAck.model_validate_json(r.acknowledgement)
                                         for po, r in rows.items()}, pos, earlier, shippable_codes(self.codes))
            orders = [SalesOrder.model_validate_json(rows[p].sales_order) for p in pos if p in rows]
            notice = None
            if not problems:
                view = shipment_view(orders, pack, ship_from=self.settings.ship_from, created_at=now)
                result = self.map_856.apply(view)
                notice = result.target if isinstance(result.target, ShipNotice) else None
                problems = [f.one_line() for f in result.failures] if notice is None else []
            values = {"pack_sha256": digest, "pack": pack.model_dump_json(), "received_at": now,
                      "state": "held" if problems else "shipped"}
            if before is None:
                conn.execute(insert(shipment).values(shipment_id=pack.shipment_id, partner=pack.partner, **values))
            else:
                conn.execute(update(shipment).where(shipment.c.id == before.id).values(**values))
            if problems or notice is None:
                for p in problems:
                    raise_exception(conn, ExceptionEntry("PACK_MISMATCH", f"shipment {pack.shipment_id}: {p}",
                                                         "correct the pack confirmation; nothing was sent",
                                                         pack.partner, key=f"{pack.shipment_id}:{p[:60]}"), now)
                return "held"
            ship = notice
            try:
                self._render(conn, "856", pack.shipment_id, pack.shipment_id,
                             lambda e: render_856(ship, e, self.settings.asn_version),
                             Delimiters("*", ">", "~", "^" if self.settings.asn_version == "005010" else None), now)
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
            if before is not None:  # a corrected shipment went out: its earlier problems are settled
                for x in conn.execute(select(exception_log.c.id).where(
                        exception_log.c.status == "open", exception_log.c.kind == "PACK_MISMATCH",
                        exception_log.c.dedupe_key.like(f"%|{pack.shipment_id}:%"))).all():
                    resolve_exception(conn, x.id, "pipeline", f"corrected pack confirmation {name} shipped", now)
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
        results = []
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".csv")):
            disposition = self.confirm_pack(path.read_bytes(), path.name)
            results.append((path.name, disposition))
            if not move:
                continue
            target = folder / ("done" if disposition in ("shipped", "duplicate") else "rejected")
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)
            if target.name == "rejected":
                (target / f"{path.name}.error").write_text(
                    f"{disposition}: see `edi exceptions list --open` (PACK_INVALID / PACK_MISMATCH)\n",
                    encoding="utf-8")
        return results

    # -- replay: support staff fixed the cause of a hold --------------------------------------------

    def replay(self, po_number: str, by: str, note: str) -> str:
        """Take a held PO through the step that held it again, from what is stored; returns what happened.

        Mapping holds (an unknown SKU, say, after the cross-reference was fixed) re-map the stored 850
        and create the sales order; 855 holds re-run the 855 from the stored allocation, or ask the IMS
        again when the allocation itself was wrong. The PO's open exceptions are resolved (by, note)
        when the step passes; nothing is duplicated: the PO record, its revision and the IMS
        idempotency key stay the same. Raises ReplayRefusedError when the PO cannot be replayed.
        """
        now = self.clock()
        s = self.settings
        self.refresh_mappings()
        with transaction(self.engine) as conn:
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
                order, exceptions = self._make_order(conn, json.loads(row.canonical), po_number, row.revision,
                                                     s.hot_list())
                if order is None:
                    for entry in exceptions:
                        raise_exception(conn, entry, now)
                    return f"still held: {len(exceptions)} exception(s) remain; see `edi exceptions list --open`"
                conn.execute(update(purchase_order).where(purchase_order.c.id == row.id).values(
                    sales_order=order.model_dump_json(), hot=order.hot))
                trail(conn, row.id, "sales_order", _order_trail(order), now)
                transition(conn, row.id, POState.ORDERED, f"sales order created in the IMS ({why})", now)
                outcome = "ordered: the sales order is in the IMS; the 855 follows its allocation"
            elif row.allocation is None:
                exceptions = []
                transition(conn, row.id, POState.ORDERED, f"asking the IMS again ({why})", now)
                outcome = "ordered: waiting for the IMS's allocation again"
            else:
                exceptions = []  # the 855 step logs its own problems
                order = SalesOrder.model_validate_json(row.sales_order)
                allocation = Allocation.model_validate_json(row.allocation)
                try:
                    acknowledgement_view(order, allocation, codes=self.codes, received=received_lines(
                        json.loads(row.canonical)))
                except AllocationMismatchError:
                    conn.execute(update(purchase_order).where(purchase_order.c.id == row.id).values(allocation=None))
                    transition(conn, row.id, POState.ORDERED, f"allocation did not match: asking the IMS again "
                               f"({why})", now)
                    outcome = "ordered: the stored allocation did not match; waiting for the IMS again"
                else:
                    transition(conn, row.id, POState.ALLOCATED, f"855 step again ({why})", now)
                    if not self._answer(conn, row, order, allocation, now):
                        return "still held: the 855 checks failed again; see `edi exceptions list --open`"
                    outcome = "acknowledged: the 855 is in the outbox"
            again = {e.dedupe_key() for e in exceptions}
            for x in before:
                if x.kind not in ("DUPLICATE", "HOT_PO") and x.dedupe_key not in again:
                    resolve_exception(conn, x.id, by, f"replayed: {note}", now)
            for entry in exceptions:
                raise_exception(conn, entry, now)
            failpoint("replay.before_commit")
        return outcome

    # -- outbox and deadlines ---------------------------------------------------------------------

    def send_outbox(self, out_dir: Path) -> list[Path]:
        """Write every unsent outbox document to ``out_dir/<kind>/`` (same bytes on every retry)."""
        written = []
        with self.engine.connect() as conn:
            pending = conn.execute(select(outbox.c.id, outbox.c.kind, outbox.c.filename, outbox.c.payload)
                                   .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)).all()
        for row in pending:
            target = out_dir / row.kind / row.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != row.payload:
                _write_durably(target, row.payload)
            failpoint("out.sent_before_mark")
            with transaction(self.engine) as conn:
                conn.execute(update(outbox).where(outbox.c.id == row.id).values(
                    sent_at=self.clock(), attempts=outbox.c.attempts + 1))
            written.append(target)
        return written

    def reject_unknown_items(self) -> int:
        """Before the 855 deadline, unstick POs held only by unknown items: order the known lines, reject the rest.

        At ``reject_unknown_items_at_hours`` after receipt, a held PO whose open exceptions are
        all line-level mapping exceptions (an unknown SKU, say) is mapped again with those lines
        rejected: the sales order carries the known lines, and its 855 answers the others with the
        invalid-item code. A PO whose every line is unknown, or held for any other reason, stays
        held (the DEADLINE alarms go on). Returns the number of POs released.
        """
        s = self.settings
        if s.reject_unknown_items_at_hours is None:
            return 0
        now = self.clock()
        self.refresh_mappings()
        released = 0
        with transaction(self.engine) as conn:
            held = conn.execute(select(purchase_order.c.id, purchase_order.c.po_number, purchase_order.c.revision,
                                       purchase_order.c.canonical).where(
                purchase_order.c.partner == s.partner, purchase_order.c.state == POState.HELD.value,
                purchase_order.c.sales_order.is_(None), purchase_order.c.revision == 1,
                purchase_order.c.received_at <= now - timedelta(hours=s.reject_unknown_items_at_hours))).all()
            for r in held:
                before = open_exceptions(conn, s.partner, r.po_number)
                lines_only = [x for x in before if x.kind not in ("HOT_PO", "DUPLICATE", "DEADLINE",
                                                                   "DEADLINE_MISSED", "PRICE_MISMATCH")]
                if not lines_only or any(x.line_number is None or x.kind == "MAPPING" for x in lines_only):
                    continue
                order, exceptions = self._make_order(conn, json.loads(r.canonical), r.po_number, r.revision,
                                                     s.hot_list(), reject_lines=True)
                if order is None:
                    continue
                rejected = sorted({x.line_number for x in lines_only}, key=lambda n: (len(n), n))
                conn.execute(update(purchase_order).where(purchase_order.c.id == r.id).values(
                    sales_order=order.model_dump_json(), hot=order.hot))
                trail(conn, r.id, "sales_order", _order_trail(order), now)
                transition(conn, r.id, POState.ORDERED, f"still held at {s.reject_unknown_items_at_hours} h: "
                           f"line(s) {', '.join(rejected)} rejected as invalid items so the 855 is on time", now)
                for x in lines_only:
                    resolve_exception(conn, x.id, "pipeline", f"line {x.line_number} answered rejected (invalid "
                                      f"item) in the 855 at {s.reject_unknown_items_at_hours} h", now)
                raise_exception(conn, ExceptionEntry(
                    "LINES_REJECTED", f"PO {r.po_number}: line(s) {', '.join(rejected)} rejected as unknown items at "
                    f"{s.reject_unknown_items_at_hours} h to meet the 855 deadline",
                    "fix the cross-reference for the next POs; rejected units count against the fill rate",
                    s.partner, r.po_number), now)
                for entry in exceptions:
                    if entry.kind in ("HOT_PO", "PRICE_MISMATCH"):
                        raise_exception(conn, entry, now)
                released += 1
        return released

    def watch_deadlines(self) -> int:
        """Alarm on POs without an 855: DEADLINE at ``alarm_hours``, DEADLINE_MISSED at the deadline (each once).

        Each entry says why the 855 has not gone out (held, waiting for the IMS, ...). Returns the
        number of entries raised. POs held only by unknown items are released first when their
        time has come (``reject_unknown_items``).
        """
        self.reject_unknown_items()
        now = self.clock()
        s = self.settings
        waiting = [st.value for st in (POState.RECEIVED, POState.VALIDATED, POState.ORDERED, POState.ALLOCATED,
                                       POState.HELD)]
        raised = 0
        with transaction(self.engine) as conn:
            due = conn.execute(select(
                purchase_order.c.id, purchase_order.c.partner, purchase_order.c.po_number, purchase_order.c.revision,
                purchase_order.c.state, purchase_order.c.hot, purchase_order.c.deadline_855_at,
                purchase_order.c.alarm_raised, purchase_order.c.deadline_missed).where(
                purchase_order.c.partner == s.partner, purchase_order.c.state.in_(waiting),
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
        return raised


def _interchange_digests(path: Path, offsets: list[int]) -> list[str]:
    """SHA-256 of each interchange's bytes (from its ISA to the next one), trailing whitespace left out."""
    size = path.stat().st_size
    out = []
    with path.open("rb") as fh:
        for start, stop in zip(offsets, [*offsets[1:], size], strict=True):
            fh.seek(max(start, stop - 64))
            tail = fh.read(stop - max(start, stop - 64))
            digest = hashlib.sha256()
            fh.seek(start)
            left = stop - (len(tail) - len(tail.rstrip())) - start
            while left > 0:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            out.append(digest.hexdigest())
    return out


def _order_trail(order: SalesOrder) -> dict[str, str]:
    return {ln.line_number: f"sku={ln.sku} quantity={ln.quantity} unit={ln.unit}" for ln in order.lines}


class _Staging:
    """A validation sink that spools each accepted set (one JSON line) and reads them back as documents."""

    def __init__(self) -> None:
        self.spool = tempfile.SpooledTemporaryFile(max_size=4 << 20, mode="w+b")  # noqa: SIM115 - closed by close()

    def interchange_start(self, *a: object) -> None:
        """Nothing to do."""

    def group_start(self, *a: object) -> None:
        """Nothing to do."""

    def group_end(self, *a: object) -> None:
        """Nothing to do."""

    def interchange_end(self, *a: object) -> None:
        """Nothing to do."""

    def set_done(self, grp: object, res: object, doc: Document | None) -> None:
        """Spool an accepted set: its envelope, delimiters and segments."""
        if doc is None:
            return
        d = doc.delimiters
        line = json.dumps([doc.set_id, doc.control_number, doc.version, doc.isa13, doc.gs06, doc.byte_offset,
                           [d.element, d.component, d.segment, d.repetition], doc.segments], separators=(",", ":"))
        self.spool.write(line.encode("latin-1") + b"\n")

    def documents(self, validator: X12Validator) -> Iterator[Document]:
        """The staged documents, in order, rebuilt one at a time."""
        self.spool.seek(0)
        for raw in self.spool:
            set_id, st02, version, isa13, gs06, offset, dl, segments = json.loads(raw.decode("latin-1"))
            delims = Delimiters(dl[0], dl[1], dl[2], dl[3])
            guide = validator.compiled(set_id, version, delims)
            if guide is None:
                continue
            yield Document(set_id, st02, version, segments, [], guide, delims, isa13, gs06, offset)

    def close(self) -> None:
        """Drop the spool."""
        self.spool.close()


class _Tee:
    """Forward sink calls to several sinks."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = sinks

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any) -> None:
            for s in self.sinks:
                getattr(s, name)(*args)

        return call
