"""End to end: a file of N Amazon 850s in -> 997 + sales orders committed (with lines and trail).

    python bench/generate.py --sizes 1000,10000
    python bench/pipeline.py [--pos 10000] [--repeat 3] [--postgres | --database-url URL]

Each run is its own process (so peak RSS is that run's) on a fresh database: SQLite in a
temporary data directory; with ``--postgres`` a throwaway PostgreSQL cluster (Debian's server
binaries, Unix socket) with a new database per run; or the given URL, whose tables are dropped
first. The mappings are a copy of ``mappings/amazon`` whose cross-reference covers every
identifier of the file, so every PO becomes a sales order. Timed: ``receive_bytes`` (archive +
ledger row, fsynced) and ``process_inbound`` (validation, 997 into the outbox, mapping, PO
records, audited transitions, line trail, sales orders), all committed. Memory is flat when the
1,000- and 10,000-PO files give about the same peak RSS.

The peer, measured in the same run and on the same file, is pyx12's X12 reader alone (no
database, no mapping): the ratio says what the whole pipeline costs next to only reading the file
with the usual Python X12 library.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def child(pos: int, database_url: str | None) -> dict[str, float | int | str]:
    """One timed run in this process; returns the figures as a dict."""
    data = REPO / "bench" / "data" / f"po_{pos}.edi"
    spec = importlib.util.spec_from_file_location("bench_mapping", REPO / "bench" / "mapping.py")
    assert spec
    assert spec.loader
    bench_mapping = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_mapping)
    from sqlalchemy import func, select  # noqa: PLC0415

    from edi.config.partner import PartnerSettings  # noqa: PLC0415
    from edi.pipeline import Pipeline  # noqa: PLC0415
    from edi.store import ensure_schema, open_engine  # noqa: PLC0415
    from edi.store._base import metadata  # noqa: PLC0415
    from edi.store.pipeline_tables import outbox, po_line_trail, purchase_order  # noqa: PLC0415
    from edi.x12.limits import Limits  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mapping = bench_mapping._bench_mapping(work / "m", data)
        engine = open_engine(database_url, data_dir=work / "data")
        if database_url:
            with engine.begin() as conn:
                metadata.drop_all(conn)
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        ensure_schema(engine, upgrade=True)
        pipe = Pipeline(engine, work / "data", PartnerSettings(mappings_dir=mapping.parent))
        pipe.validator.limits = Limits(max_sets_per_group=10**6, max_file_bytes=1 << 30)
        gc.freeze()  # as the daemon/CLI do after start-up
        t0 = time.perf_counter()
        pipe.receive_bytes(data.read_bytes(), data.name, "bench")
        pipe.process_inbound()
        secs = time.perf_counter() - t0
        with engine.connect() as conn:
            orders = conn.execute(select(func.count()).select_from(purchase_order)
                                  .where(purchase_order.c.sales_order.is_not(None))).scalar()
            trail = conn.execute(select(func.count()).select_from(po_line_trail)).scalar()
            acks = conn.execute(select(func.count()).select_from(outbox)).scalar()
        dialect = engine.dialect.name
        engine.dispose()
    return {"dialect": dialect, "seconds": secs, "orders": orders or 0, "trail": trail or 0, "outbox": acks or 0,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _spawn(*args: str) -> dict:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _runs(pos: int, repeat: int, url_for_run: object) -> list[dict]:
    runs = []
    for i in range(repeat):
        url = url_for_run(i) if callable(url_for_run) else None
        runs.append(_spawn(__file__, "--child", "--pos", str(pos), *(["--database-url", url] if url else [])))
    return runs


def _report(label: str, pos: int, runs: list[dict], peer: float | None) -> None:
    secs = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["rss_mib"] for r in runs)
    last = runs[-1]
    ratio = f"; {peer / secs:.2f}x pyx12's read-only rate ({pos / peer:,.0f} POs/s)" if peer else ""
    print(f"{label:10} {pos:>6} POs: median {secs:6.2f} s = {pos / secs:7,.0f} POs/s over {len(runs)} run(s) "
          f"(best {pos / min(r['seconds'] for r in runs):,.0f}); peak RSS {rss:.0f} MiB; sales orders "
          f"{last['orders']}, trail rows {last['trail']}, outbox {last['outbox']}{ratio}")


def main() -> int:
    """Run the benchmark (or one child run) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pos", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster and use it")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.pos, args.database_url)))
        return 0
    data = REPO / "bench" / "data" / f"po_{args.pos}.edi"
    if not data.exists():
        raise SystemExit(f"{data} is missing: run python bench/generate.py --sizes {args.pos}")
    peers = [_spawn(str(REPO / "bench" / "run.py"), "--child", "pyx12", str(data))["seconds"]
             for _ in range(args.repeat)]
    peer = statistics.median(peers) if peers else None
    print(f"target: >= 1,000 POs/s on SQLite with flat memory; peer: pyx12 reading the same file, median "
          f"{peer:.2f} s")
    _report("sqlite", args.pos, _runs(args.pos, args.repeat, None), peer)
    if args.database_url:
        _report("postgresql", args.pos, _runs(args.pos, args.repeat, lambda i: args.database_url), peer)
    elif args.postgres:
        from tests.store.pgcluster import create_database, throwaway_cluster  # noqa: PLC0415

        with contextlib.ExitStack() as stack:
            cluster = stack.enter_context(throwaway_cluster())
            _report("postgresql", args.pos,
                    _runs(args.pos, args.repeat, lambda i: create_database(cluster, f"bench_{i}")), peer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
