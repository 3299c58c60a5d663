"""Shared fixtures: paths to the sample and reference corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus" / "public"


@pytest.fixture
def samples_dir() -> Path:
    """The project's sample files."""
    return SAMPLES


def corpus_files() -> list[Path]:
    """Every reference X12 file shipped beside the project (empty when absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")
