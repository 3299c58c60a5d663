"""The embedded IMS: a stock ledger in the same database, for the demo and for small vendors.

One interface for every IMS adapter: ``submit_order`` (idempotent on partner + PO + revision),
``allocate`` (per line from available stock) and, later, pack confirmations.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, insert, select, update

from edi.durable import write_durably
from edi.errors import DocumentError, RetriableError
from edi.model import Allocation, AllocationLine, SalesOrder
from edi.store.pipeline_tables import stock


class ImsAdapter(Protocol):
    """What the pipeline needs from an inventory system (the IMS is the source of truth for stock)."""

    def submit_order(self, conn: Connection, order: SalesOrder) -> str:
        """Create the sales order; idempotent on partner + PO number + revision. Returns that key."""
        ...

    def allocation_for(self, conn: Connection, order: SalesOrder, now: datetime) -> Allocation | None:
        """The allocation result for ``order``, or None while the IMS has not answered yet."""
        ...


class ImsUnavailableError(RetriableError):
    """The IMS cannot be reached now (a folder unmounted, a service down); the step is retried later."""

    code = "IMS_UNAVAILABLE"


class ImsFileError(DocumentError):
    """A file from the IMS is invalid; it was moved aside (never lost) and nothing was applied."""

    code = "IMS_FILE_INVALID"


class StockFileError(DocumentError):
    """A stock file cannot be loaded; nothing of it was applied."""

    code = "STOCK_FILE_INVALID"


_STOCK_COLUMNS = ("sku", "on_hand", "discontinued")
_INFO_COLUMNS = ("upc", "ean", "asin", "isbn", "vendor_item", "description", "name")
"""Descriptive columns an IMS export carries; read past, never applied."""
_TRUE, _FALSE = ("1", "true", "yes", "y"), ("", "0", "false", "no", "n")


def read_stock_file(path: Path) -> list[tuple[str, int, bool]]:
    """(sku, on hand, discontinued) per row of a stock CSV, every row checked; StockFileError names the first problem.

    UTF-8 only (a BOM is accepted); columns ``sku`` and ``on_hand`` are required, ``discontinued`` optional,
    the descriptive columns of ``_INFO_COLUMNS`` are read past, any other column is refused (a misspelt
    ``on_hand`` must not read as zero); ``on_hand`` is a whole number >= 0; a SKU appears once.
    """
    data = path.read_bytes()
    where = str(path)
    if not data.strip():
        raise StockFileError(f"{where}: the file is empty", hint="write a header sku,on_hand and one row per SKU")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise StockFileError(f"{where}: not a UTF-8 text file (UTF-16 or binary)",
                             hint="save the file as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise StockFileError(f"{where}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8",
                             hint="save the file as CSV UTF-8") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h not in _STOCK_COLUMNS + _INFO_COLUMNS]
    missing = [c for c in ("sku", "on_hand") if c not in header]
    if unknown or missing:
        raise StockFileError(f"{where}:1: " + "; ".join(
            ([f"unknown column(s) {', '.join(map(repr, unknown))}"] if unknown else [])
            + ([f"missing column(s) {', '.join(missing)}"] if missing else [])),
            hint=f"the columns are {', '.join(_STOCK_COLUMNS)} (discontinued optional; "
                 f"{', '.join(_INFO_COLUMNS)} are read past)")
    col = {name: i for i, name in enumerate(header)}
    out: list[tuple[str, int, bool]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise StockFileError(f"{where}:{line}: {len(row)} value(s) for {len(header)} column(s)",
                                 hint="check for a stray comma or a missing value")
        sku = row[col["sku"]].strip()
        if not sku:
            raise StockFileError(f"{where}:{line}: column sku is empty", hint="every row needs a SKU")
        raw = row[col["on_hand"]].strip()
        if not raw.isascii() or not raw.isdigit():
            raise StockFileError(f"{where}:{line}: column on_hand: {raw!r} is not a whole number >= 0",
                                 hint="write the units on hand as digits, e.g. 240")
        flag = row[col["discontinued"]].strip().lower() if "discontinued" in col else ""
        if flag not in _TRUE + _FALSE:
            raise StockFileError(f"{where}:{line}: column discontinued: {flag!r} is not yes/no",
                                 hint="write yes or no (or leave it empty)")
        if sku in seen:
            raise StockFileError(f"{where}:{line}: SKU {sku} is already on line {seen[sku]}",
                                 hint="one row per SKU")
        seen[sku] = line
        out.append((sku, int(raw), flag in _TRUE))
    return out


def order_key(order: SalesOrder) -> str:
    """The idempotency key of a sales order: partner, PO number and revision."""
    return f"{order.partner}_{order.vendor_central_po_number}_{order.revision}"


def order_file_stem(order: SalesOrder) -> str:
    """``order_key`` fit for a file name: partner, PO number and revision joined by ``_``, each part with
    every byte outside ``A-Z a-z 0-9 -`` percent-encoded.

    The PO number is partner data (``AB/../CD`` is a valid BEG03): it never becomes a path, and two
    different keys never share a file name (the encoding is reversible).
    """
    def safe(part: str) -> str:
        return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "".join(f"%{b:02X}" for b in c.encode())
                       for c in part)

    return "_".join(safe(p) for p in (order.partner, order.vendor_central_po_number, str(order.revision)))


class EmbeddedIms:
    """Allocates from the ``stock`` table; the available quantity is on hand minus allocated."""

    def import_stock(self, conn: Connection, path: Path, now: datetime) -> int:
        """Load or replace stock rows from a CSV with columns sku, on_hand (optional: discontinued).

        The whole file is read and checked first; any problem raises ``StockFileError`` naming the
        row and column, and nothing is changed (an unknown or missing column never zeroes stock).
        """
        rows = read_stock_file(path)
        for sku, on_hand, discontinued in rows:
            if conn.execute(select(stock.c.sku).where(stock.c.sku == sku)).first():
                conn.execute(update(stock).where(stock.c.sku == sku).values(
                    on_hand=on_hand, discontinued=discontinued, updated_at=now))
            else:
                conn.execute(insert(stock).values(sku=sku, on_hand=on_hand, allocated=0,
                                                  discontinued=discontinued, updated_at=now))
        return len(rows)

    def submit_order(self, conn: Connection, order: SalesOrder) -> str:
        """Accept a sales order; the key (partner + PO + revision) makes a resubmission a no-op."""
        del conn
        return f"{order.partner}:{order.vendor_central_po_number}:{order.revision}"

    def allocation_for(self, conn: Connection, order: SalesOrder, now: datetime) -> Allocation | None:
        """The embedded IMS answers at once."""
        return self.allocate(conn, order, now)

    def allocate(self, conn: Connection, order: SalesOrder, now: datetime) -> Allocation:
        """Allocate each line from available stock; the rest is backordered (CSH*Y) or unavailable.

        The order's stock rows are read in one statement and locked in SKU order (two workers
        allocating overlapping SKUs then queue instead of deadlocking); the new allocated totals are
        written in one executemany.
        """
        skus = sorted({line.sku for line in order.lines})
        rows = {r.sku: r for r in conn.execute(_STOCK_ROWS, {"skus": skus})}
        taken: dict[str, int] = {}
        lines = []
        for line in order.lines:
            row = rows.get(line.sku)
            if row is None or row.discontinued:
                lines.append(AllocationLine(line_number=line.line_number, allocated=0, unavailable=line.quantity,
                                            reason="invalid_item" if row is None else "discontinued"))
                continue
            available = max(row.on_hand - row.allocated - taken.get(line.sku, 0), 0)
            take = min(available, line.quantity)
            rest = line.quantity - take
            if take:
                taken[line.sku] = taken.get(line.sku, 0) + take
            lines.append(AllocationLine(
                line_number=line.line_number, allocated=take,
                backordered=rest if order.backorder_allowed else 0,
                unavailable=0 if order.backorder_allowed else rest,
                reason=None if not rest else "out_of_stock",
                expected_ship_date=now.date(),
                backorder_date=None))
        if taken:
            conn.execute(_ADD_ALLOCATED, [{"k": sku, "n": n, "now": now} for sku, n in taken.items()])
        return Allocation(partner=order.partner, vendor_central_po_number=order.vendor_central_po_number,
                          revision=order.revision, allocated_at=now, lines=tuple(lines))


_STOCK_ROWS = (select(stock).where(stock.c.sku.in_(bindparam("skus", expanding=True))).order_by(stock.c.sku)
               .with_for_update())
_ADD_ALLOCATED = (update(stock).where(stock.c.sku == bindparam("k"))
                  .values(allocated=stock.c.allocated + bindparam("n"), updated_at=bindparam("now")))


class FilesIms:
    """An IMS integrated through folders: sales orders out as JSON, allocation and pack files in.

    ``orders_dir/<partner>_<po>_<revision>.json`` is written once (temp file + rename, so the IMS
    never sees a partial file); the IMS answers with ``allocations_dir/<same name>``. An answer that
    does not validate is moved to ``allocations_dir/rejected/`` with a ``.error`` note beside it and
    reported; it is never deleted. The warehouse drops pack confirmations (JSON or CSV) into
    ``packs_dir``; ``Pipeline.confirm_ims_packs`` applies them and files each under ``done/`` or
    ``rejected/``.
    """

    def __init__(self, orders_dir: Path, allocations_dir: Path, packs_dir: Path | None = None) -> None:
        self.orders_dir, self.allocations_dir, self.packs_dir = orders_dir, allocations_dir, packs_dir
        for d in (orders_dir, allocations_dir, packs_dir):
            if d is not None:
                d.mkdir(parents=True, exist_ok=True)

    def submit_order(self, conn: Connection, order: SalesOrder) -> str:
        """Write the sales order file unless it is already there."""
        del conn
        key = order_key(order)
        target = self.orders_dir / f"{order_file_stem(order)}.json"
        try:
            if not target.exists():
                write_durably(target, order.model_dump_json(indent=2).encode("utf-8"))
        except OSError as exc:
            raise ImsUnavailableError(f"cannot write {target}: {exc.strerror or exc}",
                                      hint="check that the IMS folder is mounted and writable") from exc
        return key

    def allocation_for(self, conn: Connection, order: SalesOrder, now: datetime) -> Allocation | None:
        """Read the IMS's answer for ``order`` if it has arrived; a bad file is moved aside."""
        del conn, now
        path = self.allocations_dir / f"{order_file_stem(order)}.json"
        try:
            if not path.exists():
                return None
            data = path.read_bytes()
        except OSError as exc:
            raise ImsUnavailableError(f"cannot read {path}: {exc.strerror or exc}",
                                      hint="check that the IMS folder is mounted and readable") from exc
        try:
            allocation = Allocation.model_validate_json(data)
            if (allocation.partner, allocation.vendor_central_po_number, allocation.revision) != (
                    order.partner, order.vendor_central_po_number, order.revision):
                raise ValueError(f"file answers {allocation.partner} PO {allocation.vendor_central_po_number} "
                                 f"revision {allocation.revision}, expected {order.partner} PO "
                                 f"{order.vendor_central_po_number} revision {order.revision}")
        except (ValidationError, ValueError) as exc:
            aside = self.allocations_dir / "rejected"
            aside.mkdir(exist_ok=True)
            path.replace(aside / path.name)
            first = str(exc).splitlines()
            reason = " ".join(first[:3])
            (aside / f"{path.name}.error").write_text(reason + "\n", encoding="utf-8")
            raise ImsFileError(f"allocation file {path.name} is invalid: {reason}",
                               hint=f"fix it and put it back into {self.allocations_dir}") from exc
        return allocation
