"""Real-world files (``../shared/corpus/realworld``, see its SOURCES.md): the verdicts the standard gives.

Valid 004010 documents in 00403 envelopes, with control-character delimiters or with the syntax
notes the guides used to get wrong are accepted; the files that break the standard are rejected with
the code that names why.
"""

from __future__ import annotations

import pytest

from edi.x12 import X12Validator
from tests.conftest import REALWORLD, need
from tests.x12._util import acknowledge

ACCEPTED = [
    "810/bots_retailer_810_1.x12",       # ISA12 00403, GS08 004010
    "856/bots_retailer_856_1.x12",       # ISA12 00403, ISA11 '^'
    "856/bots_retailer_856_2.x12",
    "997/bots_retailer_997_1.x12",
    "997/bots_997-004010VICS-01.x12",    # terminator 0x15
    "850/bots_850-004010VICS-01.x12",    # separator 0x7F, terminator 0x15
    "850/bots_850-004010-04.x12",        # Safeway PKG******01
    "850/bots_850-004010-18.x12",
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_valid_real_world_file_is_accepted(name: str) -> None:
    """A valid real-world 004010 file is accepted, every set of it."""
    report = X12Validator().validate_path(need(REALWORLD / name))
    assert report.accepted, [f.one_line() for f in report.findings]
    assert report.transaction_sets >= 1


def test_004030_group_is_a_group_rejection() -> None:
    """The Canadian 850 in 004030 is rejected by its 997 (AK905 2), not by a TA1."""
    data = need(REALWORLD / "850" / "bots_850-004030-01.x12").read_bytes()
    report, acks = acknowledge(data, "bots_850-004030-01.x12")
    assert "GROUP_VERSION_UNSUPPORTED" in {f.code for f in report.findings}
    assert not report.interchanges[0].rejected
    (doc,) = acks.values()
    text = doc.decode("ascii")
    es, term = text[3], text[105]
    segments = [s.strip().split(es) for s in text.split(term) if s.strip()]
    assert not [s for s in segments if s[0] == "TA1"]
    (ak9,) = [s for s in segments if s[0] == "AK9"]
    assert (ak9[1], ak9[-1]) == ("R", "2")


def test_therma_tru_p0506_violation_rejects_only_that_set() -> None:
    """Set 1 has DTM05 without DTM06 (P0506): it alone is rejected, so the group is partially accepted."""
    report = X12Validator().validate_path(need(REALWORLD / "850" / "bots_850-004010-05.x12"))
    codes = [f.code for f in report.findings]
    assert codes == ["ELEMENT_CONDITIONAL_MISSING"]
    assert "(P0506)" in report.findings[0].message
    group = report.interchanges[0].groups[0]
    assert (group.received, group.accepted_sets, group.ak901) == (2, 1, "P")
