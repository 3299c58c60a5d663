"""Mapping tests: run each mapping over its sample inputs and compare with golden JSON.

A test file (``mappings/<partner>/tests/*.test.yaml``)::

    mapping: ../850_to_sales_order.yaml
    cases:
      - name: multi-line PO maps to one sales order
        input: ../../../samples/inbound/02_multi_line.edi
        expect: golden/02_multi_line.json
      - name: unknown UPC holds the PO
        input: ../../../samples/inbound/05_unknown_sku.edi
        expect: golden/05_unknown_sku.json
        expect_exception: { code: SKU_MISMATCH, line: "2" }
    tables:
      sku_xref: tables/sku-xref.csv

``tables`` gives lookup tables of the test's own (by table name) in place of the live ones: a
golden is about the mapping, so an operator adding a row to the live ``sku-xref.csv`` (to release a
held PO) changes no golden. Goldens carry ``_hash`` = SHA-256 of the mapping, the lookup tables it
used and the input; they are written only by ``edi mapping test --update``. A stale or hand-edited golden fails with
"regenerate and review the diff". The CLI and pytest use this same runner.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edi.config.loader import load_yaml
from edi.mapping.engine import CompiledMapping, MappingResult
from edi.mapping.loader import load_mapping
from edi.mapping.source import document_view, read_documents
from edi.mapping.views import acknowledgement_view, received_lines, shipment_view
from edi.model import Allocation, PackConfirmation, PurchaseOrderAck, SalesOrder, ShipNotice
from edi.x12.envelope import Delimiters
from edi.x12.render import Envelope, render_855, render_856
from edi.x12.writer import Party


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one test case."""

    test_file: str
    name: str
    ok: bool
    message: str = ""
    diff: str = ""


def _fingerprint(mapping: CompiledMapping, input_path: Path, *more: CompiledMapping | Path) -> str:
    h = hashlib.sha256()
    for m in (mapping, *(x for x in more if isinstance(x, CompiledMapping))):
        h.update(Path(m.source_file).read_bytes())
        for name in sorted(m.tables):
            h.update(name.encode())
            h.update(m.tables[name].path.read_bytes())
    h.update(input_path.read_bytes())
    for extra in more:
        if isinstance(extra, Path):
            h.update(extra.read_bytes())
    return h.hexdigest()


def result_json(result: MappingResult) -> dict[str, Any]:
    """A stable JSON form of one mapping result."""
    return {
        "target": result.target.model_dump(mode="json") if result.target is not None else None,
        "exceptions": [{"code": e.code, "po": e.po, "line": e.line, "field": e.field, "value": e.value,
                        "message": e.message, "hint": e.hint} for e in result.exceptions],
        "failures": [{"code": f.code, "line": f.line, "field": f.field, "message": f.message} for f in result.failures],
        "rejected_lines": list(result.rejected_lines),
    }


def translate_file(mapping: CompiledMapping, input_path: Path, layer: str | None = "amazon") -> dict[str, Any]:
    """Validate an X12 file (with the guide ``layer``), then map each accepted document: the golden's body."""
    report, docs = read_documents(input_path, layer)
    return {
        "accepted": report.accepted,
        "findings": [f.one_line().replace(str(input_path), input_path.name) for f in report.findings],
        "documents": [{"st02": d.control_number, **result_json(mapping.apply(document_view(d)))} for d in docs],
    }


FIXED_WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_DELIMS = Delimiters("*", ">", "~", None)


def _orders(order_mapping: CompiledMapping, input_path: Path) -> list[tuple[SalesOrder, dict[str, Any]]]:
    """Each sales order the 850 mapping makes of the file, with the 850's view it came from."""
    _, docs = read_documents(input_path)
    out = []
    for d in docs:
        view = document_view(d)
        result = order_mapping.apply(view)
        if isinstance(result.target, SalesOrder):
            out.append((result.target, view))
    return out


def outbound_case(mapping: CompiledMapping, order_mapping: CompiledMapping, case: Any, base: Path) -> dict[str, Any]:
    """Map sample 850s to sales orders, build the outbound view (allocation or pack) and map it.

    The rendered X12 (with a fixed envelope: ISA13/GS06 1, 2026-01-01 12:00 UTC) is part of the
    golden, so a change in rendering shows in the diff too.
    """
    mapped = _orders(order_mapping, base / str(case["input"]))
    orders = [o for o, _ in mapped]
    env = Envelope(Party("ZZ", "VENDORCO"), Party("ZZ", "AMAZON"), "P", _DELIMS, FIXED_WHEN, 1, 1, newline=True)
    if "allocation" in case:
        allocation = Allocation.model_validate_json((base / str(case["allocation"])).read_text())
        order, view_850 = next((o, v) for o, v in mapped
                               if o.vendor_central_po_number == allocation.vendor_central_po_number)
        view = acknowledgement_view(order, allocation, codes=dict(mapping.spec.constants),
                                    received=received_lines(view_850))
        result = mapping.apply(view)
        text = render_855(result.target, env) if isinstance(result.target, PurchaseOrderAck) else None
    else:
        pack = PackConfirmation.model_validate_json((base / str(case["pack"])).read_text())
        ship_from = {str(k): str(v) for k, v in dict(case.get("ship_from") or {"name": "VENDOR DC"}).items()}
        pos = {i.vendor_central_po_number for c in pack.cartons for i in c.items}
        view = shipment_view([o for o in orders if o.vendor_central_po_number in pos], pack, ship_from=ship_from,
                             created_at=pack.ship_date)
        result = mapping.apply(view)
        env5010 = Envelope(env.sender, env.receiver, env.usage, Delimiters("*", ">", "~", "^"), env.when, 1, 1,
                           newline=True)
        text = render_856(result.target, env5010) if isinstance(result.target, ShipNotice) else None
    return {**result_json(result), "x12": text.splitlines() if text else None}


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def run_test_file(test_file: str | Path, *, update: bool = False) -> list[CaseResult]:
    """Run every case of one test file."""
    tf = Path(test_file)
    spec = load_yaml(tf)
    base = tf.parent
    fixtures = {str(k): base / str(v) for k, v in dict(spec.get("tables") or {}).items()}
    mapping = _load(base / str(spec["mapping"]), fixtures)
    out: list[CaseResult] = []
    for case in spec.get("cases", []):
        name = str(case.get("name", "?"))
        input_path = base / str(case["input"])
        golden_path = base / str(case["expect"])
        if "allocation" in case or "pack" in case:
            order_mapping = _load(base / str(spec["order_mapping"]), fixtures)
            body = outbound_case(mapping, order_mapping, case, base)
            extra = [base / str(case[k]) for k in ("allocation", "pack") if k in case]
            body["_hash"] = _fingerprint(mapping, input_path, order_mapping, *extra)
        else:
            body = translate_file(mapping, input_path)
            body["_hash"] = _fingerprint(mapping, input_path)
        new_text = _dump(body)
        old_text = golden_path.read_text() if golden_path.exists() else ""
        diff = "".join(difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True),
                                            str(golden_path), "actual"))
        expected_exc = case.get("expect_exception")
        exc_ok = True
        if expected_exc:
            codes = {(e["code"], e["line"]) for d in body["documents"] for e in d["exceptions"]}
            exc_ok = (str(expected_exc.get("code")), expected_exc.get("line")) in codes
        if update:
            if old_text != new_text:
                golden_path.parent.mkdir(parents=True, exist_ok=True)
                golden_path.write_text(new_text)
            out.append(CaseResult(str(tf), name, exc_ok, "updated" if diff else "unchanged", diff))
            continue
        if not old_text:
            out.append(CaseResult(str(tf), name, False, f"golden {golden_path} is missing: run `edi mapping test "
                                  f"{tf} --update` and review it"))
        elif json.loads(old_text).get("_hash") != body["_hash"] or diff:
            out.append(CaseResult(str(tf), name, False, "golden is stale or was edited by hand: regenerate with "
                                  "`edi mapping test --update` and review the diff", diff))
        elif not exc_ok:
            out.append(CaseResult(str(tf), name, False, f"expected exception {dict(expected_exc)} not raised"))
        else:
            out.append(CaseResult(str(tf), name, True))
    return out


def _load(path: Path, fixtures: dict[str, Path]) -> CompiledMapping:
    """The mapping with the test file's fixture tables in place of the live ones it names."""
    mapping = load_mapping(path)
    own = {name: p for name, p in fixtures.items() if name in mapping.spec.lookups}
    return load_mapping(path, own) if own else mapping


def find_test_files(path: str | Path) -> list[Path]:
    """A test file itself, or every ``*.test.yaml`` under a directory."""
    p = Path(path)
    return [p] if p.is_file() else sorted(p.rglob("*.test.yaml"))
