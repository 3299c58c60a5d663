"""Streaming X12 reader and validator: bytes in, findings and per-envelope results out.

The file is read in chunks and split on the segment terminator; only the current transaction
set is buffered (bounded by ``Limits.max_segments_per_set``). Envelope segments (ISA/GS/ST/SE/
GE/IEA) are checked as they arrive; a set's body is validated against its compiled guide when
its SE arrives. Every byte is accounted for: a segment that does not fit is a finding with its
position, and the reader never stops before the end of the input.

Results stream to an optional ``Sink`` (the 997 writer, the pipeline) so memory stays flat
however many sets a file carries.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from edi.x12.compiler import CompiledGuide, check_elements
from edi.x12.envelope import (
    GROUP_SETS,
    SEPARATOR_OFFSETS,
    SET_GROUP,
    Delimiters,
    IsaHeader,
    ascii_digits,
    parse_isa,
)
from edi.x12.guide import GuideRegistry, default_registry
from edi.x12.limits import Limits
from edi.x12.results import (
    ElementNote,
    FileReport,
    Finding,
    GroupResult,
    InterchangeResult,
    Level,
    Position,
    SegmentNote,
    SetResult,
    Severity,
)

_ENV2 = frozenset({"SE", "ST", "GS", "GE", "IS", "IE"})
_ENV_IDS = frozenset({"SE", "ST", "GS", "GE", "ISA", "IEA"})
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


class Sink(Protocol):
    """Receives results as validation streams through a file."""

    def interchange_start(self, ic: InterchangeResult, header: IsaHeader) -> None:
        """An ISA was read (``ic.rejected`` may already be true)."""

    def group_start(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """A GS was read."""

    def set_done(self, grp: GroupResult, res: SetResult, doc: Document | None) -> None:
        """A transaction set was validated; ``doc`` is given for accepted sets when documents are kept."""

    def group_end(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """The group ended (GE, or the envelope around it)."""

    def interchange_end(self, ic: InterchangeResult) -> None:
        """The interchange ended; ``ic.rejected`` is final."""


@dataclass(slots=True)
class Document:
    """An accepted transaction set: its segments (ST..SE) and the guide position of each."""

    set_id: str
    control_number: str
    version: str
    segments: list[str]
    nodes: list[int]
    guide: CompiledGuide
    delimiters: Delimiters
    isa13: str
    gs06: str
    byte_offset: int


@dataclass(slots=True)
class _Set:
    st01: str
    st02: str
    offset: int
    segments: list[str]
    explicit: dict[int, int]
    empty_at: list[int]
    overlong: list[tuple[int, int, int, int]]
    dropped: int = 0
    seplen: int = 1

    def offset_of(self, index: int) -> int:
        """Byte offset of segment ``index`` (0 = ST), from the nearest recorded offset."""
        k = index
        while k not in self.explicit:
            k -= 1
        return self.explicit[k] + sum(len(s) + self.seplen for s in self.segments[k:index])


class X12Validator:
    """Validate X12 files against the envelope rules and compiled implementation guides."""

    def __init__(self, registry: GuideRegistry | None = None, limits: Limits | None = None, *,
                 keep_documents: bool = False) -> None:
        self.registry = registry or default_registry()
        self.limits = limits or Limits()
        self.keep_documents = keep_documents
        self._compiled: dict[tuple[str, str, Delimiters], CompiledGuide] = {}

    # -- public ----------------------------------------------------------------------------------

    def validate_path(self, path: str | os.PathLike[str], sink: Sink | None = None) -> FileReport:
        """Validate a file on disk."""
        p = Path(path)
        report = FileReport(str(p))
        try:
            size = p.stat().st_size
        except OSError as exc:
            from edi.errors import InputError  # noqa: PLC0415 - keeps the hot module's imports small

            raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
        report.size = size
        if size > self.limits.max_file_bytes:
            self._file_finding(report, "FILE_TOO_LARGE",
                               f"file is {size} bytes, over the bound of {self.limits.max_file_bytes}")
            report.quarantine = True
            return report
        try:
            fh = p.open("rb")
        except OSError as exc:
            from edi.errors import InputError  # noqa: PLC0415

            raise InputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
        with fh:
            return self._run(fh, report, sink)

    def validate_bytes(self, data: bytes, name: str = "<bytes>", sink: Sink | None = None) -> FileReport:
        """Validate an in-memory document."""
        report = FileReport(name, size=len(data))
        if len(data) > self.limits.max_file_bytes:
            self._file_finding(report, "FILE_TOO_LARGE",
                               f"input is {len(data)} bytes, over the bound of {self.limits.max_file_bytes}")
            report.quarantine = True
            return report
        return self._run(io.BytesIO(data), report, sink)

    def validate_stream(self, stream: BinaryIO, name: str, sink: Sink | None = None) -> FileReport:
        """Validate a binary stream (read to its end, bounded by ``max_file_bytes``)."""
        return self._run(stream, FileReport(name), sink)

    def compiled(self, set_id: str, version: str, delims: Delimiters) -> CompiledGuide | None:
        """The compiled guide for a set, version and delimiters (compiled once, then cached)."""
        key = (set_id, version[:6], delims)
        cg = self._compiled.get(key)
        if cg is None:
            guide = self.registry.get(set_id, version)
            if guide is None:
                return None
            cg = CompiledGuide(guide, delims)
            self._compiled[key] = cg
        return cg

    # -- findings --------------------------------------------------------------------------------

    def _add(self, report: FileReport, finding: Finding) -> None:
        if len(report.findings) < self.limits.max_findings:
            report.findings.append(finding)
        elif len(report.findings) == self.limits.max_findings:
            report.findings.append(Finding("TRAILING_DATA", Level.FILE,
                                           f"more than {self.limits.max_findings} findings; the rest are "
                                           "not listed", Position(report.file), Severity.WARNING))

    def _file_finding(self, report: FileReport, code: str, message: str, offset: int | None = None,
                      severity: Severity = Severity.ERROR) -> None:
        self._add(report, Finding(code, Level.FILE, message, Position(report.file, byte_offset=offset),
                                  severity))

    # -- the reading loop ------------------------------------------------------------------------

    def _run(self, stream: BinaryIO, report: FileReport, sink: Sink | None) -> FileReport:
        state = _Run(self, report, sink, stream)
        state.run()
        return report


class _Run:
    """One pass over one input. Holds the envelope state machine."""

    def __init__(self, v: X12Validator, report: FileReport, sink: Sink | None, stream: BinaryIO) -> None:
        self.v = v
        self.limits = v.limits
        self.report = report
        self.sink = sink
        self.stream = stream
        self.consumed = 0          # bytes read from the stream so far
        self.pending = ""          # text read but not yet split
        self.pending_offset = 0    # byte offset of pending[0]
        self.ic: InterchangeResult | None = None
        self.header: IsaHeader | None = None
        self.grp: GroupResult | None = None
        self.cur: _Set | None = None
        self.group_numbers: set[str] = set()
        self.set_numbers: set[str] = set()
        self.delims = Delimiters()
        self.compiled: CompiledGuide | None = None
        self.group_ok_sets: frozenset[str] = frozenset()
        self.version = ""
        self.eof = False
        self.eol = ""
        self.seen_interchanges: set[tuple[str, str, str]] = set()
        self._element_messages: dict[tuple[int, str], list[str]] = {}
        self._nodes: list[int] = []

    # -- input -----------------------------------------------------------------------------------

    def _read(self) -> bool:
        """Append the next chunk to ``pending``; False at end of input."""
        if self.eof:
            return False
        chunk = self.stream.read(self.limits.chunk_bytes)
        if not chunk:
            self.eof = True
            return False
        self.consumed += len(chunk)
        if self.consumed > self.limits.max_file_bytes:
            self.eof = True
            self.v._file_finding(self.report, "FILE_TOO_LARGE",
                                 f"input exceeds the bound of {self.limits.max_file_bytes} bytes; "
                                 "reading stopped", self.consumed)
            self.report.quarantine = True
            return False
        self.pending += chunk.decode("latin-1")
        return True

    def run(self) -> None:
        """Read the whole input."""
        first = True
        while True:
            if not self._find_isa(first):
                break
            first = False
            self._interchange()
        self.report.size = max(self.report.size, self.consumed)

    def _find_isa(self, first: bool) -> bool:
        """Position ``pending`` at the next ISA; report what precedes it. False at end of input."""
        while len(self.pending) < 128 and self._read():
            pass
        text = self.pending
        if first:
            if not text.strip(" \t\r\n\x00"):
                if not text:
                    self.v._file_finding(self.report, "EMPTY_FILE", "the file is empty")
                else:
                    self.v._file_finding(self.report, "EMPTY_FILE", "the file holds only whitespace")
                self.report.quarantine = True
                return False
            if text.startswith("\xef\xbb\xbf"):
                if self.limits.strip_bom:
                    self.v._file_finding(self.report, "BOM_STRIPPED", "UTF-8 byte-order mark before ISA removed",
                                         0, Severity.WARNING)
                    self._drop(3)
                    text = self.pending
                else:
                    self.v._file_finding(self.report, "NOT_X12", "a UTF-8 byte-order mark precedes ISA", 0)
                    self.report.quarantine = True
                    return False
        stripped = text.lstrip(" \t\r\n")
        lead = len(text) - len(stripped)
        if not stripped:
            self._drop(len(text))
            while self._read():
                stripped = self.pending.lstrip(" \t\r\n")
                lead = len(self.pending) - len(stripped)
                if stripped:
                    break
                self._drop(len(self.pending))
            if not stripped:
                return False
        if lead and first:
            if self.limits.strip_leading_whitespace:
                self.v._file_finding(self.report, "LEADING_WHITESPACE",
                                     f"{lead} whitespace characters before ISA removed", 0, Severity.WARNING)
            else:
                self.v._file_finding(self.report, "LEADING_WHITESPACE", f"{lead} whitespace characters before ISA",
                                     0)
                self.report.quarantine = True
                return False
        self._drop(lead)
        if not self.pending.startswith("ISA"):
            offset = self.pending_offset
            if first:
                head = self.pending[:3]
                what = "EDIFACT (UNA/UNB)" if head in ("UNA", "UNB") else f"{head!r}"
                self.v._file_finding(self.report, "NOT_X12", f"the input starts with {what}, not ISA", offset)
            else:
                self.v._file_finding(self.report, "TRAILING_DATA",
                                     f"{len(self.pending)}+ bytes after the last IEA are not an interchange",
                                     offset, Severity.ERROR if self.limits.trailing_data_is_error
                                     else Severity.WARNING)
            if first or self.limits.trailing_data_is_error:
                self.report.quarantine = True
            while self._read():
                self._drop(len(self.pending))
            return False
        return True

    def _drop(self, n: int) -> None:
        self.pending = self.pending[n:]
        self.pending_offset += n

    # -- one interchange -------------------------------------------------------------------------

    def _interchange(self) -> None:
        while len(self.pending) < 200 and self._read():
            pass
        start = self.pending_offset
        header = parse_isa(self.pending, self.limits.supported_versions)
        ic = InterchangeResult(header.elements, start)
        self.ic, self.header = ic, header
        self.report.interchanges.append(ic)
        self.delims = header.delimiters
        pos = Position(self.report.file, byte_offset=start, line=None, isa13=header.elements[13] or None,
                       segment_id="ISA")
        if len(self.pending) < 106 and not header.problems:
            self._ic_error("PREMATURE_EOF", "023", "the input ends inside the ISA segment", pos)
        for prob in header.problems:
            el = prob.element
            el_off = start + (SEPARATOR_OFFSETS[el - 1] + 1 if el else 0)
            self._ic_error(prob.code, prob.ta105, prob.message,
                           Position(pos.file, byte_offset=el_off, isa13=pos.isa13, segment_id="ISA", element=el))
        key = (header.elements[5], header.elements[6].strip(), header.elements[13])
        if not header.problems and key in self.seen_interchanges:
            self._ic_error("DUPLICATE_INTERCHANGE", "025",
                           f"ISA13 {header.elements[13]} from {key[0]}/{key[1]} repeats within this file", pos)
        self.seen_interchanges.add(key)
        if self.sink:
            self.sink.interchange_start(ic, header)
        fatal_layout = any(p.ta105 in ("022", "026", "004", "027") for p in header.problems)
        if fatal_layout or len(self.pending) < 106:
            # the delimiters cannot be trusted: skip to the next line that starts an ISA, or the end
            self._skip_broken_interchange()
            self._end_interchange(complete=False)
            return
        term = self.delims.segment
        self._drop(106)
        while len(self.pending) < 2 and self._read():
            pass
        after = self.pending[:2]
        self.eol = "\r\n" if after == "\r\n" else after[:1] if after[:1] in ("\r", "\n") else ""
        self._drop(len(self.eol))
        self._segments(term)

    def _skip_broken_interchange(self) -> None:
        self._drop(3)
        while True:
            idx = self.pending.find("ISA")
            if idx >= 0:
                self._drop(idx)
                return
            keep = 2
            self._drop(max(0, len(self.pending) - keep))
            if not self._read():
                self._drop(len(self.pending))
                return

    def _ic_error(self, code: str, ta105: str, message: str, pos: Position) -> None:
        ic = self.ic
        assert ic is not None
        if ic.ta105 is None:
            ic.ta105 = ta105
        ic.rejected = True
        self.v._add(self.report, Finding(code, Level.INTERCHANGE, message, pos, Severity.ERROR, ta105=ta105))

    def _segments(self, term: str) -> None:
        """Split and dispatch segments until IEA (or the end of input).

        Fast path: a chunk whose segments all end with the same terminator (+ line ending) is split
        once; envelope segments are located with one scan and the bodies between them are appended
        to the current set as slices. Anything irregular in a chunk (mixed line endings, an empty or
        over-long segment) sends that chunk through the careful per-segment path.
        """
        max_seg = self.limits.max_segment_bytes
        es = self.delims.element
        eol = self.eol
        sep = term + eol
        seplen = len(sep)
        env2 = _ENV2
        while True:
            if eol and self.pending[:1] in ("\r", "\n"):
                self._drop(len(self.pending) - len(self.pending.lstrip("\r\n")))
            text = self.pending
            parts = text.split(sep)
            tail = parts.pop()
            base = self.pending_offset
            fast = bool(parts)
            if fast:
                if eol:
                    # a chunk may end between the terminator and its line ending: that tail waits
                    in_tail = tail.count(term)
                    fast = text.count(term) - in_tail == len(parts) and (
                        in_tail == 0 or (in_tail == 1 and tail.endswith(term)))
                else:
                    fast = "\n" not in text and "\r" not in text
                if fast:
                    fast = max(map(len, parts)) <= max_seg and "" not in parts
            if fast:
                result = self._fast_chunk(parts, text, sep, base, seplen, es, env2)
            else:
                result = self._slow_chunk(text, base, term, es, max_seg)
            if result is not None:
                consumed, offset = result
                # IEA (or an ISA without IEA) ended the interchange: keep the rest for the next one
                self.pending = text[consumed:]
                self.pending_offset = offset
                return
            if fast:
                self.pending = tail
                self.pending_offset = base + len(text) - len(tail)
            if len(self.pending) > max_seg:
                self._skip_overlong_tail(term)
            if not self._read():
                text = self.pending
                lead = len(text) - len(text.lstrip("\r\n \t\x00"))
                raw = text.strip("\r\n \t\x00")
                if raw and not raw.endswith(term):
                    last = raw.rsplit(term, 1)[-1]
                    if last.startswith("IEA" + es):
                        raw += term  # tolerate an IEA without its final terminator
                    else:
                        self.v._file_finding(self.report, "PREMATURE_EOF",
                                             f"the input ends inside a segment ({last[:20]!r}...)",
                                             self.pending_offset + lead + len(raw) - len(last))
                        raw = raw[: len(raw) - len(last)]
                if raw:
                    result = self._slow_chunk(raw, self.pending_offset + lead, term, es, max_seg)
                    if result is not None:
                        consumed, offset = result
                        self.pending = raw[consumed:]
                        self.pending_offset = offset
                        return
                self._missing_iea(self.pending_offset + len(self.pending))
                self.pending = ""
                return

    def _fast_chunk(self, parts: list[str], text: str, sep: str, base: int, seplen: int, es: str,
                    env2: frozenset[str]) -> tuple[int, int] | None:
        # locate envelope segments with one C-level scan of the text, not a Python pass over parts
        env = [0] if parts[0][:2] in env2 else []
        rx = _env_regex(sep, es)
        n_parts = len(parts)
        seps_before = 0
        last_end = 0
        for m in rx.finditer(text):
            at = m.start()
            seps_before += text.count(sep, last_end, at)
            index = seps_before + 1          # the part right after this separator
            seps_before += 1
            last_end = at + len(sep)
            if index >= n_parts:
                break
            env.append(index)
        env.append(n_parts)
        prev = 0
        off = base
        max_set = self.limits.max_segments_per_set
        for i in env:
            if prev < i:
                body = parts[prev:i]
                cur = self.cur
                if cur is not None:
                    room = max_set - len(cur.segments)
                    cur.explicit[len(cur.segments)] = off
                    if room >= len(body):
                        cur.segments.extend(body)
                    else:
                        cur.segments.extend(body[:max(room, 0)])
                        cur.dropped += len(body) - max(room, 0)
                    off += sum(map(len, body)) + seplen * len(body)
                else:
                    for raw in body:
                        self._stray(raw, off)
                        off += len(raw) + seplen
            if i == len(parts):
                break
            raw = parts[i]
            sid = raw.partition(es)[0]
            if sid in _ENV_IDS:
                if sid == "ISA":
                    self._missing_iea(off)
                    return off - base, off
                done = self._envelope(sid, raw, off)
                off += len(raw) + seplen
                if done:
                    return off - base, off
            else:
                cur = self.cur
                if cur is not None and len(cur.segments) < max_set:
                    cur.explicit[len(cur.segments)] = off
                    cur.segments.append(raw)
                elif cur is not None:
                    cur.dropped += 1
                else:
                    self._stray(raw, off)
                off += len(raw) + seplen
            prev = i + 1
        return None

    def _slow_chunk(self, text: str, base: int, term: str, es: str, max_seg: int) -> tuple[int, int] | None:
        parts = text.split(term)
        tail = parts.pop()
        off = base
        max_set = self.limits.max_segments_per_set
        for piece in parts:
            seg_off = off
            off += len(piece) + 1
            raw = piece.lstrip("\r\n")
            seg_off += len(piece) - len(raw)
            if len(raw) > max_seg:
                self._overlong(raw, seg_off, raw.count(es))
                continue
            if raw[:2] in _ENV2:
                sid = raw.partition(es)[0]
                if sid in _ENV_IDS:
                    if sid == "ISA":
                        self._missing_iea(seg_off)
                        return seg_off - base, seg_off
                    if self._envelope(sid, raw, seg_off):
                        return off - base, off
                    continue
            cur = self.cur
            if cur is not None:
                if len(cur.segments) < max_set:
                    if raw:
                        cur.explicit[len(cur.segments)] = seg_off
                        cur.segments.append(raw)
                    else:
                        cur.empty_at.append(len(cur.segments) + 1)
                else:
                    cur.dropped += 1
            elif raw:
                self._stray(raw, seg_off)
        self.pending = tail
        self.pending_offset = off
        return None

    def _after_iea(self) -> None:
        pass

    # -- bounded reading -------------------------------------------------------------------------

    def _overlong(self, raw: str, offset: int, seps: int) -> None:
        length = len(raw)
        sid = raw[:3].partition(self.delims.element)[0]
        too_many = seps > self.limits.max_elements_per_segment
        cur = self.cur
        if cur is not None:
            cur.overlong.append((len(cur.segments) + 1, offset, length, seps))
            cur.explicit[len(cur.segments)] = offset
            cur.segments.append(sid + self.delims.element + "\x00")  # placeholder keeps positions
        else:
            self.v._file_finding(self.report, "SEGMENT_TOO_LONG",
                                 f"segment {sid!r} of {length} bytes ({seps} elements) outside a transaction set",
                                 offset)
        del too_many

    def _skip_overlong_tail(self, term: str) -> None:
        """The unterminated tail is over the bound: discard until the next terminator, counting."""
        es = self.delims.element
        start = self.pending_offset
        sid = self.pending[:3].partition(es)[0]
        length = 0
        seps = 0
        while True:
            idx = self.pending.find(term)
            if idx >= 0:
                length += idx
                seps += self.pending.count(es, 0, idx)
                self.pending_offset += idx + 1
                self.pending = self.pending[idx + 1:]
                break
            length += len(self.pending)
            seps += self.pending.count(es)
            self.pending_offset += len(self.pending)
            self.pending = ""
            if not self._read():
                break
        cur = self.cur
        if cur is not None:
            cur.overlong.append((len(cur.segments) + 1, start, length, seps))
            cur.explicit[len(cur.segments)] = start
            cur.segments.append(sid + es + "\x00")
        else:
            self.v._file_finding(self.report, "SEGMENT_TOO_LONG",
                                 f"segment {sid!r} of {length}+ bytes outside a transaction set", start)

    # -- envelope --------------------------------------------------------------------------------

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
                    or not re.fullmatch(r"\d{9}", el[1]) or not _valid_yymmdd(el[2])
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
                self._group_error("GROUP_VERSION_UNSUPPORTED", "2",
                                  f"no implementation guide for {grp.gs01} version {vals[8]!r} "
                                  f"(have: {', '.join(sorted(self.v.registry.versions()))})", offset, "GS", 8)
            self.group_ok_sets = frozenset(supported)
        checks = [
            (2, bool(re.fullmatch(r"[ -~]{2,15}", vals[2])), "GS02 application sender's code"),
            (3, bool(re.fullmatch(r"[ -~]{2,15}", vals[3])), "GS03 application receiver's code"),
            (4, bool(re.fullmatch(r"\d{8}", vals[4])) and _valid_ccyymmdd(vals[4]), "GS04 date"),
            (5, bool(re.fullmatch(r"(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d\d{0,2})?", vals[5])), "GS05 time"),
            (7, vals[7] in ("X", "T"), "GS07 responsible agency"),
            (8, bool(re.fullmatch(r"[ -~]{1,12}", vals[8])), "GS08 version"),
        ]
        for idx, ok, label in checks:
            if not ok:
                self._group_error("GS_INVALID_VALUE", None, f"{label} {vals[idx]!r} is invalid", offset, "GS", idx)
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
        if grp.rejected:
            grp.accepted_sets = 0
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

    def _finish_set(self, cur: _Set, se: list[str] | None, offset: int) -> None:
        grp = self.grp
        assert grp is not None
        self.cur = None
        grp.received += 1
        self.report.transaction_sets += 1
        count = len(cur.segments) + cur.dropped
        self.report.segments += count
        res = SetResult(cur.st01, cur.st02, segment_count=count, byte_offset=cur.offset)
        pos = Position(self.report.file, byte_offset=cur.offset, isa13=self.ic.control_number if self.ic else None,
                       gs06=grp.gs06, st02=cur.st02, segment_index=1, segment_id="ST")

        def set_error(code: str, ak502: str, message: str, where: Position = pos) -> None:
            res.accepted = False
            if ak502 not in res.ak502:
                res.ak502.append(ak502)
            self.v._add(self.report, Finding(code, Level.SET, message, where, ak502=ak502))

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
            expected = SET_GROUP.get(st01)
            why = (f"a {st01} belongs in a {expected} group, not {grp.gs01!r}" if expected and expected != grp.gs01
                   else f"transaction set {st01} version {grp.gs08!r} is not supported")
            set_error("SET_NOT_SUPPORTED", "1", why)
        if not (4 <= len(st02) <= 9 and st02.isascii() and st02.isprintable()):
            set_error("ST_CONTROL_NUMBER", "7", f"ST02 {st02!r} must be 4 to 9 characters")
        elif st02 in self.set_numbers:
            set_error("ST_DUPLICATE_CONTROL", "23", f"ST02 {st02} repeats within group {grp.gs06}")
        self.set_numbers.add(st02)
        se_pos = Position(pos.file, byte_offset=offset, isa13=pos.isa13, gs06=pos.gs06, st02=st02,
                          segment_index=count, segment_id="SE")
        if se is None:
            set_error("SE_MISSING", "2", f"transaction set {st02} has no SE", se_pos)
        else:
            vals = [*se, "", ""][:3]
            if vals[2] != st02:
                set_error("SE_CONTROL_MISMATCH", "3", f"SE02 {vals[2]!r} differs from ST02 {st02!r}", se_pos)
            if not ascii_digits(vals[1]) or int(vals[1]) != count:
                set_error("SE_SEGMENT_COUNT", "4", f"SE01 says {vals[1]!r} segments, the set has {count}", se_pos)
        if cur.dropped:
            set_error("SET_TOO_LARGE", "5",
                      f"set has {count} segments, over the bound of {self.limits.max_segments_per_set}")
            self.report.quarantine = True
        if cur.empty_at:
            for at in cur.empty_at[:10]:
                set_error("EMPTY_SEGMENT", "5", f"empty segment after segment {at - 1}",
                          Position(pos.file, isa13=pos.isa13, gs06=pos.gs06, st02=st02, segment_index=at))
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
                               pos.isa13 or "", grp.gs06, cur.offset)
        if self.sink:
            self.sink.set_done(grp, res, doc)

    def _validate_body(self, cg: CompiledGuide, cur: _Set, res: SetResult, pos: Position, has_se: bool) -> None:
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
            t = tables[state].get(sid, 0)
            if t == 0:
                t = transition(state, sid)
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
                    _, _, length, seps = overlong[k]
                    code = "3" if seps > self.limits.max_elements_per_segment else "5"
                    msg = (f"{seps} elements, over the bound of {self.limits.max_elements_per_segment}" if code == "3"
                           else f"segment of {length} bytes, over the bound of {self.limits.max_segment_bytes}")
                    notes.append(SegmentNote(sid, k, "8", [ElementNote(1, None, None, code, msg)]))
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
            self._report_notes(cur, notes, pos)
        elif has_se and not res.ak502:
            cg.learn(nodes)
        self._nodes = nodes

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


@functools.lru_cache(maxsize=32)
def _env_regex(sep: str, es: str) -> re.Pattern[str]:
    """Finds the start of every envelope segment (after a segment separator) in a chunk."""
    return re.compile(re.escape(sep) + "(?=(?:SE|ST|GS|GE|IEA|ISA)" + re.escape(es) + ")")


def _with_element_offset(p: Position, raw: str, delims: Delimiters, element: int) -> Position:
    parts = raw.split(delims.element)
    k = min(element, len(parts))
    extra = sum(len(x) + 1 for x in parts[:k])
    return Position(p.file, (p.byte_offset or 0) + extra, p.line, p.column, p.isa13, p.gs06, p.st02,
                    p.segment_index, p.segment_id, p.element, p.component)


def _valid_yymmdd(v: str) -> bool:
    return len(v) == 6 and ascii_digits(v) and _valid_ccyymmdd("20" + v)


def _valid_ccyymmdd(v: str) -> bool:
    from datetime import date  # noqa: PLC0415

    try:
        date(int(v[:4]), int(v[4:6]), int(v[6:8]))
    except ValueError:
        return False
    return True


def iter_documents(path: str | os.PathLike[str], validator: X12Validator | None = None) -> Iterator[Document]:
    """Yield every accepted transaction set of a file, in order (documents are kept in memory per set)."""
    v = validator or X12Validator(keep_documents=True)
    v.keep_documents = True
    docs: list[Document] = []

    class _Collect:
        def interchange_start(self, ic: InterchangeResult, header: IsaHeader) -> None:
            pass

        def group_start(self, ic: InterchangeResult, grp: GroupResult) -> None:
            pass

        def set_done(self, grp: GroupResult, res: SetResult, doc: Document | None) -> None:
            if doc is not None:
                docs.append(doc)

        def group_end(self, ic: InterchangeResult, grp: GroupResult) -> None:
            pass

        def interchange_end(self, ic: InterchangeResult) -> None:
            pass

    v.validate_path(path, _Collect())
    yield from docs
