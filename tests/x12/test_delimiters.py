"""Delimiters: any character the standard allows is accepted, control characters included (RFI #28).

Rejected are only a delimiter equal to another one, an alphanumeric one, and one that occurs in the
data; each rejection names the real problem.
"""

from __future__ import annotations

import pytest

from edi.x12 import X12Validator
from edi.x12.envelope import CONTROL_VERSIONS, parse_isa
from tests.conftest import REALWORLD, need
from tests.x12._util import acknowledge
from tests.x12.test_catalogue import ic

CONTROL = {"BEL": "\x07", "DEL": "\x7f", "NAK": "\x15", "FS": "\x1c", "GS": "\x1d", "RS": "\x1e", "US": "\x1f"}


def interchange(es: str = "*", cs: str = ">", term: str = "~", eol: str = "") -> bytes:
    """The catalogue's four-line PO written with the given delimiters."""
    segs = ic()
    segs[0] = segs[0][:-1] + cs  # ISA16
    return "".join(s.replace("*", es) + term + eol for s in segs).encode("latin-1")


def _isa_problems(es: str, cs: str, term: str) -> list[str]:
    text = interchange(es, cs, term).decode("latin-1")
    return [f"{p.code}: {p.message}" for p in parse_isa(text, CONTROL_VERSIONS).problems]


@pytest.mark.parametrize("name", ["BEL", "DEL", "NAK", "FS", "US"])
def test_control_character_element_separator_is_accepted(name: str) -> None:
    """A control character as element separator (BEL and DEL are seen in retail files) is accepted."""
    report = X12Validator().validate_bytes(interchange(es=CONTROL[name]), "ctl.edi")
    assert report.accepted, [f.one_line() for f in report.findings]
    assert report.transaction_sets == 1


@pytest.mark.parametrize("name", ["NAK", "FS", "GS", "RS", "US", "BEL", "DEL"])
def test_control_character_terminator_is_accepted(name: str) -> None:
    """0x15 (EBCDIC NL) and 0x1C-0x1F as segment terminator are accepted, alone or before CR LF."""
    for eol in ("", "\r\n"):
        report = X12Validator().validate_bytes(interchange(term=CONTROL[name], eol=eol), "ctl.edi")
        assert report.accepted, (eol, [f.one_line() for f in report.findings])


@pytest.mark.parametrize("name", ["BEL", "US", "DEL"])
def test_control_character_component_separator_is_accepted(name: str) -> None:
    """A control character as ISA16 is accepted."""
    report = X12Validator().validate_bytes(interchange(cs=CONTROL[name]), "ctl.edi")
    assert report.accepted, [f.one_line() for f in report.findings]


def test_hudsons_bay_del_and_nak_is_accepted() -> None:
    """The Hudson's Bay 850 (element separator 0x7F, terminator 0x15) is accepted, all four sets."""
    path = need(REALWORLD / "850" / "bots_850-004010VICS-01.x12")
    report = X12Validator().validate_path(path)
    assert report.accepted, [f.one_line() for f in report.findings]
    assert report.transaction_sets == 4


def test_nak_terminator_message_is_not_about_distinctness() -> None:
    """0x15 is distinct from the separators, so no finding may say otherwise."""
    assert _isa_problems("*", ">", "\x15") == []


def test_equal_delimiters_are_rejected_by_name() -> None:
    """A terminator equal to the component separator is rejected, and the message says which two."""
    (problem,) = _isa_problems("*", "~", "~")
    assert problem.startswith("ISA_COMPONENT_SEPARATOR")
    assert "same character as the segment terminator" in problem


def test_alphanumeric_delimiter_is_rejected() -> None:
    """A letter as component separator is rejected as alphanumeric."""
    (problem,) = _isa_problems("*", "A", "~")
    assert problem.startswith("ISA_COMPONENT_SEPARATOR")
    assert "alphanumeric" in problem


def test_delimiter_in_the_data_is_rejected() -> None:
    """A space as terminator occurs in ISA02's padding: rejected, naming the element it occurs in."""
    (problem,) = _isa_problems("*", ">", " ")
    assert problem.startswith("ISA_SEGMENT_TERMINATOR")
    assert "occurs in the data of ISA02" in problem


def test_rejected_delimiters_give_a_ta1() -> None:
    """An interchange with two equal delimiters is answered by a TA1 with its TA105, never a 997."""
    report, acks = acknowledge(interchange(cs="~"))
    assert not report.accepted
    assert {f.ta105 for f in report.findings} == {"027"}
    (doc,) = acks.values()
    assert b"TA1" in doc
    assert b"AK1" not in doc


@pytest.mark.parametrize(("es", "term"), [("\x7f", "\x15"), ("\x07", "\x1c")])
def test_997_uses_the_partners_control_delimiters(es: str, term: str) -> None:
    """The 997 answering a control-delimited interchange uses the same delimiters and validates."""
    report, acks = acknowledge(interchange(es=es, term=term))
    assert report.accepted
    (doc,) = acks.values()
    text = doc.decode("ascii")
    assert (text[3], text[105]) == (es, term)
    again = X12Validator().validate_bytes(doc, "997.edi")
    assert again.accepted, [f.one_line() for f in again.findings]
