"""997 and TA1 generation, checked by our own 997 guide, by pyx12 and by Bots."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi.x12 import X12Validator
from tests.conftest import CORPUS, SAMPLES, need
from tests.x12._util import acknowledge, bots_errors, pyx12_errors, pyx12_map_dir, segments

SE_COUNT_WRONG = CORPUS / "850" / "amazon_850_real_HOUBX_PO1-stripped_SE-count-wrong.edi"
REAL_PO = CORPUS / "850" / "amazon_850_real_vendor-HOUBX_PO-1PCPDX1U.edi"

INPUTS = sorted((SAMPLES / "inbound").glob("*.edi")) + sorted((SAMPLES / "malformed").glob("*.edi"))


def _body(doc: bytes) -> list[str]:
    segs = segments(doc)
    start = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    end = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    return segs[start:end + 1]


def test_997_for_amazon_po_with_po1_stripped_matches_the_guide() -> None:
    """The broken real PO gets exactly the 997 body printed in the Amazon guide (AK3 PO1 missing at 8)."""
    report, acks = acknowledge(need(SE_COUNT_WRONG).read_bytes(), SE_COUNT_WRONG.name)
    assert not report.accepted
    (doc,) = acks.values()
    assert _body(doc) == ["ST*997*0001", "AK1*PO*69737", "AK2*850*0001", "AK3*PO1*8**3", "AK5*R*4*5",
                          "AK9*R*1*1*0", "SE*7*0001"]


def test_997_for_real_amazon_po_accepts_and_reverses_the_envelope() -> None:
    """A good Amazon PO is accepted; the 997 goes from the PO's receiver back to Amazon, same ISA15."""
    report, acks = acknowledge(need(REAL_PO).read_bytes(), REAL_PO.name)
    assert report.accepted
    (doc,) = acks.values()
    segs = segments(doc)
    isa = segs[0].split("*")
    assert (isa[5], isa[6].strip(), isa[7], isa[8].strip()) == ("12", "8009225524", "ZZ", "AMAZON")
    assert isa[15] == "P"
    assert segs[1].split("*")[1:4] == ["FA", "8009225524", "AMAZON"]
    assert _body(doc) == ["ST*997*0001", "AK1*PO*69737", "AK2*850*0001", "AK5*A", "AK9*A*1*1*1", "SE*6*0001"]
    assert segs[-2:] == ["GE*1*" + segs[1].split("*")[6], "IEA*1*" + isa[13]]


def test_ta1_written_when_interchange_envelope_is_in_error() -> None:
    """IEA02 differing from ISA13 rejects the interchange: a TA1 R 001 and no 997."""
    data = (SAMPLES / "malformed" / "x12_iea02_mismatch.edi").read_bytes()
    report, acks = acknowledge(data)
    assert [n.split("_")[0] for n in acks] == ["TA1"]
    ta1 = next(s for s in segments(next(iter(acks.values()))) if s.startswith("TA1"))
    assert ta1.split("*")[4:6] == ["R", "001"]
    assert report.interchanges[0].rejected


def test_ta1_accepted_when_isa14_requests_it() -> None:
    """ISA14 = 1 on a good interchange yields TA1 A 000 beside the 997."""
    data = REAL_PO.read_bytes() if REAL_PO.exists() else (SAMPLES / "inbound" / "01_single_line.edi").read_bytes()
    text = data.decode("ascii")
    isa_end = 106
    isa = text[:isa_end]
    parts = isa.split(isa[3])
    parts[14] = "1"
    data = (isa[3].join(parts) + text[isa_end:]).encode("ascii")
    _, acks = acknowledge(data)
    kinds = sorted(n.split("_")[0] for n in acks)
    assert kinds == ["997", "TA1"]
    ta1_doc = next(v for k, v in acks.items() if k.startswith("TA1"))
    ta1 = next(s for s in segments(ta1_doc) if s.startswith("TA1"))
    assert ta1.split("*")[4:6] == ["A", "000"]


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_997_we_write_validates_under_our_own_997_guide(path: Path) -> None:
    """Each 997 produced for a sample (good or malformed) is itself accepted by our validator."""
    _, acks = acknowledge(path.read_bytes(), path.name)
    for name, doc in acks.items():
        if name.startswith("997"):
            report = X12Validator().validate_bytes(doc, name)
            assert report.accepted, [f.one_line() for f in report.findings]


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_997_we_write_validates_under_pyx12(path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """pyx12's shipped 997 4010 map (HIPAA-only code lists widened) finds no error in our 997s."""
    map_dir = pyx12_map_dir(tmp_path_factory.getbasetemp())
    _, acks = acknowledge(path.read_bytes(), path.name)
    for name, doc in acks.items():
        if name.startswith("997"):
            assert pyx12_errors(doc.decode("ascii"), map_dir) == []


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_997_we_write_parses_under_bots(path: Path) -> None:
    """Bots' 997 004010 grammar accepts every 997 we write."""
    _, acks = acknowledge(path.read_bytes(), path.name)
    for name, doc in acks.items():
        if name.startswith("997"):
            assert bots_errors(doc) == []


def test_group_with_some_sets_rejected_is_partially_accepted() -> None:
    """One bad set out of two gives AK9 P with counts 2/2/1 and only the bad set rejected."""
    good = (SAMPLES / "inbound" / "07_two_pos_one_group.edi").read_bytes().decode("ascii")
    beg = next(line for line in good.splitlines() if line.startswith("BEG*"))
    bad = good.replace(beg, beg[: beg.rindex("*") + 1] + "20261332~", 1)
    report, acks = acknowledge(bad.encode("ascii"))
    body = _body(next(iter(acks.values())))
    assert body[-2].startswith("AK9*P*2*2*1")
    assert report.interchanges[0].groups[0].ak901 == "P"


def test_ack_for_huge_group_streams_through_a_spool() -> None:
    """A group of 3,000 sets is acknowledged with 3,000 AK2 loops and a correct SE count."""
    one = (SAMPLES / "inbound" / "01_single_line.edi").read_bytes().decode("ascii").replace("\n", "")
    segs = [s for s in one.split("~") if s]
    head, body, tail = segs[:2], segs[2:-2], segs[-2:]
    sets = []
    for i in range(1, 3001):
        st = [f"ST*850*{i:04d}", *body[1:-1], f"SE*{len(body)}*{i:04d}"]
        sets.extend(st)
    gs06 = head[1].split("*")[6]
    doc = "~".join([*head, *sets, f"GE*3000*{gs06}", tail[1]]) + "~"
    report, acks = acknowledge(doc.encode("ascii"))
    assert report.accepted, [f.one_line() for f in report.findings[:3]]
    body997 = _body(next(iter(acks.values())))
    assert sum(1 for s in body997 if s.startswith("AK2*")) == 3000
    assert body997[-1] == f"SE*{len(body997)}*0001"
