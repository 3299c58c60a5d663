"""Crash-restart: the demo killed (SIGKILL) at each failpoint, then restarted, ends exactly like a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from edi.store import open_engine
from edi.store.pipeline_tables import exception_log, outbox, purchase_order
from tests.conftest import ROOT

POINTS = ["in.fsynced_before_commit", "ack.997_rendered_before_commit", "order.submitted_before_commit",
          "parse.validated_before_commit", "confirm.allocation_before_commit", "ship.pack_before_commit",
          "out.rendered_before_send", "out.sent_before_mark"]


def _demo(work: Path, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EDI_FAILPOINTS", "EDI_DATA_DIR", "EDI_DATABASE_URL")}
    if failpoint:
        env["EDI_FAILPOINTS"] = f"{failpoint}=kill9"
    return subprocess.run([sys.executable, "-m", "edi", "demo", "--root", str(work)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _state(work: Path) -> dict[str, object]:
    engine = open_engine(data_dir=work / "data")
    with engine.connect() as conn:
        pos = sorted((r.po_number, r.revision, r.state) for r in conn.execute(select(purchase_order)))
        docs = sorted((r.kind, r.subject) for r in conn.execute(select(outbox)))
        unsent = [r.id for r in conn.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None)))]
        excs = sorted((r.kind, r.po_number or "", r.line_number or "") for r in conn.execute(select(exception_log))
                      if r.kind != "DUPLICATE")
    engine.dispose()
    out = work / "drop" / "out"
    files = sorted(p.relative_to(out).parent.name for p in out.rglob("*") if p.is_file())
    partial = [p.name for p in work.rglob("*.part")]
    return {"pos": pos, "docs": docs, "unsent": unsent, "exceptions": excs, "files": files, "partial": partial}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("clean")
    assert _demo(work).returncode == 0
    return _state(work)


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_failpoint_then_restarted_matches_a_clean_run(point: str, tmp_path: Path,
                                                                 reference: dict[str, object]) -> None:
    """No lost PO, no duplicate sales order, 855, 856 or 997, no partial file: the restart finishes the job."""
    killed = _demo(tmp_path, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-500:]
    restarted = _demo(tmp_path)
    assert restarted.returncode == 0, restarted.stderr[-800:]
    state = _state(tmp_path)
    assert state == reference
