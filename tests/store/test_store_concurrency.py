"""Control numbers under concurrent writers in separate processes (F51)."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.synchronize import Barrier

from sqlalchemy import Engine, func, select

from edi.store import open_engine, reserve
from edi.store.control_numbers import control_number_reservation

WORKERS = 4
PER_WORKER = 250
TIMEOUT_S = 60


def _reserve_many(url: str, count: int, barrier: Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Worker: reserve ``count`` interchanges, one transaction each, and report the ISA13 values."""
    eng = open_engine(url)
    try:
        values: list[int] = []
        barrier.wait(timeout=TIMEOUT_S)
        for i in range(count):
            with eng.begin() as conn:
                res = reserve(conn, sender=("ZZ", "VENDOR1"), receiver=("ZZ", "AMAZON"), purpose=f"load {i}")
                values.append(res.isa13)
        results.put(("ok", values))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("error", repr(exc)))
    finally:
        eng.dispose()


def test_f51_concurrent_processes_get_distinct_contiguous_numbers(engine: Engine, database_url: str) -> None:
    """Four processes x 250 reservations give ISA13 1..1000, each exactly once, with no errors."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_reserve_many, args=(database_url, PER_WORKER, barrier, results))
        for _ in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    try:
        deadline = time.monotonic() + TIMEOUT_S
        outcomes = [results.get(timeout=max(1.0, deadline - time.monotonic())) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    errors = [detail for status, detail in outcomes if status == "error"]
    assert errors == []
    values = [v for _, got in outcomes for v in got]
    assert len(values) == WORKERS * PER_WORKER
    assert sorted(values) == list(range(1, WORKERS * PER_WORKER + 1))
    for _, got in outcomes:
        assert got == sorted(got)  # each worker sees its own numbers rise
    with engine.connect() as conn:
        audited = conn.execute(select(func.count()).select_from(control_number_reservation)).scalar_one()
    assert audited == WORKERS * PER_WORKER
