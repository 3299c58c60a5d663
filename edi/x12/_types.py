"""Types shared by the reading, envelope and set-validation stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edi.x12.compiler import CompiledGuide
from edi.x12.envelope import (
    Delimiters,
    IsaHeader,
)
from edi.x12.results import (
    GroupResult,
    InterchangeResult,
    SetResult,
)


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
    overlong: list[tuple[int, int, int, int, int]]  # (index, offset, length, separators, element crossed)
    dropped: int = 0
    seplen: int = 1

    def offset_of(self, index: int) -> int:
        """Byte offset of segment ``index`` (0 = ST), from the nearest recorded offset."""
        k = index
        while k not in self.explicit:
            k -= 1
        return self.explicit[k] + sum(len(s) + self.seplen for s in self.segments[k:index])
