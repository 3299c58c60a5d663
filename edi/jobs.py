"""The order of the steps, once: what the daemon, ``edi demo``, the CLI and the tests all run.

A *cycle* is: poll each connector (files into the ledger, then settled on the remote side),
process (validate whole, 997s, sales orders), acknowledge (submit, allocate, 855), ship (pack
confirmations, 856s), deliver (each connector's outbox). The deadline watch and housekeeping run
on their own schedules. Steps never call each other; each job below calls them in this order.

Several workers may run jobs at once: polls, deliveries, shipping, deadlines and housekeeping
take a database lease (one holder at a time, across daemons); processing and acknowledging claim
their rows one by one, so two workers share that work without doing any of it twice.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edi import events
from edi.config.service import ConfigRoot, Connector, JobSpec
from edi.errors import EdiError
from edi.pipeline import deliver as delivery
from edi.pipeline import inbound, outbound, support
from edi.pipeline.context import Clock, Runtime, utc_now
from edi.pipeline.ims import EmbeddedIms, FilesIms, ImsAdapter
from edi.pipeline.ledger import Disposition, Ledger
from edi.pipeline.records import ExceptionEntry, raise_exception
from edi.store import transaction
from edi.store.leases import acquire, held
from edi.store.pipeline_tables import connector_status, inbound_file
from edi.transports.base import (
    FileTooLargeError,
    HostKeyMismatchError,
    RemoteFile,
    RemoteFileGoneError,
    RemoteNameError,
    Settle,
    Transport,
    TransportConfigError,
    TransportError,
    escape_name,
    stable_files,
)
from edi.transports.registry import open_transport

_CONNECTOR_ERRORS = (TransportError, TransportConfigError, HostKeyMismatchError)
"""What a transport may raise for one connector: recorded for that connector, the others go on."""
PUSH_KINDS = frozenset({"as2"})
"""Transports whose partner pushes to our endpoint: nothing to poll, their files reach the ledger directly."""
CERT_WARNING_DAYS = 30
"""CERT_EXPIRING is raised when an AS2 certificate expires within this many days."""

LEASE_SECONDS = 120.0
"""A lease outlives a holder on another host by at most this long (a poll renews it as it goes; a holder
killed on this host is noticed at once)."""


@dataclass
class Service:
    """One deployment at run time: its config root, the runtime over its store, and who we are."""

    root: ConfigRoot
    runtime: Runtime
    ledger: Ledger
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    stopping: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], None] = time.sleep

    @property
    def engine(self) -> Engine:
        """The store."""
        return self.runtime.engine

    @property
    def clock(self) -> Clock:
        """The clock every step reads."""
        return self.runtime.clock


def open_service(root: ConfigRoot, *, clock: Clock | None = None, ims: ImsAdapter | None = None) -> Service:
    """Open the store (created or upgraded), the IMS adapter and every partner's context for ``root``."""
    from edi.store import check_durability, check_integrity, ensure_schema, open_engine  # noqa: PLC0415

    engine = open_engine(root.database_url, data_dir=root.data_dir)
    check_integrity(engine)
    ensure_schema(engine, upgrade=True)
    check_durability(engine)
    if ims is None:
        i = root.settings.ims
        ims = EmbeddedIms() if i.kind == "embedded" else FilesIms(
            root.path(i.orders_dir), root.path(i.allocations_dir), root.path(i.packs_dir))
    rt = Runtime.build(engine, root.data_dir, list(root.partners.values()), clock=clock, ims=ims,
                       connectors={c.name: c.spec.partner for c in root.connectors.values()})
    return Service(root, rt, Ledger(engine, rt.archive, rt.clock))


def transport_for(svc: Service, connector: Connector) -> Transport:
    """A transport for ``connector`` (its settings section validated by the transport's own model)."""
    spec = connector.spec
    return open_transport(spec.kind, getattr(spec, spec.kind), base_dir=svc.root.root, connector=connector.name)


# -- poll -------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    """What one poll of one connector did."""

    connector: str
    taken: int = 0
    duplicates: int = 0
    rejected: int = 0
    left: int = 0
    error: str | None = None
    skipped: bool = False


def poll(svc: Service, name: str, *, every: int = 0, then: Callable[[], object] | None = None) -> PollResult:
    """Take the connector's stable files into the ledger, then settle them remotely (under the connector's lease).

    With ``then``, it is called after every ``every`` files taken (the cycle processes and answers them
    while the rest of a large drop is still being taken).
    """
    connector = svc.root.connectors[name]
    out = PollResult(name)
    if connector.spec.kind in PUSH_KINDS:
        out.skipped = True  # the AS2 endpoint stores what the partner posts; there is no remote folder
        return out
    with held(svc.engine, f"poll:{name}", svc.holder, LEASE_SECONDS, svc.clock) as mine:
        if not mine:
            out.skipped = True
            return out
        try:
            transport = transport_for(svc, connector)
        except _CONNECTOR_ERRORS as exc:
            return _poll_error(svc, connector, out, exc)
        try:
            _take_files(svc, connector, transport, out, every, then)
        except _CONNECTOR_ERRORS as exc:
            _poll_error(svc, connector, out, exc)
        finally:
            transport.close()
    if out.error is None:
        _status(svc, name, success=True, taken=out.taken)
    return out


def _take_files(svc: Service, connector: Connector, transport: Transport, out: PollResult, every: int,
                then: Callable[[], object] | None) -> None:
    spec = connector.spec
    files = stable_files(transport.list, lambda: svc.sleep(spec.stable_seconds))[:spec.max_files_per_poll]
    _account_ignored(svc, connector, getattr(transport, "ignored", []))
    for n, f in enumerate(files, 1):
        if svc.stopping.is_set():
            break
        if n % 50 == 0:
            acquire(svc.engine, f"poll:{spec.connector}", svc.holder, LEASE_SECONDS, svc.clock())
        try:
            with transport.open(f) as fh:
                got = svc.ledger(fh, remote_name=f.name, connector=spec.connector, max_bytes=spec.max_file_bytes)
        except (FileTooLargeError, RemoteNameError) as exc:
            _left(svc, connector, transport, f, exc)
            out.left += 1
            continue
        except RemoteFileGoneError as exc:  # taken by someone else between list and open: nothing to do
            events.file_left(connector=spec.connector, name=escape_name(f.name), code=exc.code, reason=str(exc))
            continue
        events.file_taken(connector=spec.connector, partner=spec.partner, file_id=got.file_id,
                          name=escape_name(f.name), size=f.size, new=got.new)
        verdict, note = _sniff(svc, got.file_id) if got.new else (Settle.DONE, None)
        transport.settle(f, verdict, note)
        out.taken += got.new
        out.duplicates += not got.new
        out.rejected += verdict is Settle.REJECTED
        if then is not None and every and got.new and out.taken % every == 0:
            then()


IGNORED_STALE_HOURS = 24.0
"""A file whose name matches ignore_patterns this long is reported (a transfer that never finished)."""


def _account_ignored(svc: Service, connector: Connector, ignored: list[RemoteFile]) -> None:
    """Names matching ``ignore_patterns`` are logged each poll, and one lying there a day is an exception.

    A temporary name is normal while a transfer runs; one that stays is a transfer that never
    finished (or a partner writing names we ignore): a person must look, since no 997 will go out.
    """
    if not ignored:
        return
    events.files_ignored(connector=connector.name, count=len(ignored),
                         names=[escape_name(f.name) for f in ignored[:10]])
    now = svc.clock()
    for f in ignored:
        age = now.timestamp() - f.mtime
        if age < IGNORED_STALE_HOURS * 3600:
            continue
        with transaction(svc.engine) as conn:
            raise_exception(conn, ExceptionEntry(
                "IGNORED_FILE_STALE", f"{escape_name(f.name)} on {connector.name} ({f.size} bytes) has matched "
                f"ignore_patterns for {age / 3600:.0f} h: it is not taken", "if it is a finished file, ask the "
                "sender to use its final name (or rename it yourself); if it is debris of a failed transfer, "
                "remove it", connector.spec.partner, key=f"{connector.name}:{f.name}:{f.mtime:.0f}"), now)


def _sniff(svc: Service, file_id: int) -> tuple[Settle, str | None]:
    """Settle a non-X12 file as rejected (it is in the ledger; processing records why): a cheap look at its head."""
    from pathlib import Path  # noqa: PLC0415

    with svc.engine.connect() as conn:
        path = conn.execute(select(inbound_file.c.archive_path).where(inbound_file.c.id == file_id)).scalar_one()
    if inbound.isa_ids(Path(path)) is not None:
        return Settle.DONE, None
    return Settle.REJECTED, (f"not an X12 interchange (no ISA header); recorded as inbound file {file_id}: "
                             "see `edi exceptions list --open`")


def _left(svc: Service, connector: Connector, transport: Transport, f: RemoteFile, exc: Exception) -> None:
    """A file that cannot enter the ledger: an exception for a person; a too-large one goes to rejected/."""
    code = getattr(exc, "code", "TRANSPORT_ERROR")
    events.file_left(connector=connector.name, name=escape_name(f.name), code=code, reason=str(exc))
    if isinstance(exc, FileTooLargeError):
        transport.settle(f, Settle.REJECTED, f"{code}: {exc}")
    with transaction(svc.engine) as conn:
        raise_exception(conn, ExceptionEntry(
            code, f"{escape_name(f.name)} on {connector.name}: {exc.args[0] if exc.args else exc}",
            getattr(exc, "hint", None) or "", connector.spec.partner, key=f"{connector.name}:{f.name}:{f.size}"),
            svc.clock())


def _poll_error(svc: Service, connector: Connector, out: PollResult, exc: Exception) -> PollResult:
    out.error = str(exc)
    code = getattr(exc, "code", "TRANSPORT_ERROR")
    events.poll_failed(connector=connector.name, code=code, error=str(exc))
    _status(svc, connector.name, success=False, error=f"{code}: {exc}")
    if code == "HOST_KEY_MISMATCH" or not isinstance(exc, TransportError):
        with transaction(svc.engine) as conn:
            raise_exception(conn, ExceptionEntry(code, f"connector {connector.name}: {exc}",
                                                 getattr(exc, "hint", None) or "fix the connector's settings",
                                                 connector.spec.partner, key=connector.name), svc.clock())
    return out


def connector_problem(svc: Service, connector: Connector, exc: Exception) -> None:
    """A connector that cannot run until a person fixes it (settings, secrets, host key): one open entry."""
    if isinstance(exc, TransportError) and not isinstance(exc, HostKeyMismatchError):
        return  # transient: the next run tries again, DELIVERY_FAILED follows if it persists
    code = getattr(exc, "code", "CFG_CONNECTOR")
    with transaction(svc.engine) as conn:
        raise_exception(conn, ExceptionEntry(code, f"connector {connector.name}: {exc}",
                                             getattr(exc, "hint", None) or "fix the connector's settings",
                                             connector.spec.partner, key=connector.name), svc.clock())


def note_received(svc: Service, name: str, *, new: bool) -> None:
    """A push connector (AS2) stored a message: its status row counts it like a poll that took a file."""
    _status(svc, name, success=True, taken=int(new))


def _status(svc: Service, name: str, *, success: bool, taken: int = 0, error: str | None = None) -> None:
    now = svc.clock()
    values: dict[str, Any] = {"last_poll_at": now}
    if success:
        values |= {"last_success_at": now}
    else:
        values |= {"last_error": (error or "")[:2000], "last_error_at": now}
    with transaction(svc.engine) as conn:
        dialect = conn.dialect.name
        ins: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(connector_status).values(
            connector=name, files_taken=taken, **values)
        conn.execute(ins.on_conflict_do_update(index_elements=["connector"], set_={
            **values, "files_taken": connector_status.c.files_taken + taken}))


# -- the other steps ------------------------------------------------------------------------------------


def process(svc: Service) -> int:
    """Validate new ledger files, write 997s, create sales orders (rows claimed one by one)."""
    return inbound.process_inbound(svc.runtime)


def acknowledge(svc: Service) -> int:
    """Submit, allocate and render 855s for every partner (POs claimed one by one)."""
    return sum(outbound.acknowledge(ctx) for ctx in svc.runtime.partners.values())


def ship(svc: Service) -> int:
    """Apply pack confirmations (the IMS's pack folder) and the shipments waiting for an 855; 856s out."""
    with held(svc.engine, "job:ship", svc.holder, LEASE_SECONDS, svc.clock) as mine:
        if not mine:
            return 0
        done = 0
        packs = svc.root.path(svc.root.settings.ims.packs_dir)
        for ctx in svc.runtime.partners.values():
            # the warehouse's pack folder: packs/<partner>/, or packs/ itself when there is one partner
            folder = packs / ctx.partner if (packs / ctx.partner).is_dir() else packs
            if folder.is_dir() and (folder != packs or len(svc.runtime.partners) == 1):
                done += sum(d == "shipped" for _, d in outbound.confirm_pack_folder(ctx, folder))
            done += sum(d == "shipped" for _, d in outbound.retry_waiting_packs(ctx))
        return done


def deliver(svc: Service, name: str | None = None) -> int:
    """Deliver each enabled connector's outbox (or only ``name``'s), under its lease; returns documents sent."""
    sent = 0
    for c in svc.root.connectors.values():
        if (name is not None and c.name != name) or not c.spec.enabled:
            continue
        with held(svc.engine, f"deliver:{c.name}", svc.holder, LEASE_SECONDS, svc.clock) as mine:
            if not mine:
                continue
            try:
                transport = transport_for(svc, c)
            except _CONNECTOR_ERRORS as exc:
                connector_problem(svc, c, exc)
                events.delivered(connector=c.name, partner=c.spec.partner, sent=0, failed=0, error=str(exc))
                continue
            try:
                d = c.spec.delivery
                got = delivery.deliver(svc.engine, svc.clock, transport, partner=c.spec.partner, connector=c.name,
                                       policy=delivery.DeliveryPolicy(d.attempts, d.backoff_seconds,
                                                                      d.max_backoff_seconds, d.alert_after_failures))
            except (TransportConfigError, HostKeyMismatchError) as exc:
                connector_problem(svc, c, exc)  # nothing was sent; the rows wait, with their bytes, for the fix
                events.delivered(connector=c.name, partner=c.spec.partner, sent=0, failed=0, error=str(exc))
                continue
            finally:
                transport.close()
            events.delivered(connector=c.name, partner=c.spec.partner, sent=len(got.sent), failed=len(got.failed),
                             error=got.error)
            sent += len(got.sent)
    return sent


def deliver_subjects(svc: Service, partner: str, subjects: list[str]) -> int:
    """Deliver only the unsent 855/856 rows of ``subjects`` (a replayed PO's documents), each by its connector."""
    from edi.store.pipeline_tables import outbox  # noqa: PLC0415

    if not subjects:
        return 0
    with svc.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.id, outbox.c.connector).where(
            outbox.c.partner == partner, outbox.c.sent_at.is_(None), outbox.c.kind.in_(["855", "856"]),
            outbox.c.subject.in_(subjects))).all()
    sent = 0
    for c in svc.root.connectors.values():
        mine = [r.id for r in rows if r.connector == c.name or (r.connector is None and c.spec.partner == partner)]
        if not mine or not c.spec.enabled:
            continue
        transport = transport_for(svc, c)
        try:
            got = delivery.deliver(svc.engine, svc.clock, transport, partner=partner, connector=c.name, ids=mine)
        finally:
            transport.close()
        sent += len(got.sent)
        rows = [r for r in rows if r.id not in set(mine)]
    return sent


def deadlines(svc: Service) -> int:
    """The 855 deadline alarms, the unknown-item release, the missing-997 alerts and AS2 certificates nearing expiry."""
    with held(svc.engine, "job:deadlines", svc.holder, LEASE_SECONDS, svc.clock) as mine:
        if not mine:
            return 0
        raised = sum(support.watch_deadlines(ctx) for ctx in svc.runtime.partners.values())
        return raised + watch_certificates(svc)


def watch_certificates(svc: Service) -> int:
    """``CERT_EXPIRING`` once per certificate and expiry date, for each enabled AS2 connector; returns new entries.

    The entry's key holds the certificate's field and its not-after date, so a renewed certificate
    that nears its own expiry raises a new entry, and the same one never raises twice.
    """
    now = svc.clock()
    new = 0
    for c in svc.root.connectors.values():
        if c.spec.kind != "as2" or not c.spec.enabled or c.spec.as2 is None:
            continue
        from edi.transports.as2 import As2Settings, certificate_expiry  # noqa: PLC0415 - only with AS2 connectors

        try:
            expiry = certificate_expiry(As2Settings.model_validate(c.spec.as2), svc.root.root)
        except TransportConfigError as exc:
            connector_problem(svc, c, exc)
            continue
        for field_name, not_after in expiry:
            left = not_after - now
            if left > timedelta(days=CERT_WARNING_DAYS):
                continue
            whose = "our certificate" if field_name == "cert_file" else "the partner's certificate"
            when = (f"expired on {not_after:%Y-%m-%d %H:%M} UTC" if left.total_seconds() <= 0 else
                    f"expires on {not_after:%Y-%m-%d %H:%M} UTC ({left.days} day(s) left)")
            with transaction(svc.engine) as conn:
                new += raise_exception(conn, ExceptionEntry(
                    "CERT_EXPIRING", f"connector {c.name}: {whose} ({field_name}) {when}",
                    "get the renewed certificate, exchange it with the partner and switch "
                    f"{field_name} before that date; an expired certificate stops every AS2 exchange",
                    c.spec.partner, key=f"{c.name}:{field_name}:{not_after:%Y-%m-%dT%H:%M:%S}"), now)
    return new


def housekeeping(svc: Service) -> int:
    """Drop archived bytes past ``archive_retention_days`` (the ledger rows and their hashes stay for dedupe)."""
    from pathlib import Path  # noqa: PLC0415

    with held(svc.engine, "job:housekeeping", svc.holder, LEASE_SECONDS, svc.clock) as mine:
        if not mine:
            return 0
        cutoff: datetime = svc.clock() - timedelta(days=svc.root.settings.archive_retention_days)
        with svc.engine.connect() as conn:
            old = conn.execute(select(inbound_file.c.id, inbound_file.c.archive_path).where(
                inbound_file.c.received_at < cutoff, inbound_file.c.archive_path != "",
                inbound_file.c.disposition != Disposition.NEW.value)).all()
        for row in old:
            Path(row.archive_path).unlink(missing_ok=True)
            with transaction(svc.engine) as conn:
                conn.execute(update(inbound_file).where(inbound_file.c.id == row.id).values(archive_path=""))
        return len(old)


BUSY_RETRY_SECONDS = 120.0
"""A job that meets a locked or unreachable store is run again with backoff for this long before it fails."""
BUSY_BACKOFF_SECONDS = 1.0

PROCESS_CHUNK = 50
"""Files processed before their 997s are delivered, when a poll brought many (a backlog answers as it goes)."""


def _process_and_answer(svc: Service, name: str | None) -> int:
    """Process new files in chunks, delivering each chunk's 997s before the next (and before any 855 work)."""
    total = 0
    while not svc.stopping.is_set():
        done = inbound.process_inbound(svc.runtime, limit=PROCESS_CHUNK)
        total += done
        if done:
            deliver(svc, name)
        if done < PROCESS_CHUNK:
            break
    return total


def cycle(svc: Service, name: str | None = None) -> dict[str, int]:
    """Poll, process, deliver (997s), acknowledge, ship, deliver: the order of the steps.

    Stops between steps when asked to (SIGTERM). A step that fails for good is recorded and the
    later steps still run (the 997s and 855s already rendered are delivered even when shipping broke).
    """
    from edi.pipeline.context import is_transient  # noqa: PLC0415

    counts: dict[str, int] = {}
    steps: list[tuple[str, Callable[[], int]]] = [
        ("taken", lambda: sum(poll(svc, c.name, every=PROCESS_CHUNK, then=lambda: _process_and_answer(svc, name))
                              .taken for c in svc.root.connectors.values()
                              if c.spec.enabled and (name is None or c.name == name))),
        ("files", lambda: _process_and_answer(svc, name)),
        ("acknowledged", lambda: acknowledge(svc)),
        ("shipped", lambda: ship(svc)),
        ("sent", lambda: deliver(svc, name)),
    ]
    for label, step in steps:
        if svc.stopping.is_set():
            break
        try:
            counts[label] = step()
        except Exception as exc:  # one failing step must not keep the later ones (deliver) from running
            if is_transient(exc):
                raise  # a locked or unreachable store: run_job waits it out and runs the cycle again
            _step_failed(svc, f"cycle:{label}", exc)
            counts["failed_steps"] = counts.get("failed_steps", 0) + 1
    return counts


def _step_failed(svc: Service, what: str, exc: Exception, *, gave_up: bool = False) -> None:
    """Log (and, unless transient, record) a failed step; the caller goes on with the next one.

    With ``gave_up``, a transient failure that outlasted its retries is recorded too (if the store
    takes the entry: it may be what is failing; the log line says what happened either way).
    """
    from edi.pipeline.context import format_traceback, internal_error, is_transient  # noqa: PLC0415

    code = getattr(exc, "code", "INTERNAL_ERROR")
    entry_id = None
    if gave_up and is_transient(exc):
        entry_id = _record_internal(svc, what, exc, code, f"{what}: gave up after {BUSY_RETRY_SECONDS:.0f} s of "
                                    f"retries: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}",
                                    format_traceback(exc))
    elif not is_transient(exc):
        # our own errors keep their code (a broken mapping is MAP_INVALID, not a bug); the rest is a bug
        code = exc.code if isinstance(exc, EdiError) else "INTERNAL_ERROR"
        entry_id = _record_internal(svc, what, exc, code, internal_error(exc, what), format_traceback(exc))
    events.job_failed(job=what, code=code, error=str(exc).splitlines()[0][:300] if str(exc) else "",
                      exception_id=entry_id)


RUNNERS: dict[str, Callable[[Service, JobSpec], object]] = {
    "cycle": lambda s, j: cycle(s, j.connector),
    "poll": lambda s, j: [poll(s, c) for c in ([j.connector] if j.connector else list(s.root.connectors))],
    "process": lambda s, j: process(s),
    "acknowledge": lambda s, j: acknowledge(s),
    "ship": lambda s, j: ship(s),
    "deliver": lambda s, j: deliver(s, j.connector),
    "deadlines": lambda s, j: deadlines(s),
    "housekeeping": lambda s, j: housekeeping(s),
}


def run_job(svc: Service, name: str, spec: JobSpec) -> bool:
    """Run one scheduled job; any failure is logged (and, if unexpected, recorded) and never escapes."""
    from edi.pipeline.context import is_transient  # noqa: PLC0415

    start = time.monotonic()
    delay = BUSY_BACKOFF_SECONDS
    while True:
        try:
            result = RUNNERS[spec.job](svc, spec)
            break
        except Exception as exc:  # noqa: BLE001 - the one unit boundary: recorded with its traceback
            # a locked or unreachable store (F22, F24) is waited out with backoff: every step is
            # idempotent (rows are claimed, documents rendered once), so the job simply runs again
            waited = time.monotonic() - start
            if is_transient(exc) and waited + delay <= BUSY_RETRY_SECONDS and not svc.stopping.is_set():
                events.job_retry(job=name, error=str(exc).splitlines()[0][:300] if str(exc) else "",
                                 waited_s=round(waited, 1), next_in_s=delay)
                svc.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            _step_failed(svc, f"job {name}", exc, gave_up=True)
            return False
    counts = result if isinstance(result, dict) else {"count": result} if isinstance(result, int) else {}
    events.job_done(job=name, outcome="ok", duration_ms=(time.monotonic() - start) * 1000, **counts)
    return True


def _record_internal(svc: Service, job: str, exc: Exception, code: str, message: str, detail: str) -> int | None:
    from edi.store.pipeline_tables import exception_log  # noqa: PLC0415

    hint = (getattr(exc, "hint", None) or "fix the cause (see the message); the job runs again on schedule"
            if code != "INTERNAL_ERROR" else
            "the job runs again on schedule; report the entry (its detail has the traceback)")
    entry = ExceptionEntry(code, message, hint, None, key=f"job:{job}:{type(exc).__name__}", detail=detail)
    try:
        with transaction(svc.engine) as conn:
            raise_exception(conn, entry, svc.clock())
            return conn.execute(select(exception_log.c.id).where(
                exception_log.c.dedupe_key == entry.dedupe_key())).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - the store itself may be what failed; the log line still says what happened
        return None


__all__ = [
    "PollResult",
    "Service",
    "acknowledge",
    "connector_problem",
    "cycle",
    "deadlines",
    "deliver",
    "housekeeping",
    "note_received",
    "open_service",
    "poll",
    "process",
    "run_job",
    "ship",
    "utc_now",
    "watch_certificates",
]
