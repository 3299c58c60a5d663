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

from edi.errors import FatalError
from edi.failpoints import failpoint
from edi.mapping.source import document_view
from edi.model import SalesOrder
from edi.pipeline.context import (
    PartnerContext,
    Runtime,
    format_traceback,
    internal_error,
    is_transient,
    order_trail,
    sha256_hex,
)
from edi.pipeline.ims import ImsUnavailableError
from edi.pipeline.ledger import Disposition
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
from edi.x12.results import FileReport
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



# -- validate, 997, sales orders --------------------------------------------------------------


def process_inbound(rt: Runtime, *, limit: int | None = None) -> int:
    """Validate each new ledger file whole, write its 997s, then create sales orders. Returns files done.

    Each file is claimed in its own transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
    serialises writers), so several workers share the files and none is processed twice. Each file
    goes to the partner its ISA sender and receiver name; one that fails is set aside and the others go on.
    """
    for each in rt.partners.values():
        each.refresh_mappings()
    with rt.engine.connect() as conn:
        q = (select(inbound_file.c.id, inbound_file.c.connector, inbound_file.c.archive_path,
                    inbound_file.c.remote_name, inbound_file.c.received_at, inbound_file.c.sha256)
             .where(inbound_file.c.disposition == Disposition.NEW.value).order_by(inbound_file.c.id))
        pending = conn.execute(q.limit(limit) if limit else q).all()
    done = 0
    ctx: PartnerContext | None
    for row in pending:
        ctx = None
        try:
            path = Path(row.archive_path)
            _check_archive(path, row.sha256)
            ctx = _partner_of(rt, path, row.connector)
            if ctx is None:
                done += _unknown_partner(rt, row.id, path, row.remote_name, row.connector)
                continue
            done += process_file(ctx, row.id, path, row.remote_name, row.received_at, row.connector)
        except Exception as exc:
            if is_transient(exc):
                raise  # the file stays new: the next run takes it again
            quarantine_file(rt, ctx, row.id, row.remote_name, row.sha256, exc)
            done += 1
    return done


def _check_archive(path: Path, sha: str) -> None:
    """The archived bytes are the ones the ledger recorded (a changed or missing file is never processed)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise ArchiveError(f"archive file {path.name} is missing") from exc
    if digest.hexdigest() != sha:
        raise ArchiveError(f"archive file {path.name} does not match its recorded SHA-256")


class ArchiveError(FatalError):
    """An archived file is missing or changed: the ledger no longer holds what the partner sent."""

    code = "ARCHIVE_DAMAGED"


def isa_ids(path: Path) -> tuple[str, str] | None:
    """The first interchange's sender and receiver (``QQ/ID``) read from the fixed-width ISA, if there is one."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    start = head.find(b"ISA")
    if start < 0 or start > 1024 or len(head) < start + 106:
        return None
    sep = head[start + 3:start + 4]
    parts = head[start:start + 106].split(sep)
    if len(parts) < 9:
        return None
    try:
        q1, i1, q2, i2 = (parts[k].decode("ascii").strip() for k in (5, 6, 7, 8))
    except UnicodeDecodeError:
        return None
    return f"{q1}/{i1}", f"{q2}/{i2}"


def _partner_of(rt: Runtime, path: Path, connector: str) -> PartnerContext | None:
    """The partner of a file: the one its ISA ids name; else its connector's partner if that one declares no ids.

    A file with no readable ISA (not X12) stays with its connector's partner, which records why.
    """
    owner = rt.connector_partners.get(connector)
    fallback = rt.partners.get(owner) if owner else (
        next(iter(rt.partners.values())) if len(rt.partners) == 1 else None)
    ids = isa_ids(path)
    if ids is None:
        return fallback
    routed = rt.route(*ids)
    if routed is not None:
        return routed
    return fallback if fallback is not None and not fallback.settings.partner_ids else None


def _claim(conn: Connection, file_id: int) -> bool:
    """Lock the file's ledger row for this transaction; False when another worker has it or it is done."""
    row = conn.execute(select(inbound_file.c.disposition).where(inbound_file.c.id == file_id)
                       .with_for_update(skip_locked=True)).first()
    return row is not None and row.disposition == Disposition.NEW.value


def _unknown_partner(rt: Runtime, file_id: int, path: Path, name: str, connector: str) -> int:
    """A file whose interchange names no configured partner: kept aside, no reply, an exception for a person."""
    ids = isa_ids(path) or ("?", "?")
    now = rt.clock()
    with transaction(rt.engine) as conn:
        if not _claim(conn, file_id):
            return 0
        conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
            disposition=Disposition.UNKNOWN_PARTNER.value, processed_at=now))
        raise_exception(conn, ExceptionEntry(
            "UNKNOWN_PARTNER", f"{name} (connector {connector}): sender {ids[0]} to {ids[1]} matches no "
            "partner's interchange ids; nothing was processed and no 997 was sent",
            "add the ids to interchange.partner_ids / our_ids in that partner's partner.yaml, then "
            "`edi files replay` the file; an unexpected sender (e.g. Direct Fulfillment) belongs elsewhere",
            rt.connector_partners.get(connector), key=f"file:{file_id}"), now)
    return 1


def quarantine_file(rt: Runtime, ctx: PartnerContext | None, file_id: int, name: str, digest: str,
                    exc: Exception) -> None:
    """An unexpected error on one file: nothing of it took effect; keep it aside and go on with the others."""
    now = rt.clock()
    with transaction(rt.engine) as conn:
        conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
            disposition=Disposition.FAILED.value, processed_at=now))
        if isinstance(exc, ArchiveError):
            entry = ExceptionEntry(
                exc.code, f"inbound file {file_id} ({name}, sha256 {digest[:12]}): {exc.args[0]}; it was not "
                "processed", f"put back a good copy of the file with `edi files rearchive {file_id} PATH` (its "
                f"SHA-256 must be {digest[:12]}...), then `edi files replay {file_id}`", ctx.partner if ctx else None,
                key=f"file:{digest[:16]}")
        else:
            entry = ExceptionEntry(
                "INTERNAL_ERROR", internal_error(exc, f"inbound file {file_id} ({name}, sha256 {digest[:12]})"),
                "nothing of this file took effect; report the entry (its detail has the traceback), and "
                f"`edi files replay {file_id}` once fixed", ctx.partner if ctx else None, key=f"file:{digest[:16]}",
                detail=format_traceback(exc))
        raise_exception(conn, entry, now)


def process_file(ctx: PartnerContext, file_id: int, path: Path, name: str, received_at: datetime,
                 connector: str | None = None) -> int:
    """Validate one claimed file whole, record its interchanges, 997s and POs in one transaction; 1 when done."""
    now = ctx.clock()
    with transaction(ctx.engine) as conn:
        if not _claim(conn, file_id):
            return 0
        acks = InMemory()
        staged = _Staging()

        savepoint = conn.begin_nested()
        builder = AckBuilder(acks, _ConnNumbers(conn, f"997 for {name}"))
        tee = _Tee(builder, staged)
        report = ctx.validator.validate_path(path, tee)
        keys = [(f"{ic.isa[5]}/{ic.isa[6].strip()}", f"{ic.isa[7]}/{ic.isa[8].strip()}", ic.control_number)
                if len(ic.isa) > 13 else None for ic in report.interchanges]
        if not report.interchanges:  # not X12 at all (empty, binary, UTF-16, EDIFACT, ...): no reply is possible
            savepoint.rollback()
            _not_x12(ctx, conn, file_id, name, report, now)
            return 1
        others = sorted({f"{k[0]} -> {k[1]}" for k in keys if k is not None and _route_elsewhere(ctx, k)})
        if others:
            savepoint.rollback()
            conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
                disposition=Disposition.QUARANTINED.value, processed_at=now, partner=ctx.partner))
            raise_exception(conn, ExceptionEntry(
                "MIXED_PARTNERS", f"{name}: interchange(s) {', '.join(others)} are not {ctx.partner}'s; "
                "nothing of the file was processed", "split the file by partner and put the parts back into the "
                "inbound folder", ctx.partner, key=f"file:{file_id}"), now)
            return 1
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
            envelope_duplicate(ctx, conn, file_id, name, keys, digests, earlier, now)
            return 1
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
            answered = next((k for k in keys if k is not None and k[2] == ack.answers_isa13), None)
            sender = answered[0] if answered else "?"
            conn.execute(insert(outbox).values(
                kind=ack.kind, subject=f"{sender}/{ack.answers_isa13}/{ack.answers_gs06 or '-'}",
                partner=ctx.settings.partner, connector=connector, counterpart=sender,
                isa13=ack.isa13, filename=ack.name, payload=acks[ack.name], created_at=now, attempts=0))
        failpoint("ack.997_rendered_before_commit")
        for finding in report.errors[:50]:
            raise_exception(conn, ExceptionEntry("VALIDATION", finding.one_line().replace(str(path), name),
                                                 finding.hint, ctx.settings.partner,
                                                 key=f"{path.name[:12]}:{finding.code}:"
                                                     f"{finding.position.segment_index}:{finding.position.element}"),
                            now)
        # validate the whole interchange before mapping anything (I3): accepted sets were staged
        # to a spool file while validating, so memory stays flat however many POs the file holds
        ok_interchanges = {ic.control_number for ic in report.interchanges if not ic.rejected}
        # what the 997 says about a group decides whether its sets are processed: a rejected group
        # (AK9 R, e.g. a wrong GE01/GE02) orders nothing, even where its sets themselves were fine
        rejected_groups = {(ic.control_number, g.gs06) for ic in report.interchanges for g in ic.groups
                           if g.ak901 == "R"}
        test = {ic.control_number for ic in report.interchanges if len(ic.isa) > 15 and ic.isa[15] == "T"}
        if ctx.settings.test_interchanges == "process":
            test = set()
        skipped: dict[str, int] = {}
        hot_list = ctx.settings.hot_list()
        batch: list[Document] = []
        senders = {ic.control_number: k[0] for ic, k in zip(report.interchanges, keys, strict=True) if k}
        for doc in staged.documents(ctx.validator):
            if (doc.isa13, doc.gs06) in rejected_groups:
                continue
            if doc.set_id == "997" and doc.isa13 in ok_interchanges:
                record_997(ctx, conn, doc, senders.get(doc.isa13, ""), name, now)
                continue
            if doc.set_id == "850" and doc.isa13 in ok_interchanges:
                if doc.isa13 in test:
                    skipped[doc.isa13] = skipped.get(doc.isa13, 0) + 1
                    continue
                batch.append(doc)
                if len(batch) == ORDER_BATCH:
                    record_orders(ctx, conn, batch, ic_ids, received_at, now, hot_list)
                    batch.clear()
        record_orders(ctx, conn, batch, ic_ids, received_at, now, hot_list)
        staged.close()
        for isa13, count in skipped.items():
            raise_exception(conn, ExceptionEntry(
                "TEST_INTERCHANGE", f"{name}: interchange {isa13} is a test interchange (ISA15 T): 997 sent, "
                f"{count} PO(s) not ordered", "nothing to do if you expected a test from the partner; set "
                "test_interchanges: process in partner.yaml on a test connection", ctx.settings.partner,
                key=f"{isa13}/{file_id}"), now)
        conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
            disposition=Disposition.PROCESSED.value if report.accepted else Disposition.QUARANTINED.value,
            processed_at=now, partner=ctx.partner))
        failpoint("parse.validated_before_commit")
    return 1


def _route_elsewhere(ctx: PartnerContext, key: tuple[str, str, str]) -> bool:
    """True when an interchange's ids are declared by no partner of ``ctx``'s (another partner's, or nobody's)."""
    s = ctx.settings
    if not s.partner_ids:
        return False  # a partner without declared ids takes what its connectors bring
    return key[0].upper() not in s.partner_ids or bool(s.our_ids and key[1].upper() not in s.our_ids)


def _not_x12(ctx: PartnerContext, conn: Connection, file_id: int, name: str, report: FileReport,
             now: datetime) -> None:
    """A file with no interchange in it: a typed disposition and one exception entry, no reply."""
    first = report.errors[0] if report.errors else None
    code = first.code if first is not None else "NOT_X12"
    conn.execute(update(inbound_file).where(inbound_file.c.id == file_id).values(
        disposition=Disposition.NOT_X12.value, processed_at=now, partner=ctx.partner))
    raise_exception(conn, ExceptionEntry(
        code if code in ("EMPTY_FILE", "NOT_X12", "INVALID_ENCODING", "FILE_TOO_LARGE") else "NOT_X12",
        f"{name}: not an X12 interchange" + (f" ({first.message})" if first else "")
        + "; nothing was processed and no 997 can answer it",
        first.hint if first is not None and first.hint else "check with the sender what the file is; X12 starts "
        "with ISA", ctx.partner, key=f"file:{file_id}"), now)


def record_997(ctx: PartnerContext, conn: Connection, doc: Document, sender: str, name: str, now: datetime) -> None:
    """The partner's 997 for one of our groups: record its verdict on the outbox row; alert on a rejection."""
    s = ctx.settings
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


def envelope_duplicate(ctx: PartnerContext, conn: Connection, file_id: int, name: str,
                        keys: list[tuple[str, str, str] | None], digests: list[str],
                        earlier: dict[tuple[str, str, str], Any], now: datetime) -> None:
    """A file whose interchange(s) were received before: no effect, and the reason on record.

    Same control number and same bytes: ``duplicate_interchange`` (Amazon re-dropped it).
    Same control number, other bytes: ``control_number_reuse``: quarantined for a person, since
    either the sender reused ISA13 or the content changed without a new interchange. A file
    mixing received and new interchanges is quarantined as well (split it and resubmit).
    """
    s = ctx.settings
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


def record_orders(ctx: PartnerContext,
                  conn: Connection, docs: list[Document], ic_ids: dict[str, int], received_at: datetime,
            now: datetime, hot_list: frozenset[str]) -> None:
    """Record a batch of accepted 850s: PO records, their audited paths, line trails, sales orders.

    Each PO keeps its own guarantees (dedupe on content, revision held, sales order only for a
    new PO); the batch only shares the round trips: one lookup of earlier versions, one insert
    of the PO rows, one of the transitions and one of the trail rows.
    """
    if not docs:
        return
    s = ctx.settings
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
            order, found, submitted = make_order(ctx, conn, view, po_number, revision, hot_list)
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


def make_order(ctx: PartnerContext, conn: Connection, view: dict[str, Any], po_number: str, revision: int,
                hot_list: frozenset[str], *, reject_lines: bool = False
                ) -> tuple[SalesOrder | None, list[ExceptionEntry], bool]:
    """Map the 850 view to a sales order and submit it to the IMS.

    Returns the order (None: held), the exceptions, and whether the IMS took the order (False:
    the PO stays validated with its sales order stored, and ``submit_pending`` tries again).
    """
    s = ctx.settings
    result = ctx.map_850.apply(view, reject_lines=reject_lines)
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
    if not submit(ctx, conn, order, exceptions):
        return order, exceptions, False
    failpoint("order.submitted_before_commit")
    if hot_why is not None:
        exceptions.append(ExceptionEntry(
            "HOT_PO", f"PO {po_number} is hot ({hot_why}; ship window ends {order.ship_window_end}): "
            "allocated first", "watch its fill rate: shortfalls on hot POs risk chargebacks", s.partner,
            po_number))
    return order, exceptions, True


def submit(ctx: PartnerContext, conn: Connection, order: SalesOrder, exceptions: list[ExceptionEntry]) -> bool:
    """Submit ``order`` to the IMS; False (with an IMS_UNAVAILABLE entry) when it cannot be reached now."""
    try:
        ctx.ims.submit_order(conn, order)
    except ImsUnavailableError as exc:
        exceptions.append(ExceptionEntry(
            "IMS_UNAVAILABLE", f"PO {order.vendor_central_po_number}: sales order not submitted: {exc.args[0]}",
            (exc.hint or "") + "; it is submitted again on every run, and the 855 deadline runs on",
            ctx.settings.partner, order.vendor_central_po_number, key="submit"))
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
