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

Goldens carry ``_hash`` = SHA-256 of the mapping, its lookup tables and the input; they are
written only by ``edi mapping test --update``. A stale or hand-edited golden fails with
"regenerate and review the diff". The CLI and pytest use this same runner.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edi.config.loader import load_yaml
from edi.mapping.engine import CompiledMapping, MappingResult
from edi.mapping.loader import load_mapping
from edi.mapping.source import document_view, read_documents


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one test case."""

    test_file: str
    name: str
    ok: bool
    message: str = ""
    diff: str = ""


def _fingerprint(mapping: CompiledMapping, input_path: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(mapping.source_file).read_bytes())
    for name in sorted(mapping.tables):
        h.update(name.encode())
        h.update(mapping.tables[name].path.read_bytes())
    h.update(input_path.read_bytes())
    return h.hexdigest()


def result_json(result: MappingResult) -> dict[str, Any]:
    """A stable JSON form of one mapping result."""
    return {
        "target": result.target.model_dump(mode="json") if result.target is not None else None,
        "exceptions": [{"code": e.code, "line": e.line, "field": e.field, "value": e.value, "message": e.message,
                        "hint": e.hint} for e in result.exceptions],
        "failures": [{"code": f.code, "line": f.line, "field": f.field, "message": f.message} for f in result.failures],
        "rejected_lines": list(result.rejected_lines),
    }


def translate_file(mapping: CompiledMapping, input_path: Path) -> dict[str, Any]:
    """Validate an X12 file, then map each accepted document: the golden's body."""
    report, docs = read_documents(input_path)
    return {
        "accepted": report.accepted,
        "findings": [f.one_line().replace(str(input_path), input_path.name) for f in report.findings],
        "documents": [{"st02": d.control_number, **result_json(mapping.apply(document_view(d)))} for d in docs],
    }


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def run_test_file(test_file: str | Path, *, update: bool = False) -> list[CaseResult]:
    """Run every case of one test file."""
    tf = Path(test_file)
    spec = load_yaml(tf)
    base = tf.parent
    mapping = load_mapping(base / str(spec["mapping"]))
    out: list[CaseResult] = []
    for case in spec.get("cases", []):
        name = str(case.get("name", "?"))
        input_path = base / str(case["input"])
        golden_path = base / str(case["expect"])
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


def find_test_files(path: str | Path) -> list[Path]:
    """A test file itself, or every ``*.test.yaml`` under a directory."""
    p = Path(path)
    return [p] if p.is_file() else sorted(p.rglob("*.test.yaml"))
