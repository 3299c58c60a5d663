"""Shared fixtures: paths to the sample and reference corpora, and the policy for missing ones.

The reference corpora live beside the project (``../shared/corpus``). Locally a test that needs one
is skipped with the reason when it is absent; in CI (``CI=true``) the same absence is a failure, so
a suite cannot pass by silently skipping what it was meant to check.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "public"
REALWORLD = SHARED / "corpus" / "realworld"


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where a missing prerequisite fails instead of skipping."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip the current test with ``reason`` locally; fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is a failure, not a skip)")
    pytest.skip(reason)


def need(path: Path) -> Path:
    """``path`` from the shared corpus, or skip (locally) / fail (CI) saying what is missing."""
    if not path.exists():
        unavailable(f"reference corpus file {path.relative_to(SHARED.parent)} is not present")
    return path


@pytest.fixture
def samples_dir() -> Path:
    """The project's sample files."""
    return SAMPLES


def corpus_files(base: Path = CORPUS) -> list[Path]:
    """Every reference X12 file shipped beside the project (empty when absent)."""
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and p.name != "SOURCES.md")
