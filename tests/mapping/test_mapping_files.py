"""Shipped mappings: golden tests pass, lint is clean, problems point at file:line:col."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edi.mapping import MappingSpecError, lint_mapping, load_mapping
from edi.mapping.testing import find_test_files, run_test_file
from tests.conftest import ROOT

MAPPINGS = ROOT / "mappings"
TEST_FILES = find_test_files(MAPPINGS)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_shipped_mapping_goldens_pass(test_file: Path) -> None:
    """Every case of every shipped mapping test matches its golden (the CLI runs the same runner)."""
    results = run_test_file(test_file)
    assert results
    failed = [f"{r.name}: {r.message}\n{r.diff}" for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_shipped_mappings_lint_clean() -> None:
    """The Amazon mapping has no schema, field, expression, lookup or code-list problem."""
    for path in sorted(MAPPINGS.glob("*/*.yaml")):
        assert lint_mapping(path) == [], path


def test_hand_edited_golden_fails_with_regenerate_message(tmp_path: Path) -> None:
    """Changing one value in a golden makes its case fail and asks for a reviewed regeneration."""
    work = tmp_path / "m"
    shutil.copytree(MAPPINGS / "amazon", work / "mappings" / "amazon")
    shutil.copytree(ROOT / "samples", work / "samples")
    golden = work / "mappings" / "amazon" / "tests" / "golden" / "01_single_line.json"
    body = json.loads(golden.read_text())
    body["documents"][0]["target"]["lines"][0]["quantity"] += 1
    golden.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    results = run_test_file(work / "mappings" / "amazon" / "tests" / "850_to_sales_order.test.yaml")
    bad = [r for r in results if not r.ok]
    assert [r.name for r in bad] == ["one-line PO maps to a one-line sales order"]
    assert "regenerate" in bad[0].message


def test_lint_reports_every_problem_with_its_position(tmp_path: Path) -> None:
    """Unknown field, unknown table, bad expression and a code the guide forbids: all reported, located."""
    (tmp_path / "x.csv").write_text("sku,upc\n")
    (tmp_path / "m.yaml").write_text(
        "mapping: m\n"
        "version: '1'\n"
        "source: x12/004010/850\n"
        "target: sales_order\n"
        "lookups:\n"
        "  xref: { file: x.csv }\n"
        "header:\n"
        "  vendor_central_po_numbr: { from: BEG.BEG03 }\n"
        "  order_type: { from: BEG.BEG02, map: { NE: standard, DS: standard } }\n"
        "  ship_to: { from: 'N1_loop[?', lookup: { table: nope, key: a, take: b } }\n"
        "  vendor_code: { from: REF.REF02, lookup: { table: xref, key: upc, take: vendor } }\n")
    codes = [(f.code, f.mark.line if f.mark else None) for f in lint_mapping(tmp_path / "m.yaml")]
    assert ("MAP_UNKNOWN_FIELD", 8) in codes
    assert ("MAP_BAD_EXPRESSION", 10) in codes
    assert ("MAP_UNKNOWN_TABLE", 10) in codes
    assert ("MAP_UNKNOWN_COLUMN", 11) in codes
    with pytest.raises(MappingSpecError) as info:
        load_mapping(tmp_path / "m.yaml")
    assert f"{tmp_path / 'm.yaml'}:8:3: MAP_UNKNOWN_FIELD" in str(info.value)


def test_guide_code_list_check(tmp_path: Path) -> None:
    """A map listing a BEG02 code Amazon's guide layer does not allow is a lint finding."""
    src = (MAPPINGS / "amazon" / "850_to_sales_order.yaml").read_text()
    shutil.copy(MAPPINGS / "amazon" / "sku-xref.csv", tmp_path)
    shutil.copy(MAPPINGS / "amazon" / "fulfillment-centers.csv", tmp_path)
    (tmp_path / "m.yaml").write_text(src.replace("CN: consigned }", "CN: consigned, DS: standard }"))
    findings = lint_mapping(tmp_path / "m.yaml")
    assert [f.code for f in findings] == ["MAP_CODE_NOT_IN_GUIDE"]
    assert "'DS'" in findings[0].message


def test_yaml_scalars_stay_strings(tmp_path: Path) -> None:
    """A mapping value like 004010 or NO is read as a string, never a number or boolean."""
    spec, _ = __import__("edi.mapping.loader", fromlist=["read_mapping"]).read_mapping(
        MAPPINGS / "amazon" / "850_to_sales_order.yaml")
    assert spec.source == "x12/004010/850"
    assert spec.header["order_type"].map == {"NE": "standard", "RO": "rush", "NP": "new_product", "CN": "consigned"}


GOLDEN_X12 = sorted(p for p in (MAPPINGS / "amazon" / "tests" / "golden").glob("*.json")
                    if json.loads(p.read_text()).get("x12"))


@pytest.mark.parametrize("golden", GOLDEN_X12, ids=lambda p: p.name)
def test_rendered_goldens_validate_under_our_guides_and_bots(golden: Path) -> None:
    """Every 855/856 the shipped mappings render validates under our own guides and parses under Bots."""
    from edi.x12 import Limits, X12Validator  # noqa: PLC0415
    from edi.x12.envelope import VERSIONS_4010_FAMILY, VERSIONS_5010  # noqa: PLC0415
    from tests.x12._util import bots_errors  # noqa: PLC0415

    data = "\n".join(json.loads(golden.read_text())["x12"]).encode("ascii")
    report = X12Validator(limits=Limits(supported_versions=VERSIONS_4010_FAMILY | VERSIONS_5010)).validate_bytes(
        data, golden.name)
    assert report.accepted, [f.one_line() for f in report.findings]
    assert bots_errors(data) == []
