"""Render X12: segments with the partner's delimiters, fixed-width ISA, counted trailers.

Values are written as given; a value holding a delimiter or a control character cannot be
written in 004010 (there is no escape) and raises ``OutboundValueError`` naming the element.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from edi.errors import OutboundValueError
from edi.x12.envelope import Delimiters, render_isa

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\uffff]")


@dataclass(frozen=True, slots=True)
class Party:
    """An interchange party: ISA qualifier and ID, and the GS application code."""

    qualifier: str
    id: str
    gs_code: str = ""

    @property
    def application(self) -> str:
        """GS02/GS03 code (defaults to the ISA ID)."""
        return self.gs_code or self.id


class SegmentWriter:
    """Turns element lists into segment text with one set of delimiters."""

    def __init__(self, delims: Delimiters, *, newline: bool = False) -> None:
        self.delims = delims
        self.eol = "\n" if newline else ""
        forbidden = {delims.element, delims.segment, delims.component}
        if delims.repetition:
            forbidden.add(delims.repetition)
        self._forbidden = re.compile("[" + "".join(re.escape(c) for c in sorted(forbidden)) + "]")

    def check(self, seg_id: str, position: int, value: str, *, composite: bool = False) -> str:
        """Return ``value`` if it can be written, else raise ``OutboundValueError``."""
        bad = _CONTROL.search(value)
        if bad is None:
            bad = self._forbidden.search(value)
            if bad is not None and composite and bad.group() == self.delims.component:
                bad = None
                rest = value.replace(self.delims.component, "")
                bad = self._forbidden.search(rest)
        if bad is not None:
            raise OutboundValueError(
                f"{seg_id}{position:02d} value {value!r} contains {bad.group()!r}, which cannot be written in X12",
                hint="X12 004010 has no escape: fix the value at its source (IMS data or mapping)",
            )
        return value

    def segment(self, seg_id: str, *elements: str | Sequence[str] | None) -> str:
        """One segment with its terminator; trailing empty elements are dropped.

        An element given as a sequence is a composite (components joined by the component separator).
        """
        values: list[str] = []
        for i, el in enumerate(elements, 1):
            if el is None:
                values.append("")
            elif isinstance(el, str):
                values.append(self.check(seg_id, i, el))
            else:
                comps = [self.check(seg_id, i, c) for c in el]
                while comps and comps[-1] == "":
                    comps.pop()
                values.append(self.delims.component.join(comps))
        while values and values[-1] == "":
            values.pop()
        body = self.delims.element.join([seg_id, *values])
        return body + self.delims.segment + self.eol


@dataclass
class TransactionSet:
    """The body of one ST..SE (segments between ST and SE, already rendered)."""

    set_id: str
    body: list[str] = field(default_factory=list)


def render_interchange(*, sender: Party, receiver: Party, delims: Delimiters, when: datetime, usage: str,
                       control_version: str, isa13: int, groups: Iterable[tuple[str, str, int, list[tuple[
                           int, TransactionSet]]]], ack_requested: str = "0", newline: bool = False) -> str:
    """Render a whole interchange.

    ``groups`` yields ``(gs01, gs08, gs06, [(st02, set), ...])``. SE01, GE01 and IEA01 are counted here.
    """
    w = SegmentWriter(delims, newline=newline)
    isa = render_isa([
        "00", "", "00", "", sender.qualifier, sender.id, receiver.qualifier, receiver.id,
        when.strftime("%y%m%d"), when.strftime("%H%M"), delims.isa11, control_version, str(isa13),
        ack_requested, usage, delims.component,
    ], delims)
    out = [isa + delims.segment + w.eol]
    n_groups = 0
    for gs01, gs08, gs06, sets in groups:
        n_groups += 1
        out.append(w.segment("GS", gs01, sender.application, receiver.application, when.strftime("%Y%m%d"),
                             when.strftime("%H%M"), str(gs06), "X", gs08))
        for st02, ts in sets:
            st02s = f"{st02:04d}"
            out.append(w.segment("ST", ts.set_id, st02s))
            out.extend(ts.body)
            out.append(w.segment("SE", str(len(ts.body) + 2), st02s))
        out.append(w.segment("GE", str(len(sets)), str(gs06)))
    out.append(w.segment("IEA", str(n_groups), f"{isa13:09d}"))
    return "".join(out)
