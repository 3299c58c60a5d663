"""Mapping authoring: lint walks partner folders and catches what would only fail at run time;
no mapping ends in a traceback; goldens do not depend on the live lookup tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edi.mapping import lint_mapping, load_mapping
from edi.mapping.testing import find_test_files, run_test_file
from tests.conftest import ROOT
from tests.x12.test_cli import run

MAPPINGS = ROOT / "mappings"
LIVE_850 = MAPPINGS / "amazon" / "850_to_sales_order.yaml"


def write_mapping(folder: Path, body: str, *, header: str = "", lines: str = "", checks: str = "") -> Path:
    """A small 850 mapping in ``folder`` whose required fields are all filled, plus the given parts."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "xref.csv").write_text("sku,upc,asin,cost\nSKU-1,012345000218,B000000001,1.00\n")
    text = (
        "mapping: m\nversion: '1'\nsource: x12/004010/850\ntarget: sales_order\n"
        "lookups:\n  xref: { file: xref.csv }\n"
        "header:\n"
        "  partner: { value: amazon }\n"
        "  vendor_central_po_number: { from: BEG.BEG03 }\n"
        "  order_type: { from: BEG.BEG02, map: { NE: standard } }\n"
        "  order_date: { from: BEG.BEG05, as: date }\n"
        "  vendor_code: { from: \"REF[CR].REF02\" }\n"
        "  ship_to: { value: DC1 }\n"
        f"{header}"
        "lines:\n  for_each: PO1_loop\n  fields:\n"
        "    line_number: { from: PO1.PO101 }\n"
        "    quantity: { from: PO1.PO102, as: integer }\n"
        "    unit: { from: PO1.PO103, map: { EA: each } }\n"
        "    unit_price: { from: PO1.PO104, as: decimal }\n"
        "    sku: { value: SKU-1 }\n"
        "    product_ids: { from: \"id_pairs(PO1)\", as: string }\n"
        f"{lines}"
        f"{checks}"
    ) + body
    path = folder / "m.yaml"
    path.write_text(text)
    return path


def codes(path: Path) -> list[str]:
    return [f.code for f in lint_mapping(path)]


def test_base_mapping_is_clean(tmp_path: Path) -> None:
    """The helper's mapping lints clean, so each test below adds exactly one problem."""
    assert lint_mapping(write_mapping(tmp_path, "")) == []


def test_lint_unknown_source_element(tmp_path: Path) -> None:
    """An element the guide does not have (BEG13, PO1.PO199) is reported with its place and a suggestion."""
    path = write_mapping(tmp_path, "", header="  currency: { from: BEG.BEG13, optional: 'true' }\n")
    (finding,) = lint_mapping(path)
    assert finding.code == "MAP_UNKNOWN_ELEMENT"
    assert "BEG13" in finding.message
    assert finding.mark is not None
    assert finding.mark.line == path.read_text().splitlines().index(
        "  currency: { from: BEG.BEG13, optional: 'true' }") + 1


def test_lint_unknown_function(tmp_path: Path) -> None:
    """A function neither JMESPath nor the registry defines is reported, with the nearest known name."""
    path = write_mapping(tmp_path, "", header="  currency: { from: \"id_pair(PO1)\", optional: 'true' }\n")
    (finding,) = lint_mapping(path)
    assert finding.code == "MAP_UNKNOWN_FUNCTION"
    assert "did you mean 'id_pairs'" in finding.message


def test_lint_missing_required_target_field(tmp_path: Path) -> None:
    """Removing the rule for a required field of the sales order is reported."""
    path = write_mapping(tmp_path, "")
    path.write_text(path.read_text().replace("  order_date: { from: BEG.BEG05, as: date }\n", ""))
    assert codes(path) == ["MAP_MISSING_FIELD"]
    assert "order_date" in lint_mapping(path)[0].message


def test_lint_missing_required_line_field(tmp_path: Path) -> None:
    """Removing the rule for a required line field is reported too."""
    path = write_mapping(tmp_path, "")
    path.write_text(path.read_text().replace("    quantity: { from: PO1.PO102, as: integer }\n", ""))
    assert codes(path) == ["MAP_MISSING_FIELD"]
    assert "quantity" in lint_mapping(path)[0].message


def test_lint_product_id_qualifier_not_in_guide(tmp_path: Path) -> None:
    """A match qualifier the (Amazon) guide does not allow in PO106 is reported."""
    rule = ("    list_cost:\n      from: \"id_pairs(PO1)\"\n      lookup: { table: xref, match: { UP: upc, XX: asin }, "
            "take: cost }\n      as: decimal\n      optional: 'true'\n")
    path = write_mapping(tmp_path, "", lines=rule)
    (finding,) = lint_mapping(path)
    assert finding.code == "MAP_CODE_NOT_IN_GUIDE"
    assert "'XX'" in finding.message
    assert "PO106" in finding.message


def test_lint_misspelt_exception_code(tmp_path: Path) -> None:
    """An on_missing or check exception code outside the closed list is reported with the nearest code."""
    header = "  currency: { from: CUR.CUR02, on_missing: { exception: SKU_MISMACH } }\n"
    path = write_mapping(tmp_path, "", header=header,
                         checks="checks:\n  - count_equals: { target: lines, source: \"CTT_loop[0].CTT.CTT01\" }\n"
                                "    exception: LINE_COUNT_MISMATCHH\n")
    found = lint_mapping(path)
    assert [f.code for f in found] == ["MAP_UNKNOWN_EXCEPTION", "MAP_UNKNOWN_EXCEPTION"]
    assert "did you mean 'SKU_MISMATCH'" in found[0].message
    assert "did you mean 'LINE_COUNT_MISMATCH'" in found[1].message


def test_lint_unknown_key_in_check(tmp_path: Path) -> None:
    """A check with a misspelt key (``sorce``) is refused at load time with its place."""
    path = write_mapping(tmp_path, "", checks="checks:\n  - count_equals: { target: lines, sorce: CTT.CTT01 }\n"
                                              "    exception: LINE_COUNT_MISMATCH\n")
    found = lint_mapping(path)
    assert [f.code for f in found] == ["MAP_BAD_CHECK", "MAP_BAD_CHECK"]
    assert "unknown key 'sorce'" in found[0].message
    assert "'source' is missing" in found[1].message


def test_lint_walks_partner_folders_and_fails_on_nothing(tmp_path: Path) -> None:
    """``edi mapping lint DIR`` finds mappings in partner sub-folders; a path with none is an error."""
    write_mapping(tmp_path / "mappings" / "acme", "", header="  currency: { from: BEG.BEG13, optional: 'true' }\n")
    res = run("mapping", "lint", str(tmp_path / "mappings"))
    assert res.returncode == 1
    assert "MAP_UNKNOWN_ELEMENT" in res.stderr
    assert "1 mapping file(s), 1 problem(s)" in res.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run("mapping", "lint", str(empty))
    assert res.returncode == 1
    assert "MAP_NOT_FOUND" in res.stderr
    assert run("mapping", "lint", str(MAPPINGS)).returncode == 0


# -- no tracebacks ----------------------------------------------------------------------------------


def test_unknown_jmespath_function_is_a_typed_failure(tmp_path: Path) -> None:
    """A mapping calling an undefined function gives MAP_EXPRESSION_FAILED, not an exception."""
    path = write_mapping(tmp_path, "", header="  currency: { from: \"nope(BEG)\", optional: 'true' }\n")
    result = load_mapping(path).apply({"BEG": {"BEG03": "X"}})
    assert result.target is None
    assert "MAP_EXPRESSION_FAILED" in [f.code for f in result.failures]


def test_wrong_argument_type_is_a_typed_failure(tmp_path: Path) -> None:
    """``length()`` of a number fails inside JMESPath; the mapping reports it as a failure."""
    path = write_mapping(tmp_path, "", header="  currency: { from: \"length(`1`)\", optional: 'true' }\n")
    result = load_mapping(path).apply({})
    assert "MAP_EXPRESSION_FAILED" in [f.code for f in result.failures]


@pytest.mark.parametrize("doc", [{}, {"PO1_loop": "text"}, {"PO1_loop": [None, 3]},
                                 {"CTT_loop": [{"CTT": {"CTT01": "x", "CTT02": "y"}}]}])
def test_empty_or_odd_documents_end_in_typed_findings(doc: dict[str, object]) -> None:
    """The shipped 850 mapping over empty or malformed views gives findings, never an exception."""
    result = load_mapping(LIVE_850).apply(doc)
    assert result.target is None
    assert result.failures or result.exceptions


def test_failing_sum_check_on_non_numbers_is_typed(tmp_path: Path) -> None:
    """A sum over line values that are not numbers is an exception entry, not an InvalidOperation."""
    check = ("checks:\n  - sum_equals: { target: line_number, source: \"CTT_loop[0].CTT.CTT02\" }\n"
             "    exception: HASH_TOTAL_MISMATCH\n")
    path = write_mapping(tmp_path, "", checks=check)
    view = {"BEG": {"BEG02": "NE", "BEG03": "P1", "BEG05": "20260101"}, "REF": [{"REF01": "CR", "REF02": "V"}],
            "PO1_loop": [{"PO1": {"PO101": "A", "PO102": "1", "PO103": "EA", "PO104": "1", "PO106": "UP",
                                  "PO107": "1"}}],
            "CTT_loop": [{"CTT": {"CTT01": "1", "CTT02": "1"}}]}
    result = load_mapping(path).apply(view)
    assert [e.code for e in result.exceptions] == ["HASH_TOTAL_MISMATCH"]
    assert "not a number" in result.exceptions[0].message


@pytest.mark.parametrize(("ctt01", "ctt02", "ok"), [("07", "7.0", True), ("7", "07", True), ("+7", "7", True),
                                                    ("8", "7", False), ("7", "8", False)])
def test_count_and_sum_checks_compare_numbers(tmp_path: Path, ctt01: str, ctt02: str, ok: bool) -> None:
    """``count_equals`` and ``sum_equals`` compare numbers: CTT01 ``07`` equals 7 lines."""
    check = ("checks:\n  - count_equals: { target: lines, source: \"CTT_loop[0].CTT.CTT01\" }\n"
             "    exception: LINE_COUNT_MISMATCH\n"
             "  - sum_equals: { target: quantity, source: \"CTT_loop[0].CTT.CTT02\" }\n"
             "    exception: HASH_TOTAL_MISMATCH\n")
    path = write_mapping(tmp_path, "", checks=check)
    lines = [{"PO1": {"PO101": str(i), "PO102": "1", "PO103": "EA", "PO104": "1", "PO106": "UP", "PO107": "1"}}
             for i in range(1, 8)]
    view = {"BEG": {"BEG02": "NE", "BEG03": "P1", "BEG05": "20260101"}, "REF": [{"REF01": "CR", "REF02": "V"}],
            "PO1_loop": lines, "CTT_loop": [{"CTT": {"CTT01": ctt01, "CTT02": ctt02}}]}
    result = load_mapping(path).apply(view)
    assert result.failures == []
    assert (result.exceptions == []) is ok, result.exceptions


# -- goldens and the live tables ---------------------------------------------------------------------


def test_operator_edit_of_live_tables_breaks_no_golden(tmp_path: Path) -> None:
    """Adding a row to the live sku-xref.csv (to release a held PO) leaves every golden passing."""
    work = tmp_path / "w"
    shutil.copytree(MAPPINGS, work / "mappings")
    shutil.copytree(ROOT / "samples", work / "samples")
    live = work / "mappings" / "amazon" / "sku-xref.csv"
    live.write_text(live.read_text() + "NEW-SKU-1,,841234999018,,,,9.99,new\n")
    results = [r for f in find_test_files(work / "mappings") for r in run_test_file(f)]
    assert results
    assert [r.name for r in results if not r.ok] == []


def test_golden_depends_on_its_fixture_table(tmp_path: Path) -> None:
    """Editing the test's own fixture table does make the goldens stale (they are sealed on it)."""
    work = tmp_path / "w"
    shutil.copytree(MAPPINGS, work / "mappings")
    shutil.copytree(ROOT / "samples", work / "samples")
    fixture = work / "mappings" / "amazon" / "tests" / "tables" / "sku-xref.csv"
    fixture.write_text(fixture.read_text() + "NEW-SKU-1,,841234999018,,,,9.99,new\n")
    results = run_test_file(work / "mappings" / "amazon" / "tests" / "850_to_sales_order.test.yaml")
    assert any(not r.ok for r in results)
