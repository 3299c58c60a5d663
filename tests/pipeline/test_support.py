"""Partner settings, line rejection in the 855, replay of held POs, fill rate: what support staff rely on."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from edi.config.loader import YamlError
from edi.config.partner import PartnerSettings
from edi.model import PurchaseOrderAck
from edi.pipeline import Pipeline, POState, inbound
from edi.pipeline.ims import EmbeddedIms
from edi.pipeline.records import ExceptionEntry, raise_exception, resolve_exception
from edi.pipeline.reports import fill_rates
from edi.pipeline.runner import ReplayRefusedError
from edi.store import ensure_schema, open_engine, transaction
from edi.store.pipeline_tables import exception_log, outbox, purchase_order
from edi.x12 import X12Validator
from tests.conftest import ROOT, SAMPLES
from tests.pipeline._util import T0, Clock, feed, rows
from tests.x12._util import bots_errors

UNKNOWN_UPC = "841234999018"


@pytest.fixture
def partner_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped Amazon partner folder a test may edit."""
    target = tmp_path / "mappings" / "amazon"
    shutil.copytree(ROOT / "mappings" / "amazon", target, ignore=shutil.ignore_patterns("tests"))
    return target


def make_pipe(tmp_path: Path, database_url: str, partner_dir: Path, stock: str | None = None) -> Pipeline:
    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    p = Pipeline(engine, tmp_path / "data", PartnerSettings.load(partner_dir), clock=Clock())
    stock_file = SAMPLES / "stock.csv"
    if stock is not None:
        stock_file = tmp_path / "stock.csv"
        stock_file.write_text(stock)
    with transaction(engine) as conn:
        EmbeddedIms().import_stock(conn, stock_file, T0)
    return p


def add_xref(partner_dir: Path, sku: str, upc: str) -> None:
    path = partner_dir / "sku-xref.csv"
    header = path.read_text().splitlines()[0].split(",")
    row = dict.fromkeys(header, "") | {"sku": sku, "upc": upc, "description": "added by a test"}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(",".join(row[h] for h in header) + "\n")


def acks(p: Pipeline, po: str) -> list[str]:
    return [r.payload.decode() for r in rows(p, outbox, outbox.c.kind == "855", outbox.c.subject.like(f"{po}/%"))]


# -- partner.yaml ---------------------------------------------------------------------------------


def test_shipped_partner_file_loads_and_a_missing_file_means_amazon_defaults(tmp_path: Path) -> None:
    s = PartnerSettings.load(ROOT / "mappings" / "amazon")
    assert (s.partner, s.deadline_hours, s.alarm_hours, s.asn_version, s.backorders) == (
        "amazon", 24, 20, "005010", "as_ordered")
    assert s.ship_from["name"] == "VENDOR DC" and s.hot_list() == frozenset()
    bare = tmp_path / "acme"
    bare.mkdir()
    assert PartnerSettings.load(bare).partner == "acme"


def test_partner_file_problems_are_all_reported_with_their_position(tmp_path: Path) -> None:
    d = tmp_path / "amazon"
    d.mkdir()
    (d / "partner.yaml").write_text("partner: amazon\nacknowledgement:\n  deadline_hours: 24\n  alarm_hours: 30\n"
                                    "ship_notice:\n  version: '004020'\n  colour: red\n")
    with pytest.raises(YamlError) as err:
        PartnerSettings.load(d)
    lines = [f.one_line() for f in err.value.findings]
    assert any("partner.yaml:3:" in x and "alarm_hours" in x for x in lines), lines
    assert any("partner.yaml:6:" in x and "version" in x for x in lines), lines
    assert any("partner.yaml:7:" in x and "colour" in x for x in lines), lines
    (d / "partner.yaml").write_text("partner: amazon\nhot_po:\n  ship_window_days: null\n")
    with pytest.raises(YamlError, match=r"partner.yaml:3:.*write off to turn this setting off"):
        PartnerSettings.load(d)
    (d / "partner.yaml").write_text("partner: amazon\nhot_po:\n  ship_window_days: off\n")
    assert PartnerSettings.load(d).hot_window_days is None
    (d / "partner.yaml").write_text("partner: amazon\nhot_po:\n  list_file: nowhere.txt\n")
    with pytest.raises(YamlError, match=r"nowhere\.txt does not exist"):
        PartnerSettings.load(d)


def test_a_po_on_the_hot_list_is_allocated_first(tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    """Two POs want the last 8 units of one SKU: the listed one, received second, gets them."""
    (partner_dir / "hot-pos.txt").write_text("# urgent\n3K7QW2PH  # listed by support\n")
    stock = "sku,on_hand\n" + "".join(f"VC-100{i},1000\n" for i in (1, 2, 3, 5, 6, 7, 8)) + "VC-1004,8\n"
    p = make_pipe(tmp_path, database_url, partner_dir, stock=stock)
    p.receive_bytes((SAMPLES / "inbound" / "02_multi_line.edi").read_bytes(), "02.edi", "folder")   # 12 x VC-1004
    p.receive_bytes((SAMPLES / "inbound" / "07_two_pos_one_group.edi").read_bytes(), "07.edi", "folder")  # 8 x
    p.process_inbound()
    p.allocate_and_acknowledge()
    state = {r.po_number: r for r in rows(p, purchase_order)}
    assert state["3K7QW2PH"].hot and not state["3K7QW2PB"].hot
    hot = PurchaseOrderAck.model_validate_json(state["3K7QW2PH"].acknowledgement)
    assert [(s.code, s.quantity) for s in hot.lines[0].statuses] == [("IA", 8)]
    cold = PurchaseOrderAck.model_validate_json(state["3K7QW2PB"].acknowledgement)
    assert [(s.code, s.quantity) for s in cold.lines[3].statuses] == [("IB", 12)]
    (flag,) = rows(p, exception_log, exception_log.c.kind == "HOT_PO", exception_log.c.po_number == "3K7QW2PH")
    assert "hot-PO list" in flag.message


def test_backorders_never_rejects_the_short_part_even_under_csh_y(tmp_path: Path, database_url: str,
                                                                  partner_dir: Path) -> None:
    text = (partner_dir / "partner.yaml").read_text().replace("backorders: as_ordered", "backorders: never")
    (partner_dir / "partner.yaml").write_text(text)
    p = make_pipe(tmp_path, database_url, partner_dir, stock="sku,on_hand\nVC-1001,10\n")
    feed(p, "01_single_line.edi")  # CSH*Y, 72 ordered, 10 in stock
    (po,) = rows(p, purchase_order)
    (line,) = PurchaseOrderAck.model_validate_json(po.acknowledgement).lines
    assert [(s.code, s.quantity) for s in line.statuses] == [("IA", 10), ("IR", 62)]


# -- reject_line: every PO line gets an ACK -------------------------------------------------------


def test_reject_line_mapping_answers_the_unknown_line_with_r2_and_ships_the_rest(
        tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    m = partner_dir / "850_to_sales_order.yaml"
    m.write_text(m.read_text().replace("on_exception: hold_order", "on_exception: reject_line"))
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "05_unknown_sku.edi")
    (po,) = rows(p, purchase_order)
    assert po.state == POState.ACKNOWLEDGED.value
    assert [ln["line_number"] for ln in json.loads(po.sales_order)["lines"]] == ["1"]   # the IMS never saw line 2
    (text,) = acks(p, "3K7QW2PE")
    segs = text.split("~")
    assert "BAK*00*AC*3K7QW2PE*20261116" in segs
    i = segs.index("PO1*2*18*EA*12.75*PE*UP*841234999018")
    assert segs[i + 1] == "ACK*R2*18*EA"
    assert "CTT*2*42" in segs
    report = X12Validator().validate_bytes(text.encode())
    assert report.accepted, [f.one_line() for f in report.findings]
    assert bots_errors(text.encode()) == []
    (sku,) = rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")
    assert sku.line_number == "2"


# -- replay ---------------------------------------------------------------------------------------


def test_replay_after_fixing_the_xref_orders_and_acknowledges_once(tmp_path: Path, database_url: str,
                                                                     partner_dir: Path) -> None:
    p = make_pipe(tmp_path, database_url, partner_dir, stock="sku,on_hand\nVC-1001,100\nVC-1099,100\n")
    feed(p, "05_unknown_sku.edi")
    (first,) = rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")
    # replay before the fix: still held, the same entry stays open, no second entry
    assert p.replay("3K7QW2PE", "ana", "first try").startswith("still held")
    assert [(r.id, r.status) for r in rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")] == [
        (first.id, "open")]
    add_xref(partner_dir, "VC-1099", UNKNOWN_UPC)
    assert p.replay("3K7QW2PE", "ana", "added the UPC to sku-xref").startswith("ordered")
    assert p.allocate_and_acknowledge() == 1
    (po,) = rows(p, purchase_order)
    assert po.state == POState.ACKNOWLEDGED.value and po.revision == 1
    (text,) = acks(p, "3K7QW2PE")
    assert "ACK*IA*18*EA" in text
    (entry,) = rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")
    assert (entry.status, entry.resolved_by) == ("resolved", "ana") and "sku-xref" in entry.resolution
    reasons = [r.reason for r in rows(p, __import__("edi.store.pipeline_tables", fromlist=["x"]).po_transition)]
    assert any("replayed by ana" in r for r in reasons)
    with pytest.raises(ReplayRefusedError, match="not held"):
        p.replay("3K7QW2PE", "ana", "again")
    assert p.allocate_and_acknowledge() == 0
    assert len(acks(p, "3K7QW2PE")) == 1


def test_replay_refuses_unknown_pos_and_revisions(tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    from tests.pipeline.test_flow import _resend  # noqa: PLC0415

    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "01_single_line.edi")
    with pytest.raises(ReplayRefusedError, match="no PO NOPE"):
        p.replay("NOPE", "ana", "x")
    changed = _resend(SAMPLES / "inbound" / "01_single_line.edi", 99002, ("PO1*1*72*", "PO1*1*60*"),
                      ("CTT*1*72", "CTT*1*60"))
    p.receive_bytes(changed, "changed.edi", "folder")
    p.process_inbound()
    with pytest.raises(ReplayRefusedError, match="revision 2") as err:
        p.replay("3K7QW2PA", "ana", "x")
    assert "Vendor Central" in str(err.value)


def test_replay_of_an_855_hold_reruns_the_855_from_the_stored_allocation(
        tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    """A broken 855 mapping holds the PO after allocation; fixing it and replaying sends the 855, stock untouched."""
    m = partner_dir / "sales_order_to_855.yaml"
    good = m.read_text()
    m.write_text(good.replace("unit_price: { from: unit_price, as: decimal, min: \"0.01\" }",
                              "unit_price: { from: unit_price, as: decimal, min: \"999\" }"))
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "01_single_line.edi")
    (po,) = rows(p, purchase_order)
    assert po.state == POState.HELD.value and po.allocation is not None
    from edi.store.pipeline_tables import stock  # noqa: PLC0415

    allocated = {r.sku: r.allocated for r in rows(p, stock)}
    m.write_text(good)
    assert p.replay("3K7QW2PA", "ben", "fixed the price rule").startswith("acknowledged")
    assert {r.sku: r.allocated for r in rows(p, stock)} == allocated
    assert len(acks(p, "3K7QW2PA")) == 1


def test_a_resolved_problem_that_comes_back_opens_a_new_entry(tmp_path: Path, database_url: str) -> None:
    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    e = ExceptionEntry("SKU_MISMATCH", "m", "h", "amazon", "PO1", "1")
    with transaction(engine) as conn:
        assert raise_exception(conn, e, T0)
        assert not raise_exception(conn, e, T0)
        (first,) = conn.execute(select(exception_log.c.id)).all()
        assert resolve_exception(conn, first.id, "ana", "fixed", T0)
        assert not resolve_exception(conn, first.id, "ana", "twice", T0)
        assert raise_exception(conn, e, T0)
        assert conn.execute(select(func.count()).select_from(exception_log)
                            .where(exception_log.c.status == "open")).scalar() == 1


# -- fill rate ------------------------------------------------------------------------------------


def test_fill_rate_counts_units_accepted_and_shipped(tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "02_multi_line.edi", "06_partial_fill.edi")
    assert p.confirm_pack((SAMPLES / "pack" / "02_multi_line.json").read_bytes(), "pack.json") == "shipped"
    with p.engine.connect() as conn:
        rates = {r.po_number: r for r in fill_rates(conn, "amazon", frozenset({"IA"}))}
    shipped = rates["3K7QW2PB"]
    assert shipped.requested == shipped.accepted == shipped.shipped == shipped.filled and shipped.rate == 1.0
    partial = rates["3K7QW2PF"]
    assert partial.shipped == 0 and partial.rate == 0.0 and 0 < partial.ack_rate < 1


# -- price ----------------------------------------------------------------------------------------


def test_a_po_price_off_the_agreed_cost_is_logged_and_the_855_still_echoes_amazons_price(
        tmp_path: Path, database_url: str, partner_dir: Path) -> None:
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "10_deal_with_notes.edi", "02_multi_line.edi")     # the deal PO pays 22.10 for items agreed at 24.53
    found = rows(p, exception_log, exception_log.c.kind == "PRICE_MISMATCH")
    assert sorted((r.po_number, r.line_number) for r in found) == [("3K7QW2PL", "1"), ("3K7QW2PL", "2")]
    assert "PO cost 22.10 differs from the agreed cost 24.53" in found[0].message
    (text,) = acks(p, "3K7QW2PL")
    assert "PO1*1*120*EA*22.10*PE*UP*841234001018" in text


def test_price_mismatch_hold_waits_for_a_person_then_replays(tmp_path: Path, database_url: str,
                                                             partner_dir: Path) -> None:
    cfg = partner_dir / "partner.yaml"
    cfg.write_text(cfg.read_text().replace("price_mismatch: warn", "price_mismatch: hold"))
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "10_deal_with_notes.edi")
    (po,) = rows(p, purchase_order)
    assert po.state == POState.HELD.value and po.sales_order is None
    xref = partner_dir / "sku-xref.csv"
    xref.write_text(xref.read_text().replace(",24.53,", ",22.10,"))     # the new cost was agreed after all
    assert p.replay("3K7QW2PL", "ana", "cost 22.10 agreed with the vendor manager").startswith("ordered")
    assert p.allocate_and_acknowledge() == 1
    assert all(r.status == "resolved" for r in rows(p, exception_log, exception_log.c.kind == "PRICE_MISMATCH"))


# -- unknown items before the deadline ------------------------------------------------------------


def test_unknown_items_are_rejected_at_22_h_so_the_855_is_not_late(tmp_path: Path, database_url: str,
                                                                    partner_dir: Path) -> None:
    """F34: held for an unknown UPC, unresolved at 22 h: the known line is ordered, the unknown one answered R2."""
    p = make_pipe(tmp_path, database_url, partner_dir)
    clock = p.clock
    assert isinstance(clock, Clock)
    feed(p, "05_unknown_sku.edi")
    clock.now = T0 + timedelta(hours=21, minutes=59)
    assert p.reject_unknown_items() == 0
    clock.now = T0 + timedelta(hours=22)
    p.watch_deadlines()
    assert p.allocate_and_acknowledge() == 1
    (po,) = rows(p, purchase_order)
    assert po.state == POState.ACKNOWLEDGED.value
    (text,) = acks(p, "3K7QW2PE")
    segs = text.split("~")
    assert segs[segs.index("PO1*1*24*EA*24.53*PE*UP*841234001018") + 1].startswith("ACK*IA*24*EA")
    assert segs[segs.index("PO1*2*18*EA*12.75*PE*UP*841234999018") + 1] == "ACK*R2*18*EA"
    (sku,) = rows(p, exception_log, exception_log.c.kind == "SKU_MISMATCH")
    assert sku.status == "resolved" and "22 h" in sku.resolution
    (note,) = rows(p, exception_log, exception_log.c.kind == "LINES_REJECTED")
    assert note.status == "open" and "line(s) 2" in note.message
    assert p.reject_unknown_items() == 0


def test_a_po_of_only_unknown_items_stays_held(tmp_path: Path, database_url: str,
                                                                       partner_dir: Path) -> None:
    p = make_pipe(tmp_path, database_url, partner_dir)
    clock = p.clock
    assert isinstance(clock, Clock)
    data = (SAMPLES / "inbound" / "05_unknown_sku.edi").read_bytes().replace(b"841234001018", b"841234999025")
    p.receive_bytes(data, "all-unknown.edi", "folder")
    p.process_inbound()
    clock.now = T0 + timedelta(hours=23)
    assert p.reject_unknown_items() == 0
    assert [r.state for r in rows(p, purchase_order)] == ["held"]


def test_with_the_setting_off_a_po_with_unknown_items_stays_held(tmp_path: Path, database_url: str,
                                                                  partner_dir: Path) -> None:
    cfg = partner_dir / "partner.yaml"
    cfg.write_text(cfg.read_text().replace("reject_unknown_items_at_hours: 22", "reject_unknown_items_at_hours: off"))
    p = make_pipe(tmp_path, database_url, partner_dir)
    assert p.settings.reject_unknown_items_at_hours is None
    feed(p, "05_unknown_sku.edi")
    p.clock.now = T0 + timedelta(hours=23)  # type: ignore[attr-defined]
    assert p.reject_unknown_items() == 0
    assert [r.state for r in rows(p, purchase_order)] == ["held"]


def test_over_allocation_accepts_the_ordered_quantity_and_says_so(tmp_path: Path, database_url: str,
                                                                  partner_dir: Path) -> None:
    """F42: the IMS allocates 80 to a line of 72: the 855 accepts 72; OVER_ALLOCATION names the surplus."""
    from edi.pipeline.ims import FilesIms  # noqa: PLC0415

    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    ims = FilesIms(tmp_path / "orders", tmp_path / "allocations")
    p = Pipeline(engine, tmp_path / "data", PartnerSettings.load(partner_dir), clock=Clock(), ims=ims)
    feed(p, "01_single_line.edi")
    (tmp_path / "allocations" / "amazon_3K7QW2PA_1.json").write_text(json.dumps({
        "partner": "amazon", "vendor_central_po_number": "3K7QW2PA", "revision": 1,
        "allocated_at": "2026-11-16T14:00:00Z", "lines": [{"line_number": "1", "allocated": 80}]}))
    assert p.allocate_and_acknowledge() == 1
    (text,) = acks(p, "3K7QW2PA")
    assert "ACK*IA*72*EA" in text and "BAK*00*AD*" in text
    (entry,) = rows(p, exception_log, exception_log.c.kind == "OVER_ALLOCATION")
    assert entry.line_number == "1" and "allocated 80" in entry.message


def test_ims_unavailable_keeps_the_po_validated_and_submits_it_when_back(tmp_path: Path, database_url: str,
                                                                         partner_dir: Path) -> None:
    """F41: the IMS folder is gone: 997 sent, PO validated with its sales order kept, IMS_UNAVAILABLE once;
    when it is back the next run submits it, and the 855 follows."""
    from edi.pipeline.ims import FilesIms  # noqa: PLC0415

    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    ims = FilesIms(tmp_path / "orders", tmp_path / "allocations")
    p = Pipeline(engine, tmp_path / "data", PartnerSettings.load(partner_dir), clock=Clock(), ims=ims)
    (tmp_path / "orders").rmdir()
    (tmp_path / "orders").write_text("an unmounted share")           # writes into it fail
    feed(p, "01_single_line.edi", "02_multi_line.edi")
    assert sorted(r.state for r in rows(p, purchase_order)) == ["validated", "validated"]
    assert all(r.sales_order for r in rows(p, purchase_order))
    assert len(rows(p, outbox, outbox.c.kind == "997")) == 2
    assert p.allocate_and_acknowledge() == 0                           # still down: stops at the first PO
    down = rows(p, exception_log, exception_log.c.kind == "IMS_UNAVAILABLE")
    assert sorted(r.po_number for r in down) == ["3K7QW2PA", "3K7QW2PB"]
    assert "mounted" in down[0].hint
    (tmp_path / "orders").unlink()
    (tmp_path / "orders").mkdir()
    assert p.submit_pending() == 2
    assert sorted(f.name for f in (tmp_path / "orders").iterdir()) == ["amazon_3K7QW2PA_1.json",
                                                                       "amazon_3K7QW2PB_1.json"]
    assert sorted(r.state for r in rows(p, purchase_order)) == ["ordered", "ordered"]


def test_a_failing_release_does_not_keep_the_deadline_alarms_back(tmp_path: Path, database_url: str,
                                                                  partner_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_pipe(tmp_path, database_url, partner_dir)
    feed(p, "05_unknown_sku.edi")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("mapping engine bug")

    monkeypatch.setattr(inbound, "make_order", broken)
    p.clock.now = T0 + timedelta(hours=22)  # type: ignore[attr-defined]
    assert p.watch_deadlines() >= 1
    kinds = {r.kind for r in rows(p, exception_log)}
    assert {"INTERNAL_ERROR", "DEADLINE"} <= kinds
    (po,) = rows(p, purchase_order)
    assert po.state == "held"
