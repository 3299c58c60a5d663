"""Syntax notes: every 004010 guide carries exactly the standard's relational conditions.

``cases/syntax_notes.tsv`` is the one reviewed table (segment ID -> rules); every segment of every
004010 guide must match it, so the guides cannot drift apart or away from the standard again. Each
rule corrected against the standard has its own test: an added rule refuses a segment that breaks
only that rule (and accepts it once the rule is met); a removed rule no longer refuses valid data.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest

from edi.x12 import X12Validator
from edi.x12.compiler import check_elements, segment_regex
from edi.x12.envelope import Delimiters
from edi.x12.guide import CompositeDef, ElementDef, GuideRegistry, SegmentDef, load_data_elements
from tests.conftest import REALWORLD, need

TABLE = Path(__file__).parent / "cases" / "syntax_notes.tsv"
DELIMS = Delimiters()

# rules the standard has and the guides lacked (guide, segment, rule)
ADDED = [
    ("810", "CAD", "C0708"), ("810", "CAD", "R0504"), ("810", "CTP", "C0607"), ("810", "CTP", "C0902"),
    ("810", "CTP", "C1002"), ("810", "CTP", "C1103"), ("810", "CTP", "P0405"), ("810", "ISS", "R010305"),
    ("810", "IT3", "R01030405"), ("810", "ITD", "L03040513"), ("810", "ITD", "L08040513"), ("810", "ITD", "L091011"),
    ("810", "PAM", "C0706"), ("810", "PAM", "C0807"), ("810", "PAM", "C0907"), ("810", "PAM", "C1110"),
    ("810", "PAM", "L070809"), ("810", "PAM", "L101112"), ("810", "PAM", "P010203"), ("810", "PAM", "P0405"),
    ("810", "PAM", "P0607"), ("810", "PAM", "P1314"), ("810", "PAM", "R020514"), ("810", "PKG", "C0403"),
    ("810", "PKG", "R040506"), ("810", "PO4", "C0506"), ("810", "PO4", "C1013"), ("810", "PO4", "C1113"),
    ("810", "PO4", "C1213"), ("810", "PO4", "C1716"), ("810", "PO4", "C1804"), ("810", "PO4", "L13101112"),
    ("810", "PO4", "P0203"), ("810", "PO4", "P0607"), ("810", "PO4", "P0809"), ("810", "SAC", "C1110"),
    ("810", "SAC", "L130204"), ("810", "V1", "C0801"), ("810", "YNQ", "C0908"), ("810", "YNQ", "E010910"),
    ("846", "CTP", "C0607"), ("846", "CTP", "C0902"), ("846", "CTP", "C1002"), ("846", "CTP", "C1103"),
    ("846", "CTP", "P0405"), ("846", "PKG", "C0403"), ("846", "PKG", "R040506"), ("846", "SAC", "C1110"),
    ("846", "SAC", "L130204"), ("846", "SCH", "C0304"), ("846", "SCH", "C0908"), ("846", "SCH", "C1008"),
    ("846", "SCH", "L080910"), ("846", "UIT", "C0302"), ("850", "CSH", "C0203"), ("850", "CSH", "P0607"),
    ("850", "CSH", "P0910"), ("850", "CTB", "P0304"), ("850", "CTB", "P0506"), ("850", "CTB", "R020406"),
    ("850", "IT3", "R01030405"), ("850", "IT8", "R0102030507"), ("850", "ITD", "L03040513"),
    ("850", "ITD", "L08040513"), ("850", "ITD", "L091011"), ("850", "PAM", "C0706"), ("850", "PAM", "C0807"),
    ("850", "PAM", "C0907"), ("850", "PAM", "C1110"), ("850", "PAM", "L070809"), ("850", "PAM", "L101112"),
    ("850", "PAM", "P010203"), ("850", "PAM", "P0405"), ("850", "PAM", "P0607"), ("850", "PAM", "P1314"),
    ("850", "PAM", "R020514"), ("850", "PKG", "C0403"), ("850", "PKG", "R040506"), ("850", "PO3", "L040305"),
    ("850", "PO4", "P0203"), ("850", "SAC", "L130204"), ("850", "SCH", "C0908"), ("850", "SCH", "C1008"),
    ("850", "SCH", "L080910"), ("850", "TD3", "E0110"), ("850", "TD5", "C1011"), ("850", "TD5", "C1312"),
    ("850", "TD5", "C1413"), ("850", "TD5", "C1512"), ("855", "ACK", "C282729"), ("855", "ACK", "P2728"),
    ("855", "CSH", "C0203"), ("855", "CSH", "P0607"), ("855", "CSH", "P0910"), ("855", "CTB", "P0304"),
    ("855", "CTB", "P0506"), ("855", "CTB", "R020406"), ("855", "IT8", "R0102030507"), ("855", "ITD", "L03040513"),
    ("855", "ITD", "L08040513"), ("855", "ITD", "L091011"), ("855", "PAM", "C0706"), ("855", "PAM", "C0807"),
    ("855", "PAM", "C0907"), ("855", "PAM", "C1110"), ("855", "PAM", "L070809"), ("855", "PAM", "L101112"),
    ("855", "PAM", "P010203"), ("855", "PAM", "P0405"), ("855", "PAM", "P0607"), ("855", "PAM", "P1314"),
    ("855", "PAM", "R020514"), ("855", "PKG", "C0403"), ("855", "PKG", "R040506"), ("855", "PO3", "L040305"),
    ("855", "PO4", "P0203"), ("855", "SAC", "L130204"), ("855", "SCH", "C0908"), ("855", "SCH", "C1008"),
    ("855", "SCH", "L080910"), ("855", "TD3", "E0110"), ("855", "TD5", "C1011"), ("855", "TD5", "C1312"),
    ("855", "TD5", "C1413"), ("855", "TD5", "C1512"), ("856", "CLD", "C0504"), ("856", "GF", "P0102"),
    ("856", "GF", "P0506"), ("856", "GF", "P0809"), ("856", "LEP", "P0304"), ("856", "LFH", "P0506"),
    ("856", "LH2", "P0607"), ("856", "LH2", "P0809"), ("856", "LH2", "P1011"), ("856", "LH3", "P0102"),
    ("856", "LH4", "P0812"), ("856", "PAL", "C0710"), ("856", "PAL", "C0810"), ("856", "PAL", "C0910"),
    ("856", "PAL", "L10070809"), ("856", "PAL", "P0506"), ("856", "PAL", "P1112"), ("856", "PAL", "P1314"),
    ("856", "PKG", "C0403"), ("856", "PKG", "R040506"), ("856", "PO4", "C0506"), ("856", "PO4", "C1013"),
    ("856", "PO4", "C1113"), ("856", "PO4", "C1213"), ("856", "PO4", "C1716"), ("856", "PO4", "C1804"),
    ("856", "PO4", "L13101112"), ("856", "PO4", "P0203"), ("856", "PO4", "P0607"), ("856", "PO4", "P0809"),
    ("856", "SAC", "C1110"), ("856", "SAC", "L130204"), ("856", "V1", "C0801"), ("856", "YNQ", "C0908"),
    ("856", "YNQ", "E010910"), ("860", "CSH", "C0203"), ("860", "CSH", "P0607"), ("860", "CSH", "P0910"),
    ("860", "CTB", "P0304"), ("860", "CTB", "P0506"), ("860", "CTB", "R020406"), ("860", "IT8", "R0102030507"),
    ("860", "ITD", "L03040513"), ("860", "ITD", "L08040513"), ("860", "ITD", "L091011"), ("860", "PAM", "C0706"),
    ("860", "PAM", "C0807"), ("860", "PAM", "C0907"), ("860", "PAM", "C1110"), ("860", "PAM", "L070809"),
    ("860", "PAM", "L101112"), ("860", "PAM", "P010203"), ("860", "PAM", "P0405"), ("860", "PAM", "P0607"),
    ("860", "PAM", "P1314"), ("860", "PAM", "R020514"), ("860", "PKG", "C0403"), ("860", "PKG", "R040506"),
    ("860", "PO3", "L040305"), ("860", "PO4", "P0203"), ("860", "POC", "C030405"), ("860", "SAC", "L130204"),
    ("860", "SCH", "C0908"), ("860", "SCH", "C1008"), ("860", "SCH", "L080910"), ("860", "TD3", "E0110"),
    ("860", "TD5", "C1011"), ("860", "TD5", "C1312"), ("860", "TD5", "C1413"), ("860", "TD5", "C1512"),
]
# rules the guides had and the standard does not
REMOVED = [
    ("810", "CAD", "P0203"), ("810", "CAD", "P0708"), ("810", "CAD", "R0405"), ("810", "PKG", "C0103"),
    ("810", "PKG", "R0405"), ("810", "V1", "P0108"), ("846", "PKG", "C0103"), ("846", "PKG", "R0405"),
    ("850", "PKG", "C0401"), ("850", "PKG", "R0405"), ("850", "PO4", "C0203"), ("850", "TD3", "E0102"),
    ("855", "PKG", "C0401"), ("855", "PKG", "R0405"), ("855", "PO4", "C0203"), ("855", "TD3", "E0102"),
    ("856", "PKG", "C0103"), ("856", "PKG", "R0405"), ("856", "V1", "P0108"), ("860", "PKG", "C0401"),
    ("860", "PKG", "R0405"), ("860", "PO4", "C0203"), ("860", "TD3", "E0102"),
]


def reviewed_table() -> dict[str, frozenset[str]]:
    """The reviewed table: segment ID -> its syntax notes."""
    out: dict[str, frozenset[str]] = {}
    for line in TABLE.read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        seg, _, rules = line.partition("\t")
        assert seg not in out, f"{seg} is listed twice"
        out[seg] = frozenset(rules.split())
    return out


@cache
def registry() -> GuideRegistry:
    return GuideRegistry()


def segment(set_id: str, seg_id: str) -> SegmentDef:
    guide = registry().get(set_id, "004010")
    assert guide is not None
    return next(s for s in guide.segments() if s.xid == seg_id)


def test_every_guide_segment_matches_the_reviewed_table() -> None:
    """Each segment of each 004010 guide has exactly the rules of its row in the reviewed table."""
    table = reviewed_table()
    wrong = []
    for guide in registry():
        if guide.version != "004010":
            continue
        for seg in guide.segments():
            if seg.xid not in table:
                wrong.append(f"{guide.set_id} {seg.path}: not in the reviewed table")
            elif frozenset(seg.syntax) != table[seg.xid]:
                have = set(seg.syntax)
                wrong.append(f"{guide.set_id} {seg.path}: missing {sorted(table[seg.xid] - have)}, "
                             f"not in the standard {sorted(have - table[seg.xid])}")
    assert not wrong, "\n".join(wrong)


def test_reviewed_table_has_no_stale_rows() -> None:
    """Every row of the reviewed table is used by some 004010 guide."""
    used = {s.xid for g in registry() if g.version == "004010" for s in g.segments()}
    assert set(reviewed_table()) <= used


# -- crafting segments ---------------------------------------------------------------------------


def _positions(rule: str) -> list[int]:
    return [int(rule[i:i + 2]) for i in range(1, len(rule), 2)]


def holds(rule: str, present: set[int]) -> bool:
    """Whether a syntax note holds for the set of present element positions (X12's definitions)."""
    kind, ps = rule[0], _positions(rule)
    has = [p in present for p in ps]
    if kind == "P":
        return all(has) or not any(has)
    if kind == "R":
        return any(has)
    if kind == "E":
        return sum(has) <= 1
    if kind == "C":
        return not has[0] or all(has[1:])
    if kind == "L":
        return not has[0] or any(has[1:])
    raise AssertionError(rule)


def _value(el: ElementDef) -> str:
    de = el.element
    if el.codes:
        return sorted(el.codes)[0]
    if de.data_type == "DT":
        return "20240131" if de.max_len >= 8 else "240131"
    if de.data_type == "TM":
        return "1200"
    if de.data_type.startswith("N") or de.data_type == "R":
        return "1" * max(de.min_len, 1)
    return "A" * max(de.min_len, 1)


def render(seg: SegmentDef, present: set[int]) -> str:
    """The segment with a valid value at every position in ``present`` and nothing elsewhere."""
    values = []
    for i, item in enumerate(seg.elements, 1):
        if i not in present:
            values.append("")
        elif isinstance(item, CompositeDef):
            values.append(DELIMS.component.join(_value(c) for c in item.components if c.required)
                          or _value(item.components[0]))
        else:
            values.append(_value(item))
    while values and not values[-1]:
        values.pop()
    return DELIMS.element.join([seg.xid, *values])


def _fixed(rule: str, *, broken: bool) -> list[dict[int, bool]]:
    """Presences of the rule's own elements that break it (or meet it), one dict per way."""
    kind, ps = rule[0], _positions(rule)
    first, rest = ps[0], ps[1:]
    if broken:
        return {
            "P": [{first: True} | dict.fromkeys(rest, False), {first: False, rest[0]: True}],
            "R": [dict.fromkeys(ps, False)],
            "E": [{first: True, rest[0]: True}],
            "C": [{first: True, r: False} for r in rest],
            "L": [{first: True} | dict.fromkeys(rest, False)],
        }[kind]
    return {
        "P": [dict.fromkeys(ps, True)],
        "R": [{p: True} for p in ps],
        "E": [{first: True} | dict.fromkeys(rest, False)],
        "C": [dict.fromkeys(ps, True)],
        "L": [{first: True, r: True} for r in rest],
    }[kind]


def craft(seg: SegmentDef, target: str, *, broken: bool, others: tuple[str, ...]) -> set[int] | None:
    """Present positions that break (or meet) ``target`` while every rule in ``others`` holds.

    A small local search (WalkSAT): start from the target's own assignment, then flip a free element
    of a violated rule until every other rule holds.
    """
    base = {i: True for i, e in enumerate(seg.elements, 1) if e.required}
    base |= {i: False for i, e in enumerate(seg.elements, 1) if e.usage == "N"}
    rng = random.Random(f"{seg.xid}{target}{broken}")
    for way in _fixed(target, broken=broken):
        if any(base.get(pos, value) != value for pos, value in way.items()):
            continue
        fixed = base | way
        free = [i for i in range(1, len(seg.elements) + 1) if i not in fixed]
        for _ in range(20):
            present = {i for i, v in fixed.items() if v} | {i for i in free if rng.random() < 0.3}
            for _ in range(500):
                violated = [r for r in others if not holds(r, present)]
                if not violated:
                    return present
                flips = [p for p in _positions(rng.choice(violated)) if p not in fixed]
                if flips:
                    present ^= {rng.choice(flips)}
    return None


def verdict(seg: SegmentDef, text: str) -> tuple[bool, list[str]]:
    """(the compiled pattern accepts, the element checker's messages) for one segment text."""
    ok = segment_regex(seg, DELIMS).fullmatch(text) is not None
    return ok, [i.message for i in check_elements(seg, text, DELIMS)]


@pytest.mark.parametrize(("set_id", "seg_id", "rule"), ADDED, ids=[f"{g}-{s}-{r}" for g, s, r in ADDED])
def test_added_rule_is_enforced(set_id: str, seg_id: str, rule: str) -> None:
    """A segment breaking only this rule is refused (naming the rule); meeting it, it is accepted."""
    seg = segment(set_id, seg_id)
    assert rule in seg.syntax
    others = tuple(r for r in seg.syntax if r != rule)
    good = craft(seg, rule, broken=False, others=others)
    assert good is not None
    bad = craft(seg, rule, broken=True, others=others)
    alone = bad is not None
    if bad is None:
        # the rule is implied by another (PAM C0706 by P0607): breaking it breaks that one too
        bad = craft(seg, rule, broken=True, others=())
        assert bad is not None
    text = render(seg, bad)
    ok, messages = verdict(seg, text)
    assert not ok, text
    if alone:
        assert any(f"({rule})" in m for m in messages), (text, messages)
    else:
        assert messages, text
    text = render(seg, good)
    assert verdict(seg, text) == (True, []), text


@pytest.mark.parametrize(("set_id", "seg_id", "rule"), REMOVED, ids=[f"{g}-{s}-{r}" for g, s, r in REMOVED])
def test_removed_rule_no_longer_refuses_valid_data(set_id: str, seg_id: str, rule: str) -> None:
    """A segment that only the removed (non-standard) rule refused is accepted now."""
    seg = segment(set_id, seg_id)
    assert rule not in seg.syntax
    present = craft(seg, rule, broken=True, others=seg.syntax)
    if present is not None:
        text = render(seg, present)
        assert verdict(seg, text) == (True, []), text
        return
    # the standard's rules imply this one (R0405 = R0504; C0203 is weaker than P0203): data breaking it
    # stays refused, under the standard's name for the rule
    present = craft(seg, rule, broken=True, others=())
    assert present is not None
    ok, messages = verdict(seg, render(seg, present))
    assert not ok
    assert messages
    assert not any(f"({rule})" in m for m in messages)


@pytest.mark.parametrize(("set_id", "path_end", "number"), [("856", "LH410", "986"), ("860", "BCH12", "1166")])
def test_element_bound_to_its_standard_data_element(set_id: str, path_end: str, number: str) -> None:
    """LH410 is DE 986 and BCH12 is DE 1166, as in the standard."""
    guide = registry().get(set_id, "004010")
    assert guide is not None
    found = {e.element.number for s in guide.segments() for e in s.elements
             if isinstance(e, ElementDef) and e.xid == path_end}
    assert found == {number}


@pytest.mark.parametrize(("number", "shape"), [("626", ("ID", 1, 2)), ("1051", ("N2", 1, 10)),
                                               ("1321", ("ID", 2, 2))])
def test_data_element_dictionary_row(number: str, shape: tuple[str, int, int]) -> None:
    """DE 626 is ID 1/2, DE 1051 is N2 1/10 and DE 1321 is ID 2/2 in 004010."""
    de = load_data_elements("004010")[number]
    assert (de.data_type, de.min_len, de.max_len) == shape


@pytest.mark.parametrize("name", ["bots_850-004010-04.x12", "bots_850-004010-18.x12"])
def test_safeway_pkg_without_pkg04_is_accepted(name: str) -> None:
    """The Safeway POs with ``PKG******01`` (valid under R040506/C0403) are accepted."""
    report = X12Validator().validate_path(need(REALWORLD / "850" / name))
    assert report.accepted, [f.one_line() for f in report.findings]


def test_td3_with_equipment_initial_and_number_is_accepted() -> None:
    """``TD3*TL*ABCD*07213567`` is valid: TD301 and TD302 may appear together (E0110, not E0102)."""
    seg = segment("850", "TD3")
    assert verdict(seg, "TD3*TL*ABCD*07213567") == (True, [])
