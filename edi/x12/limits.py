"""Named bounds for reading X12. Exceeding one is a typed rejection with its position."""

from __future__ import annotations

from dataclasses import dataclass

from edi.x12.envelope import CONTROL_VERSIONS

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds and reading policy; every field has a default that suits Amazon retail traffic."""

    max_file_bytes: int = 50 * MIB
    max_segment_bytes: int = 4096
    max_elements_per_segment: int = 64
    max_segments_per_set: int = 100_000
    max_sets_per_group: int = 20_000
    max_findings: int = 1_000
    chunk_bytes: int = 1 * MIB
    # policies
    strip_bom: bool = True
    strip_leading_whitespace: bool = True
    trailing_data_is_error: bool = True
    ta1_on_error: bool = True
    # remove CR/LF wherever they occur (files hard-wrapped at 80 columns) before validation; reported
    strip_line_breaks: bool = False
    supported_versions: frozenset[str] = CONTROL_VERSIONS
