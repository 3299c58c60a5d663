"""Compile a guide into a fast validator: one regular expression per segment, one state table.

The regular expression of a segment checks, in one ``fullmatch``, every element's presence,
type, length, character set and code list, and the segment's relational conditions (as
zero-width lookaheads). Only when it fails does the slow path (``check_elements``) run to say
exactly which element is wrong and with which AK403 code; both paths are built from the same
definitions and a property test keeps them in agreement.

The structure is a state machine whose states are segment positions. ``Transition`` records
where a segment ID leads from a state: the segment reached, the loop iteration it opens (if any)
and the mandatory segments or loops it skips. Transitions are computed on first use and memoised.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from edi.x12.envelope import Delimiters, valid_date
from edi.x12.guide import UNBOUNDED, CompositeDef, ElementDef, Guide, LoopDef, SegmentDef

# ---------------------------------------------------------------------------------------------
# element patterns

_D8 = (
    r"(?:\d{4}(?:(?:0[13578]|1[02])(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)(?:0[1-9]|[12]\d|30)"
    r"|02(?:0[1-9]|1\d|2[0-8]))|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)0229)"
)
_D6 = (
    r"(?:\d\d(?:(?:0[13578]|1[02])(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)(?:0[1-9]|[12]\d|30)"
    r"|02(?:0[1-9]|1\d|2[0-9])))"
)
_TM_BY_LEN = {
    4: r"(?:[01]\d|2[0-3])[0-5]\d",
    6: r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d",
    7: r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d\d",
    8: r"(?:[01]\d|2[0-3])[0-5]\d[0-5]\d\d\d",
}


@functools.lru_cache(maxsize=64)
def data_class(delims: Delimiters) -> str:
    """Regex character class of characters allowed inside an element (printable ASCII, no delimiters).

    Written as positive ranges of printable ASCII: a negated class reaching ``\\uffff`` costs the
    regex compiler a 64k-entry charset per use, which dominated a cold start.
    """
    excluded = {delims.element, delims.segment, delims.component}
    if delims.repetition:
        excluded.add(delims.repetition)
    ranges: list[str] = []
    start = None
    for code in range(0x20, 0x80):
        ok = code < 0x7F and chr(code) not in excluded
        if ok and start is None:
            start = code
        elif not ok and start is not None:
            lo, hi = re.escape(chr(start)), re.escape(chr(code - 1))
            ranges.append(lo if start == code - 1 else f"{lo}-{hi}")
            start = None
    return "[" + "".join(ranges) + "]"


def element_pattern(el: ElementDef, dc: str) -> str:
    """Pattern for one simple element's non-empty value."""
    de = el.element
    lo, hi = max(de.min_len, 1), max(de.max_len, 1)
    if el.usage == "N":
        return "(?!)"
    if el.codes:
        return "(?:" + "|".join(re.escape(c) for c in sorted(el.codes, key=lambda c: (-len(c), c))) + ")"
    t = de.data_type
    if t == "DT":
        options = [p for n, p in ((8, _D8), (6, _D6)) if lo <= n <= hi]
        return "(?:" + "|".join(options) + ")" if options else "(?!)"
    if t == "TM":
        options = [p for n, p in _TM_BY_LEN.items() if lo <= n <= hi]
        return "(?:" + "|".join(options) + ")" if options else "(?!)"
    if t.startswith("N"):
        return rf"-?\d{{{lo},{hi}}}"
    if t == "R":
        return rf"(?=-?(?:\.?\d){{{lo},{hi}}}\.?(?![\d.]))-?(?:\d+(?:\.\d*)?|\.\d+)"
    return f"{dc}{{{lo},{hi}}}"


def _optional_chain(parts: list[tuple[str, bool]], sep: str) -> str:
    """Join ``(item, required)`` with separators; trailing optional items may be omitted.

    An item is already wrapped for its optionality; ``required`` only says whether the chain
    may end before it.
    """
    tail = ""
    all_optional = True
    for item, required in reversed(parts):
        all_optional = all_optional and not required
        inner = sep + item + tail
        tail = f"(?:{inner})?" if all_optional else inner
    return tail


def _composite_pattern(comp: CompositeDef, dc: str, cs: str) -> str:
    items = []
    for c in comp.components:
        p = element_pattern(c, dc)
        items.append((p if c.required else f"(?:{p})?", c.required))
    first, _ = items[0]
    body = first + _optional_chain(items[1:], cs)
    # a present composite must carry something
    return f"(?=[^{re.escape(cs)}]|{cs}*[^{re.escape(cs)}])(?:{body})"


@dataclass
class _Rules:
    """Relational conditions turned into forward lookaheads attached to elements.

    No named groups are used, so a segment pattern can be embedded, repeated, in a whole-set
    pattern without captures leaking from one occurrence into the next.
    """

    when_present: dict[int, list[str]] = field(default_factory=dict)  # after element k's value
    when_absent: dict[int, list[str]] = field(default_factory=dict)   # where element k is empty
    start: list[str] = field(default_factory=list)                    # at the segment start


def _rules(rules: tuple[str, ...], es: str, term: str) -> _Rules:
    e = re.escape(es)
    t = re.escape(term)
    other = f"[^{e}{t}]"
    out = _Rules()

    def present(frm: int, to: int) -> str:
        return f"(?:{e}{other}*){{{to - frm - 1}}}{e}{other}"

    def from_start(pos: int) -> str:
        return f"(?:{other}*{e}){{{pos}}}{other}"

    def add(table: dict[int, list[str]], k: int, la: str) -> None:
        table.setdefault(k, []).append(la)

    for rule in rules:
        kind, ps = rule[0], [int(rule[i:i + 2]) for i in range(1, len(rule), 2)]
        if kind == "P":
            first, others = min(ps), sorted(p for p in ps if p != min(ps))
            for j in others:
                add(out.when_present, first, f"(?={present(first, j)})")
                add(out.when_absent, first, f"(?!{present(first, j)})")
        elif kind == "C":
            trig, req = ps[0], ps[1:]
            for j in req:
                if j > trig:
                    add(out.when_present, trig, f"(?={present(trig, j)})")
                else:
                    add(out.when_absent, j, f"(?!{present(j, trig)})")
        elif kind == "E":
            ordered = sorted(ps)
            for i, a in enumerate(ordered[:-1]):
                for b in ordered[i + 1:]:
                    add(out.when_present, a, f"(?!{present(a, b)})")
        elif kind == "R":
            out.start.append("(?=" + "|".join(from_start(p) for p in ps) + ")")
        elif kind == "L":
            trig, rest = ps[0], ps[1:]
            if all(j > trig for j in rest):
                add(out.when_present, trig, "(?=" + "|".join(present(trig, j) for j in rest) + ")")
            else:
                out.start.append(f"(?:(?!{from_start(trig)})|(?=" + "|".join(from_start(p) for p in rest) + "))")
    return out


def segment_pattern(seg: SegmentDef, delims: Delimiters) -> str:
    """The pattern source of a whole segment (ID, elements, relational conditions), without terminator.

    A condition on later elements is a short forward lookahead taken right after the element
    that decides it (present or empty), so checking it costs a few characters of scanning.
    """
    dc = data_class(delims)
    es = re.escape(delims.element)
    cs = re.escape(delims.component)
    rules = _rules(seg.syntax, delims.element, delims.segment)
    parts: list[tuple[str, bool]] = []
    for j, item in enumerate(seg.elements, 1):
        base = (_composite_pattern(item, dc, cs) if isinstance(item, CompositeDef)
                else element_pattern(item, dc))
        base += "".join(rules.when_present.get(j, ()))
        absent = "".join(rules.when_absent.get(j, ()))
        wrapped = base if item.required else f"(?:{base}|{absent})"
        parts.append((wrapped, item.required))
    # a chain that ends before element k leaves k and everything after it empty: conditions that
    # require something after an absent element are then satisfied, as X12 intends
    body = re.escape(seg.xid) + _optional_chain(parts, es)
    return "".join(rules.start) + body


def segment_regex(seg: SegmentDef, delims: Delimiters) -> re.Pattern[str]:
    """The one-step check of a whole segment, compiled."""
    return re.compile(segment_pattern(seg, delims), re.DOTALL | re.ASCII)


# ---------------------------------------------------------------------------------------------
# slow path: exact element findings


@dataclass(frozen=True, slots=True)
class ElementIssue:
    """One element error (what becomes an AK4)."""

    position: int
    component: int | None
    data_element: str | None
    ak403: str
    message: str
    bad_value: str | None


def _check_simple(el: ElementDef, value: str, dc_rx: re.Pattern[str]) -> tuple[str, str] | None:
    de = el.element
    if not dc_rx.fullmatch(value):
        bad = next((c for c in value if not dc_rx.fullmatch(c)), "")
        return "6", f"invalid character {bad!r} (byte 0x{ord(bad):02x})" if bad else "invalid character"
    t = de.data_type
    digits = value
    if t.startswith("N") or t == "R":
        if t == "R" and not re.fullmatch(r"-?(?:\d+(?:\.\d*)?|\.\d+)", value):
            return "6", f"{value!r} is not a decimal number"
        if t.startswith("N") and not re.fullmatch(r"-?\d+", value):
            return "6", f"{value!r} is not a whole number"
        digits = value.replace("-", "").replace(".", "")
    n = len(digits)
    if n < de.min_len:
        return "4", f"too short: {n} < {de.min_len}"
    if n > de.max_len:
        return "5", f"too long: {n} > {de.max_len}"
    if el.codes is not None and value not in el.codes:
        return "7", f"code {value!r} is not valid here"
    if t == "DT" and not valid_date(value):
        return "8", f"{value!r} is not a valid date"
    if t == "TM" and not re.fullmatch(r"(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d\d{0,2})?", value):
        return "9", f"{value!r} is not a valid time"
    return None


def check_elements(seg: SegmentDef, raw: str, delims: Delimiters) -> list[ElementIssue]:
    """Exact element-level findings for a segment whose regex failed (or any segment)."""
    dc_rx = re.compile(data_class(delims) + "*")
    values = raw.split(delims.element)[1:]
    issues: list[ElementIssue] = []
    defs = seg.elements
    if len(values) > len(defs):
        extra = values[len(defs)]
        issues.append(ElementIssue(len(defs) + 1, None, None, "3",
                                   f"{len(values)} elements, at most {len(defs)} allowed", extra[:99]))
    for i, item in enumerate(defs):
        value = values[i] if i < len(values) else ""
        pos = i + 1
        if not value:
            if item.required:
                num = item.number if isinstance(item, CompositeDef) else item.element.number
                issues.append(ElementIssue(pos, None, num, "1", f"{item.xid} is mandatory", None))
            continue
        if item.usage == "N":
            num = item.number if isinstance(item, CompositeDef) else item.element.number
            issues.append(ElementIssue(pos, None, num, "10", f"{item.xid} is not used here", value[:99]))
            continue
        if isinstance(item, CompositeDef):
            comps = value.split(delims.component)
            if len(comps) > len(item.components):
                issues.append(ElementIssue(pos, len(item.components) + 1, item.number, "3",
                                           f"{item.xid} has {len(comps)} components, at most "
                                           f"{len(item.components)}", value[:99]))
            for j, comp in enumerate(item.components):
                cval = comps[j] if j < len(comps) else ""
                if not cval:
                    if comp.required:
                        issues.append(ElementIssue(pos, j + 1, comp.element.number, "1",
                                                   f"{comp.xid} is mandatory", None))
                    continue
                bad = _check_simple(comp, cval, dc_rx)
                if bad:
                    issues.append(ElementIssue(pos, j + 1, comp.element.number, bad[0],
                                               f"{comp.xid}: {bad[1]}", cval[:99]))
            continue
        if delims.component in value:
            issues.append(ElementIssue(pos, None, item.element.number, "6",
                                       f"{item.xid}: component separator {delims.component!r} in a simple "
                                       "element", value[:99]))
            continue
        bad = _check_simple(item, value, dc_rx)
        if bad:
            issues.append(ElementIssue(pos, None, item.element.number, bad[0], f"{item.xid}: {bad[1]}",
                                       value[:99]))
    issues.extend(_check_syntax(seg, values))
    return issues


def _either(names: list[str], word: str) -> str:
    """``A``, ``A and B``, ``A, B and C``: a list of element names as the standard's notes read."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _check_syntax(seg: SegmentDef, values: list[str]) -> list[ElementIssue]:
    def has(p: int) -> bool:
        return p - 1 < len(values) and values[p - 1] != ""

    def num(p: int) -> str | None:
        if p - 1 < len(seg.elements):
            item = seg.elements[p - 1]
            return item.number if isinstance(item, CompositeDef) else item.element.number
        return None

    out: list[ElementIssue] = []
    for rule in seg.syntax:
        kind, ps = rule[0], [int(rule[i:i + 2]) for i in range(1, len(rule), 2)]
        name = [f"{seg.xid}{p:02d}" for p in ps]
        if kind == "P" and any(has(p) for p in ps) and not all(has(p) for p in ps):
            p = next(p for p in ps if not has(p))
            out.append(ElementIssue(p, None, num(p), "2", f"if any of {_either(name, 'and')} is present, all are "
                                    f"required ({rule}); {seg.xid}{p:02d} is missing", None))
        elif kind == "R" and not any(has(p) for p in ps):
            out.append(ElementIssue(ps[0], None, num(ps[0]), "2",
                                    f"at least one of {_either(name, 'or')} is required ({rule})", None))
        elif kind == "E" and sum(has(p) for p in ps) > 1:
            p = [p for p in ps if has(p)][1]
            out.append(ElementIssue(p, None, num(p), "10", f"only one of {_either(name, 'or')} may be present "
                                    f"({rule})", values[p - 1][:99]))
        elif kind == "C" and has(ps[0]) and not all(has(p) for p in ps[1:]):
            p = next(p for p in ps[1:] if not has(p))
            out.append(ElementIssue(p, None, num(p), "2",
                                    f"{name[0]} requires {_either(name[1:], 'and')} ({rule})", None))
        elif kind == "L" and has(ps[0]) and not any(has(p) for p in ps[1:]):
            out.append(ElementIssue(ps[1], None, num(ps[1]), "2",
                                    f"{name[0]} requires at least one of {_either(name[1:], 'or')} ({rule})", None))
    return out


# ---------------------------------------------------------------------------------------------
# structure


@dataclass(slots=True)
class Node:
    """A segment or loop in the flattened tree (wrappers removed)."""

    index: int
    segment: SegmentDef | None
    loop: LoopDef | None
    parent: Node | None
    position: int
    children: list[Node] = field(default_factory=list)

    @property
    def seg_id(self) -> str:
        """The segment ID this node is entered by."""
        if self.segment is not None:
            return self.segment.xid
        assert self.loop is not None
        return self.loop.trigger.xid

    @property
    def required(self) -> bool:
        """Usage R of the segment or loop."""
        d = self.segment if self.segment is not None else self.loop
        assert d is not None
        return d.required

    @property
    def limit(self) -> int:
        """max_use of a segment, repeat of a loop."""
        if self.segment is not None:
            return self.segment.max_use
        assert self.loop is not None
        return self.loop.repeat


@dataclass(frozen=True, slots=True)
class Transition:
    """Where a segment ID leads from a state."""

    target: int
    limit: int
    regex: re.Pattern[str]
    segment: SegmentDef
    enter_loop: int
    loop_limit: int
    reset: tuple[int, ...]
    missing: tuple[Node, ...]


class CompiledGuide:
    """A guide compiled for one set of delimiters."""

    def __init__(self, guide: Guide, delims: Delimiters) -> None:
        self.guide = guide
        self.delims = delims
        self.nodes: list[Node] = []
        self.root = self._flatten(guide.root, None, 0)
        self.ids: frozenset[str] = frozenset(n.segment.xid for n in self.nodes if n.segment is not None)
        self._regex: dict[int, re.Pattern[str]] = {}
        st = self.root.children[0]
        if st.segment is None or st.segment.xid != "ST":
            raise ValueError(f"{guide.source}: ST_LOOP must start with ST")
        self.start = st.index
        self.tables: list[dict[str, Transition | None]] = [{} for _ in self.nodes]
        # whole-set fast path: a pattern over the part of the guide seen in accepted sets
        self.seen: set[int] = set()
        self._set_rx: re.Pattern[str] | None = None
        self._set_rx_for: frozenset[int] = frozenset()
        self._stale = False
        self.learned = 0
        self.rebuilds = 0

    def _flatten(self, loop: LoopDef, parent: Node | None, position: int) -> Node:
        node = Node(len(self.nodes), None, loop, parent, position)
        self.nodes.append(node)

        def add(children: tuple[LoopDef | SegmentDef, ...]) -> None:
            for child in children:
                if isinstance(child, LoopDef) and child.wrapper:
                    add(child.children)
                elif isinstance(child, LoopDef):
                    node.children.append(self._flatten(child, node, len(node.children)))
                else:
                    seg = Node(len(self.nodes), child, None, node, len(node.children))
                    self.nodes.append(seg)
                    node.children.append(seg)

        add(loop.children)
        return node

    def transition(self, state: int, seg_id: str) -> Transition | None:
        """The transition for ``seg_id`` from ``state`` (memoised; None when nowhere)."""
        table = self.tables[state]
        if seg_id in table:
            return table[seg_id]
        result = self._search(self.nodes[state], seg_id)
        table[seg_id] = result
        return result

    def regex(self, index: int) -> re.Pattern[str]:
        """The compiled regular expression of a segment node (compiled on first use)."""
        rx = self._regex.get(index)
        if rx is None:
            seg = self.nodes[index].segment
            assert seg is not None
            rx = self._regex[index] = segment_regex(seg, self.delims)
        return rx

    def _make(self, target: Node, loop: Node | None, missing: list[Node]) -> Transition:
        assert target.segment is not None
        if loop is not None:
            reset = tuple(c.index for c in loop.children)
            return Transition(target.index, target.limit, self.regex(target.index), target.segment,
                              loop.index, loop.limit, reset, tuple(missing))
        return Transition(target.index, target.limit, self.regex(target.index), target.segment, -1, 0, (),
                          tuple(missing))

    def _search(self, state: Node, seg_id: str) -> Transition | None:
        loop = state.parent
        assert loop is not None
        is_trigger = loop is not self.root and state.position == 0
        if state.segment is not None and state.segment.xid == seg_id and not is_trigger:
            return self._make(state, None, [])
        missing: list[Node] = []
        i = state.position
        while True:
            for sib in loop.children[i + 1:]:
                if sib.segment is not None and sib.segment.xid == seg_id:
                    return self._make(sib, None, missing)
                if sib.loop is not None and sib.seg_id == seg_id:
                    return self._make(sib.children[0], sib, missing)
                if sib.required:
                    missing.append(sib)
            if loop is self.root:
                return None
            if loop.seg_id == seg_id:
                return self._make(loop.children[0], loop, missing)
            assert loop.parent is not None
            i = loop.position
            loop = loop.parent

    # -- whole-set fast path ---------------------------------------------------------------------

    MAX_REBUILDS = 32

    def learn(self, nodes: list[int]) -> None:
        """Record the guide positions an accepted set used; the fast pattern grows to cover them.

        The pattern is compiled from the second accepted set on: a file with one set never pays for
        it (a cold one-PO validation), a file with many sets pays once per new shape.
        """
        self.learned += 1
        before = len(self.seen)
        self.seen.update(n for n in nodes if n >= 0)
        if len(self.seen) != before:
            # every loop enclosing a seen segment is seen too
            for n in list(self.seen):
                parent = self.nodes[n].parent
                while parent is not None and parent.index not in self.seen:
                    self.seen.add(parent.index)
                    parent = parent.parent
            self._stale = True
        if self._stale and self.learned >= 2 and self.rebuilds < self.MAX_REBUILDS:
            # compile now, while the set that taught us is being handled, not on the next one
            self._set_rx = re.compile(self._set_pattern(), re.DOTALL | re.ASCII)
            self._set_rx_for = frozenset(self.seen)
            self._stale = False
            self.rebuilds += 1

    def accepts(self, segments: list[str]) -> bool:
        """One regex match over a whole set (ST excluded): True only if the set is valid.

        False means "not proven here": the caller runs the exact per-segment walk, which also
        explains any error. The pattern covers only guide positions seen in accepted sets, a
        sub-language of the guide, so acceptance here implies acceptance by the full guide.
        """
        if self._set_rx is None:
            return False
        term = self.delims.segment
        return self._set_rx.fullmatch(term.join(segments[1:]) + term) is not None

    def _set_pattern(self) -> str:
        term = re.escape(self.delims.segment)
        seen = frozenset(self.seen)

        def quant(required: bool, limit: int) -> str:
            if limit >= UNBOUNDED:
                return "++" if required else "*+"
            if limit == 1:
                return "" if required else "?+"
            return f"{{{1 if required else 0},{limit}}}+"

        def seg(node: Node) -> str:
            assert node.segment is not None
            return f"(?>{segment_pattern(node.segment, self.delims)}{term})"

        def pattern(node: Node) -> str:
            if node.segment is not None:
                return seg(node) + quant(node.required, node.segment.max_use)
            assert node.loop is not None
            inner = "".join(pattern(c) for c in node.children[1:] if c.index in seen)
            return f"(?>{seg(node.children[0])}{inner})" + quant(node.required, node.loop.repeat)

        return "".join(pattern(c) for c in self.root.children[1:] if c.index in seen)

    def place(self, segments: list[str]) -> list[int]:
        """Guide positions of an accepted set's segments (ST first), as the exact walk finds them."""
        es = self.delims.element
        state = self.start
        out = [state]
        for raw in segments[1:]:
            t = self.transition(state, raw.partition(es)[0])
            if t is None:
                out.append(-1)
                continue
            state = t.target
            out.append(state)
        return out

    def loop_path(self, index: int) -> list[Node]:
        """Loops enclosing a node, outermost first (the root excluded)."""
        out = []
        node = self.nodes[index].parent
        while node is not None and node is not self.root:
            out.append(node)
            node = node.parent
        return list(reversed(out))
