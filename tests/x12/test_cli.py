"""The command line: exit codes, one-line findings with a caret, JSON, and no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLES

GOOD = SAMPLES / "inbound" / "01_single_line.edi"
BAD = SAMPLES / "malformed" / "x40_beg03_too_long.edi"


def run(*args: str, cwd: Path | None = None, env_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if env_dir is not None:
        import os  # noqa: PLC0415

        env = {**os.environ, "EDI_DATA_DIR": str(env_dir)}
    return subprocess.run([sys.executable, "-m", "edi", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          check=False, timeout=120)


def test_validate_exit_codes() -> None:
    """0 when every file is accepted, 1 when one is rejected, 2 for a missing file."""
    assert run("validate", str(GOOD)).returncode == 0
    assert run("validate", str(GOOD), str(BAD)).returncode == 1
    missing = run("validate", "does-not-exist.edi")
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    assert "does-not-exist.edi" in missing.stderr


def test_validate_human_output_has_position_code_and_caret() -> None:
    """The finding names file, segment, byte, code, and puts a caret under the bad element."""
    res = run("validate", str(BAD))
    lines = res.stderr.splitlines()
    head = next(line for line in lines if "ELEMENT_TOO_LONG" in line)
    assert head.startswith(f"{BAD}:segment 2 (byte ")
    seg_line = lines[lines.index(head) + 1]
    caret = lines[lines.index(head) + 2]
    assert seg_line.strip().startswith("BEG*00*NE*")
    col = caret.index("^")
    assert seg_line[col:].startswith("4M1XA040")


def test_validate_json_is_machine_readable() -> None:
    """--json gives the codes and positions of every finding."""
    res = run("validate", "--json", str(BAD))
    (doc,) = json.loads(res.stdout)
    assert doc["accepted"] is False
    (f,) = doc["findings"]
    assert (f["code"], f["segment_index"], f["element"], f["x12"]) == (
        "ELEMENT_TOO_LONG", 2, 3, {"ak502": "5", "ak304": "8", "ak403": "5"})


def test_ack_writes_997_numbered_from_the_ledger(tmp_path: Path) -> None:
    """Two runs write two 997s with consecutive ISA13 values from the persistent ledger."""
    out = tmp_path / "out"
    for _ in range(2):
        res = run("ack", str(GOOD), "--out", str(out), env_dir=tmp_path / "data")
        assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["997_ZZ-VENDORCO_ZZ-AMAZON_000000001.edi", "997_ZZ-VENDORCO_ZZ-AMAZON_000000002.edi"]
    assert (tmp_path / "data" / "edi.sqlite3").exists()


def test_parse_json_names_elements_from_the_guide() -> None:
    """parse --json returns the canonical tree: loops as lists, elements keyed by ID."""
    res = run("parse", "--json", str(SAMPLES / "inbound" / "02_multi_line.edi"))
    assert res.returncode == 0, res.stderr
    (doc,) = json.loads(res.stdout)["documents"]
    tree = doc["tree"]
    assert tree["BEG"]["BEG01"] == "00"
    assert isinstance(tree["PO1_loop"], list) and tree["PO1_loop"][0]["PO1"]["PO101"] == "1"
    assert isinstance(tree["REF"], list)
    assert tree["N1_loop"][0]["N1"]["N101"] == "ST"


def test_explain_known_and_unknown_codes() -> None:
    """explain prints the hint of a known code and exits 2 for an unknown one."""
    ok = run("explain", "SE_SEGMENT_COUNT")
    assert ok.returncode == 0 and "hint:" in ok.stdout
    assert run("explain", "NOPE").returncode == 2
