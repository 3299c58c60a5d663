"""Receive and record: ledger before touch, whole-file validation, 997s, PO records and sales orders.

Files are archived (fsynced, content-addressed) and their ledger rows committed before anything
else. Each file is then validated whole in one transaction that also writes its 997s (control
numbers reserved in it), its interchange rows and, for the accepted 850s, the PO records with
their audited paths, line trail and sales orders, in batches of ``ORDER_BATCH``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from edi.failpoints import failpoint
from edi.mapping.source import document_view
from edi.model import SalesOrder
from edi.pipeline.base import StepsBase, internal_error, is_transient, order_trail, sha256_hex
from edi.pipeline.durable import write_durably
from edi.pipeline.ims import ImsUnavailableError
from edi.pipeline.records import (
    ExceptionEntry,
    POState,
    raise_exception,
    resolve_open,
    trail_rows,
)
from edi.store import reserve, transaction
from edi.store.bulk import bulk_insert
from edi.store.pipeline_tables import (
    inbound_duplicate,
    inbound_file,
    interchange,
    outbox,
    po_line_trail,
    po_transition,
    purchase_order,
)
from edi.x12 import AckBuilder, X12Validator
from edi.x12.ack import InMemory
from edi.x12.ack_reader import read_997
from edi.x12.envelope import GROUP_SETS, Delimiters
from edi.x12.validator import Document

_INSERT_PO = insert(purchase_order)
ORDER_BATCH = 100
"""850s recorded per round trip (all in the file's one transaction)."""


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


class InboundSteps(StepsBase):
    """Receive and record: ledger before touch, whole-file validation, 997s, PO records and sales orders."""

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
        digest = sha256_hex(data)
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
                write_durably(target, data)
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
            try:
                self._process_file(row.id, Path(row.archive_path), row.remote_name, row.received_at)
            except Exception as exc:
                if is_transient(exc):
                    raise  # the file stays new: the next run takes it again
                self._quarantine_file(row.id, row.remote_name, Path(row.archive_path).name, exc)
        return len(pending)

    def _quarantine_file(self, file_id: int, name: str, digest: str, exc: Exception) -> None:
        """An unexpected error on one file: nothing of it took effect; keep it aside and go on with the others."""
        now = self.clock()
        with transaction(self.engine) as conn:
            conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
                disposition="failed", processed_at=now))
            raise_exception(conn, ExceptionEntry(
                "INTERNAL_ERROR", internal_error(exc, f"{name} (sha256 {digest[:12]})"),
                "nothing of this file took effect and its bytes are in the archive; report the entry, and "
                "replay the file once fixed", self.settings.partner, key=f"file:{digest[:16]}"), now)

    def _process_file(self, file_id: int, path: Path, name: str, received_at: datetime) -> None:
        now = self.clock()
        with transaction(self.engine) as conn:
            acks = InMemory()
            staged = _Staging()

            savepoint = conn.begin_nested()
            builder = AckBuilder(acks, _ConnNumbers(conn, f"997 for {name}"))
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
                    usage=ic.isa[15] if len(ic.isa) > 15 else "P", accepted=not ic.rejected)
                    .returning(interchange.c.id)).scalar_one()
            for ack in builder.written:
                conn.execute(insert(outbox).values(
                    kind=ack.kind, subject=f"{ack.answers_isa13}/{ack.answers_gs06 or '-'}",
                    partner=self.settings.partner,
                    isa13=ack.isa13, filename=ack.name, payload=acks[ack.name], created_at=now, attempts=0))
            failpoint("ack.997_rendered_before_commit")
            for finding in report.errors[:50]:
                raise_exception(conn, ExceptionEntry("VALIDATION", finding.one_line().replace(str(path), name),
                                                     finding.hint, self.settings.partner,
                                                     key=f"{path.name[:12]}:{finding.code}:"
                                                         f"{finding.position.segment_index}:{finding.position.element}"),
                                now)
            # validate the whole interchange before mapping anything (I3): accepted sets were staged
            # to a spool file while validating, so memory stays flat however many POs the file holds
            ok_interchanges = {ic.control_number for ic in report.interchanges if not ic.rejected}
            test = {ic.control_number for ic in report.interchanges if len(ic.isa) > 15 and ic.isa[15] == "T"}
            if self.settings.test_interchanges == "process":
                test = set()
            skipped: dict[str, int] = {}
            hot_list = self.settings.hot_list()
            batch: list[Document] = []
            senders = {ic.control_number: k[0] for ic, k in zip(report.interchanges, keys, strict=True) if k}
            for doc in staged.documents(self.validator):
                if doc.set_id == "997" and doc.isa13 in ok_interchanges:
                    self._record_997(conn, doc, senders.get(doc.isa13, ""), name, now)
                    continue
                if doc.set_id == "850" and doc.isa13 in ok_interchanges:
                    if doc.isa13 in test:
                        skipped[doc.isa13] = skipped.get(doc.isa13, 0) + 1
                        continue
                    batch.append(doc)
                    if len(batch) == ORDER_BATCH:
                        self._orders(conn, batch, ic_ids, received_at, now, hot_list)
                        batch.clear()
            self._orders(conn, batch, ic_ids, received_at, now, hot_list)
            staged.close()
            for isa13, count in skipped.items():
                raise_exception(conn, ExceptionEntry(
                    "TEST_INTERCHANGE", f"{name}: interchange {isa13} is a test interchange (ISA15 T): 997 sent, "
                    f"{count} PO(s) not ordered", "nothing to do if you expected a test from the partner; set "
                    "test_interchanges: process in partner.yaml on a test connection", self.settings.partner,
                    key=f"{isa13}/{file_id}"), now)
            conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
                disposition="processed" if report.accepted else "quarantined", processed_at=now))
            failpoint("parse.validated_before_commit")

    def _record_997(self, conn: Connection, doc: Document, sender: str, name: str, now: datetime) -> None:
        """The partner's 997 for one of our groups: record its verdict on the outbox row; alert on a rejection."""
        s = self.settings
        ack = read_997(doc)
        if ack is None:
            return
        kinds = GROUP_SETS.get(ack.functional_id)
        row = None
        if ack.group_control.isascii() and ack.group_control.isdigit():
            q = select(outbox.c.id, outbox.c.kind, outbox.c.subject, outbox.c.filename).where(
                outbox.c.partner == s.partner, outbox.c.counterpart == sender,
                outbox.c.gs06 == int(ack.group_control))
            row = conn.execute(q.where(outbox.c.kind.in_(kinds)) if kinds else q).first()
        if row is None:
            raise_exception(conn, ExceptionEntry(
                "ACK_UNMATCHED", f"{name}: a 997 from {sender} answers group {ack.group_control} "
                f"({ack.functional_id or '?'}), which we did not send", "check the partner's and our sender ids",
                s.partner, key=f"{sender}/{ack.functional_id}/{ack.group_control}"), now)
            return
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(ack_status=ack.status, acked_at=now))
        po = row.subject.split("/")[0] if row.kind == "855" else None
        resolve_open(conn, ExceptionEntry("ACK_MISSING", "", "", s.partner, po, key=f"{row.kind}/{row.id}"),
                     "pipeline", f"the partner's 997 arrived late ({name})", now)
        if ack.status == "accepted":
            return
        what = f"our {row.kind} {row.filename} ({'PO ' + po if po else 'shipment ' + row.subject})"
        if ack.status == "accepted_with_errors":
            kind_, hint = "ACK_WITH_ERRORS", "accepted, but fix the cause for the next documents"
        else:
            kind_, hint = "ACK_REJECTED", ("the partner did not take it: fix the cause, then send a corrected "
                                           "document with new control numbers")
        raise_exception(conn, ExceptionEntry(
            kind_, f"the partner's 997 ({name}) says {ack.status}: {what}: {'; '.join(ack.problems())}", hint,
            s.partner, po, key=f"{row.kind}/{row.id}"), now)

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
                f"(in {earlier[first].remote_name}); no effect", "no action needed", s.partner, key=first[2],
                info=True)
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
            content_hash = sha256_hex(canonical_text.encode())
            po_number = str((view.get("BEG") or {}).get("BEG03", ""))
            existing = latest.get(po_number)
            if existing is not None and existing[1] == content_hash:
                exceptions.append(ExceptionEntry("DUPLICATE", f"PO {po_number} received again with identical "
                                                 "content; no business effect", "no action needed", s.partner,
                                                 po_number, key=f"{doc.isa13}/{doc.control_number}", info=True))
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
                order, found, submitted = self._make_order(conn, view, po_number, revision, hot_list)
                exceptions += found
                if order is None:
                    path.append((POState.VALIDATED, POState.HELD, "mapping raised exceptions: held for a person"))
                elif submitted:
                    path.append((POState.VALIDATED, POState.ORDERED, "sales order created in the IMS"))
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
                    lines += trail_rows(po_id, "sales_order", order_trail(order), now)
            bulk_insert(conn, po_line_trail, lines)
        for entry in exceptions:
            raise_exception(conn, entry, now)

    def _make_order(self, conn: Connection, view: dict[str, Any], po_number: str, revision: int,
                    hot_list: frozenset[str], *, reject_lines: bool = False
                    ) -> tuple[SalesOrder | None, list[ExceptionEntry], bool]:
        """Map the 850 view to a sales order and submit it to the IMS.

        Returns the order (None: held), the exceptions, and whether the IMS took the order (False:
        the PO stays validated with its sales order stored, and ``submit_pending`` tries again).
        """
        s = self.settings
        result = self.map_850.apply(view, reject_lines=reject_lines)
        order = result.target if isinstance(result.target, SalesOrder) else None
        exceptions = [ExceptionEntry(e.code, e.message, e.hint, s.partner, po_number, e.line)
                      for e in result.exceptions]
        exceptions += [ExceptionEntry("MAPPING", f.one_line(), "fix the mapping or the data, then replay",
                                      s.partner, po_number, f.line, key=f.field) for f in result.failures]
        if order is None:
            return None, exceptions, False
        priced = [ln for ln in order.lines if ln.list_cost is not None and ln.unit_price != ln.list_cost]
        for ln in priced:
            exceptions.append(ExceptionEntry(
                "PRICE_MISMATCH", f"line {ln.line_number} ({ln.sku}): PO cost {ln.unit_price} differs from the agreed "
                f"cost {ln.list_cost}", "the 855 echoes Amazon's price: dispute the cost in Vendor Central or correct "
                "the cost in sku-xref.csv" + (", then `edi po replay` the PO" if s.price_mismatch == "hold" else ""),
                s.partner, po_number, ln.line_number, key=f"{ln.unit_price}/{ln.list_cost}"))
        if priced and s.price_mismatch == "hold":
            return None, exceptions, False
        hot_why = s.hot_reason(po_number, order.order_type, order.order_date, order.ship_window_end, hot_list)
        changes: dict[str, Any] = {"revision": revision, "hot": hot_why is not None}
        if s.backorders == "never":
            changes["backorder_allowed"] = False  # partner setting: short lines are rejected, never backordered
        order = order.model_copy(update=changes)
        if not self._submit(conn, order, exceptions):
            return order, exceptions, False
        failpoint("order.submitted_before_commit")
        if hot_why is not None:
            exceptions.append(ExceptionEntry(
                "HOT_PO", f"PO {po_number} is hot ({hot_why}; ship window ends {order.ship_window_end}): "
                "allocated first", "watch its fill rate: shortfalls on hot POs risk chargebacks", s.partner,
                po_number))
        return order, exceptions, True

    def _submit(self, conn: Connection, order: SalesOrder, exceptions: list[ExceptionEntry]) -> bool:
        """Submit ``order`` to the IMS; False (with an IMS_UNAVAILABLE entry) when it cannot be reached now."""
        try:
            self.ims.submit_order(conn, order)
        except ImsUnavailableError as exc:
            exceptions.append(ExceptionEntry(
                "IMS_UNAVAILABLE", f"PO {order.vendor_central_po_number}: sales order not submitted: {exc.args[0]}",
                (exc.hint or "") + "; it is submitted again on every run, and the 855 deadline runs on",
                self.settings.partner, order.vendor_central_po_number, key="submit"))
            return False
        return True



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
