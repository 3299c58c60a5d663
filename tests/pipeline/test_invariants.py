"""The design's invariants 1-4 and 7 on the order pipeline (5 is in test_flow/test_support, 6 in tests/x12)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from edi.errors import RetriableError
from edi.pipeline import Pipeline, inbound
from edi.store.control_numbers import control_number_reservation
from edi.store.pipeline_tables import exception_log, inbound_duplicate, inbound_file, outbox, purchase_order
from tests.conftest import SAMPLES
from tests.pipeline._util import T0, Clock, rows

ONE = SAMPLES / "inbound" / "01_single_line.edi"


def count(p: Pipeline, table) -> int:  # type: ignore[no-untyped-def]
    with p.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_1_ledger_before_touch_archives_by_content_never_by_remote_name(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, tmp = pipe
    data = ONE.read_bytes()
    assert p.receive_bytes(data, "../../escape/../../etc/passwd", "sftp")
    (row,) = rows(p, inbound_file)
    archived = Path(row.archive_path)
    assert archived.read_bytes() == data and archived.name == row.sha256
    assert archived.is_relative_to(tmp / "data" / "archive")
    assert row.remote_name == "../../escape/../../etc/passwd"          # kept as data only
    assert not (tmp / "escape").exists() and not list(tmp.rglob("passwd"))


def test_2_transport_and_envelope_duplicates_have_no_business_effect(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, _ = pipe
    data = ONE.read_bytes()
    assert p.receive_bytes(data, "a.edi", "folder")
    p.process_inbound()
    reserved = count(p, control_number_reservation)
    # transport: the same bytes again
    assert not p.receive_bytes(data, "a-again.edi", "folder")
    assert [r.disposition for r in rows(p, inbound_duplicate)] == ["duplicate_transport"]
    # envelope: other bytes (a trailing newline), same sender, receiver and ISA13
    assert p.receive_bytes(data + b"\n", "a-copy.edi", "folder")
    p.process_inbound()
    assert sorted(r.disposition for r in rows(p, inbound_file)) == ["duplicate_interchange", "processed"]
    assert count(p, purchase_order) == 1
    assert count(p, control_number_reservation) == reserved          # no 997 numbers spent on the duplicate
    assert len(rows(p, outbox, outbox.c.kind == "997")) == 1


def test_3_a_file_that_fails_validation_yields_no_sales_order(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """A good interchange followed by a truncated one: the good one is ordered, nothing of the other."""
    p, _, _ = pipe
    good = (SAMPLES / "inbound" / "01_single_line.edi").read_bytes()
    other = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes()
    cut = other[: other.index(b"CTT*")]
    assert p.receive_bytes(good + cut, "cut.edi", "folder")
    p.process_inbound()
    (f,) = rows(p, inbound_file)
    assert f.disposition == "quarantined"
    assert [r.po_number for r in rows(p, purchase_order)] == ["3K7QW2PA"]


def test_4_outbox_resends_the_same_bytes_with_the_same_numbers(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, tmp = pipe
    assert p.receive_bytes(ONE.read_bytes(), "a.edi", "folder")
    p.process_inbound()
    p.allocate_and_acknowledge()
    first = {f.name: f.read_bytes() for f in p.send_outbox(tmp / "out")}
    reserved = count(p, control_number_reservation)
    for f in (tmp / "out").rglob("*.edi"):
        f.unlink()                                                     # the partner lost them
    with p.engine.begin() as conn:
        conn.execute(update(outbox).values(sent_at=None))              # as if the mark never committed
    again = {f.name: f.read_bytes() for f in p.send_outbox(tmp / "out")}
    assert again == first and len(first) == 2                          # the 997 and the 855
    assert count(p, control_number_reservation) == reserved
    assert p.send_outbox(tmp / "out") == []


def test_7_times_are_utc_and_the_deadline_is_24_hours_after_receipt(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, clock, _ = pipe
    clock.now = T0.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert p.receive_bytes(ONE.read_bytes(), "a.edi", "folder")
    p.process_inbound()
    (po,) = rows(p, purchase_order)
    assert po.received_at.tzinfo is not None and po.received_at.utcoffset() == timedelta(0)
    assert po.received_at == T0.astimezone(UTC)
    assert po.deadline_855_at - po.received_at == timedelta(hours=24)


def test_2_same_control_number_with_other_content_is_quarantined_not_ignored(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    """D4: same sender and ISA13, different bytes: control_number_reuse, nothing mapped, a person decides."""
    p, _, _ = pipe
    data = ONE.read_bytes()
    assert p.receive_bytes(data, "a.edi", "folder")
    p.process_inbound()
    changed = data.replace(b"PO1*1*72*", b"PO1*1*60*").replace(b"CTT*1*72", b"CTT*1*60")
    assert p.receive_bytes(changed, "b.edi", "folder")
    p.process_inbound()
    assert sorted(r.disposition for r in rows(p, inbound_file)) == ["control_number_reuse", "processed"]
    (entry,) = rows(p, exception_log, exception_log.c.kind == "CONTROL_NUMBER_REUSE")
    assert "b.edi" in entry.message and "a.edi" in entry.message and "new ISA13" in entry.hint
    assert [(r.revision, r.state) for r in rows(p, purchase_order)] == [(1, "ordered")]
    assert len(rows(p, outbox, outbox.c.kind == "997")) == 1


def test_2_a_file_mixing_received_and_new_interchanges_is_quarantined(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, _ = pipe
    old = ONE.read_bytes()
    assert p.receive_bytes(old, "a.edi", "folder")
    p.process_inbound()
    new = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes()
    assert p.receive_bytes(old + new, "both.edi", "folder")
    p.process_inbound()
    (entry,) = rows(p, exception_log, exception_log.c.kind == "PARTIAL_DUPLICATE")
    assert "split the file" in entry.hint
    assert [r.po_number for r in rows(p, purchase_order)] == ["3K7QW2PA"]


def test_an_unexpected_error_on_one_file_or_po_is_contained(pipe: tuple[Pipeline, Clock, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """F37: an engine bug while ordering one file: that file is set aside whole (no partial orders, no 997),
    the others go on; a bug in one PO's 855 step holds that PO only."""
    p, _, _ = pipe
    p.receive_bytes(ONE.read_bytes(), "a.edi", "folder")
    p.receive_bytes((SAMPLES / "inbound" / "02_multi_line.edi").read_bytes(), "b.edi", "folder")
    calls = {"n": 0}
    real = inbound.make_order

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(inbound, "make_order", flaky)
    assert p.process_inbound() == 2
    assert sorted(r.disposition for r in rows(p, inbound_file)) == ["failed", "processed"]
    assert [r.po_number for r in rows(p, purchase_order)] == ["3K7QW2PB"]
    assert len(rows(p, outbox, outbox.c.kind == "997")) == 1
    (bug,) = rows(p, exception_log, exception_log.c.kind == "INTERNAL_ERROR")
    assert "a.edi" in bug.message and "KeyError" in bug.message and "traceback" in bug.hint
    assert "Traceback" in bug.detail and "boom" in bug.detail
    monkeypatch.setenv("EDI_FAILPOINTS", "confirm.allocation_before_commit=raise")
    assert p.allocate_and_acknowledge() == 0
    assert [r.state for r in rows(p, purchase_order)] == ["held"]
    assert not rows(p, outbox, outbox.c.kind == "855")
    monkeypatch.delenv("EDI_FAILPOINTS")
    assert p.replay("3K7QW2PB", "ana", "bug fixed").startswith("ordered")
    assert p.allocate_and_acknowledge() == 1


def test_a_transient_database_error_leaves_the_file_for_the_next_run(pipe: tuple[Pipeline, Clock, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    p, _, _ = pipe
    p.receive_bytes(ONE.read_bytes(), "a.edi", "folder")

    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        busy = sqlite3.OperationalError("database is locked")
        busy.sqlite_errorcode = 5  # type: ignore[attr-defined]  # SQLITE_BUSY, as the driver sets it
        raise OperationalError("INSERT ...", {}, busy)

    monkeypatch.setattr(inbound, "make_order", locked)
    with pytest.raises((OperationalError, RetriableError)):
        p.process_inbound()
    assert [r.disposition for r in rows(p, inbound_file)] == ["new"]
    monkeypatch.undo()
    assert p.process_inbound() == 1
    assert [r.state for r in rows(p, purchase_order)] == ["ordered"]


def test_a_lasting_database_error_is_not_retried_forever(pipe: tuple[Pipeline, Clock, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A database error that will not pass by itself (SQLITE_CORRUPT) sets the file aside with its traceback."""
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    p, _, _ = pipe
    p.receive_bytes(ONE.read_bytes(), "a.edi", "folder")

    def corrupt(*args, **kwargs):  # type: ignore[no-untyped-def]
        bad = sqlite3.OperationalError("database disk image is malformed")
        bad.sqlite_errorcode = 11  # type: ignore[attr-defined]  # SQLITE_CORRUPT
        raise OperationalError("INSERT ...", {}, bad)

    monkeypatch.setattr(inbound, "make_order", corrupt)
    assert p.process_inbound() == 1
    assert [r.disposition for r in rows(p, inbound_file)] == ["failed"]
    (bug,) = rows(p, exception_log, exception_log.c.kind == "INTERNAL_ERROR")
    assert "Traceback" in bug.detail and "corrupt" in bug.detail


def test_a_test_interchange_gets_its_997_but_no_order(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """F33: ISA15 T on a production connection: 997 (usage T), no PO, an alert."""
    p, _, _ = pipe
    data = ONE.read_bytes().replace(b"*0*P*>", b"*0*T*>")
    p.receive_bytes(data, "test.edi", "folder")
    p.process_inbound()
    assert not rows(p, purchase_order)
    (ack,) = rows(p, outbox, outbox.c.kind == "997")
    assert b"*0*T*>" in ack.payload
    (alert,) = rows(p, exception_log, exception_log.c.kind == "TEST_INTERCHANGE")
    assert "1 PO(s) not ordered" in alert.message


def test_replies_go_to_the_sender_of_each_po_with_its_usage(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """Two senders (say Amazon US and EU ids) and a test connection: each 855 answers its own 850's envelope."""
    import dataclasses  # noqa: PLC0415

    p, _, _ = pipe
    p.settings = dataclasses.replace(p.settings, test_interchanges="process")
    p.receive_bytes(ONE.read_bytes().replace(b"*0*P*>", b"*0*T*>"), "us.edi", "folder")
    eu = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes().replace(b"*ZZ*AMAZON         *",
                                                                          b"*ZZ*AMAZONEU       *")
    p.receive_bytes(eu, "eu.edi", "folder")
    p.process_inbound()
    assert p.allocate_and_acknowledge() == 2
    acks = {r.subject.split("/")[0]: r.payload.decode() for r in rows(p, outbox, outbox.c.kind == "855")}
    assert acks["3K7QW2PA"].startswith("ISA*00*          *00*          *ZZ*VENDORCO       *ZZ*AMAZON         *")
    assert "*0*T*>" in acks["3K7QW2PA"][:110]
    assert acks["3K7QW2PB"].startswith("ISA*00*          *00*          *ZZ*VENDORCO       *ZZ*AMAZONEU       *")
    assert "*0*P*>" in acks["3K7QW2PB"][:110]
