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

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from edi.x12._sets import _Run
from edi.x12._types import Document, Sink
from edi.x12.compiler import CompiledGuide
from edi.x12.envelope import (
    Delimiters,
    IsaHeader,
)
from edi.x12.guide import GuideRegistry, default_registry
from edi.x12.limits import Limits
from edi.x12.results import (
    FileReport,
    Finding,
    GroupResult,
    InterchangeResult,
    Level,
    Position,
    SetResult,
    Severity,
)

__all__ = ["Document", "DocumentCollector", "Sink", "X12Validator", "iter_documents"]


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


class DocumentCollector:
    """A sink that keeps every accepted document (use with ``keep_documents=True``)."""

    def __init__(self) -> None:
        self.documents: list[Document] = []

    def interchange_start(self, ic: InterchangeResult, header: IsaHeader) -> None:
        """Nothing to do."""

    def group_start(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """Nothing to do."""

    def set_done(self, grp: GroupResult, res: SetResult, doc: Document | None) -> None:
        """Keep the accepted document."""
        if doc is not None:
            self.documents.append(doc)

    def group_end(self, ic: InterchangeResult, grp: GroupResult) -> None:
        """Nothing to do."""

    def interchange_end(self, ic: InterchangeResult) -> None:
        """Nothing to do."""


def iter_documents(path: str | os.PathLike[str], validator: X12Validator | None = None) -> Iterator[Document]:
    """Yield every accepted transaction set of a file, in order (documents are kept in memory per set)."""
    v = validator or X12Validator(keep_documents=True)
    v.keep_documents = True
    collector = DocumentCollector()
    v.validate_path(path, collector)
    yield from collector.documents
