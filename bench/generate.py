"""Generate Amazon-shaped X12 004010 850 benchmark files.

Each file holds N purchase orders in one interchange and one functional group (GS06 = ISA13, ISA13
zero-padded as Amazon does). Every PO has 40 segments: ST, BEG, REF*CR, REF*PD, FOB, CSH, DTM*064,
DTM*063, N9*L1, 8 x MSG, N1*ST, 20 x PO1, CTT, SE. Output is deterministic for a given seed.

    python bench/generate.py                      # 1, 1000, 10000, 100000 POs into bench/data/
    python bench/generate.py --sizes 1,1000 --out /tmp/data

Writes ``po_<N>.edi`` plus ``po_<N>.json`` (POs, segments, bytes, seed) used by bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

DEFAULT_SIZES = (1, 1_000, 10_000, 100_000)
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
LINES_PER_PO = 20
SEGMENTS_PER_PO = 40
SENDER = "AMAZON"
RECEIVER = "VENDORCO"
VENDOR_CODE = "VENDC"
FC_IDS = ("8018154", "1794205", "4728391", "6120473", "3309815", "5871260")
MESSAGES = (
    "DELIVERY APPOINTMENT REQUIRED",
    "LABEL EVERY CARTON WITH SSCC-18",
    "NO MIXED SKU CARTONS",
    "PALLET HEIGHT MAX 72 INCHES",
    "SHIP COMPLETE OR CALL BUYER",
    "ROUTING PER VENDOR CENTRAL",
    "INNER PACKS MUST BE SCANNABLE",
    "ASN DUE BEFORE ARRIVAL",
    "DEAL PRICING APPLIES TO THIS ORDER",
    "REPLENISHMENT ORDER",
)
QTY_STEPS = (1, 2, 3, 4, 6, 8, 10, 12, 24, 36, 48, 60, 72, 96, 120, 144, 500)
B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gtin_check_digit(data: str) -> str:
    """GS1 check digit for the digits in ``data`` (weights 3,1,3,... from the right)."""
    total = 0
    for i, ch in enumerate(reversed(data)):
        total += (ord(ch) - 48) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def _b36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(B36[r])
    return "".join(reversed(out))


def make_catalogue(rng: random.Random, size: int = 5_000) -> list[tuple[str, str]]:
    """Product ids as (qualifier, value): mostly UPC-A, some EAN-13, vendor items and ASINs."""
    items: list[tuple[str, str]] = []
    for i in range(size):
        kind = rng.random()
        if kind < 0.70:
            d11 = "8" + f"{rng.randrange(10**10):010d}"
            items.append(("UP", d11 + gtin_check_digit(d11)))
        elif kind < 0.85:
            d12 = rng.choice(("40", "50", "76", "87")) + f"{rng.randrange(10**10):010d}"
            items.append(("EN", d12 + gtin_check_digit(d12)))
        elif kind < 0.93:
            items.append(("VN", f"VC-{i:05d}-{rng.choice(('BLK', 'WHT', 'RED', 'SLV', 'CS'))}"))
        else:
            items.append(("BP", "B00" + _b36(rng.randrange(36**7), 7)))
    return items


def po_segments(rng: random.Random, index: int, catalogue: list[tuple[str, str]], day: int) -> list[str]:
    """The 40 segments of purchase order ``index`` (1-based)."""
    st02 = f"{index:04d}"
    po_number = "B" + _b36(index * 7_919 + 13, 7)
    po_date = f"202611{day:02d}"
    start = day + rng.randrange(2, 6)
    end = start + rng.randrange(3, 9)
    segs = [
        f"ST*850*{st02}",
        f"BEG*00*{'RO' if rng.random() < 0.05 else 'NE'}*{po_number}**{po_date}",
        f"REF*CR*{VENDOR_CODE}",
        f"REF*PD*DEAL{rng.randrange(10**6):06d}",
        "FOB*PP",
        f"CSH*{'Y' if rng.random() < 0.7 else 'N'}",
        f"DTM*064*202611{start:02d}" if start <= 30 else f"DTM*064*202612{start - 30:02d}",
        f"DTM*063*202612{end - 30:02d}" if end > 30 else f"DTM*063*202611{end:02d}",
        "N9*L1*NOTES",
    ]
    segs.extend(f"MSG*{rng.choice(MESSAGES)}" for _ in range(8))
    segs.append(f"N1*ST**15*{rng.choice(FC_IDS)}")
    hash_total = 0
    for line in range(1, LINES_PER_PO + 1):
        qual, value = rng.choice(catalogue)
        qty = rng.choice(QTY_STEPS) * rng.randrange(1, 4)
        uom = "CA" if rng.random() < 0.15 else "EA"
        cents = rng.randrange(50, 25_000)
        price = f"{cents // 100}.{cents % 100:02d}" if cents % 100 else str(cents // 100)
        segs.append(f"PO1*{line}*{qty}*{uom}*{price}*PE*{qual}*{value}")
        hash_total += qty
    segs.append(f"CTT*{LINES_PER_PO}*{hash_total}")
    segs.append(f"SE*{len(segs) + 1}*{st02}")
    assert len(segs) == SEGMENTS_PER_PO
    return segs


def generate(n_pos: int, out_dir: Path, seed: int = 850) -> dict:
    rng = random.Random(seed * 1_000_003 + n_pos)
    catalogue = make_catalogue(random.Random(seed))
    control = 100_000 + n_pos % 900_000 + rng.randrange(1_000)
    day = 2 + rng.randrange(20)
    date8 = f"202611{day:02d}"
    time4 = f"{rng.randrange(24):02d}{rng.randrange(60):02d}"
    path = out_dir / f"po_{n_pos}.edi"
    tmp = path.with_suffix(".edi.part")
    segments = 0
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(
            f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*{date8[2:]}*{time4}"
            f"*U*00401*{control:09d}*0*P*>~\n"
            f"GS*PO*{SENDER}*{RECEIVER}*{date8}*{time4}*{control}*X*004010~\n"
        )
        segments += 2
        batch: list[str] = []
        for i in range(1, n_pos + 1):
            segs = po_segments(rng, i, catalogue, day)
            segments += len(segs)
            batch.append("~\n".join(segs))
            if len(batch) >= 1_000:
                f.write("~\n".join(batch) + "~\n")
                batch.clear()
        if batch:
            f.write("~\n".join(batch) + "~\n")
        f.write(f"GE*{n_pos}*{control}~\nIEA*1*{control:09d}~\n")
        segments += 2
    tmp.replace(path)
    meta = {
        "file": path.name,
        "pos": n_pos,
        "transaction_sets": n_pos,
        "segments": segments,
        "segments_in_sets": n_pos * SEGMENTS_PER_PO,
        "po1_lines": n_pos * LINES_PER_PO,
        "bytes": path.stat().st_size,
        "seed": seed,
        "isa13": f"{control:09d}",
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated PO counts")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default bench/data)")
    ap.add_argument("--seed", type=int, default=850)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        meta = generate(size, args.out, args.seed)
        print(
            f"{args.out / meta['file']}: {meta['pos']} POs, {meta['segments']} segments, "
            f"{meta['bytes'] / 2**20:.1f} MiB",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
