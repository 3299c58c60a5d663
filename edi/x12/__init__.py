"""X12: bytes <-> documents. Knows X12, not Amazon or the IMS.

Entry points:

- ``X12Validator``: streaming, bounded reader + envelope and implementation-guide validation.
- ``AckBuilder``: a validation sink that renders 997s and TA1s.
- ``validate_and_acknowledge``: both in one pass over a file.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from edi.x12.ack import AckBuilder, AckDocument, ControlNumberSource, CounterNumbers
    from edi.x12.envelope import Delimiters
    from edi.x12.guide import GuideRegistry, default_registry
    from edi.x12.limits import Limits
    from edi.x12.results import FileReport, Finding, Level, Position, Severity
    from edi.x12.validator import Document, X12Validator, iter_documents

# names are imported on first use, so `import edi.x12.limits` (the CLI at start-up) does not load the
# validator, the guides and lxml
_LAZY = {
    "AckBuilder": "edi.x12.ack", "AckDocument": "edi.x12.ack", "ControlNumberSource": "edi.x12.ack",
    "CounterNumbers": "edi.x12.ack", "Delimiters": "edi.x12.envelope", "GuideRegistry": "edi.x12.guide",
    "default_registry": "edi.x12.guide", "Limits": "edi.x12.limits", "FileReport": "edi.x12.results",
    "Finding": "edi.x12.results", "Level": "edi.x12.results", "Position": "edi.x12.results",
    "Severity": "edi.x12.results", "Document": "edi.x12.validator", "X12Validator": "edi.x12.validator",
    "iter_documents": "edi.x12.validator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edi.x12' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "AckBuilder",
    "AckDocument",
    "AckStats",
    "ControlNumberSource",
    "CounterNumbers",
    "Delimiters",
    "Document",
    "FileReport",
    "Finding",
    "GuideRegistry",
    "Level",
    "Limits",
    "Position",
    "Severity",
    "X12Validator",
    "default_registry",
    "iter_documents",
    "validate_and_acknowledge",
]


@dataclass(frozen=True, slots=True)
class AckStats:
    """What one validate-and-acknowledge pass did."""

    transaction_sets: int
    segments: int
    accepted: bool
    acknowledgements: int
    report: FileReport


class _Shared:
    """Opens every acknowledgement into one shared binary stream (left open)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def __call__(self, name: str) -> _Shared:
        return self

    def __enter__(self) -> BinaryIO:
        return self.out

    def __exit__(self, *exc: object) -> None:
        return None


def validate_and_acknowledge(path: str | os.PathLike[str], ack_out: BinaryIO, *,
                             validator: X12Validator | None = None,
                             numbers: ControlNumberSource | None = None) -> AckStats:
    """Validate a file against its guides and write every 997/TA1 it calls for to ``ack_out``."""
    from edi.x12.ack import AckBuilder, CounterNumbers  # noqa: PLC0415 - lazy, see _LAZY
    from edi.x12.validator import X12Validator  # noqa: PLC0415

    v = validator or X12Validator()
    builder = AckBuilder(_Shared(ack_out), numbers or CounterNumbers(), ta1_on_error=v.limits.ta1_on_error)
    report = v.validate_path(path, builder)
    return AckStats(report.transaction_sets, report.segments, report.accepted, len(builder.written), report)
