"""Reading a partner's 997: which of our groups and sets it accepts or rejects, and why.

A 997 answers one functional group (AK1: functional identifier and our GS06), optionally set by
set (AK2 + AK5, with AK3/AK4 notes), and always with a group verdict (AK9). Amazon sends
group-level 997s (AK1 + AK9 only) as well as detailed ones; both read the same way here. We
never answer a 997 (the reader marks FA groups as not to be acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edi.x12.validator import Document

VERDICTS = {"A": "accepted", "E": "accepted_with_errors", "P": "partial", "R": "rejected", "M": "rejected",
            "W": "rejected", "X": "rejected"}
"""AK901/AK501 codes -> our ack status (M, W, X: rejected for security or message authentication reasons)."""


@dataclass(frozen=True)
class SetAck:
    """One AK2 loop: the set it names, its AK501 code and the AK3/AK4 notes as text."""

    st01: str
    st02: str
    code: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupAck:
    """What one 997 says about one of our functional groups."""

    functional_id: str
    group_control: str
    code: str
    sets: tuple[SetAck, ...] = field(default=())
    ak9: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """accepted | accepted_with_errors | partial | rejected (unknown codes count as rejected)."""
        return VERDICTS.get(self.code, "rejected")

    def problems(self) -> list[str]:
        """One line per rejected or erroneous set, with its notes; the AK9 error codes when no set says more."""
        out = [f"set {s.st01} {s.st02}: AK5 {s.code}" + (f" ({'; '.join(s.notes)})" if s.notes else "")
               for s in self.sets if s.code != "A"]
        if not out and self.code != "A":
            out.append(f"group AK9 {self.code}" + (f" (codes {', '.join(self.ak9)})" if self.ak9 else ""))
        return out


def read_997(doc: Document) -> GroupAck | None:
    """The group verdict of an accepted 997 set, or None when it has no AK1/AK9 (it would not validate)."""
    es = doc.delimiters.element
    ak1: list[str] | None = None
    ak9: list[str] | None = None
    sets: list[SetAck] = []
    current: list[str] | None = None
    notes: list[str] = []
    for raw in doc.segments:
        el = raw.split(es)
        sid = el[0]
        if sid == "AK1":
            ak1 = el
        elif sid == "AK2":
            current, notes = el, []
        elif sid == "AK3":
            notes.append(f"{_at(el, 1)} at segment {_at(el, 2)}: AK304 {_at(el, 4)}")
        elif sid == "AK4":
            notes.append(f"element {_at(el, 1)}: AK403 {_at(el, 3)}")
        elif sid == "AK5" and current is not None:
            sets.append(SetAck(_at(current, 1), _at(current, 2), _at(el, 1), tuple(notes)))
            current = None
        elif sid == "AK9":
            ak9 = el
    if ak1 is None or ak9 is None:
        return None
    return GroupAck(_at(ak1, 1), _at(ak1, 2).lstrip("0") or "0", _at(ak9, 1), tuple(sets),
                    tuple(x for x in ak9[5:10] if x))


def _at(el: list[str], i: int) -> str:
    return el[i] if len(el) > i else ""
