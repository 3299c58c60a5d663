"""Pack confirmations as the warehouse sends them: JSON (the model) or CSV (one row per carton item).

CSV columns (header row required, any order; shipment columns repeat on every row and must agree):

    shipment_id, ship_date, carrier_scac, gross_weight, sscc, po_number, line_number, quantity
    optional: partner (default: the pipeline's partner), estimated_delivery, bill_of_lading,
              pro_number, transport_method, weight_unit, carton_weight

A bad file raises ``PackFileError`` naming the row and column and what to do; nothing is applied.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import ValidationError

from edi.errors import DocumentError
from edi.model import PackConfirmation

REQUIRED = ("shipment_id", "ship_date", "carrier_scac", "gross_weight", "sscc", "po_number", "line_number",
            "quantity")
SHIPMENT_COLUMNS = ("shipment_id", "partner", "ship_date", "estimated_delivery", "carrier_scac", "bill_of_lading",
                    "pro_number", "transport_method", "gross_weight", "weight_unit")
OPTIONAL = ("partner", "estimated_delivery", "bill_of_lading", "pro_number", "transport_method", "weight_unit",
            "carton_weight")
MAX_BYTES = 16 << 20


class PackFileError(DocumentError):
    """A pack confirmation file cannot be read; nothing of it was applied."""

    code = "PACK_FILE_INVALID"


def parse_pack(data: bytes, name: str, partner: str) -> PackConfirmation:
    """Read one pack confirmation (``.csv`` by name, else JSON); raise PackFileError saying where and why."""
    if len(data) > MAX_BYTES:
        raise PackFileError(f"{name}: {len(data):,} bytes is more than a pack confirmation can be ({MAX_BYTES:,})",
                            hint="split the shipment's confirmation or check the file")
    if name.lower().endswith(".csv"):
        return _from_csv(data, name, partner)
    try:
        return PackConfirmation.model_validate_json(data)
    except ValidationError as exc:
        raise _invalid(name, exc) from exc


def _from_csv(data: bytes, name: str, partner: str) -> PackConfirmation:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackFileError(f"{name}: not UTF-8 (byte {exc.start})", hint="save the file as UTF-8 CSV") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in REQUIRED and c not in OPTIONAL]
    if missing or unknown:
        parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
        raise PackFileError(f"{name}: row 1 (header): {'; '.join(parts)}",
                            hint=f"the columns are {', '.join(REQUIRED)} plus optional {', '.join(OPTIONAL)}")
    shipment: dict[str, str] = {}
    cartons: dict[str, dict[str, Any]] = {}
    for row_no, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise PackFileError(f"{name}: row {row_no}: more fields than columns",
                                hint="quote values that contain commas")
        if not any(row.values()):
            continue
        for col in REQUIRED:
            if not row.get(col):
                raise PackFileError(f"{name}: row {row_no}, column {col}: empty", hint="every row needs a value there")
        for col in SHIPMENT_COLUMNS:
            value = row.get(col, "")
            if col in shipment and value != shipment[col]:
                raise PackFileError(f"{name}: row {row_no}, column {col}: {value!r} differs from {shipment[col]!r} "
                                    "on an earlier row", hint="one file is one shipment: split it, or correct the row")
            shipment[col] = value
        sscc = row["sscc"]
        if sscc.isdigit() and len(sscc) < 18:
            raise PackFileError(f"{name}: row {row_no}, column sscc: {sscc} has {len(sscc)} digits, an SSCC has 18",
                                hint="a spreadsheet may have dropped leading zeros: format the column as text")
        carton = cartons.setdefault(sscc, {"sscc": sscc, "items": []})
        if row.get("carton_weight"):
            carton["weight"] = row["carton_weight"]
        try:
            quantity = int(row["quantity"])
        except ValueError:
            raise PackFileError(f"{name}: row {row_no}, column quantity: {row['quantity']!r} is not a whole number",
                                hint="quantities are units, e.g. 24") from None
        carton["items"].append({"vendor_central_po_number": row["po_number"], "line_number": row["line_number"],
                                "quantity": quantity})
    if not cartons:
        raise PackFileError(f"{name}: no carton rows", hint="one row per carton item after the header")
    body: dict[str, Any] = {k: v for k, v in shipment.items() if v}
    body.setdefault("partner", partner)
    body["cartons"] = list(cartons.values())
    try:
        return PackConfirmation.model_validate(body)
    except ValidationError as exc:
        raise _invalid(name, exc) from exc


def _invalid(name: str, exc: ValidationError) -> PackFileError:
    """The first problem the model found, with its field path and how many there are."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" ({exc.error_count()} problems)" if exc.error_count() > 1 else ""
    return PackFileError(f"{name}: {where}: {first['msg']}{more}",
                         hint="fix the pack confirmation file and submit it again")
