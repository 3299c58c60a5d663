"""The policy for missing prerequisites: skip with the reason locally, fail under CI=true."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED, need


def test_missing_corpus_file_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CI=true a missing corpus file is a failure naming the file."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no-such-file\.edi"):
        need(SHARED / "corpus" / "public" / "no-such-file.edi")


def test_missing_corpus_file_skips_locally_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CI the same absence skips, and the reason names the file."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no-such-file\.edi"):
        need(SHARED / "corpus" / "public" / "no-such-file.edi")
