"""`edi po show`, `edi po replay`, `edi report fill-rate` and `edi partner check` as support staff run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def edi(work: Path, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EDI_FAILPOINTS", "EDI_DATA_DIR", "EDI_DATABASE_URL",
                                                            "EDI_PARTNER_DIR")}
    if failpoint:
        env["EDI_FAILPOINTS"] = f"{failpoint}=kill9"
    return subprocess.run([sys.executable, "-m", "edi", *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment folder (its own mappings and samples) after one demo run: PO 3K7QW2PE is held."""
    w = tmp_path_factory.mktemp("site")
    assert edi(w, "init", ".").returncode == 0
    assert edi(w, "demo", "--root", ".").returncode == 0
    return w


def test_po_show_tells_why_a_po_is_held(work: Path) -> None:
    r = edi(work, "po", "show", "3K7QW2PE")
    assert r.returncode == 0, r.stderr
    assert "validated -> held" in r.stdout
    assert "SKU_MISMATCH line 2" in r.stdout and "edi po replay" in r.stdout
    (version,) = json.loads(edi(work, "po", "show", "3K7QW2PE", "--json").stdout)
    assert version["state"] == "held" and version["exceptions"][0]["kind"] == "SKU_MISMATCH"
    assert [d["kind"] for d in version["documents"]] == ["997"] and version["documents"][0]["sent_at"]
    (shipped,) = json.loads(edi(work, "po", "show", "3K7QW2PB", "--json").stdout)
    assert [d["kind"] for d in shipped["documents"]] == ["997", "855", "856"]
    missing = edi(work, "po", "show", "NOPE")
    assert missing.returncode == 2 and "no PO NOPE" in missing.stderr


def test_replay_needs_the_fix_then_sends_one_855_and_survives_a_kill(work: Path) -> None:
    held = edi(work, "po", "replay", "3K7QW2PE", "--note", "try")
    assert held.returncode == 1 and "still held" in held.stdout
    with (work / "mappings" / "amazon" / "sku-xref.csv").open("a") as fh:
        fh.write("VC-1001,,841234999018,,,,,same bottle new UPC\n")   # sku,asin,upc,ean,isbn,vendor_item,cost,...
    killed = edi(work, "po", "replay", "3K7QW2PE", "--note", "added UPC", failpoint="replay.before_commit")
    assert killed.returncode == -9
    assert "held" in edi(work, "po", "show", "3K7QW2PE").stdout.splitlines()[0]
    done = edi(work, "po", "replay", "3K7QW2PE", "--note", "added UPC", "--by", "ana")
    assert done.returncode == 0, done.stderr
    assert "ordered" in done.stdout
    (ack,) = (work / "drop" / "out" / "855").glob("855_*_3K7QW2PE_*.edi")
    assert "ACK*IA*18*EA" in ack.read_text()
    again = edi(work, "po", "replay", "3K7QW2PE", "--note", "again")
    assert again.returncode == 1 and "not held" in again.stderr
    assert len(list((work / "drop" / "out" / "855").glob("855_*_3K7QW2PE_*.edi"))) == 1
    show = edi(work, "po", "show", "3K7QW2PE").stdout
    assert "resolved by ana: replayed: added UPC" in show


def test_fill_rate_report(work: Path) -> None:
    body = json.loads(edi(work, "report", "fill-rate", "--json").stdout)
    by_po = {p["po_number"]: p for p in body["pos"]}
    assert by_po["3K7QW2PB"]["fill_rate"] == 1.0                 # packed and shipped in the demo
    assert by_po["3K7QW2PF"]["ack_rate"] < 0.5                     # the partial fill
    assert body["overall"]["requested"] == sum(p["requested"] for p in body["pos"])
    hot = json.loads(edi(work, "report", "fill-rate", "--hot", "--json").stdout)
    assert [p["po_number"] for p in hot["pos"]] == ["3K7QW2PC"]


def test_partner_check(work: Path, tmp_path: Path) -> None:
    ok = edi(work, "partner", "check")
    assert ok.returncode == 0 and "855 due 24 h" in ok.stdout
    bad = tmp_path / "amazon"
    bad.mkdir()
    (bad / "partner.yaml").write_text("partner: amazon\nship_notice:\n  version: 4010\n")
    r = edi(work, "partner", "check", str(bad))
    assert r.returncode == 1 and "partner.yaml:3:" in r.stderr and "version" in r.stderr
