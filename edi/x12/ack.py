"""997 functional acknowledgements and TA1 interchange acknowledgements.

``AckBuilder`` is a validation ``Sink``: it writes one 997 per acknowledged functional group
(AK1, one AK2/AK3/AK4/AK5 per set, AK9) and, when the interchange envelope is in error or
ISA14 = 1, a TA1. The AK2 loops of a group are spooled to a temporary file as they are produced,
so a group of any size is acknowledged in flat memory. An acknowledgement reverses the sender and
receiver of what it answers and uses the same delimiters and ISA15.

Control numbers come from a ``ControlNumberSource`` (the persistent ledger in production, a
counter in tests and benchmarks), reserved only when an acknowledgement is actually emitted.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from edi.x12.envelope import Delimiters, IsaHeader, ascii_digits, render_isa
from edi.x12.results import GroupResult, InterchangeResult, SetResult
from edi.x12.validator import Document
from edi.x12.writer import SegmentWriter

_AK404_OK = frozenset(chr(c) for c in range(0x20, 0x7F))


def _special(c: str | None) -> bool:
    # control characters are legal delimiters (the partner chose them); space and NUL are not usable
    return c is not None and len(c) == 1 and 0 < ord(c) < 0x80 and c != " " and not c.isalnum()


def reply_delimiters(d: Delimiters) -> Delimiters:
    """The partner's delimiters where they are usable, sane defaults where the inbound ISA broke them."""
    es = d.element if _special(d.element) else "*"
    term = d.segment if _special(d.segment) and d.segment != es else next(c for c in "~\x1c'" if c != es)
    cs = d.component if _special(d.component) and d.component not in (es, term) else next(
        c for c in ">:^|!" if c not in (es, term))
    rep = d.repetition if d.repetition and _special(d.repetition) and d.repetition not in (es, term, cs) else None
    return Delimiters(es, cs, term, rep)


def _writable(value: str, delims: Delimiters) -> bool:
    return all(0x20 <= ord(c) < 0x7F for c in value) and not any(
        c in value for c in (delims.element, delims.segment, delims.component, delims.repetition) if c)


def name_part(text: str) -> str:
    """``text`` as a file-name part: letters and digits kept, every other byte as ``%XX`` (never a path).

    The encoding is injective, so ``AMAZON.EU`` and ``AMAZON-EU`` never share a name, and ``_``
    (the separator of the parts) never occurs inside one.
    """
    return "".join(c if c.isascii() and c.isalnum() else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                   for c in text.strip()) or "%20"


def document_name(kind: str, ours: tuple[str, str], theirs: tuple[str, str], isa13: int, label: str = "") -> str:
    """The file name of one outbound document: unique per document, the same for every resend.

    ISA13 is unique per (our id, their id) pair (qualifiers included), and both parties are in the
    name with their qualifiers, so two documents never share a name: not the 997s for ZZ/AMAZON and
    01/AMAZON, not two receivers whose ids differ only in punctuation. ``label`` (a PO number or
    shipment id) is for people only; it is cut at 40 characters.
    """
    parts = [kind, f"{name_part(ours[0])}-{name_part(ours[1])}", f"{name_part(theirs[0])}-{name_part(theirs[1])}"]
    if label:
        cut = name_part(label)[:40]
        parts.append(cut[:cut.rfind("%")] if "%" in cut[-2:] else cut)  # never half an escape
    return "_".join([*parts, f"{isa13:09d}"]) + ".edi"


class ControlNumberSource(Protocol):
    """Reserves ISA13 and GS06 values for one outbound interchange.

    ``reserving`` is a context manager: the numbers become final only when the block that writes
    the document completes; an exception inside it releases them (no gap, no reuse).
    """

    def reserving(self, sender: tuple[str, str], receiver: tuple[str, str],
                  groups: int) -> AbstractContextManager[tuple[int, list[int]]]:
        """Reserve (ISA13, [GS06 per group]) for an interchange from ``sender`` to ``receiver``."""
        ...


@dataclass
class CounterNumbers:
    """In-memory control numbers (tests, benchmarks, dry runs): never persisted."""

    next_isa: int = 1
    next_gs: int = 1

    @contextmanager
    def reserving(self, sender: tuple[str, str], receiver: tuple[str, str],
                  groups: int) -> Iterator[tuple[int, list[int]]]:
        """Sequential numbers from the counters; released if the block fails."""
        isa, gs0 = self.next_isa, self.next_gs
        self.next_isa += 1
        self.next_gs += groups
        try:
            yield isa, list(range(gs0, gs0 + groups))
        except BaseException:
            self.next_isa, self.next_gs = isa, gs0
            raise


@dataclass(frozen=True, slots=True)
class AckDocument:
    """An acknowledgement that was written: kind ('997' or 'TA1'), our ISA13, the answered ISA13/GS06."""

    kind: str
    isa13: int
    answers_isa13: str
    answers_gs06: str | None
    name: str


Opener = Callable[[str], AbstractContextManager[BinaryIO]]
"""Opens the named output for one acknowledgement; used as ``with opener(name) as out:``."""


class InMemory(dict[str, bytes]):
    """An opener that keeps every written acknowledgement in memory, by name (the outbox stores them)."""

    def __call__(self, name: str) -> _MemoryFile:
        return _MemoryFile(self, name)


class _MemoryFile(io.BytesIO):
    def __init__(self, store: InMemory, name: str) -> None:
        super().__init__()
        self.store, self.name = store, name

    def __exit__(self, *exc: Any) -> None:
        self.store[self.name] = self.getvalue()
        super().__exit__(*exc)


@dataclass
class _GroupSpool:
    grp: GroupResult
    spool: tempfile.SpooledTemporaryFile[bytes]
    segments: int = 0


@dataclass
class AckBuilder:
    """Validation sink that renders 997s (and TA1s) into files opened by ``opener(name)``."""

    opener: Opener
    numbers: ControlNumberSource = field(default_factory=CounterNumbers)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    ta1_on_error: bool = True
    control_version: str = "00401"
    newline: bool = False
    written: list[AckDocument] = field(default_factory=list)
    _header: IsaHeader | None = None
    _spools: list[_GroupSpool] = field(default_factory=list)
    _writer: SegmentWriter | None = None

    # -- Sink ------------------------------------------------------------------------------------

    def interchange_start(self, ic: InterchangeResult, header: IsaHeader) -> None:
        """Remember the header to answer it."""
        self._header = header
        self._spools = []
        self._writer = SegmentWriter(reply_delimiters(header.delimiters), newline=self.newline)

    def group_start(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """Open a spool for the group's AK2 loops."""
        if not grp.acknowledge:
            return
        spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed in interchange_end
        gs = _GroupSpool(grp, spool)
        self._spools.append(gs)
        assert self._writer is not None
        d = self._writer.delims
        self._write(gs, "AK1", grp.gs01 if _writable(grp.gs01, d) and grp.gs01 else "ZZ",
                    grp.gs06 if ascii_digits(grp.gs06) else "0")

    def set_done(self, grp: GroupResult, res: SetResult, doc: Document | None) -> None:
        """AK2, AK3/AK4 notes and AK5 for one set."""
        gs = self._spools[-1] if self._spools and self._spools[-1].grp is grp else None
        if gs is None:
            return
        assert self._writer is not None
        if res.accepted and not res.notes and res.st02.isascii() and res.st02.isalnum() and ascii_digits(res.st01):
            # the common case, written without per-element checks (both values are plain alphanumerics)
            w = self._writer
            es, term = w.delims.element, w.delims.segment + w.eol
            gs.spool.write(f"AK2{es}{res.st01}{es}{res.st02}{term}AK5{es}A{term}".encode("ascii"))
            gs.segments += 2
            return
        d = self._writer.delims
        self._write(gs, "AK2", res.st01 if _writable(res.st01, d) and res.st01 else "000",
                    res.st02 if _writable(res.st02, d) and res.st02 else "0000")
        cs = self._writer.delims.component
        for note in res.notes:
            sid = note.segment_id if _writable(note.segment_id, self._writer.delims) and note.segment_id else "ZZ"
            self._write(gs, "AK3", sid, str(note.position), None, note.code)
            for e in note.elements[:99]:
                pos = str(e.position) if e.component is None else f"{e.position}{cs}{e.component}"
                bad = e.bad_value
                if bad is not None and (not bad or not set(bad) <= _AK404_OK or any(
                        c in bad for c in self._delims_chars())):
                    bad = None
                self._write_raw(gs, "AK4", [pos, e.data_element or "", e.code, bad or ""])
        self._write(gs, "AK5", res.ak501, *res.ak502[:5])

    def group_end(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """AK9 with the counts."""
        gs = self._spools[-1] if self._spools and self._spools[-1].grp is grp else None
        if gs is None:
            return
        included = grp.included or grp.received
        self._write(gs, "AK9", grp.ak901, str(included), str(grp.received), str(grp.accepted_sets), *grp.ak905[:5])

    def interchange_end(self, ic: InterchangeResult) -> None:
        """Emit the 997s (or only a TA1 when the interchange is rejected)."""
        header = self._header
        if header is None:
            return
        try:
            if ic.rejected:
                if (self.ta1_on_error or ic.ack_requested) and header.readable and ic.ta105:
                    self._emit_ta1(ic, header, "R", ic.ta105)
                return
            if ic.ack_requested:
                self._emit_ta1(ic, header, "A", "000")
            for gs in self._spools:
                if gs.grp.gs01 == "" or not gs.grp.acknowledge:
                    continue
                self._emit_997(ic, header, gs)
        finally:
            for gs in self._spools:
                gs.spool.close()
            self._spools = []
            self._header = None

    # -- rendering -------------------------------------------------------------------------------

    def _delims_chars(self) -> tuple[str, ...]:
        assert self._writer is not None
        d = self._writer.delims
        return tuple(c for c in (d.element, d.segment, d.component, d.repetition) if c)

    def _write(self, gs: _GroupSpool, seg_id: str, *elements: str | None) -> None:
        assert self._writer is not None
        gs.spool.write(self._writer.segment(seg_id, *elements).encode("ascii"))
        gs.segments += 1

    def _write_raw(self, gs: _GroupSpool, seg_id: str, elements: list[str]) -> None:
        # AK401 is a composite already joined with the component separator
        assert self._writer is not None
        w = self._writer
        vals = list(elements)
        while vals and vals[-1] == "":
            vals.pop()
        text = w.delims.element.join([seg_id, *vals]) + w.delims.segment + w.eol
        gs.spool.write(text.encode("ascii"))
        gs.segments += 1

    def _when(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _isa(self, header: IsaHeader, isa13: int, when: datetime, delims: Delimiters, version: str) -> str:
        e = header.elements
        return render_isa([
            "00", "", "00", "", e[7], e[8].strip(), e[5], e[6].strip(), when.strftime("%y%m%d"),
            when.strftime("%H%M"), delims.isa11 if version >= "00402" else "U", version, str(isa13), "0",
            e[15] if e[15] in ("P", "T") else "P", delims.component,
        ], delims) + delims.segment

    def _emit_ta1(self, ic: InterchangeResult, header: IsaHeader, status: str, code: str) -> None:
        assert self._writer is not None
        w = self._writer
        when = self._when()
        e = header.elements
        if not all(_writable(v, w.delims) and v.strip() for v in (e[5], e[6], e[7], e[8])):
            return  # the sender cannot be addressed: the finding is the only answer
        ta101 = e[13] if len(e[13]) == 9 and ascii_digits(e[13]) else "000000000"
        ta102 = e[9] if len(e[9]) == 6 and ascii_digits(e[9]) else "000000"
        ta103 = e[10] if len(e[10]) == 4 and ascii_digits(e[10]) else "0000"
        with self.numbers.reserving(header.receiver, header.sender, 0) as (isa13, _):
            name = document_name("TA1", header.receiver, header.sender, isa13)
            body = [
                self._isa(header, isa13, when, w.delims, self.control_version) + w.eol,
                w.segment("TA1", ta101, ta102, ta103, status, code),
                w.segment("IEA", "0", f"{isa13:09d}"),
            ]
            with self.opener(name) as out:
                out.write("".join(body).encode("ascii"))
        self.written.append(AckDocument("TA1", isa13, ic.control_number, None, name))

    def _emit_997(self, ic: InterchangeResult, header: IsaHeader, gs: _GroupSpool) -> None:
        assert self._writer is not None
        w = self._writer
        when = self._when()
        grp = gs.grp
        version = "005010" if grp.gs08.startswith("005010") else "004010"
        ctl = "00501" if version == "005010" else self.control_version
        ours = grp.receiver if _writable(grp.receiver, w.delims) and grp.receiver else header.receiver[1]
        theirs = grp.sender if _writable(grp.sender, w.delims) and grp.sender else header.sender[1]
        with self.numbers.reserving(header.receiver, header.sender, 1) as (isa13, (gs06,)):
            name = document_name("997", header.receiver, header.sender, isa13)
            with self.opener(name) as out:
                out.write((self._isa(header, isa13, when, w.delims, ctl) + w.eol).encode("ascii"))
                out.write(w.segment("GS", "FA", ours, theirs,
                                    when.strftime("%Y%m%d"), when.strftime("%H%M"), str(gs06), "X",
                                    version).encode("ascii"))
                out.write(w.segment("ST", "997", "0001").encode("ascii"))
                gs.spool.seek(0)
                while block := gs.spool.read(1 << 20):
                    out.write(block)
                out.write(w.segment("SE", str(gs.segments + 2), "0001").encode("ascii"))
                out.write(w.segment("GE", "1", str(gs06)).encode("ascii"))
                out.write(w.segment("IEA", "1", f"{isa13:09d}").encode("ascii"))
        self.written.append(AckDocument("997", isa13, ic.control_number, grp.gs06, name))
