"""Memory and transaction length for ONE very large 850 (10k, 30k, 100k lines) through every step.

    python bench/big_po.py [--lines 10000,30000,99990] [--postgres]

Each step runs in its own process on the same store, so each step's peak RSS is its own:
``process`` (receive, validate, 997, map, PO record, sales order) and ``acknowledge`` (allocate
from the embedded IMS, 855 rendered, checked and put in the outbox), then ``ship`` (a pack
confirmation of every line, 856). The longest database transaction of each step (begin to
commit or rollback, measured by SQLAlchemy events) is printed beside it: the reliability
catalogue's bound is 256 MiB per worker, and no write transaction may hold the database for more
than a few seconds (SQLite's busy timeout is 30 s). The peer is the same step on a 1,000-line PO in
the same run, so the growth per 1,000 lines shows whether memory is flat.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.generate import make_catalogue  # noqa: E402


def make_po(lines: int, seed: int = 99) -> tuple[str, list[tuple[str, str]]]:
    """One Amazon-shaped 850 with ``lines`` PO1 lines; returns the file text and the items used."""
    rng = random.Random(seed)
    catalogue = [c for c in make_catalogue(rng, 4000) if c[0] in ("UP", "EN")]
    segs = ["ST*850*0001", "BEG*00*NE*BIGPO0001**20261116", "REF*CR*VENDC", "CSH*Y", "DTM*064*20261120",
            "DTM*063*20261127", "N1*ST**15*8018154"]
    total = 0
    used = []
    for n in range(1, lines + 1):
        qual, value = catalogue[n % len(catalogue)]
        used.append((qual, value))
        qty = rng.randrange(1, 5) * 6
        segs.append(f"PO1*{n}*{qty}*EA*{rng.randrange(100, 9999) / 100:.2f}*PE*{qual}*{value}")
        total += qty
    segs.append(f"CTT*{lines}*{total}")
    segs.append(f"SE*{len(segs) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*AMAZON         *ZZ*VENDORCO       *261116*0912*U*00401*000071001*0*P*>"
    body = [isa, "GS*PO*AMAZON*VENDORCO*20261116*0912*71001*X*004010", *segs, "GE*1*71001", "IEA*1*000071001"]
    return "~\n".join(body) + "~\n", used


def setup(work: Path, lines: int) -> None:
    """A config root with a cross-reference, stock for every item and the PO in the inbox."""
    from edi.scaffold import init_root  # noqa: PLC0415

    root = work / "root"
    init_root(root)
    text, used = make_po(lines)
    (root / "drop" / "in" / "big.edi").write_text(text)
    xref = root / "mappings" / "amazon" / "sku-xref.csv"
    header = xref.read_text().splitlines()[0].split(",")
    stock = ["sku,on_hand"]
    with xref.open("a") as f:
        for i, (qual, value) in enumerate(sorted(set(used))):
            col = {"UP": "upc", "EN": "ean"}[qual]
            f.write(",".join((dict.fromkeys(header, "") | {"sku": f"BIG-{i}", col: value, "description": "bench"})[h]
                             for h in header) + "\n")
            stock.append(f"BIG-{i},1000000")
    (work / "stock.csv").write_text("\n".join(stock) + "\n")
    (root / "schedules" / "default.yaml").write_text("jobs:\n  cycle: {job: cycle, every_seconds: 60}\n")


def child(work: Path, step: str, database_url: str | None) -> dict[str, Any]:
    """Run one step in this process; its peak RSS and its longest transaction."""
    from sqlalchemy import event  # noqa: PLC0415

    from edi import jobs  # noqa: PLC0415
    from edi.config.service import load_root  # noqa: PLC0415
    from edi.pipeline import outbound  # noqa: PLC0415
    from edi.pipeline.ims import EmbeddedIms  # noqa: PLC0415
    from edi.store import transaction  # noqa: PLC0415

    root = load_root(work / "root")
    if database_url:
        root.settings.database_url = database_url
    svc = jobs.open_service(root)
    svc.sleep = lambda _s: None
    longest = [0.0]
    started: dict[int, float] = {}

    @event.listens_for(svc.engine, "begin")
    def _begin(conn: Any) -> None:
        started[id(conn)] = time.perf_counter()

    def _end(conn: Any) -> None:
        t = started.pop(id(conn), None)
        if t is not None:
            longest[0] = max(longest[0], time.perf_counter() - t)

    event.listen(svc.engine, "commit", _end)
    event.listen(svc.engine, "rollback", _end)
    t0 = time.perf_counter()
    if step == "process":
        with transaction(svc.engine) as conn:
            EmbeddedIms().import_stock(conn, work / "stock.csv", svc.clock())
        t0 = time.perf_counter()
        jobs.poll(svc, "amazon_folder")
        jobs.process(svc)
    elif step == "acknowledge":
        jobs.acknowledge(svc)
    elif step == "ship":
        _pack(work, svc)
        ctx = next(iter(svc.runtime.partners.values()))
        outbound.confirm_pack_folder(ctx, work / "packs")
    secs = time.perf_counter() - t0
    return {"step": step, "seconds": secs, "longest_tx": longest[0],
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "states": _states(svc)}


def _pack(work: Path, svc: Any) -> None:
    """A pack confirmation that ships every accepted unit of the PO, 500 lines a carton."""
    from sqlalchemy import select  # noqa: PLC0415

    from edi.store.pipeline_tables import purchase_order  # noqa: PLC0415

    with svc.engine.connect() as conn:
        ack = json.loads(conn.execute(select(purchase_order.c.acknowledgement)).scalar_one())
    items = [(ln["line_number"], sum(s["quantity"] for s in ln["statuses"] if s["code"] == "IA"))
             for ln in ack["lines"]]
    cartons = []
    for start in range(0, len(items), 500):
        serial = f"0061414{start // 500:010d}"
        digits = [int(c) for c in serial]
        check = (10 - sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits))) % 10) % 10
        cartons.append({"sscc": serial + str(check), "items": [
            {"vendor_central_po_number": "BIGPO0001", "line_number": n, "quantity": q}
            for n, q in items[start:start + 500] if q]})
    pack = {"shipment_id": "BIGSHIP1", "partner": "amazon", "ship_date": "2026-11-19T16:30:00Z",
            "estimated_delivery": "2026-11-21", "carrier_scac": "ABFS", "bill_of_lading": "BIG1",
            "pro_number": "1", "transport_method": "M", "gross_weight": "999", "weight_unit": "LB",
            "cartons": cartons}
    (work / "packs").mkdir(exist_ok=True)
    (work / "packs" / "big.json").write_text(json.dumps(pack))


def _states(svc: Any) -> dict[str, int]:
    from sqlalchemy import func, select  # noqa: PLC0415

    from edi.store.pipeline_tables import outbox, purchase_order  # noqa: PLC0415

    with svc.engine.connect() as conn:
        out = {r[0]: r[1] for r in conn.execute(select(purchase_order.c.state, func.count())
                                                .group_by(purchase_order.c.state))}
        out |= {f"out_{r[0]}": r[1] for r in conn.execute(select(outbox.c.kind, func.count()).group_by(outbox.c.kind))}
    return out


def _spawn(work: Path, step: str, url: str | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", step, "--work", str(work), *(["--database-url", url] if url else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(lines: int, url: str | None) -> list[dict[str, Any]]:
    """Every step of one PO of ``lines`` lines, each in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        setup(work, lines)
        return [_spawn(work, step, url) for step in ("process", "acknowledge", "ship")]


def main() -> int:
    """Print peak RSS and the longest transaction per step and size."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", default="1000,10000,30000,99990")
    ap.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster instead of SQLite")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--database-url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.work, args.child, args.database_url)))
        return 0
    print("bound: peak RSS <= 256 MiB per step; longest transaction: a few seconds (SQLite busy timeout 30 s)")
    with contextlib.ExitStack() as stack:
        url_for = None
        if args.postgres:
            from tests.store.pgcluster import create_database, throwaway_cluster  # noqa: PLC0415

            cluster = stack.enter_context(throwaway_cluster())
            url_for = lambda n: create_database(cluster, f"big_{n}")  # noqa: E731
        for n in (int(x) for x in args.lines.split(",")):
            for r in run(n, url_for(n) if url_for else None):
                print(f"{n:>7} lines  {r['step']:12} {r['seconds']:7.2f} s  peak RSS {r['rss_mib']:6.0f} MiB  "
                      f"longest transaction {r['longest_tx']:6.2f} s  {r['states']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
