"""The order pipeline end to end on SQLite: 850s in, 997/855/856 out, dedupe, holds and deadlines."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from edi.model import PurchaseOrderAck
from edi.pipeline import Pipeline, POState
from edi.pipeline.ims import FilesIms
from edi.pipeline.records import resolve_exception
from edi.store import ensure_schema, open_engine
from edi.store.pipeline_tables import exception_log, outbox, purchase_order
from edi.x12 import Limits, X12Validator
from edi.x12.envelope import VERSIONS_4010_FAMILY, VERSIONS_5010
from tests.conftest import ROOT, SAMPLES
from tests.pipeline._util import T0, Clock, rows
from tests.x12._util import bots_errors


def run_all(p: Pipeline, out: Path) -> list[Path]:
    p.receive_folder(SAMPLES / "inbound")
    p.process_inbound()
    p.allocate_and_acknowledge()
    p.confirm_pack_folder(SAMPLES / "pack", move=False)  # one JSON and one CSV confirmation
    return p.send_outbox(out)


def test_demo_flow_outputs_validate_and_a_second_run_changes_nothing(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """997s for every group, an 855 per orderable PO, the 856 for the pack; rerun: no new effect."""
    p, _, tmp = pipe
    written = run_all(p, tmp / "out")
    kinds = sorted(f.parent.name for f in written)
    assert kinds.count("997") == 10 and kinds.count("856") == 2
    assert kinds.count("855") == 10          # 11 POs, the one with an unknown SKU is held
    v = X12Validator(limits=Limits(supported_versions=VERSIONS_4010_FAMILY | VERSIONS_5010))
    for f in written:
        report = v.validate_path(f)
        assert report.accepted, [x.one_line() for x in report.findings]
        assert bots_errors(f.read_bytes()) == []
    before = {r.id: r.state for r in rows(p, purchase_order)}
    assert run_all(p, tmp / "out") == []
    assert {r.id: r.state for r in rows(p, purchase_order)} == before
    with p.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 22


def test_acknowledgements_never_exceed_allocation_or_order(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """Invariant 5: every 850 line has ACKs summing to the ordered quantity; accepted <= allocated <= ordered."""
    p, _, tmp = pipe
    run_all(p, tmp / "out")
    for r in rows(p, purchase_order, purchase_order.c.acknowledgement.is_not(None)):
        ack = PurchaseOrderAck.model_validate_json(r.acknowledgement)
        alloc = {a["line_number"]: a for a in json.loads(r.allocation)["lines"]}
        po1 = {x["PO1"]["PO101"]: x["PO1"] for x in json.loads(r.canonical)["PO1_loop"]}
        assert {line.line_number for line in ack.lines} == set(po1)
        for line in ack.lines:
            ordered = int(po1[line.line_number]["PO102"])
            assert sum(s.quantity for s in line.statuses) == ordered
            accepted = sum(s.quantity for s in line.statuses if s.code == "IA")
            allocated = alloc[line.line_number]["allocated"]
            assert accepted <= allocated, (line.line_number, accepted, allocated)
            assert allocated <= ordered, (line.line_number, allocated, ordered)


def test_unknown_sku_holds_the_po_with_a_suggested_fix(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """The PO with an unmapped UPC is held: no sales order, no 855, one SKU_MISMATCH naming the fix."""
    p, _, tmp = pipe
    run_all(p, tmp / "out")
    (held,) = rows(p, purchase_order, purchase_order.c.state == POState.HELD.value)
    assert held.sales_order is None and held.acknowledgement is None
    (exc,) = rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")
    assert (exc.po_number, exc.line_number) == (held.po_number, "2")
    assert "sku-xref.csv" in exc.hint


def _resend(path: Path, isa13: int, *changes: tuple[str, str]) -> bytes:
    text = path.read_text()
    old = text[text.index("ISA"):][90:99]
    text = text.replace(old, f"{isa13:09d}").replace(f"*{int(old)}*X*", f"*{isa13}*X*").replace(
        f"GE*1*{int(old)}", f"GE*1*{isa13}")
    for old_text, new_text in changes:
        assert old_text in text
        text = text.replace(old_text, new_text)
    return text.encode()


def test_same_po_new_interchange_is_a_duplicate_and_changed_content_is_a_held_revision(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    """D5: same PO and content, new ISA13 -> no effect. D6: changed content -> revision 2 held, no 2nd order."""
    p, _, tmp = pipe
    run_all(p, tmp / "out")
    src = SAMPLES / "inbound" / "01_single_line.edi"
    assert p.receive_bytes(_resend(src, 99001), "again.edi", "folder")
    changed = _resend(src, 99002, ("PO1*1*72*", "PO1*1*60*"), ("CTT*1*72", "CTT*1*60"))
    assert p.receive_bytes(changed, "changed.edi", "folder")
    p.process_inbound()
    p.allocate_and_acknowledge()
    po = rows(p, purchase_order, purchase_order.c.po_number == "3K7QW2PA")
    assert [(r.revision, r.state) for r in po] == [(1, "shipped"), (2, "held")]
    kinds = [r.kind for r in rows(p, exception_log, exception_log.c.po_number == "3K7QW2PA")]
    assert "DUPLICATE" in kinds and "REVISION" in kinds
    assert len(rows(p, outbox, outbox.c.kind == "855", outbox.c.subject.like("3K7QW2PA/%"))) == 1


def test_deadline_alarm_fires_once_for_a_po_without_855(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """At 20 h the held PO gets one DEADLINE entry with its reason, at 24 h one DEADLINE_MISSED; acknowledged
    POs get none; a resolved entry is not raised again."""
    p, clock, tmp = pipe
    p.settings = dataclasses.replace(p.settings, expect_997_within_hours=None)  # 997 follow-up: test_acks.py
    run_all(p, tmp / "out")
    clock.now = T0 + timedelta(hours=19)
    assert p.watch_deadlines() == 0
    clock.now = T0 + timedelta(hours=20, minutes=1)
    assert p.watch_deadlines() == 1
    assert p.watch_deadlines() == 0
    (alarm,) = rows(p, exception_log, exception_log.c.kind == "DEADLINE")
    assert "held for a person" in alarm.message and "edi po show 3K7QW2PE" in alarm.message
    clock.now = T0 + timedelta(hours=23, minutes=59)
    assert p.watch_deadlines() == 0
    clock.now = T0 + timedelta(hours=24)
    assert p.watch_deadlines() == 1
    (missed,) = rows(p, exception_log, exception_log.c.kind == "DEADLINE_MISSED")
    assert missed.po_number == "3K7QW2PE" and "was due 2026-11-17 13:00 UTC" in missed.message
    with p.engine.begin() as conn:               # someone resolves both entries; they are not raised again
        for entry in (alarm, missed):
            resolve_exception(conn, entry.id, "ana", "855 sent by hand", clock())
    clock.now = T0 + timedelta(hours=30)
    assert p.watch_deadlines() == 0


def test_pack_exceeding_the_ack_or_with_a_bad_sscc_sends_nothing(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """F44/F45: a carton over the acknowledged quantity and a wrong check digit hold the shipment."""
    p, _, tmp = pipe
    run_all(p, tmp / "out")
    pack = json.loads((SAMPLES / "pack" / "02_multi_line.json").read_text())
    pack["shipment_id"] = "VENDC-BAD-1"
    pack["cartons"][0]["items"][0]["quantity"] = 999
    pack["cartons"][1]["sscc"] = pack["cartons"][1]["sscc"][:-1] + "0"
    assert p.confirm_pack(json.dumps(pack).encode(), "bad.json") == "held"
    msgs = [r.message for r in rows(p, exception_log, exception_log.c.kind == "PACK_MISMATCH")]
    assert any("ASN_EXCEEDS_ACK" in m for m in msgs)
    assert any("SSCC" in m for m in msgs)
    assert not rows(p, outbox, outbox.c.subject == "VENDC-BAD-1")


def test_files_ims_waits_for_the_allocation_file_and_moves_a_bad_one_aside(tmp_path: Path,
                                                                        database_url: str) -> None:
    """Files adapter: the sales order is written once; no 855 until the allocation file arrives; a bad file is kept."""
    from edi.pipeline import PartnerSettings  # noqa: PLC0415

    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    ims = FilesIms(tmp_path / "ims" / "orders", tmp_path / "ims" / "allocations")
    p = Pipeline(engine, tmp_path / "data", PartnerSettings(mappings_dir=ROOT / "mappings" / "amazon"),
                 clock=Clock(), ims=ims)
    assert p.receive_bytes((SAMPLES / "inbound" / "01_single_line.edi").read_bytes(), "01.edi", "folder")
    p.process_inbound()
    order_file = tmp_path / "ims" / "orders" / "amazon_3K7QW2PA_1.json"
    assert order_file.exists()
    assert p.allocate_and_acknowledge() == 0                      # the IMS has not answered
    answer = tmp_path / "ims" / "allocations" / "amazon_3K7QW2PA_1.json"
    answer.write_text('{"partner": "amazon", "vendor_central_po_number": "3K7QW2PA"}')
    assert p.allocate_and_acknowledge() == 0
    assert (tmp_path / "ims" / "allocations" / "rejected" / answer.name).exists()
    assert [r.kind for r in rows(p, exception_log)] == ["IMS_FILE"]
    answer.write_text(json.dumps({"partner": "amazon", "vendor_central_po_number": "3K7QW2PA", "revision": 1,
                                  "allocated_at": "2026-11-16T14:00:00Z",
                                  "lines": [{"line_number": "1", "allocated": 72}]}))
    assert p.allocate_and_acknowledge() == 1
    (po,) = rows(p, purchase_order)
    assert po.state == "acknowledged"
