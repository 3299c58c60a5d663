"""Inputs the fuzzer once crashed on: each now yields a typed result, acknowledgements included."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi.errors import CODES
from tests.x12._util import acknowledge

CASES = sorted((Path(__file__).parent / "cases" / "fuzz").glob("*"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fuzz_case_is_handled(path: Path) -> None:
    """Validation and acknowledgement finish without an exception; every finding has a known code."""
    report, acks = acknowledge(path.read_bytes(), path.name)
    assert all(f.code in CODES for f in report.findings)
    for doc in acks.values():
        doc.decode("ascii")
