"""Start-up: guides load on first use and are cached by content; the CLI's imports stay light."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edi.x12.compiler import data_class
from edi.x12.envelope import Delimiters
from edi.x12.guide import CACHE_ENV, MAPS_DIR, GuideRegistry


def test_registry_parses_only_the_guides_it_is_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for the 850 parses the 850 map and no other."""
    monkeypatch.setenv(CACHE_ENV, "")
    reg = GuideRegistry()
    assert reg.sets("004010") >= {"850", "855", "856", "810", "846", "860", "997"}
    assert reg.get("850", "004010") is not None
    assert set(reg._guides) == {("850", "004010")}


def test_cache_serves_the_guide_and_never_a_stale_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second registry reads the cached guide; after the map changes, the change is seen."""
    maps = tmp_path / "maps"
    shutil.copytree(MAPS_DIR, maps)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first = GuideRegistry(maps_dir=maps).get("850", "004010")
    assert first is not None
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 1
    again = GuideRegistry(maps_dir=maps).get("850", "004010")
    assert again == first
    path = maps / "850.4010.xml"
    path.write_text(path.read_text().replace("<syntax>E0110</syntax>", "<syntax>E0102</syntax>", 1))
    changed = GuideRegistry(maps_dir=maps).get("850", "004010")
    assert changed is not None
    td3 = next(s for s in changed.segments() if s.xid == "TD3")
    assert "E0102" in td3.syntax
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 2


def test_unwritable_cache_only_costs_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder that cannot be created is ignored: the guide is parsed and returned."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    assert GuideRegistry().get("850", "004010") is not None


def test_data_class_is_printable_ascii_without_delimiters() -> None:
    """The element character class is printable ASCII minus the delimiters, for control delimiters too."""
    import re  # noqa: PLC0415

    for d in (Delimiters(), Delimiters("\x7f", ">", "\x15"), Delimiters("|", "^", "~", "!")):
        rx = re.compile(data_class(d))
        allowed = {chr(c) for c in range(0x110) if rx.fullmatch(chr(c))}
        assert allowed == {chr(c) for c in range(0x20, 0x7F)} - {d.element, d.component, d.segment, d.repetition}


def test_cli_import_does_not_load_the_validator() -> None:
    """``import edi.cli`` (every command, ``edi --help``) loads neither lxml nor the validator."""
    code = ("import sys, edi.cli; print(sorted(m for m in ('lxml', 'edi.x12.validator', 'edi.x12.compiler', "
            "'edi.x12.ack') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.stdout.strip() == "[]"
