"""997 AK9 counts: every AK9 we write agrees with its own AK2/AK5 loops and with what was sent.

AK902 is the number of sets GE01 says were included, AK903 the number received, AK904 the number
whose AK5 is A or E, also when the group is rejected (AK9 R) for its own trailer (GE01 or GE02 wrong).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.x12._util import acknowledge
from tests.x12.test_catalogue import BODY, grp, ic, po, tx, x12

SET_KINDS = ("ok", "se01", "element", "se02")
TRAILERS = ("ok", "ge01", "ge02", "both")


def build_set(kind: str, st02: str) -> list[str]:
    """One 850: valid, or broken in one way that rejects the set (AK5 R)."""
    if kind == "se01":
        return tx(st02=st02, se01="99")
    if kind == "se02":
        return tx(st02=st02, se02="9999")
    if kind == "element":
        body = list(BODY)
        body[0] = "BEG*00*NE*" + "X" * 30 + "**20220131"
        return tx(body, st02=st02)
    return tx(st02=st02)


def build_group(kinds: list[str], trailer: str, gs06: str) -> list[str]:
    """A PO group of the given sets, its GE right or wrong as ``trailer`` says."""
    sets = [build_set(k, f"{i + 1:04d}") for i, k in enumerate(kinds)]
    ge01 = str(len(sets) + 1) if trailer in ("ge01", "both") else None
    ge02 = "1" if trailer in ("ge02", "both") else None
    return grp(sets, gs06=gs06, ge01=ge01, ge02=ge02)


def ak_loops(doc: bytes) -> tuple[list[str], list[list[str]], list[str]]:
    """(AK1, [AK5 per set], AK9) of one 997, elements split."""
    segs = [s.strip().split("*") for s in doc.decode("ascii").split("~") if s.strip()]
    ak1 = next(s for s in segs if s[0] == "AK1")
    ak5 = [s for s in segs if s[0] == "AK5"]
    ak2 = [s for s in segs if s[0] == "AK2"]
    assert len(ak2) == len(ak5)
    ak9 = next(s for s in segs if s[0] == "AK9")
    return ak1, ak5, ak9


groups_strategy = st.lists(
    st.tuples(st.lists(st.sampled_from(SET_KINDS), min_size=1, max_size=5), st.sampled_from(TRAILERS)),
    min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(groups=groups_strategy)
def test_every_ak9_is_consistent(groups: list[tuple[list[str], str]]) -> None:
    """For any mix of good and bad sets and group trailers, AK902-AK905 match the group and its AK5s."""
    gs06s = [str(100 + i) for i in range(len(groups))]
    data = x12(*ic([build_group(kinds, trailer, gs06) for (kinds, trailer), gs06 in zip(groups, gs06s, strict=True)]))
    _, acks = acknowledge(data)
    docs = {}
    for doc in acks.values():
        ak1, ak5, ak9 = ak_loops(doc)
        docs[ak1[2]] = (ak5, ak9)
    assert set(docs) == set(gs06s)
    for (kinds, trailer), gs06 in zip(groups, gs06s, strict=True):
        ak5, ak9 = docs[gs06]
        good = sum(k == "ok" for k in kinds)
        passed = sum(s[1] in ("A", "E") for s in ak5)
        ak9 = [*ak9, "", "", "", ""]
        included = len(kinds) + 1 if trailer in ("ge01", "both") else len(kinds)
        assert (ak9[2], ak9[3], ak9[4]) == (str(included), str(len(kinds)), str(passed))
        assert passed == good
        trailer_codes = {"ok": set(), "ge01": {"5"}, "ge02": {"4"}, "both": {"4", "5"}}[trailer]
        assert set(ak9[5:10]) - {""} == trailer_codes
        if trailer_codes or good == 0:
            assert ak9[1] == "R"
        elif good < len(kinds):
            assert ak9[1] == "P"
        else:
            assert ak9[1] == "A"


def test_ge02_wrong_still_counts_the_accepted_sets() -> None:
    """GE02 wrong: AK9 is R with AK905 4, and AK904 still counts the set that was accepted."""
    _, acks = acknowledge(po(groups=[grp(ge02="1")]))
    (doc,) = acks.values()
    _, ak5, ak9 = ak_loops(doc)
    assert ak5 == [["AK5", "A"]]
    assert ak9 == ["AK9", "R", "1", "1", "1", "4"]


def test_ge01_wrong_still_counts_the_accepted_sets() -> None:
    """GE01 wrong: AK9 is R with AK905 5; AK902 echoes GE01, AK903 and AK904 count what arrived and passed."""
    _, acks = acknowledge(po(groups=[grp(ge01="2")]))
    (doc,) = acks.values()
    _, _, ak9 = ak_loops(doc)
    assert ak9 == ["AK9", "R", "2", "1", "1", "5"]
