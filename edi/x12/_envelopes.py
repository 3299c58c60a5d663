"""The envelope state machine: interchange, group and transaction-set headers and trailers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from edi.x12._reading import _Reader
from edi.x12._types import _Set
from edi.x12.envelope import (
    GROUP_SETS,
    ascii_digits,
    valid_date,
)
from edi.x12.results import (
    Finding,
    GroupResult,
    Level,
    Position,
)


class _Envelopes(_Reader):
    """ISA/GS/ST/SE/GE/IEA handling: control numbers, counts and envelope order."""

    if TYPE_CHECKING:  # provided by the set stage (_Run)
        def _finish_set(self, cur: _Set, se: list[str] | None, offset: int) -> None: ...

    def _pos(self, offset: int, seg_id: str, element: int | None = None, index: int | None = None) -> Position:
        ic, grp, cur = self.ic, self.grp, self.cur
        return Position(self.report.file, byte_offset=offset, isa13=ic.control_number if ic else None,
                        gs06=grp.gs06 if grp else None, st02=cur.st02 if cur else None, segment_index=index,
                        segment_id=seg_id, element=element)

    def _stray(self, raw: str, offset: int) -> None:
        sid = raw.partition(self.delims.element)[0] if raw else ""
        if sid == "TA1" and self.grp is None:
            # an interchange acknowledgement travels between ISA and IEA, outside any group
            el = raw.split(self.delims.element)
            if (len(el) < 6 or el[4] not in ("A", "E", "R") or not re.fullmatch(r"\d{3}", el[5])
                    or not re.fullmatch(r"\d{9}", el[1]) or not (len(el[2]) == 6 and valid_date(el[2]))
                    or not re.fullmatch(r"(?:[01]\d|2[0-3])[0-5]\d", el[3])):
                self._ic_error("INTERCHANGE_STRUCTURE", "024", f"TA1 segment is malformed: {raw[:60]!r}",
                               self._pos(offset, "TA1"))
            return
        if self.grp is not None:
            # inside a group but outside a set: the set structure is broken
            msg = f"segment {sid or '(empty)'!r} outside a transaction set"
            self.v._add(self.report, Finding("INTERCHANGE_STRUCTURE", Level.GROUP, msg, self._pos(offset, sid),
                                             ak905=None))
            self.grp.rejected = True
        else:
            self._ic_error("INTERCHANGE_STRUCTURE", "024",
                           f"segment {sid or '(empty)'!r} outside a functional group", self._pos(offset, sid))

    def _envelope(self, sid: str, raw: str, offset: int) -> bool:
        """Handle an envelope segment; True when it was the IEA."""
        el = raw.split(self.delims.element)
        if sid == "ST":
            self._st(el, offset)
        elif sid == "SE":
            self._se(el, offset)
        elif sid == "GS":
            if self.cur is not None:
                self._close_set_missing_se(offset)
            if self.grp is not None:
                self._group_error("GE_MISSING", "3", "GE missing before the next GS", offset, "GS")
                self._end_group()
            self._gs(el, offset)
        elif sid == "GE":
            if self.cur is not None:
                self._close_set_missing_se(offset)
            self._ge(el, offset)
        elif sid == "IEA":
            if self.cur is not None:
                self._close_set_missing_se(offset)
            if self.grp is not None:
                self._group_error("GE_MISSING", "3", "GE missing before IEA", offset, "IEA")
                self._end_group()
            self._iea(el, offset)
            return True
        return False

    def _gs(self, el: list[str], offset: int) -> None:
        ic = self.ic
        assert ic is not None
        vals = [*el, *[""] * 9][:9]
        grp = GroupResult(vals[1], vals[6], vals[8], vals[2], vals[3])
        self.grp = grp
        ic.groups.append(grp)
        self.set_numbers = set()
        self.compiled = None
        self.version = vals[8][:6]
        if not re.fullmatch(r"\d{1,9}", grp.gs06):
            self._group_error("GS_CONTROL_NUMBER", "6", f"GS06 {grp.gs06!r} is not a 1-9 digit number", offset,
                              "GS", 6)
        elif grp.gs06 in self.group_numbers:
            self._group_error("GS_CONTROL_NUMBER", "6", f"GS06 {grp.gs06} repeats within the interchange", offset,
                              "GS", 6)
        self.group_numbers.add(grp.gs06)
        if len(el) > 9:
            self._group_error("GS_INVALID_VALUE", None, f"GS has {len(el) - 1} elements, at most 8", offset, "GS")
        if grp.gs01 == "FA":
            grp.acknowledge = False
        sets = GROUP_SETS.get(grp.gs01)
        if sets is None:
            self._group_error("GROUP_NOT_SUPPORTED", "1", f"functional group {grp.gs01!r} is not supported",
                              offset, "GS", 1)
            self.group_ok_sets = frozenset()
        else:
            supported = self.v.registry.sets(self.version) & sets
            if not supported:
                have = sorted(self.v.registry.versions_of(sets))
                names = "/".join(sorted(sets))
                self._group_error("GROUP_VERSION_UNSUPPORTED", "2",
                                  f"no implementation guide for {grp.gs01} ({names}) version {vals[8]!r} "
                                  f"(guides for {names}: {', '.join(have) or 'none'})", offset, "GS", 8)
            self.group_ok_sets = frozenset(supported)
        checks = [
            (2, bool(re.fullmatch(r"[ -~]{2,15}", vals[2])), "GS02 application sender's code"),
            (3, bool(re.fullmatch(r"[ -~]{2,15}", vals[3])), "GS03 application receiver's code"),
            (4, len(vals[4]) == 8 and valid_date(vals[4]), "GS04 date"),
            (5, bool(re.fullmatch(r"(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d\d{0,2})?", vals[5])), "GS05 time"),
            (7, vals[7] in ("X", "T"), "GS07 responsible agency"),
            (8, bool(re.fullmatch(r"[ -~]{1,12}", vals[8])), "GS08 version"),
        ]
        for idx, ok, label in checks:
            if not ok:
                why = ""
                if idx == 4 and len(vals[4]) == 6 and valid_date(vals[4]):
                    why = ": version 004010 and later need CCYYMMDD (8 digits)"
                self._group_error("GS_INVALID_VALUE", None, f"{label} {vals[idx]!r} is invalid{why}", offset, "GS",
                                  idx)
        if self.sink:
            self.sink.group_start(ic, grp)

    def _group_error(self, code: str, ak905: str | None, message: str, offset: int, seg_id: str,
                     element: int | None = None) -> None:
        grp = self.grp
        if grp is None:
            return
        grp.rejected = True
        if ak905 and ak905 not in grp.ak905:
            grp.ak905.append(ak905)
        self.v._add(self.report, Finding(code, Level.GROUP, message, self._pos(offset, seg_id, element),
                                         ak905=ak905))

    def _ge(self, el: list[str], offset: int) -> None:
        grp = self.grp
        if grp is None:
            self._ic_error("INTERCHANGE_STRUCTURE", "024", "GE without a GS", self._pos(offset, "GE"))
            return
        vals = [*el, "", ""][:3]
        if vals[2] != grp.gs06:
            self._group_error("GE_CONTROL_MISMATCH", "4", f"GE02 {vals[2]!r} differs from GS06 {grp.gs06!r}",
                              offset, "GE", 2)
        if vals[1] != str(grp.received) and not (ascii_digits(vals[1]) and int(vals[1]) == grp.received):
            self._group_error("GE_SET_COUNT", "5",
                              f"GE01 says {vals[1]!r} transaction sets, the group has {grp.received}", offset,
                              "GE", 1)
        grp.included = int(vals[1]) if ascii_digits(vals[1]) else grp.received
        self._end_group()

    def _end_group(self) -> None:
        grp, ic = self.grp, self.ic
        assert grp is not None
        assert ic is not None
        # accepted_sets stays the number of sets whose AK5 is A (AK904), even when the group is rejected
        # for its own envelope (GE01/GE02 wrong): the sets themselves were fine
        if self.sink:
            self.sink.group_end(ic, grp)
        self.grp = None

    def _iea(self, el: list[str], offset: int) -> None:
        ic = self.ic
        assert ic is not None
        vals = [*el, "", ""][:3]
        pos = self._pos(offset, "IEA")
        if vals[2] != ic.control_number:
            self._ic_error("IEA_CONTROL_MISMATCH", "001", f"IEA02 {vals[2]!r} differs from ISA13 "
                           f"{ic.control_number!r}", Position(pos.file, offset, isa13=pos.isa13, segment_id="IEA",
                                                              element=2))
        if not ascii_digits(vals[1]) or int(vals[1]) != len(ic.groups):
            self._ic_error("IEA_GROUP_COUNT", "021", f"IEA01 says {vals[1]!r} groups, the interchange has "
                           f"{len(ic.groups)}", Position(pos.file, offset, isa13=pos.isa13, segment_id="IEA",
                                                         element=1))
        self._end_interchange(complete=True)

    def _missing_iea(self, offset: int) -> None:
        if self.cur is not None:
            self._close_set_missing_se(offset)
        if self.grp is not None:
            self._group_error("GE_MISSING", "3", "GE missing at the end of the interchange", offset, "GE")
            self._end_group()
        self._ic_error("IEA_MISSING", "023", "the interchange has no IEA (premature end of input)",
                       self._pos(offset, "IEA"))
        self._end_interchange(complete=False)

    def _end_interchange(self, *, complete: bool) -> None:
        ic = self.ic
        assert ic is not None
        ic.complete = complete
        if self.sink:
            self.sink.interchange_end(ic)
        self.ic = None
        self.group_numbers = set()
        if not complete or ic.rejected:
            self.report.quarantine = True

    # -- transaction sets ------------------------------------------------------------------------

    def _st(self, el: list[str], offset: int) -> None:
        if self.cur is not None:
            self._close_set_missing_se(offset)
        grp = self.grp
        if grp is None:
            self._ic_error("INTERCHANGE_STRUCTURE", "024", "ST outside a functional group (GS missing)",
                           self._pos(offset, "ST"))
            # read the set anyway so its bytes are accounted for, in a throwaway group
            self.grp = GroupResult("", "", "", "", "", rejected=True, acknowledge=False)
            self.ic.groups.append(self.grp) if self.ic else None
        vals = [*el, "", ""][:3]
        self.cur = _Set(vals[1], vals[2], offset, [], {0: offset}, [], [], seplen=len(self.delims.segment + self.eol))
        self.cur.segments.append("ST" + self.delims.element + self.delims.element.join(el[1:]))

    def _se(self, el: list[str], offset: int) -> None:
        cur = self.cur
        if cur is None:
            if self.grp is not None:
                self._group_error("INTERCHANGE_STRUCTURE", None, "SE without ST", offset, "SE")
            else:
                self._ic_error("INTERCHANGE_STRUCTURE", "024", "SE outside a functional group",
                               self._pos(offset, "SE"))
            return
        cur.explicit[len(cur.segments)] = offset
        cur.segments.append(self.delims.element.join(el))
        self._finish_set(cur, el, offset)

    def _close_set_missing_se(self, offset: int) -> None:
        cur = self.cur
        assert cur is not None
        self._finish_set(cur, None, offset)
