"""Chunked, bounded reading of one input and its split into segments (fast and careful paths)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, BinaryIO

from edi.x12._types import Sink, _Set
from edi.x12.compiler import CompiledGuide
from edi.x12.envelope import (
    SEPARATOR_OFFSETS,
    Delimiters,
    IsaHeader,
    parse_isa,
)
from edi.x12.results import (
    FileReport,
    Finding,
    GroupResult,
    InterchangeResult,
    Level,
    Position,
    Severity,
)

if TYPE_CHECKING:
    from edi.x12.validator import X12Validator

_ENV2 = frozenset({"SE", "ST", "GS", "GE", "IS", "IE"})
_SLICE = 64 * 1024
_ENV_IDS = frozenset({"SE", "ST", "GS", "GE", "ISA", "IEA"})


class _Reader:
    """One pass over one input: chunked reading, ISA detection and splitting into segments."""

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
        self.buf = ""              # the current chunk, decoded, handed out in slices
        self.buf_pos = 0
        self.produced = 0          # characters of text produced from the stream before ``buf``
        self.strip_breaks = v.limits.strip_line_breaks
        self.breaks_decided = False
        self.breaks_removed = 0
        self.first_break: int | None = None

    # -- input -----------------------------------------------------------------------------------

    if TYPE_CHECKING:  # provided by the envelope and set stages (_Envelopes, _Run)
        def _end_interchange(self, *, complete: bool) -> None: ...

        def _missing_iea(self, offset: int) -> None: ...

        def _stray(self, raw: str, offset: int) -> None: ...

        def _envelope(self, sid: str, raw: str, offset: int) -> bool: ...

    def _read(self) -> bool:
        """Append the next piece of input to ``pending``; False at end of input.

        The stream is read in ``chunk_bytes`` chunks but handed to ``pending`` in slices of at most
        ``_SLICE`` characters: work that is proportional to ``pending`` (splitting, and the copy when an
        interchange ends) then stays small however many interchanges a chunk holds.
        """
        if self.buf_pos >= len(self.buf) and not self._fill():
            return False
        piece = self.buf[self.buf_pos:self.buf_pos + _SLICE]
        self.buf_pos += len(piece)
        self.pending += piece
        return True

    def _fill(self) -> bool:
        """Read the next chunk of the stream into ``buf``; False at end of input."""
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
        text = chunk.decode("latin-1")
        if self.strip_breaks:
            if not self.breaks_decided:
                while len(text) < 512 and (more := self.stream.read(self.limits.chunk_bytes)):
                    self.consumed += len(more)
                    text += more.decode("latin-1")
                self._decide_breaks(self.pending + text)
            if self.strip_breaks:
                text = self._unwrap(text)
        self.buf, self.buf_pos = text, 0
        self.produced += len(text)
        return True

    def _decide_breaks(self, head: str) -> None:
        """With ``Limits.strip_line_breaks``: keep the breaks when they are the segment terminator."""
        self.breaks_decided = True
        flat = head.lstrip(" \t\r\n\ufeff").removeprefix("\xef\xbb\xbf").replace("\r", "").replace("\n", "")
        if flat.startswith("ISA") and len(flat) > 105 and flat[105].isalnum():
            self.strip_breaks = False
            self.v._file_finding(self.report, "LINE_BREAKS_STRIPPED",
                                 "strip_line_breaks is on but the segment terminator is a line break: "
                                 "nothing was removed", 0, Severity.INFO)

    def _unwrap(self, text: str) -> str:
        """Remove CR/LF (files hard-wrapped at 80 columns), counting them for the report."""
        n = text.count("\r") + text.count("\n")
        if not n:
            return text
        if self.first_break is None:
            self.first_break = self.produced + min(i for i in (text.find("\r"), text.find("\n")) if i >= 0)
        self.breaks_removed += n
        return text.replace("\r", "").replace("\n", "")

    def run(self) -> None:
        """Read the whole input."""
        first = True
        while True:
            if not self._find_isa(first):
                break
            first = False
            self._interchange()
        self.report.size = max(self.report.size, self.consumed)
        if self.breaks_removed:
            self.v._file_finding(self.report, "LINE_BREAKS_STRIPPED",
                                 f"{self.breaks_removed} CR/LF characters removed before validation "
                                 "(strip_line_breaks); byte offsets count the text without them",
                                 self.first_break, Severity.INFO)

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
            # split only up to this interchange's IEA: a chunk holding many small interchanges is
            # otherwise split again, whole, for each of them
            text, rest = self._window(self.pending, sep, es)
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
                self.pending = text[consumed:] + rest
                self.pending_offset = offset
                return
            if fast:
                self.pending = tail + rest
                self.pending_offset = base + len(text) - len(tail)
            elif rest:
                self.pending += rest
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

    @staticmethod
    def _window(text: str, sep: str, es: str) -> tuple[str, str]:
        """``text`` cut after the first IEA segment (and its line ending), and what follows it."""
        at = text.find(sep + "IEA" + es)
        if at < 0:
            return text, ""
        end = text.find(sep, at + len(sep))
        if end < 0:
            return text, ""
        end += len(sep)
        return text[:end], text[end:]

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

    def _crossing(self, head: str) -> tuple[int, str]:
        """Where a segment passes ``max_segment_bytes``: (element position, the segment's start to show).

        ``head`` holds at least the segment's first ``max_segment_bytes`` characters. The start kept
        ends a little after the element in which the bound is crossed begins, with a NUL so that it
        never matches its definition.
        """
        es = self.delims.element
        bound = self.limits.max_segment_bytes
        element = max(head.count(es, 0, bound), 1)
        begins = head.rfind(es, 0, bound) + 1
        return element, head[:max(begins + 40, 80)].replace(self.delims.segment, "") + "\x00"

    def _overlong(self, raw: str, offset: int, seps: int) -> None:
        length = len(raw)
        sid = raw[:3].partition(self.delims.element)[0]
        cur = self.cur
        if cur is not None:
            element, start = self._crossing(raw)
            cur.overlong.append((len(cur.segments) + 1, offset, length, seps, element))
            cur.explicit[len(cur.segments)] = offset
            cur.segments.append(start)  # stands in for the segment: keeps positions, shows its start
        else:
            self.v._file_finding(self.report, "SEGMENT_TOO_LONG",
                                 f"segment {sid!r} of {length} bytes ({seps} elements) outside a transaction set",
                                 offset)

    def _skip_overlong_tail(self, term: str) -> None:
        """The unterminated tail is over the bound: discard until the next terminator, counting."""
        es = self.delims.element
        start = self.pending_offset
        sid = self.pending[:3].partition(es)[0]
        element, head = self._crossing(self.pending)
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
            cur.overlong.append((len(cur.segments) + 1, start, length, seps, element))
            cur.explicit[len(cur.segments)] = start
            cur.segments.append(head)
        else:
            self.v._file_finding(self.report, "SEGMENT_TOO_LONG",
                                 f"segment {sid!r} of {length}+ bytes outside a transaction set", start)

    # -- envelope --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _env_regex(sep: str, es: str) -> re.Pattern[str]:
    """Finds the start of every envelope segment (after a segment separator) in a chunk."""
    return re.compile(re.escape(sep) + "(?=(?:SE|ST|GS|GE|IEA|ISA)" + re.escape(es) + ")")
