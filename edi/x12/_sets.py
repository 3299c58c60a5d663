"""Transaction-set validation: the whole-set fast path, the per-segment walk and its findings."""

from __future__ import annotations

import re
from collections.abc import Callable

from edi.x12._envelopes import _Envelopes
from edi.x12._types import Document, _Set
from edi.x12.compiler import CompiledGuide, check_elements
from edi.x12.envelope import (
    SET_GROUP,
    Delimiters,
    ascii_digits,
)
from edi.x12.guide import CompositeDef, SegmentDef
from edi.x12.results import (
    ElementNote,
    Finding,
    Level,
    Position,
    SegmentNote,
    SetResult,
)

_SEG_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_AK304_TEXT = {
    "1": "unrecognized segment ID", "2": "unexpected segment", "3": "mandatory segment missing",
    "4": "loop occurs over maximum times", "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set", "7": "segment not in proper sequence",
    "8": "segment has data element errors",
}
_AK304_CODE = {"1": "SEGMENT_UNRECOGNIZED", "2": "SEGMENT_UNEXPECTED", "3": "SEGMENT_MISSING",
               "4": "LOOP_OVER_MAX", "5": "SEGMENT_OVER_MAX", "6": "SEGMENT_NOT_IN_SET",
               "7": "SEGMENT_OUT_OF_ORDER"}
_AK403_CODE = {"1": "ELEMENT_MISSING", "2": "ELEMENT_CONDITIONAL_MISSING", "3": "ELEMENT_TOO_MANY",
               "4": "ELEMENT_TOO_SHORT", "5": "ELEMENT_TOO_LONG", "6": "ELEMENT_INVALID_CHARACTER",
               "7": "ELEMENT_INVALID_CODE", "8": "ELEMENT_INVALID_DATE", "9": "ELEMENT_INVALID_TIME",
               "10": "ELEMENT_EXCLUSION"}


class _Run(_Envelopes):
    """Validates each transaction set against its compiled guide and reports what is wrong."""

    def _finish_set(self, cur: _Set, se: list[str] | None, offset: int) -> None:
        grp = self.grp
        assert grp is not None
        self.cur = None
        grp.received += 1
        self.report.transaction_sets += 1
        count = len(cur.segments) + cur.dropped
        self.report.segments += count
        res = SetResult(cur.st01, cur.st02, segment_count=count, byte_offset=cur.offset)
        pos = self._set_position(cur)

        def set_error(code: str, ak502: str, message: str, where: Position | None = None,
                      advice: str | None = None) -> None:
            res.accepted = False
            if ak502 not in res.ak502:
                res.ak502.append(ak502)
            self.v._add(self.report, Finding(code, Level.SET, message, where or pos(), ak502=ak502, advice=advice))

        if grp.received > self.limits.max_sets_per_group:
            if grp.received == self.limits.max_sets_per_group + 1:
                self._group_error("GROUP_TOO_LARGE", None,
                                  f"more than {self.limits.max_sets_per_group} transaction sets in the group",
                                  cur.offset, "ST")
            self.report.quarantine = True
        st01, st02 = cur.st01, cur.st02
        if not (len(st01) == 3 and ascii_digits(st01)):
            set_error("ST_INVALID_ID", "6", f"ST01 {st01!r} is not a transaction set identifier")
        elif st01 not in self.group_ok_sets:
            why, advice = self._unsupported_set(st01)
            set_error("SET_NOT_SUPPORTED", "1", why, advice=advice)
        if not (4 <= len(st02) <= 9 and st02.isascii() and st02.isprintable()):
            set_error("ST_CONTROL_NUMBER", "7", f"ST02 {st02!r} must be 4 to 9 characters")
        elif st02 in self.set_numbers:
            set_error("ST_DUPLICATE_CONTROL", "23", f"ST02 {st02} repeats within group {grp.gs06}")
        self.set_numbers.add(st02)

        def se_pos() -> Position:
            p = pos()
            return Position(p.file, byte_offset=offset, isa13=p.isa13, gs06=p.gs06, st02=st02,
                            segment_index=count, segment_id="SE")

        if se is None:
            set_error("SE_MISSING", "2", f"transaction set {st02} has no SE", se_pos())
        else:
            se01 = se[1] if len(se) > 1 else ""
            se02 = se[2] if len(se) > 2 else ""
            if se02 != st02:
                set_error("SE_CONTROL_MISMATCH", "3", f"SE02 {se02!r} differs from ST02 {st02!r}", se_pos())
            if not ascii_digits(se01) or int(se01) != count:
                set_error("SE_SEGMENT_COUNT", "4", f"SE01 says {se01!r} segments, the set has {count}", se_pos())
        if cur.dropped:
            set_error("SET_TOO_LARGE", "5",
                      f"set has {count} segments, over the bound of {self.limits.max_segments_per_set}")
            self.report.quarantine = True
        if cur.empty_at:
            for at in cur.empty_at[:10]:
                p = pos()
                set_error("EMPTY_SEGMENT", "5", f"empty segment after segment {at - 1}",
                          Position(p.file, isa13=p.isa13, gs06=p.gs06, st02=st02, segment_index=at))
        doc = None
        cg = None
        if "1" not in res.ak502 and "6" not in res.ak502 and not cur.dropped:
            delims = self.delims
            cg = self.compiled
            if cg is None or cg.guide.set_id != st01:
                cg = self.v.compiled(st01, self.version, delims)
                self.compiled = cg
            if cg is not None:
                self._validate_body(cg, cur, res, pos, se is not None)
        if res.accepted:
            grp.accepted_sets += 1
            if self.v.keep_documents and cg is not None:
                doc = Document(st01, st02, self.version, cur.segments, self._nodes, cg, self.delims,
                               self.ic.control_number if self.ic else "", grp.gs06, cur.offset)
        if self.sink:
            self.sink.set_done(grp, res, doc)

    def _unsupported_set(self, st01: str) -> tuple[str, str]:
        """Why a set cannot be validated here, and advice that fits this set and this group."""
        grp = self.grp
        assert grp is not None
        expected = SET_GROUP.get(st01)
        registry = self.v.registry
        if expected is None:
            have = ", ".join(sorted(SET_GROUP))
            return (f"transaction set {st01} is not one we handle (we handle {have})",
                    f"a {st01} cannot be processed by this system; route it elsewhere or ask the partner "
                    "not to send it on this connection")
        if expected != grp.gs01:
            return (f"a {st01} belongs in a functional group {expected}, not {grp.gs01!r}",
                    f"ask the sender to put the {st01} in a GS*{expected} group (GS01 {grp.gs01!r} carries "
                    f"{', '.join(sorted(s for s, g in SET_GROUP.items() if g == grp.gs01)) or 'no set we handle'})")
        versions = sorted(registry.versions_of({st01}))
        return (f"transaction set {st01} in version {grp.gs08!r} has no implementation guide "
                f"(guides for {st01}: {', '.join(versions) or 'none'})",
                f"ask the sender to send the {st01} as version {' or '.join(versions)} in GS08, or add a guide "
                f"for {grp.gs08[:6]!r}" if versions else f"add an implementation guide for the {st01}")

    def _set_position(self, cur: _Set) -> Callable[[], Position]:
        """A maker of the set's Position (built only when a finding needs it)."""
        file, ic, grp = self.report.file, self.ic, self.grp

        def make() -> Position:
            return Position(file, byte_offset=cur.offset, isa13=ic.control_number if ic else None,
                            gs06=grp.gs06 if grp else None, st02=cur.st02, segment_index=1, segment_id="ST")

        return make

    def _validate_body(self, cg: CompiledGuide, cur: _Set, res: SetResult, pos: Callable[[], Position],
                       has_se: bool) -> None:
        """Walk the set's segments through the compiled guide (the hot loop)."""
        segs = cur.segments
        if has_se and not cur.overlong and cg.accepts(segs):
            self._nodes = []
            return
        es = self.delims.element
        nodes: list[int] = []
        counts = [0] * len(cg.nodes)
        state = cg.start
        counts[state] = 1
        tables = cg.tables
        transition = cg.transition
        notes: list[SegmentNote] = []
        overlong = {o[0]: o for o in cur.overlong}
        n = len(segs)
        end = n - 1 if has_se else n
        nodes.append(state)
        k = 1
        while k < n:
            raw = segs[k]
            k += 1
            sid = raw.partition(es)[0]
            row = tables[state]
            t = row[sid] if sid in row else transition(state, sid)
            if t is None:
                notes.append(self._unplaced(cg, sid, k, raw))
                nodes.append(-1)
                continue
            if t.missing:
                later = {s.partition(es)[0] for s in segs[k:]}
                if any(m.seg_id in later for m in t.missing) and k <= end:
                    notes.append(SegmentNote(sid, k, "7"))
                    nodes.append(-1)
                    continue
                for m in t.missing:
                    notes.append(SegmentNote(m.seg_id, k, "3"))
            target = t.target
            if t.enter_loop >= 0:
                loop = t.enter_loop
                for c in t.reset:
                    counts[c] = 0
                c = counts[loop] + 1
                counts[loop] = c
                if c > t.loop_limit:
                    notes.append(SegmentNote(sid, k, "4"))
            c = counts[target] + 1
            counts[target] = c
            if c > t.limit:
                notes.append(SegmentNote(sid, k, "5"))
            state = target
            nodes.append(target)
            if t.regex.fullmatch(raw) is None:
                if k in overlong:
                    notes.append(self._overlong_note(t.segment, sid, k, overlong[k]))
                    continue
                issues = check_elements(t.segment, raw, self.delims)
                if not issues:
                    notes.append(SegmentNote(sid, k, "8", [ElementNote(1, None, None, "6",
                                                                       "segment does not match its definition")]))
                    continue
                notes.append(SegmentNote(sid, k, "8", [
                    ElementNote(i.position, i.component, i.data_element, i.ak403, i.bad_value) for i in issues
                ]))
                self._element_messages[(k, sid)] = [i.message for i in issues]
        if not has_se:
            # SE missing: report mandatory segments not reached (as if SE came now)
            t = transition(state, "SE")
            if t is not None:
                for m in t.missing:
                    notes.append(SegmentNote(m.seg_id, n, "3"))
        if notes:
            res.accepted = False
            if "5" not in res.ak502:
                res.ak502.append("5")
            res.notes = notes
            self._report_notes(cur, notes, pos())
        elif has_se and not res.ak502:
            cg.learn(nodes)
        self._nodes = nodes

    def _overlong_note(self, seg: SegmentDef, sid: str, k: int, info: tuple[int, int, int, int, int]) -> SegmentNote:
        """The AK3/AK4 of a segment over a bound: the element in which the bound was crossed."""
        _, _, length, seps, element = info
        limits = self.limits
        if seps > limits.max_elements_per_segment:
            position, code = limits.max_elements_per_segment + 1, "3"
            msg = (f"{sid} has {seps} elements, over the bound of {limits.max_elements_per_segment}; "
                   f"the segment was skipped")
        else:
            position, code = element, "5"
            msg = (f"{sid} is {length} bytes, over the bound of {limits.max_segment_bytes}; the bound is crossed "
                   f"in {sid}{element:02d}, and the segment was skipped")
        number = None
        if position <= len(seg.elements):
            item = seg.elements[position - 1]
            number = item.number if isinstance(item, CompositeDef) else item.element.number
        self._element_messages[(k, sid)] = [msg]
        return SegmentNote(sid, k, "8", [ElementNote(position, None, number, code, None)])

    def _unplaced(self, cg: CompiledGuide, sid: str, k: int, raw: str) -> SegmentNote:
        if sid in cg.ids:
            return SegmentNote(sid, k, "7")
        from edi.x12.segment_ids import KNOWN_SEGMENT_IDS  # noqa: PLC0415 - error path only

        if _SEG_ID.fullmatch(sid) and sid in KNOWN_SEGMENT_IDS:
            return SegmentNote(sid, k, "6")
        return SegmentNote(sid[:3] if sid else "", k, "1")

    def _report_notes(self, cur: _Set, notes: list[SegmentNote], pos: Position) -> None:
        msgs = self._element_messages
        for note in notes:
            idx = note.position
            off = cur.offset_of(idx - 1) if 0 < idx <= len(cur.segments) else None
            base = Position(pos.file, byte_offset=off, isa13=pos.isa13, gs06=pos.gs06, st02=pos.st02,
                            segment_index=idx, segment_id=note.segment_id)
            text_of = cur.segments[idx - 1][:300] if 0 < idx <= len(cur.segments) else None
            if note.code != "8":
                code = note.code or "2"
                self.v._add(self.report, Finding(_AK304_CODE.get(code, "SEGMENT_UNEXPECTED"), Level.SEGMENT,
                                                 f"{note.segment_id}: {_AK304_TEXT.get(code, 'segment error')}",
                                                 base, ak502="5", ak304=code,
                                                 segment_text=text_of if code != "3" else None))
                continue
            texts = msgs.get((idx, note.segment_id), [])
            for j, e in enumerate(note.elements):
                text = texts[j] if j < len(texts) else _AK304_TEXT["8"]
                p = Position(base.file, base.byte_offset, None, None, base.isa13, base.gs06, base.st02,
                             base.segment_index, base.segment_id, e.position, e.component)
                if off is not None and 0 < idx <= len(cur.segments):
                    p = _with_element_offset(p, cur.segments[idx - 1], self.delims, e.position)
                self.v._add(self.report, Finding(_AK403_CODE.get(e.code, "ELEMENT_INVALID_CHARACTER"),
                                                 Level.ELEMENT, text, p, ak502="5", ak304="8", ak403=e.code,
                                                 data_element=e.data_element, bad_value=e.bad_value,
                                                 segment_text=text_of))
        self._element_messages = {}


def _with_element_offset(p: Position, raw: str, delims: Delimiters, element: int) -> Position:
    parts = raw.split(delims.element)
    k = min(element, len(parts))
    extra = sum(len(x) + 1 for x in parts[:k])
    return Position(p.file, (p.byte_offset or 0) + extra, p.line, p.column, p.isa13, p.gs06, p.st02,
                    p.segment_index, p.segment_id, p.element, p.component)
