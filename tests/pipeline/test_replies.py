"""What we tell the partner and what we do agree; every reply has a key and a file name of its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edi.pipeline import Pipeline
from edi.store.pipeline_tables import exception_log, outbox, purchase_order
from tests.conftest import SAMPLES
from tests.pipeline._util import Clock, rows

ONE = (SAMPLES / "inbound" / "01_single_line.edi").read_bytes()
TWO = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes()


def _with_ids(pipe: tuple[Pipeline, Clock, Path], *ids: str) -> Pipeline:
    """The fixture's pipeline again, for a partner that sends under ``ids``."""
    p, clock, tmp = pipe
    return Pipeline(p.engine, tmp / "data", settings=dataclasses.replace(p.settings, partner_ids=ids), clock=clock)


def test_a_group_our_997_rejects_orders_nothing(pipe: tuple[Pipeline, Clock, Path]) -> None:
    """GE01 or GE02 wrong: the 997 says AK9*R, so neither PO is mapped, ordered or acknowledged."""
    p, _, _ = pipe
    p.receive_bytes(ONE.replace(b"GE*1*71001~", b"GE*2*71001~"), "ge01.edi", "folder")
    p.receive_bytes(TWO.replace(b"GE*1*71002~", b"GE*1*71099~"), "ge02.edi", "folder")
    p.process_inbound()
    acks = [r.payload.decode() for r in rows(p, outbox, outbox.c.kind == "997")]
    assert len(acks) == 2 and all("AK9*R*" in a for a in acks), acks
    assert p.allocate_and_acknowledge() == 0
    assert not rows(p, purchase_order)
    assert not rows(p, outbox, outbox.c.kind == "855")


def test_two_senders_that_reuse_an_isa13_each_get_their_own_997_and_orders(pipe: tuple[Pipeline, Clock, Path]
                                                                           ) -> None:
    """ZZ/AMAZON and 01/AMAZON both send ISA13 71001: two 997s, two keys, two file names, two POs ordered."""
    p = _with_ids(pipe, "ZZ/AMAZON", "01/AMAZON")
    p.receive_bytes(ONE, "zz.edi", "folder")
    other = (TWO.replace(b"*ZZ*AMAZON         *", b"*01*AMAZON         *")
             .replace(b"000071002", b"000071001").replace(b"71002", b"71001"))
    p.receive_bytes(other, "01.edi", "folder")
    p.process_inbound()
    assert not rows(p, exception_log, exception_log.c.kind == "INTERNAL_ERROR")
    acks = rows(p, outbox, outbox.c.kind == "997")
    assert sorted(r.subject for r in acks) == ["01/AMAZON/000071001/71001", "ZZ/AMAZON/000071001/71001"]
    names = sorted(r.filename for r in acks)
    assert len(set(names)) == 2, names
    assert names[0].startswith("997_ZZ-VENDORCO_01-AMAZON_") and names[1].startswith("997_ZZ-VENDORCO_ZZ-AMAZON_")
    assert p.allocate_and_acknowledge() == 2
    answers = rows(p, outbox, outbox.c.kind == "855")
    assert len({r.filename for r in answers}) == 2
    assert {r.counterpart for r in answers} == {"ZZ/AMAZON", "01/AMAZON"}


def test_receivers_whose_ids_differ_only_in_punctuation_never_share_a_file_name(
        pipe: tuple[Pipeline, Clock, Path]) -> None:
    """AMAZON.EU and AMAZON-EU used to fold to one name (one 997 overwrote the other in out/)."""
    p = _with_ids(pipe, "ZZ/AMAZON.EU", "ZZ/AMAZON-EU")
    p.receive_bytes(ONE.replace(b"*ZZ*AMAZON         *", b"*ZZ*AMAZON.EU      *"), "dot.edi", "folder")
    p.receive_bytes(TWO.replace(b"*ZZ*AMAZON         *", b"*ZZ*AMAZON-EU      *"), "dash.edi", "folder")
    p.process_inbound()
    assert p.allocate_and_acknowledge() == 2
    names = [r.filename for r in rows(p, outbox)]
    assert len(names) == 4 and len(set(names)) == 4, names
    assert all("/" not in n and "\\" not in n and not n.startswith(".") for n in names)
