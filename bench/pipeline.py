"""End to end: a file of N Amazon 850s in -> 997 + sales orders committed (with lines and trail).

    python bench/generate.py --sizes 10000 && python bench/pipeline.py [--pos 10000] [--database-url URL]

Each run uses a fresh database (SQLite in a temporary data directory by default, or the given
PostgreSQL URL, whose tables are dropped first) and a copy of ``mappings/amazon`` whose
cross-reference covers every identifier of the file, so every PO becomes a sales order. Timed:
``receive_bytes`` (archive + ledger row) and ``process_inbound`` (validation, 997 into the outbox,
mapping, PO records, line trail, sales orders) -- all committed. Reports POs/s and peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    """Run once and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pos", type=int, default=10000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    data = REPO / "bench" / "data" / f"po_{args.pos}.edi"
    spec = importlib.util.spec_from_file_location("bench_mapping", REPO / "bench" / "mapping.py")
    assert spec
    assert spec.loader
    bench_mapping = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_mapping)
    from sqlalchemy import func, select  # noqa: PLC0415

    from edi.pipeline import PartnerSettings, Pipeline  # noqa: PLC0415
    from edi.store import ensure_schema, open_engine  # noqa: PLC0415
    from edi.store._base import metadata  # noqa: PLC0415
    from edi.store.pipeline_tables import outbox, po_line_trail, purchase_order  # noqa: PLC0415
    from edi.x12.limits import Limits  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mapping = bench_mapping._bench_mapping(work / "m", data)
        engine = open_engine(args.database_url, data_dir=work / "data")
        if args.database_url:
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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{engine.dialect.name}: {args.pos} POs in {secs:.2f} s = {args.pos / secs:,.0f} POs/s; sales orders "
          f"{orders}, trail rows {trail}, outbox documents {acks}; peak RSS {rss:.0f} MiB (target >= 1,000 POs/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
