"""Pack confirmations: CSV as well as JSON, typed errors with row and column, correction of a held shipment,
and the files adapter's pack folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.config.partner import PartnerSettings
from edi.pipeline import Pipeline
from edi.pipeline.ims import FilesIms
from edi.pipeline.packs import PackFileError, parse_pack
from edi.store import ensure_schema, open_engine
from edi.store.pipeline_tables import exception_log, outbox, purchase_order, shipment
from tests.conftest import ROOT, SAMPLES
from tests.pipeline._util import Clock, feed, rows

CSV = SAMPLES / "pack" / "01_single_line.csv"
HEADER, *BODY = CSV.read_text().splitlines()


def csv_with(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def test_csv_and_json_describe_the_same_shipment() -> None:
    from_csv = parse_pack(CSV.read_bytes(), CSV.name, "amazon")
    as_json = from_csv.model_dump_json()
    assert parse_pack(as_json.encode(), "same.json", "amazon") == from_csv
    assert from_csv.partner == "amazon" and len(from_csv.cartons) == 3
    assert from_csv.cartons[0].sscc == "006141410000002030"     # leading zeros kept
    assert sum(i.quantity for c in from_csv.cartons for i in c.items) == 72


@pytest.mark.parametrize(("data", "expected"), [
    (csv_with(*BODY, header=HEADER.replace(",quantity", "")), r"row 1 \(header\): missing column\(s\) quantity"),
    (csv_with(*BODY, header=HEADER + ",colour"), r"unknown column\(s\) colour"),
    (csv_with(BODY[0], BODY[1].replace("ABFS", "UPSN")), r"row 3, column carrier_scac: 'UPSN' differs"),
    (csv_with(BODY[0].replace("006141410000002030", "6141410000002030")), r"row 2, column sscc: .*16 digits"),
    (csv_with(BODY[0][: BODY[0].rindex(",")] + ",two dozen"), r"row 2, column quantity: 'two dozen'"),
    (csv_with(BODY[0] + ",extra"), r"row 2: more fields than columns"),
    (csv_with(BODY[0].replace("3K7QW2PA", "")), r"row 2, column po_number: empty"),
    (csv_with(), r"no carton rows"),
    (b"\xff\xfe", r"not UTF-8"),
])
def test_bad_csv_says_where_and_what_to_do(data: bytes, expected: str) -> None:
    with pytest.raises(PackFileError, match=expected) as err:
        parse_pack(data, "pack.csv", "amazon")
    assert err.value.hint


def test_bad_json_names_the_field() -> None:
    body = json.loads((SAMPLES / "pack" / "02_multi_line.json").read_text())
    del body["carrier_scac"]
    with pytest.raises(PackFileError, match=r"pack.json: carrier_scac: Field required"):
        parse_pack(json.dumps(body).encode(), "pack.json", "amazon")


def test_held_shipment_can_be_corrected_under_the_same_id_and_a_shipped_one_cannot_change(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, _ = pipe
    feed(p, "01_single_line.edi")
    too_many = csv_with(*BODY, BODY[0].replace("006141410000002030", "006141410000002061"))  # 96 > 72
    assert p.confirm_pack(too_many, "v1.csv") == "held"
    assert p.confirm_pack(too_many, "v1-again.csv") == "held"  # same held content: still held, no new effect
    (problem,) = rows(p, exception_log, exception_log.c.kind == "PACK_MISMATCH")
    assert "ASN_EXCEEDS_ACK" in problem.message and problem.status == "open"
    assert p.confirm_pack(CSV.read_bytes(), "v2.csv") == "shipped"
    (problem,) = rows(p, exception_log, exception_log.c.kind == "PACK_MISMATCH")
    assert problem.status == "resolved" and "v2.csv" in problem.resolution
    assert [r.state for r in rows(p, shipment)] == ["shipped"]
    assert [r.state for r in rows(p, purchase_order)] == ["shipped"]
    changed = CSV.read_bytes().replace(b"VENDC1119002", b"VENDC1119009")
    assert p.confirm_pack(changed, "v3.csv") == "duplicate"
    (late,) = rows(p, exception_log, exception_log.c.kind == "PACK_MISMATCH", exception_log.c.status == "open")
    assert "already shipped" in late.message
    assert len(rows(p, outbox, outbox.c.kind == "856")) == 1


def test_files_adapter_picks_up_pack_files_and_files_them_away(tmp_path: Path, database_url: str) -> None:
    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    ims = FilesIms(tmp_path / "ims" / "orders", tmp_path / "ims" / "allocations", tmp_path / "ims" / "packs")
    p = Pipeline(engine, tmp_path / "data", PartnerSettings(mappings_dir=ROOT / "mappings" / "amazon"),
                 clock=Clock(), ims=ims)
    p.receive_bytes((SAMPLES / "inbound" / "01_single_line.edi").read_bytes(), "01.edi", "folder")
    p.process_inbound()
    (tmp_path / "ims" / "allocations" / "amazon_3K7QW2PA_1.json").write_text(json.dumps({
        "partner": "amazon", "vendor_central_po_number": "3K7QW2PA", "revision": 1,
        "allocated_at": "2026-11-16T14:00:00Z", "lines": [{"line_number": "1", "allocated": 72}]}))
    assert p.allocate_and_acknowledge() == 1
    packs = tmp_path / "ims" / "packs"
    (packs / "a_good.csv").write_bytes(CSV.read_bytes())
    (packs / "b_bad.csv").write_bytes(csv_with(*BODY, header=HEADER.replace("sscc", "carton")))
    (packs / "notes.txt").write_text("not a pack")
    assert p.confirm_ims_packs() == [("a_good.csv", "shipped"), ("b_bad.csv", "invalid")]
    assert (packs / "done" / "a_good.csv").exists()
    assert (packs / "rejected" / "b_bad.csv").exists() and (packs / "rejected" / "b_bad.csv.error").exists()
    assert (packs / "notes.txt").exists()
    assert p.confirm_ims_packs() == []
    (bad,) = rows(p, exception_log, exception_log.c.kind == "PACK_INVALID")
    assert "missing column(s) sscc" in bad.message and "unknown column(s) carton" in bad.message


def test_a_delimiter_in_warehouse_data_holds_the_856_without_spending_numbers(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    """F52: a bill of lading 'AB*12' cannot be written in X12 004010/005010 (no escape): held, not sent."""
    from edi.store.control_numbers import control_number_reservation  # noqa: PLC0415

    p, _, tmp = pipe
    feed(p, "01_single_line.edi")
    reserved = len(rows(p, control_number_reservation))
    bad = CSV.read_bytes().replace(b"VENDC1119002", b"AB*12")
    assert p.confirm_pack(bad, "bad.csv") == "held"
    (entry,) = rows(p, exception_log, exception_log.c.kind == "OUTBOUND_FORBIDDEN_CHAR")
    assert "'AB*12'" in entry.message and "VENDC261119B" in entry.message
    assert len(rows(p, control_number_reservation)) == reserved
    assert not rows(p, outbox, outbox.c.kind == "856")
    # a hostile shipment id never becomes a path
    fixed = CSV.read_bytes().replace(b"VENDC261119B", b"../../etc")
    assert p.confirm_pack(fixed, "fixed.csv") == "shipped"
    (written,) = [f for f in p.send_outbox(tmp / "out") if f.parent.name == "856"]
    assert written.parent == tmp / "out" / "856" and ".." not in written.name


def test_a_pack_before_the_855_waits_and_ships_right_after_it(tmp_path: Path, database_url: str) -> None:
    """F43: the warehouse confirms before the IMS allocated: the shipment waits; the 856 follows the 855."""
    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    ims = FilesIms(tmp_path / "orders", tmp_path / "allocations")
    p = Pipeline(engine, tmp_path / "data", PartnerSettings(mappings_dir=ROOT / "mappings" / "amazon"),
                 clock=Clock(), ims=ims)
    p.receive_bytes((SAMPLES / "inbound" / "01_single_line.edi").read_bytes(), "01.edi", "folder")
    p.process_inbound()
    assert p.confirm_pack(CSV.read_bytes(), "early.csv") == "waiting"
    assert p.confirm_pack(CSV.read_bytes(), "early-again.csv") == "waiting"  # the same: still waiting
    (wait,) = rows(p, exception_log, exception_log.c.kind == "PACK_WAITING")
    assert "3K7QW2PA" in wait.message and wait.status == "open"
    assert p.allocate_and_acknowledge() == 0 and not rows(p, outbox, outbox.c.kind == "856")
    (tmp_path / "allocations" / "amazon_3K7QW2PA_1.json").write_text(json.dumps({
        "partner": "amazon", "vendor_central_po_number": "3K7QW2PA", "revision": 1,
        "allocated_at": "2026-11-16T14:00:00Z", "lines": [{"line_number": "1", "allocated": 72}]}))
    assert p.allocate_and_acknowledge() == 1
    docs = [(r.kind, r.id) for r in rows(p, outbox) if r.kind in ("855", "856")]
    assert [k for k, _ in sorted(docs, key=lambda d: d[1])] == ["855", "856"]      # sent in that order
    assert [r.state for r in rows(p, shipment)] == ["shipped"]
    (wait,) = rows(p, exception_log, exception_log.c.kind == "PACK_WAITING")
    assert wait.status == "resolved"


def test_a_pack_for_an_unknown_po_is_held_and_one_for_another_partner_is_invalid(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    p, _, _ = pipe
    other = json.loads((SAMPLES / "pack" / "02_multi_line.json").read_text()) | {"partner": "walmart"}
    assert p.confirm_pack(json.dumps(other).encode(), "other.json") == "invalid"
    (wrong,) = rows(p, exception_log, exception_log.c.kind == "PACK_INVALID")
    assert "'walmart' is not this pipeline's" in wrong.message and not rows(p, shipment)
    assert p.confirm_pack(CSV.read_bytes(), "stray.csv") == "held"
    (entry,) = rows(p, exception_log, exception_log.c.kind == "PACK_MISMATCH")
    assert "3K7QW2PA is not an acknowledged PO" in entry.message


def test_a_partner_on_the_4010_asn_gets_a_004010_856(tmp_path: Path, database_url: str) -> None:
    import dataclasses  # noqa: PLC0415

    from edi.pipeline.ims import EmbeddedIms  # noqa: PLC0415
    from edi.store import transaction  # noqa: PLC0415
    from edi.x12 import Limits, X12Validator  # noqa: PLC0415
    from edi.x12.envelope import VERSIONS_4010_FAMILY  # noqa: PLC0415
    from tests.x12._util import bots_errors  # noqa: PLC0415

    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    settings = dataclasses.replace(PartnerSettings.load(ROOT / "mappings" / "amazon"), asn_version="004010",
                                   mappings_dir=ROOT / "mappings" / "amazon")
    p = Pipeline(engine, tmp_path / "data", settings, clock=Clock())
    with transaction(engine) as conn:
        EmbeddedIms().import_stock(conn, SAMPLES / "stock.csv", p.clock())
    feed(p, "01_single_line.edi")
    assert p.confirm_pack(CSV.read_bytes(), "pack.csv") == "shipped"
    (asn,) = [f for f in p.send_outbox(tmp_path / "out") if f.parent.name == "856"]
    data = asn.read_bytes()
    assert b"*00401*" in data and b"*X*004010~" in data and b"MAN*GM*00006141410000002030" in data
    report = X12Validator(limits=Limits(supported_versions=VERSIONS_4010_FAMILY)).validate_bytes(data)
    assert report.accepted, [f.one_line() for f in report.findings]
    assert bots_errors(data) == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                 st.lists(st.sampled_from(["shipment_id", "ship_date", "sscc", "quantity", "po_number", ",", "\n",
                                           "\"", "2026-11-19", "006141410000002030", "-1", "x", "\r\n", "\x00"]),
                          max_size=60).map(lambda parts: (HEADER + "\n" + "".join(parts)).encode())),
       st.sampled_from(["p.csv", "p.json"]))
def test_any_bytes_give_a_pack_or_a_pack_file_error(data: bytes, name: str) -> None:
    """Whatever the warehouse sends: a valid PackConfirmation or a typed PackFileError, nothing else."""
    error: PackFileError | None = None
    try:
        pack = parse_pack(data, name, "amazon")
    except PackFileError as exc:
        error = exc
    if error is not None:
        assert name in str(error) and error.hint
    else:
        assert pack.cartons
