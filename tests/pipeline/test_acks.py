"""The partner's 997s for our 855/856: recorded on the outbox row, rejections alerted, silence noticed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from edi.pipeline import Pipeline
from edi.store.pipeline_tables import exception_log, outbox, purchase_order
from tests.conftest import SAMPLES
from tests.pipeline._util import T0, Clock, feed, rows

ONE = SAMPLES / "inbound" / "01_single_line.edi"


def _997(isa13: int, functional_id: str, gs06: int, body: list[str], sender: str = "AMAZON") -> bytes:
    """A 997 from the partner (ISA sender ``sender``) answering our group ``gs06``."""
    segs = ["ST*997*0001", f"AK1*{functional_id}*{gs06}", *body]
    segs.append(f"SE*{len(segs) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*VENDORCO       *261117*0900*U*00401*"
           f"{isa13:09d}*0*P*>")
    text = "~".join([isa, f"GS*FA*{sender}*VENDORCO*20261117*0900*{isa13}*X*004010", *segs, f"GE*1*{isa13}",
                     f"IEA*1*{isa13:09d}"]) + "~"
    return text.encode()


def _acknowledged(p: Pipeline, tmp: Path) -> object:
    feed(p, ONE.name)
    p.send_outbox(tmp / "out")
    (ack,) = rows(p, outbox, outbox.c.kind == "855")
    return ack


def test_an_accepting_997_is_recorded_and_never_answered(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, tmp = pipe
    ack = _acknowledged(p, tmp)
    assert ack.gs06 and ack.counterpart == "ZZ/AMAZON" and ack.ack_status is None
    before = len(rows(p, outbox))
    p.receive_bytes(_997(900001, "PR", ack.gs06, ["AK2*855*0001", "AK5*A", "AK9*A*1*1*1"]), "fa.edi", "folder")
    p.process_inbound()
    (ack,) = rows(p, outbox, outbox.c.kind == "855")
    assert ack.ack_status == "accepted" and ack.acked_at is not None
    assert len(rows(p, outbox)) == before                     # no 997 for a 997
    assert len(rows(p, purchase_order)) == 1
    assert not rows(p, exception_log, exception_log.c.kind.like("ACK_%"))


def test_a_rejecting_997_raises_ack_rejected_with_the_reasons(pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, tmp = pipe
    ack = _acknowledged(p, tmp)
    body = ["AK2*855*0001", "AK3*PO1*3**8", "AK4*4**4*0", "AK5*R*5", "AK9*R*1*1*0"]
    p.receive_bytes(_997(900002, "PR", ack.gs06, body), "fa.edi", "folder")
    p.process_inbound()
    (ack,) = rows(p, outbox, outbox.c.kind == "855")
    assert ack.ack_status == "rejected"
    (entry,) = rows(p, exception_log, exception_log.c.kind == "ACK_REJECTED")
    assert entry.po_number == "3K7QW2PA" and "set 855 0001: AK5 R (PO1 at segment 3: AK304 8" in entry.message
    assert "new control numbers" in entry.hint


def test_a_group_level_997_and_an_unmatched_one(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """Amazon's group-level 997 (AK1 + AK9 only) reads the same; one for a group we never sent is flagged."""
    p, _, tmp = pipe
    ack = _acknowledged(p, tmp)
    p.receive_bytes(_997(900003, "PR", ack.gs06, ["AK9*E*1*1*1"]), "fa.edi", "folder")
    p.receive_bytes(_997(900004, "PR", 777777, ["AK9*A*1*1*1"]), "stray.edi", "folder")
    p.process_inbound()
    (ack,) = rows(p, outbox, outbox.c.kind == "855")
    assert ack.ack_status == "accepted_with_errors"
    assert [r.kind for r in rows(p, exception_log, exception_log.c.kind.like("ACK_%"))] == [
        "ACK_WITH_ERRORS", "ACK_UNMATCHED"]


def test_no_997_in_time_raises_ack_missing_once_and_a_late_one_still_counts(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, clock, tmp = pipe
    ack = _acknowledged(p, tmp)
    clock.now = T0 + timedelta(hours=11, minutes=59)
    p.watch_deadlines()
    assert not rows(p, exception_log, exception_log.c.kind == "ACK_MISSING")
    clock.now = T0 + timedelta(hours=12)
    p.watch_deadlines()
    p.watch_deadlines()
    (missing,) = rows(p, exception_log, exception_log.c.kind == "ACK_MISSING")
    assert missing.po_number == "3K7QW2PA" and "no 997 for our 855" in missing.message
    p.receive_bytes(_997(900005, "PR", ack.gs06, ["AK9*A*1*1*1"]), "late.edi", "folder")
    p.process_inbound()
    (ack,) = rows(p, outbox, outbox.c.kind == "855")
    assert ack.ack_status == "accepted"
    (missing,) = rows(p, exception_log, exception_log.c.kind == "ACK_MISSING")
    assert missing.status == "resolved" and "late.edi" in missing.resolution
