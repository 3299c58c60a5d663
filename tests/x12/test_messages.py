"""Messages and hints name the real problem and fit the set and the group they are about."""

from __future__ import annotations

from edi.x12 import X12Validator
from tests.x12._util import acknowledge
from tests.x12.test_catalogue import BODY, grp, po, tx


def findings(data: bytes) -> dict[str, list[object]]:
    report = X12Validator().validate_bytes(data, "m.edi")
    out: dict[str, list[object]] = {}
    for f in report.findings:
        out.setdefault(f.code, []).append(f)
    return out


def test_group_version_without_guide_is_a_997_rejection_not_a_ta1() -> None:
    """A PO group in 004030 (no guide) is answered by a 997 with AK905 2; the interchange is fine."""
    report, acks = acknowledge(po(groups=[grp(gs08="004030")]))
    assert not report.accepted
    assert not report.interchanges[0].rejected
    (doc,) = acks.values()
    assert b"TA1" not in doc
    assert b"AK9*R*1*1*0*2~" in doc


def test_group_version_message_lists_only_that_groups_versions() -> None:
    """The message lists the versions the group's sets have guides for: 850 has 004010, not 005010."""
    (f,) = findings(po(groups=[grp(gs08="004030")]))["GROUP_VERSION_UNSUPPORTED"]
    assert "(guides for 850: 004010)" in f.message  # type: ignore[attr-defined]
    assert "005010" not in f.message  # type: ignore[attr-defined]


def test_group_version_message_for_ship_notices_lists_both() -> None:
    """An SH group in 004030 is told that 856 guides exist in 004010 and 005010."""
    (f,) = findings(po(groups=[grp([tx(st01="856")], gs01="SH", gs08="004030")]))["GROUP_VERSION_UNSUPPORTED"]
    assert "(guides for 856: 004010, 005010)" in f.message  # type: ignore[attr-defined]


def test_set_not_supported_hint_for_a_set_in_the_wrong_group() -> None:
    """An 810 inside a PO group: the hint says to send it in a GS*IN group, and what a PO group carries."""
    (f,) = findings(po(groups=[grp([tx(st01="810")])]))["SET_NOT_SUPPORTED"]
    assert f.message == "a 810 belongs in a functional group IN, not 'PO'"  # type: ignore[attr-defined]
    assert "GS*IN" in f.hint  # type: ignore[attr-defined]
    assert "carries 850" in f.hint  # type: ignore[attr-defined]


def test_set_not_supported_hint_for_a_version_without_guide() -> None:
    """An 850 in 005010: the hint names the version that has a guide."""
    (f,) = findings(po(groups=[grp(gs08="005010")]))["SET_NOT_SUPPORTED"]
    assert "in version '005010' has no implementation guide" in f.message  # type: ignore[attr-defined]
    assert "send the 850 as version 004010" in f.hint  # type: ignore[attr-defined]


def test_set_not_supported_hint_for_a_set_we_do_not_handle() -> None:
    """A 214 is not one we handle: the hint says to route it elsewhere."""
    (f,) = findings(po(groups=[grp([tx(st01="214")])]))["SET_NOT_SUPPORTED"]
    assert "route it elsewhere" in f.hint  # type: ignore[attr-defined]


def test_gs04_six_digits_says_ccyymmdd() -> None:
    """A 6-digit GS04 (valid YYMMDD) is refused with a message saying 004010 needs CCYYMMDD."""
    data = po().replace(b"*20220131*1340*69800*", b"*220131*1340*69800*")
    (f,) = findings(data)["GS_INVALID_VALUE"]
    assert "need CCYYMMDD" in f.message  # type: ignore[attr-defined]


def test_conditional_rule_reads_as_the_standard() -> None:
    """A PKG with PKG04 but no PKG03 reads 'PKG04 requires PKG03 (C0403)'."""
    body = [*BODY[:5], "PKG*F***ABC", *BODY[5:]]
    report = X12Validator(registry=None).validate_bytes(po(groups=[grp([tx(body)])]), "m.edi")
    messages = [f.message for f in report.findings]
    assert "PKG04 requires PKG03 (C0403)" in messages, messages
