"""One bad input never stops the rest: a poison item of each kind among good ones, every good one delivered."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from edi.config.service import load_root
from edi.jobs import cycle, open_service
from edi.pipeline.ims import EmbeddedIms
from edi.scaffold import demo_samples, init_root
from edi.store.pipeline_tables import exception_log, inbound_file, outbox, purchase_order, shipment
from tests.service.test_service import edi
from tests.store.conftest import database_url, pg_cluster, pg_database_url  # noqa: F401 - fixtures

SAMPLES = demo_samples()
GOOD = ("01_single_line.edi", "02_multi_line.edi", "03_rush_order.edi", "10_deal_with_notes.edi")


def _root(tmp: Path, *, ims: str = "embedded") -> Path:
    root = tmp / "root"
    init_root(root)
    if ims != "embedded":
        text = (root / "edi.yaml").read_text().replace("kind: embedded", f"kind: {ims}")
        (root / "edi.yaml").write_text(text)
    for n in GOOD:
        shutil.copyfile(SAMPLES / "inbound" / n, root / "drop" / "in" / n)
    return root


def _two_fc_pack() -> dict[str, object]:
    """A shipment whose cartons hold POs for two fulfilment centres (8018154 and 4728391): one ASN cannot."""
    pack = json.loads((SAMPLES / "pack" / "02_multi_line.json").read_text())
    pack["shipment_id"] = "POISON2FC"
    pack["cartons"] = [
        {"sscc": "006141410000009015", "items": [{"vendor_central_po_number": "3K7QW2PA", "line_number": "1",
                                                  "quantity": 1}]},
        {"sscc": "006141410000009022", "items": [{"vendor_central_po_number": "3K7QW2PC", "line_number": "1",
                                                  "quantity": 1}]},
    ]
    return pack


def _state(svc: object) -> dict[str, object]:
    engine = svc.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {
            "pos": {r.po_number: r.state for r in conn.execute(select(purchase_order))},
            "sent": sorted((r.kind, r.subject) for r in conn.execute(select(outbox)) if r.sent_at is not None),
            "unsent": sorted((r.kind, r.subject) for r in conn.execute(select(outbox)) if r.sent_at is None),
            "ships": {r.shipment_id: r.state for r in conn.execute(select(shipment))},
            "open": sorted((r.kind, r.po_number or "") for r in conn.execute(
                select(exception_log).where(exception_log.c.status == "open"))),
            "names": sorted(r.remote_name for r in conn.execute(select(inbound_file))),
        }


def test_one_poison_item_of_each_kind_never_stops_the_good_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 database_url: str) -> None:  # noqa: F811
    """A two-FC pack, a PO whose allocation raises, an undecodable and a newline file name: the rest flows."""
    root = _root(tmp_path)
    monkeypatch.setenv("EDI_DATABASE_URL", database_url)
    inbox = root / "drop" / "in"
    packs = root / "ims" / "packs"
    packs.mkdir(parents=True)
    (packs / "00_two_fcs.json").write_text(json.dumps(_two_fc_pack()))
    for f in (SAMPLES / "pack").iterdir():
        shutil.copyfile(f, packs / f.name)
    # file names are data: bytes that are not UTF-8, and a newline that would forge a line of output
    os.rename(inbox / "03_rush_order.edi", os.fsencode(inbox) + b"/03 rush \xff\xfe.edi")
    os.rename(inbox / "02_multi_line.edi", inbox / "02\nFORGED  SKU_MISMATCH.edi")
    real = EmbeddedIms.allocation_for

    def poisoned(self: EmbeddedIms, conn: object, order: object, now: object) -> object:
        if order.vendor_central_po_number == "3K7QW2PL":  # type: ignore[attr-defined]
            raise RuntimeError("IMS adapter bug on this one order")
        return real(self, conn, order, now)  # type: ignore[arg-type]

    monkeypatch.setattr(EmbeddedIms, "allocation_for", poisoned)
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    with svc.engine.begin() as conn:
        EmbeddedIms().import_stock(conn, SAMPLES / "stock.csv", svc.clock())
    cycle(svc)
    cycle(svc)  # a second run changes nothing and raises nothing
    state = _state(svc)
    assert state["pos"] == {"3K7QW2PA": "shipped", "3K7QW2PB": "shipped", "3K7QW2PC": "acknowledged",
                            "3K7QW2PL": "held"}, state
    assert [k for k, _ in state["sent"]].count("997") == 4
    assert ("855", "3K7QW2PA/1") in state["sent"] and ("855", "3K7QW2PC/1") in state["sent"]
    assert sorted(s for k, s in state["sent"] if k == "856") == ["VENDC261119A", "VENDC261119B"]
    assert state["unsent"] == []
    assert state["ships"]["POISON2FC"] == "held"
    assert ("PACK_MISMATCH", "") in state["open"]
    assert any(k == "INTERNAL_ERROR" and po == "3K7QW2PL" for k, po in state["open"])
    assert sorted(p.name for p in (packs / "rejected").iterdir()) == ["00_two_fcs.json", "00_two_fcs.json.error"]
    assert "one fulfilment centre" in (packs / "rejected" / "00_two_fcs.json.error").read_text()
    # names stored losslessly (escaped), and never raw control characters in output
    assert "03 rush \\xff\\xfe.edi" in state["names"] and "02\\x0aFORGED  SKU_MISMATCH.edi" in state["names"]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(
        ["01_single_line.edi", "02\nFORGED  SKU_MISMATCH.edi", "03 rush \udcff\udcfe.edi", "10_deal_with_notes.edi"])
    # a kill between the note and the move leaves the held pack in the folder: the next run files it
    # where a clean run did (rejected/, with its reasons), never under done/
    (packs / "rejected" / "00_two_fcs.json").replace(packs / "00_two_fcs.json")
    (packs / "rejected" / "00_two_fcs.json.error").write_text("stale")
    cycle(svc)
    assert not (packs / "done" / "00_two_fcs.json").exists()
    assert "one fulfilment centre" in (packs / "rejected" / "00_two_fcs.json.error").read_text()
    listed = edi(root, "exceptions", "list", env={"EDI_DATABASE_URL": database_url})
    assert listed.returncode == 0, listed.stderr
    assert not any(line.startswith("FORGED") for line in listed.stdout.splitlines())


def test_a_bad_allocation_file_is_set_aside_and_the_other_pos_are_acknowledged(tmp_path: Path) -> None:
    """Files IMS: one allocation answer that does not validate goes to rejected/; the good answers give 855s."""
    root = _root(tmp_path, ims="files")
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    cycle(svc)
    allocations = root / "ims" / "allocations"
    for order in sorted((root / "ims" / "orders").glob("*.json")):
        body = json.loads(order.read_text())
        lines = [{"line_number": ln["line_number"], "allocated": ln["quantity"]} for ln in body["lines"]]
        answer = {"partner": body["partner"], "vendor_central_po_number": body["vendor_central_po_number"],
                  "revision": body["revision"], "allocated_at": "2026-11-16T15:00:00Z", "lines": lines}
        text = json.dumps(answer) if body["vendor_central_po_number"] != "3K7QW2PB" else '{"lines": [oops'
        (allocations / order.name).write_text(text)
    cycle(svc)
    state = _state(svc)
    assert sorted(s for k, s in state["sent"] if k == "855") == ["3K7QW2PA/1", "3K7QW2PC/1", "3K7QW2PL/1"], state
    assert state["pos"]["3K7QW2PB"] == "ordered"
    assert ("IMS_FILE_INVALID", "3K7QW2PB") in state["open"] or ("IMS_FILE", "3K7QW2PB") in state["open"]
    assert (allocations / "rejected").is_dir()


def test_ignored_temporary_names_are_counted_and_a_stale_one_is_reported(tmp_path: Path) -> None:
    """Names matching ignore_patterns are never taken; one lying there a day is IGNORED_FILE_STALE (once)."""
    root = _root(tmp_path)
    inbox = root / "drop" / "in"
    (inbox / ".upload-in-progress.tmp").write_bytes(b"ISA*")
    stale = inbox / "left-over.part"
    stale.write_bytes(b"ISA*00*")
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    cycle(svc)
    cycle(svc)
    with svc.engine.connect() as conn:
        entries = conn.execute(select(exception_log).where(exception_log.c.kind == "IGNORED_FILE_STALE")).all()
        names = {r.remote_name for r in conn.execute(select(inbound_file))}
    assert len(entries) == 1 and "left-over.part" in entries[0].message and "48 h" in entries[0].message
    assert stale.exists() and (inbox / ".upload-in-progress.tmp").exists()
    assert not names & {"left-over.part", ".upload-in-progress.tmp"}
