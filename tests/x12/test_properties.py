"""Property tests: writer/reader round trip, mutation robustness, regex and slow path agree."""

from __future__ import annotations

import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.errors import CODES
from edi.x12 import Delimiters, X12Validator
from edi.x12.compiler import CompiledGuide, check_elements
from edi.x12.guide import default_registry
from edi.x12.tree import document_tree
from edi.x12.validator import Document, DocumentCollector
from edi.x12.writer import Party, SegmentWriter, TransactionSet, render_interchange
from tests.conftest import SAMPLES

SPECIALS = "*|^~>:!+\x1d\x1c\x1f"
WHEN = __import__("datetime").datetime(2026, 11, 23, 14, 5)

alnum = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12)


@st.composite
def delimiters(draw: st.DrawFn) -> Delimiters:
    """Three distinct special characters: element separator, component separator, terminator."""
    chars = draw(st.permutations(list("*|^~>:!+")))
    return Delimiters(chars[0], chars[1], chars[2], None)


@st.composite
def purchase_order(draw: st.DrawFn) -> list[list[str]]:
    """The segments (as element lists) of a valid Amazon-shaped 850 body."""
    lines = draw(st.integers(1, 25))
    body = [
        ["BEG", "00", draw(st.sampled_from(["NE", "RO", "NP", "CN"])), draw(alnum), "", "20261123"],
        ["REF", "CR", draw(alnum)],
        ["CSH", draw(st.sampled_from(["Y", "N"]))],
        ["DTM", "064", "20261124"],
        ["DTM", "063", "20261130"],
        ["N1", "ST", "", "15", draw(st.from_regex(r"\A[0-9]{7}\Z"))],
    ]
    total = 0
    for i in range(1, lines + 1):
        qty = draw(st.integers(1, 99999))
        total += qty
        price = draw(st.decimals(min_value="0.01", max_value="99999.99", places=2))
        qual = draw(st.sampled_from(["UP", "EN", "VN", "BP"]))
        body.append(["PO1", str(i), str(qty), draw(st.sampled_from(["EA", "CA"])), str(price), "PE", qual,
                     draw(alnum)])
    body.append(["CTT", str(lines), str(total)])
    return body


def _render(delims: Delimiters, sets: list[list[list[str]]], newline: bool) -> str:
    w = SegmentWriter(delims, newline=newline)
    tsets = [(i, TransactionSet("850", [w.segment(s[0], *s[1:]) for s in body])) for i, body in enumerate(sets, 1)]
    return render_interchange(sender=Party("ZZ", "AMAZON"), receiver=Party("ZZ", "VENDORCO"), delims=delims,
                              when=WHEN, usage="P", control_version="00401", isa13=4711,
                              groups=[("PO", "004010", 4711, tsets)], newline=newline)


def _documents(text: str) -> tuple[list[Document], object]:
    collector = DocumentCollector()
    report = X12Validator(keep_documents=True).validate_bytes(text.encode("latin-1"), "rt.edi", collector)
    return collector.documents, report


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delims=delimiters(), pos=st.lists(purchase_order(), min_size=1, max_size=3), newline=st.booleans())
def test_round_trip_read_of_write_is_identity(delims: Delimiters, pos: list[list[list[str]]], newline: bool) -> None:
    """Whatever the delimiters and line endings, reading what the writer wrote gives back every element."""
    text = _render(delims, pos, newline)
    docs, report = _documents(text)
    assert report.accepted, [f.one_line() for f in report.findings]
    assert len(docs) == len(pos)
    for doc, body in zip(docs, pos, strict=True):
        got = [seg.split(delims.element) for seg in doc.segments[1:-1]]
        expected = [list(s) for s in body]
        # the writer drops trailing empty elements
        for g, e in zip(got, expected, strict=True):
            while e and e[-1] == "":
                e.pop()
            assert g == e
        tree = document_tree(doc)
        assert len(tree["PO1_loop"]) == sum(1 for s in body if s[0] == "PO1")


VALID = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_mutation_of_a_valid_file_yields_a_typed_result(data: st.DataObject) -> None:
    """Random byte edits never raise: they produce a report whose findings all use known codes."""
    buf = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["replace", "insert", "delete", "dup"]))
        i = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "replace" and buf:
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            buf[i:i] = bytes([data.draw(st.integers(0, 255))])
        elif op == "delete" and buf:
            del buf[i]
        else:
            j = data.draw(st.integers(i, min(len(buf), i + 40)))
            buf[i:i] = buf[i:j]
    report = X12Validator().validate_bytes(bytes(buf), "mutant.edi")
    for f in report.findings:
        assert f.code in CODES, f.code
        assert "mutant.edi" in f.one_line()
    if not report.accepted:
        assert report.findings


def _compiled_850() -> CompiledGuide:
    guide = default_registry().get("850", "004010")
    assert guide is not None
    return CompiledGuide(guide, Delimiters())


CG = _compiled_850()
REAL_SEGMENTS = [s.strip() for s in VALID.decode("ascii").split("~") if s.strip()][3:-3]


@settings(max_examples=1500, deadline=None)
@given(data=st.data())
def test_one_step_regex_and_element_checks_agree(data: st.DataObject) -> None:
    """For any edit of a real segment, the compiled regex accepts it exactly when the slow path finds nothing."""
    raw = data.draw(st.sampled_from(REAL_SEGMENTS))
    sid = raw.split("*")[0]
    node = next(n for n in CG.nodes if n.segment is not None and n.segment.xid == sid)
    seg = node.segment
    assert seg is not None
    chars = list(raw)
    for _ in range(data.draw(st.integers(0, 4))):
        pos = data.draw(st.integers(len(sid) + 1, len(chars)))
        choice = data.draw(st.sampled_from(["*", "", "A", "9", ".", "-", " ", "\x01", "é", ">", "0"]))
        if data.draw(st.booleans()) and pos < len(chars):
            chars[pos] = choice
        else:
            chars.insert(pos, choice)
    mutated = "".join(chars)
    fast = CG.regex(node.index).fullmatch(mutated) is not None
    slow = check_elements(seg, mutated, Delimiters())
    assert fast == (not slow), (mutated, [i.message for i in slow])


def test_syntax_rules_agree_on_every_850_segment_definition() -> None:
    """Every 850 segment with relational conditions: each presence pattern is judged alike by both paths."""
    rng = random.Random(7)
    checked = 0
    for node in CG.nodes:
        seg = node.segment
        if seg is None or not seg.syntax:
            continue
        n = len(seg.elements)
        for _ in range(40):
            values = []
            for item in seg.elements:
                if rng.random() < 0.5:
                    values.append("")
                    continue
                values.append(_sample_value(item))
            while values and values[-1] == "":
                values.pop()
            raw = "*".join([seg.xid, *values])
            fast = CG.regex(node.index).fullmatch(raw) is not None
            slow = check_elements(seg, raw, Delimiters())
            assert fast == (not slow), (raw, [i.message for i in slow])
            checked += 1
        assert n
    assert checked > 1000


def _sample_value(item: object) -> str:
    from edi.x12.guide import CompositeDef, ElementDef  # noqa: PLC0415

    if isinstance(item, CompositeDef):
        return ">".join(_sample_value(c) for c in item.components[:1])
    assert isinstance(item, ElementDef)
    de = item.element
    if item.codes:
        return sorted(item.codes)[0]
    if de.data_type == "DT":
        return "20261123" if de.max_len >= 8 else "261123"
    if de.data_type == "TM":
        return "1405"
    if de.data_type.startswith("N") or de.data_type == "R":
        return "1" * max(de.min_len, 1)
    return "A" * max(de.min_len, 1)


def test_date_pattern_matches_the_calendar() -> None:
    """The compiled date pattern accepts exactly the real calendar dates (leap years included)."""
    from datetime import date, timedelta  # noqa: PLC0415

    from edi.x12.compiler import _D8  # noqa: PLC0415

    rx = re.compile(_D8)
    d = date(1999, 1, 1)
    valid = set()
    while d <= date(2101, 3, 1):
        valid.add(d.strftime("%Y%m%d"))
        d += timedelta(days=1)
    for y in (1999, 2000, 2023, 2024, 2100):
        for m in range(0, 14):
            for dd in range(0, 33):
                s = f"{y:04d}{m:02d}{dd:02d}"
                assert (rx.fullmatch(s) is not None) == (s in valid), s


SET_SEGMENTS = [s.strip() for s in VALID.decode("ascii").split("~") if s.strip()]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_whole_set_fast_path_never_accepts_what_the_exact_walk_rejects(data: st.DataObject) -> None:
    """After learning from good sets, the one-regex fast path agrees with the per-segment walk on edited sets."""
    head, body, tail = SET_SEGMENTS[:3], SET_SEGMENTS[3:-3], SET_SEGMENTS[-3:]
    edited = list(body[:-1])
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["drop", "dup", "swap", "edit"]))
        i = data.draw(st.integers(1, len(edited) - 1))
        if op == "drop" and len(edited) > 2:
            del edited[i]
        elif op == "dup":
            edited.insert(i, edited[i])
        elif op == "swap":
            j = data.draw(st.integers(1, len(edited) - 1))
            edited[i], edited[j] = edited[j], edited[i]
        else:
            seg = edited[i]
            k = data.draw(st.integers(len(seg.split("*")[0]) + 1, len(seg)))
            edited[i] = seg[:k] + data.draw(st.sampled_from(["*", "", "X", "9", "*Q"])) + seg[k + 1:]
    edited.append(f"SE*{len(edited) + 1}*{body[0].split('*')[2]}")
    doc = ("~".join([*head, *edited, *tail]) + "~").encode("ascii")
    learned = X12Validator()
    learned.validate_bytes(VALID, "warm.edi")  # learn the good shape
    fast = learned.validate_bytes(doc, "x.edi")
    exact = X12Validator()
    exact_report = exact.validate_bytes(doc, "x.edi")
    assert fast.accepted == exact_report.accepted
    assert [f.one_line() for f in fast.findings] == [f.one_line() for f in exact_report.findings]
