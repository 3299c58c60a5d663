"""Recovery and integrity: a damaged store is refused, a locked one waited out, alarms fire while delivery fails."""

from __future__ import annotations

import functools
import shutil
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from edi import jobs
from edi.config.service import JobSpec, load_root
from edi.pipeline.context import utc_now
from edi.scaffold import demo_samples, init_root
from edi.store import DatabaseDamagedError
from edi.store.pipeline_tables import exception_log, inbound_file, outbox, purchase_order
from tests.service.test_service import edi

SAMPLES = demo_samples()


def _root(tmp: Path, *names: str) -> Path:
    root = tmp / "root"
    init_root(root)
    for n in names:
        shutil.copyfile(SAMPLES / "inbound" / n, root / "drop" / "in" / n)
    return root


def _open(root: Path, **kw: object) -> jobs.Service:
    svc = jobs.open_service(load_root(root), **kw)  # type: ignore[arg-type]
    svc.sleep = lambda _s: None
    return svc


def test_a_damaged_sqlite_store_is_refused_at_start_with_one_clear_line(tmp_path: Path) -> None:
    """Pages overwritten deep in the file: the daemon refuses before taking any file (quick_check)."""
    root = _root(tmp_path, "01_single_line.edi")
    svc = _open(root)
    jobs.cycle(svc)
    svc.engine.dispose()
    db = root / "data" / "edi.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = raw.execute("PRAGMA page_size").fetchone()[0]
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 4
    with db.open("r+b") as f:  # damage the b-tree pages after the schema page, as a bad disk would
        for n in range(2, pages):
            f.seek(n * page - page + 100)
            f.write(b"\xa5" * 64)
    shutil.copyfile(SAMPLES / "inbound" / "02_multi_line.edi", root / "drop" / "in" / "02_multi_line.edi")
    with pytest.raises(DatabaseDamagedError) as caught:
        jobs.open_service(load_root(root))
    assert caught.value.code == "STORE_DAMAGED" and "damaged" in str(caught.value)
    out = edi(root, "daemon", "--once")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "damaged" in out.stderr and "restore" in out.stderr
    assert (root / "drop" / "in" / "02_multi_line.edi").exists()  # nothing was taken


def _locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backoff: float) -> tuple[jobs.Service, Path,
                                                                                   sqlite3.Connection]:
    """A root with one 850, a 100 ms busy timeout, and another connection holding SQLite's write lock."""
    import edi.store as store  # noqa: PLC0415

    monkeypatch.setattr(store, "open_engine", functools.partial(store.open_engine, busy_timeout_ms=100))
    monkeypatch.setattr(jobs, "BUSY_BACKOFF_SECONDS", backoff)
    root = _root(tmp_path, "01_single_line.edi")
    svc = _open(root)
    svc.sleep = time.sleep
    holder = sqlite3.connect(root / "data" / "edi.sqlite3", timeout=5, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return svc, root, holder


CYCLE = JobSpec(job="cycle", every_seconds=60)


def test_a_locked_store_is_waited_out_with_backoff_and_the_job_then_runs(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """F22: a writer holds the lock longer than the busy timeout; the job retries and succeeds once it is free."""
    svc, _, holder = _locked(tmp_path, monkeypatch, 0.2)
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        assert jobs.run_job(svc, "cycle", CYCLE) is True
    finally:
        release.join()
        holder.close()
    with svc.engine.connect() as conn:
        assert conn.execute(select(outbox.c.kind).where(outbox.c.sent_at.is_not(None))).scalars().all() == [
            "997", "855"]
        assert not conn.execute(select(exception_log).where(exception_log.c.kind == "STORE_BUSY")).all()


def test_a_lock_held_past_the_retry_window_fails_the_job_with_nothing_half_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After BUSY_RETRY_SECONDS the job gives up and logs it; nothing was taken, and the next run does it all."""
    svc, root, holder = _locked(tmp_path, monkeypatch, 0.1)
    monkeypatch.setattr(jobs, "BUSY_RETRY_SECONDS", 0.6)
    try:
        assert jobs.run_job(svc, "cycle", CYCLE) is False
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert (root / "drop" / "in" / "01_single_line.edi").exists()
    with svc.engine.connect() as conn:
        assert not conn.execute(select(inbound_file)).all()
    assert jobs.run_job(svc, "cycle", CYCLE) is True
    with svc.engine.connect() as conn:
        assert [r.state for r in conn.execute(select(purchase_order))] == ["acknowledged"]


def test_deadline_alarms_fire_while_delivery_is_failing(tmp_path: Path) -> None:
    """The outbound folder cannot be written (a file stands where it should be): DEADLINE is raised anyway."""
    root = _root(tmp_path, "05_unknown_sku.edi")
    (root / "drop" / "out").rmdir() if (root / "drop" / "out").is_dir() else None
    (root / "drop" / "out").write_text("not a folder")
    now = [utc_now()]
    svc = _open(root, clock=lambda: now[0])
    jobs.cycle(svc)
    with svc.engine.connect() as conn:
        assert conn.execute(select(outbox.c.sent_at)).scalars().all() == [None]  # the 997 could not go
    now[0] += timedelta(hours=21)
    assert jobs.run_job(svc, "deliver", JobSpec(job="deliver", every_seconds=60)) is True
    assert jobs.run_job(svc, "deadlines", JobSpec(job="deadlines", every_seconds=60)) is True
    with svc.engine.connect() as conn:
        kinds = {r.kind for r in conn.execute(select(exception_log).where(exception_log.c.status == "open"))}
    assert "DEADLINE" in kinds, kinds


def test_a_changed_or_missing_archive_file_is_never_processed(tmp_path: Path) -> None:
    """The archived bytes are checked against the ledger's SHA-256 before anything is read from them."""
    root = _root(tmp_path, "01_single_line.edi", "02_multi_line.edi")
    svc = _open(root)
    for c in svc.root.connectors:
        jobs.poll(svc, c)
    with svc.engine.connect() as conn:
        files = conn.execute(select(inbound_file).order_by(inbound_file.c.id)).all()
    Path(files[0].archive_path).write_bytes(Path(files[0].archive_path).read_bytes().replace(b"*72*", b"*99*"))
    Path(files[1].archive_path).unlink()
    jobs.process(svc)
    with svc.engine.connect() as conn:
        assert not conn.execute(select(purchase_order)).all()
        assert not conn.execute(select(outbox)).all()
        entries = conn.execute(select(exception_log).where(exception_log.c.kind == "ARCHIVE_DAMAGED")).all()
    assert len(entries) == 2
    assert all(f"inbound file {f.id}" in " ".join(e.message + e.hint for e in entries) for f in files)
