"""The mapping engine: direct accessors equal JMESPath, rules, lookups, exceptions, no partial targets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edi.mapping.engine import CompiledMapping, compile_expression, jmespath_reference
from edi.mapping.spec import MappingSpec

SEG = st.sampled_from(["REF", "DTM", "N1", "PO1"])
QUAL = st.sampled_from(["CR", "PD", "064", "063", "ST", "0", "1"])
leaf = st.one_of(st.none(), st.sampled_from(["CR", "PD", "064", "ST", "x", ""]), st.integers(0, 3))


@st.composite
def trees(draw: st.DrawFn) -> dict[str, Any]:
    """Random canonical-view-like documents: segments as objects or lists of objects."""
    doc: dict[str, Any] = {}
    for seg in draw(st.lists(SEG, max_size=4, unique=True)):
        def element(s: str = seg) -> dict[str, Any]:
            return {f"{s}01": draw(st.one_of(QUAL, leaf)), f"{s}02": draw(leaf), f"{s}04": draw(leaf)}
        doc[seg] = [element() for _ in range(draw(st.integers(0, 3)))] if draw(st.booleans()) else element()
    return doc


@st.composite
def expressions(draw: st.DrawFn) -> str:
    seg = draw(SEG)
    kind = draw(st.sampled_from(["plain", "deep", "shorthand", "index", "filter", "pairs"]))
    if kind == "filter":
        return f"{seg}[?{seg}01=='{draw(QUAL)}'] | [0].{seg}02"
    if kind == "pairs":
        return f"id_pairs({seg})"
    if kind == "plain":
        return f"{seg}.{seg}02"
    if kind == "deep":
        return f"{seg}.{seg}02.X"
    if kind == "index":
        return f"{seg}[0].{seg}02"
    return f"{seg}[{draw(QUAL)}].{seg}02"


@settings(max_examples=600, deadline=None)
@given(doc=trees(), expr=expressions())
def test_direct_accessors_give_the_jmespath_result(doc: dict[str, Any], expr: str) -> None:
    """Plain paths and the SEG[QUAL].SEGnn shorthand compiled to accessors equal pure JMESPath."""
    assert compile_expression(expr)(doc) == jmespath_reference(expr)(doc)


def _mapping(tmp_path: Path, **over: Any) -> CompiledMapping:
    (tmp_path / "xref.csv").write_text("sku,upc,asin\nSKU-1,841234001018,B00K4Q2T7M\nSKU-2,,B00ZZZZZZZ\n")
    spec = {
        "mapping": "t", "version": "1", "source": "x12/004010/850", "target": "sales_order",
        "lookups": {"xref": {"file": "xref.csv"}},
        "constants": {"partner": "amazon"},
        "header": {
            "partner": {"from": "_constants.partner"},
            "vendor_central_po_number": {"from": "BEG.BEG03"},
            "order_type": {"from": "BEG.BEG02", "map": {"NE": "standard", "RO": "rush"}},
            "order_date": {"from": "BEG.BEG05", "as": "date"},
            "ship_to": {"value": "FC1"},
        },
        "lines": {"for_each": "PO1_loop", "fields": {
            "line_number": {"from": "PO1.PO101"},
            "quantity": {"from": "PO1.PO102", "as": "integer", "min": "1"},
            "unit": {"from": "PO1.PO103", "map": {"EA": "each", "CA": "case"}},
            "unit_price": {"from": "PO1.PO104", "as": "decimal"},
            "product_ids": {"from": "id_pairs(PO1)"},
            "sku": {"from": "id_pairs(PO1)", "lookup": {"table": "xref", "match": {"UP": "upc", "BP": "asin"},
                                                       "take": "sku"},
                    "on_missing": {"exception": "SKU_MISMATCH", "hint": "add {value} to xref.csv"}},
        }},
    }
    for key, value in over.items():
        spec[key] = value
    return CompiledMapping(MappingSpec.model_validate(spec), tmp_path)


def _view(lines: list[tuple[str, str, str, str, list[str]]], beg02: str = "NE") -> dict[str, Any]:
    def po1(n: str, q: str, u: str, p: str, ids: list[str]) -> dict[str, Any]:
        seg = {"PO101": n, "PO102": q, "PO103": u, "PO104": p}
        for i, v in enumerate(ids):
            seg[f"PO1{6 + i:02d}"] = v
        return {"PO1": seg}
    return {"BEG": {"BEG01": "00", "BEG02": beg02, "BEG03": "1PCPDX1U", "BEG05": "20220131"},
            "PO1_loop": [po1(*line) for line in lines]}


def test_sales_order_keeps_identifiers_exactly_and_resolves_sku(tmp_path: Path) -> None:
    """A UPC (matched as GTIN-14) and an ASIN both resolve; ids are echoed byte for byte."""
    m = _mapping(tmp_path)
    res = m.apply(_view([("1", "72", "EA", "24.53", ["UP", "00841234001018"]),
                         ("2", "8", "CA", "39", ["BP", "B00ZZZZZZZ", "VN", "X-1"])]))
    assert res.ok, (res.exceptions, res.failures)
    order = res.target
    assert order is not None
    lines = order.lines  # type: ignore[attr-defined]
    assert [line.sku for line in lines] == ["SKU-1", "SKU-2"]
    assert [(p.qualifier, p.value) for p in lines[1].product_ids] == [("BP", "B00ZZZZZZZ"), ("VN", "X-1")]
    assert str(lines[0].unit_price) == "24.53"
    assert lines[1].unit == "case"


def test_unknown_sku_holds_the_whole_order_with_a_suggested_fix(tmp_path: Path) -> None:
    """SKU_MISMATCH names the line and identifiers; no partial sales order is produced."""
    m = _mapping(tmp_path)
    res = m.apply(_view([("1", "72", "EA", "24.53", ["UP", "841234001018"]),
                         ("2", "5", "EA", "9.99", ["UP", "041234999999"])]))
    assert res.target is None
    (exc,) = res.exceptions
    assert (exc.code, exc.line, exc.value) == ("SKU_MISMATCH", "2", "UP 041234999999")
    assert exc.hint == "add UP 041234999999 to xref.csv"


def test_reject_line_policy_keeps_the_rest_of_the_order(tmp_path: Path) -> None:
    """With on_exception: reject_line the unknown line is dropped and listed, the order proceeds."""
    base = _mapping(tmp_path).spec.model_dump(by_alias=True)
    base["lines"]["on_exception"] = "reject_line"
    m = CompiledMapping(MappingSpec.model_validate(base), tmp_path)
    res = m.apply(_view([("1", "72", "EA", "24.53", ["UP", "841234001018"]),
                         ("2", "5", "EA", "9.99", ["UP", "041234999999"])]))
    assert res.ok
    assert res.rejected_lines == ["2"]
    assert [line.line_number for line in res.target.lines] == ["1"]  # type: ignore[union-attr]


def test_code_outside_a_closed_map_is_unmapped_code(tmp_path: Path) -> None:
    """BEG02 'DS' is not in the map: UNMAPPED_CODE, never a silent default."""
    res = _mapping(tmp_path).apply(_view([("1", "1", "EA", "1", ["UP", "841234001018"])], beg02="DS"))
    assert res.target is None
    assert [f.code for f in res.failures] == ["UNMAPPED_CODE"]


def test_bad_number_and_bound_are_rule_failures(tmp_path: Path) -> None:
    """Quantity '1O' and quantity 0 fail their rules with the field named; nothing is produced."""
    res = _mapping(tmp_path).apply(_view([("1", "1O", "EA", "1", ["UP", "841234001018"]),
                                          ("2", "0", "EA", "1", ["UP", "841234001018"])]))
    assert res.target is None
    assert [(f.code, f.line) for f in res.failures] == [("MAP_VALUE_INVALID", "1"), ("MAP_VALUE_INVALID", "2")]


def test_optional_typed_lookup_is_left_out_when_missing_and_fails_when_malformed(tmp_path: Path) -> None:
    """list_cost: a decimal taken from the table; absent cost -> no field; a non-number -> MAP_VALUE_INVALID.
    The success path and the full path agree (the same result with the fast converter switched off)."""
    m = _mapping(tmp_path)
    (tmp_path / "xref.csv").write_text("sku,upc,asin,cost\nSKU-1,841234001018,B00K4Q2T7M,24.53\n"
                                       "SKU-2,,B00ZZZZZZZ,\nSKU-3,,B00YYYYYYY,n/a\n")
    spec = m.spec.model_dump(by_alias=True)
    spec["lines"]["fields"]["list_cost"] = {"from": "id_pairs(PO1)", "as": "decimal", "optional": "true",
                                            "lookup": {"table": "xref", "match": {"UP": "upc", "BP": "asin"},
                                                       "take": "cost"}}
    view = _view([("1", "72", "EA", "24.53", ["UP", "841234001018"]), ("2", "8", "CA", "39", ["BP", "B00ZZZZZZZ"])])
    bad = _view([("1", "1", "EA", "1", ["BP", "B00YYYYYYY"])])
    results = []
    for fast in (True, False):
        mapping = CompiledMapping(MappingSpec.model_validate(spec), tmp_path)
        if not fast:
            for cr in mapping.lines:
                cr.fast = None
        ok = mapping.apply(view)
        assert ok.ok, (ok.exceptions, ok.failures)
        lines = ok.target.lines  # type: ignore[union-attr]
        assert [line.list_cost for line in lines] == [Decimal("24.53"), None]
        failed = mapping.apply(bad)
        assert [f.code for f in failed.failures] == ["MAP_VALUE_INVALID"]
        results.append((ok.target, [f.code for f in failed.failures]))
    assert results[0] == results[1]
