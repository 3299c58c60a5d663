"""What validation finds: positions, findings and per-envelope results.

A ``Finding`` is one problem with its ``Position`` (file, envelope control numbers, segment index
counted from ST = 1, byte offset, line and column) and the X12 codes it becomes in a TA1 or 997.
Results mirror the envelope: ``InterchangeResult`` → ``GroupResult`` → ``SetResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from edi.errors import CODES


class Level(StrEnum):
    """Where a finding applies, which decides the acknowledgement that carries it."""

    FILE = "file"
    INTERCHANGE = "interchange"
    GROUP = "group"
    SET = "set"
    SEGMENT = "segment"
    ELEMENT = "element"


class Severity(StrEnum):
    """Error rejects the envelope it belongs to; warning and info do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a finding sits. Unknown parts are ``None``."""

    file: str
    byte_offset: int | None = None
    line: int | None = None
    column: int | None = None
    isa13: str | None = None
    gs06: str | None = None
    st02: str | None = None
    segment_index: int | None = None
    segment_id: str | None = None
    element: int | None = None
    component: int | None = None

    def envelope_text(self) -> str:
        """Render the envelope coordinates, e.g. ``ISA 000069737 / GS 69737 / ST 0001 / segment 8 PO1``."""
        parts = []
        if self.isa13 is not None:
            parts.append(f"ISA {self.isa13}")
        if self.gs06 is not None:
            parts.append(f"GS {self.gs06}")
        if self.st02 is not None:
            parts.append(f"ST {self.st02}")
        if self.segment_index is not None:
            seg = f"segment {self.segment_index}"
            if self.segment_id:
                seg += f" {self.segment_id}"
            parts.append(seg)
        if self.element is not None:
            el = f"{self.segment_id or ''}{self.element:02d}"
            if self.component is not None:
                el += f"-{self.component}"
            parts.append(f"element {el}")
        return " / ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the input, with the X12 codes that report it."""

    code: str
    level: Level
    message: str
    position: Position
    severity: Severity = Severity.ERROR
    ta105: str | None = None
    ak905: str | None = None
    ak502: str | None = None
    ak304: str | None = None
    ak403: str | None = None
    data_element: str | None = None
    bad_value: str | None = None
    segment_text: str | None = None
    advice: str | None = None

    @property
    def hint(self) -> str:
        """What to do about it: this finding's own advice, else the code's hint."""
        if self.advice:
            return self.advice
        info = CODES.get(self.code)
        return info.hint if info else ""

    def one_line(self) -> str:
        """``file:line:col: CODE message [envelope]; hint: ...`` form used everywhere."""
        pos = self.position
        loc = pos.file
        if pos.line is not None:
            loc += f":{pos.line}:{pos.column or 1}"
        env = pos.envelope_text()
        text = f"{loc}: {self.code} {self.message}"
        if pos.byte_offset is not None:
            env = f"{env} / byte {pos.byte_offset}" if env else f"byte {pos.byte_offset}"
        if env:
            text += f" [{env}]"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable form for ``--json``."""
        pos = self.position
        out: dict[str, Any] = {
            "code": self.code,
            "level": self.level.value,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "file": pos.file,
            "byte_offset": pos.byte_offset,
            "line": pos.line,
            "column": pos.column,
            "isa13": pos.isa13,
            "gs06": pos.gs06,
            "st02": pos.st02,
            "segment_index": pos.segment_index,
            "segment_id": pos.segment_id,
            "element": pos.element,
            "component": pos.component,
        }
        x12 = {k: getattr(self, k) for k in ("ta105", "ak905", "ak502", "ak304", "ak403") if getattr(self, k)}
        if x12:
            out["x12"] = x12
        if self.bad_value is not None:
            out["bad_value"] = self.bad_value
        if self.data_element is not None:
            out["data_element"] = self.data_element
        return out


@dataclass(slots=True)
class ElementNote:
    """An AK4: one element error inside a segment."""

    position: int
    component: int | None
    data_element: str | None
    code: str
    bad_value: str | None


@dataclass(slots=True)
class SegmentNote:
    """An AK3 with its AK4s."""

    segment_id: str
    position: int
    code: str | None
    elements: list[ElementNote] = field(default_factory=list)


@dataclass(slots=True)
class SetResult:
    """The outcome for one ST..SE: what becomes its AK2/AK3/AK4/AK5."""

    st01: str
    st02: str
    accepted: bool = True
    ak502: list[str] = field(default_factory=list)
    notes: list[SegmentNote] = field(default_factory=list)
    segment_count: int = 0
    byte_offset: int = 0

    @property
    def ak501(self) -> str:
        """A accepted, R rejected (we never accept a set that has errors)."""
        return "A" if self.accepted else "R"


@dataclass(slots=True)
class GroupResult:
    """The outcome for one GS..GE: what becomes the 997's AK1 and AK9."""

    gs01: str
    gs06: str
    gs08: str
    sender: str
    receiver: str
    included: int = 0
    received: int = 0
    accepted_sets: int = 0  # sets whose AK5 is A (AK904), whatever happens to the group
    ak905: list[str] = field(default_factory=list)
    rejected: bool = False
    acknowledge: bool = True

    @property
    def ak901(self) -> str:
        """A all accepted, P partially, R rejected (E is never produced: errors reject)."""
        if self.rejected or (self.received and self.accepted_sets == 0):
            return "R"
        if self.accepted_sets < self.received:
            return "P"
        return "A"


@dataclass(slots=True)
class InterchangeResult:
    """The outcome for one ISA..IEA: TA1 material and the header needed to answer."""

    isa: tuple[str, ...]
    byte_offset: int
    ta105: str | None = None
    rejected: bool = False
    groups: list[GroupResult] = field(default_factory=list)
    complete: bool = False

    @property
    def control_number(self) -> str:
        """ISA13 as received."""
        return self.isa[13] if len(self.isa) > 13 else ""

    @property
    def ack_requested(self) -> bool:
        """ISA14 = 1."""
        return len(self.isa) > 14 and self.isa[14] == "1"


@dataclass(slots=True)
class FileReport:
    """Everything validation learnt about one file."""

    file: str
    size: int = 0
    interchanges: list[InterchangeResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    transaction_sets: int = 0
    segments: int = 0
    quarantine: bool = False

    @property
    def errors(self) -> list[Finding]:
        """Findings of severity error."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def accepted(self) -> bool:
        """True when nothing in the file was rejected or noted as an error."""
        return not self.errors and not self.quarantine
