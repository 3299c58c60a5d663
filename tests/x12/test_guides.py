"""Guides are data: they load safely, agree with each other and with the partner layer rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi.errors import GuideError
from edi.x12.guide import MAPS_DIR, GuideRegistry, load_data_elements, load_guide

EXPECTED = {("850", "004010"), ("855", "004010"), ("856", "004010"), ("856", "005010"), ("810", "004010"),
            ("846", "004010"), ("860", "004010"), ("997", "004010")}


def test_every_shipped_guide_loads() -> None:
    """All eight transaction-set guides load and compile their structure."""
    reg = GuideRegistry()
    assert {(g.set_id, g.version) for g in reg} == EXPECTED


def test_data_element_dictionaries_do_not_conflict() -> None:
    """The 004010 dictionaries written per document family merge without conflicts."""
    elements = load_data_elements("004010")
    assert elements["324"].max_len == 22
    assert elements["373"].data_type == "DT"


def test_xml_entities_are_never_expanded(tmp_path: Path) -> None:
    """A guide with an external entity (XXE) is not resolved: the canary file is never read."""
    canary = tmp_path / "canary.txt"
    canary.write_text("SECRET")
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "dataele.004010.xml").write_text(
        '<?xml version="1.0"?><data_elements>'
        '<data_ele ele_num="143" data_type="ID" min_len="3" max_len="3" name="x"/>'
        '<data_ele ele_num="329" data_type="AN" min_len="4" max_len="9" name="y"/></data_elements>')
    (maps / "999.4010.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file://{canary}">]>'
        '<transaction xid="999"><name>&xxe;</name><loop xid="ST_LOOP"><name>n</name><usage>R</usage>'
        '<pos>1</pos><repeat>1</repeat><segment xid="ST"><name>s</name><usage>R</usage><pos>1</pos>'
        '<max_use>1</max_use><element xid="ST01"><data_ele>143</data_ele><name>a</name><usage>R</usage>'
        '<seq>01</seq></element></segment></loop></transaction>')
    guide = load_guide(maps / "999.4010.xml", maps)
    assert "SECRET" not in guide.name


def test_partner_layer_must_name_real_paths(tmp_path: Path) -> None:
    """A layer naming a segment path the base guide lacks is refused, not ignored."""
    from edi.x12.guide import apply_layer  # noqa: PLC0415

    base = load_guide(MAPS_DIR / "850.4010.xml")
    layer = tmp_path / "850.4010.xml"
    layer.write_text('<layer partner="x"><segment path="ST_LOOP/HEADER/NOPE" usage="R"/></layer>')
    with pytest.raises(GuideError, match="NOPE"):
        apply_layer(base, layer)


def test_amazon_layer_narrows_the_850() -> None:
    """Amazon's layer makes CSH, DTM and the N1 loop mandatory and closes BEG02."""
    g = GuideRegistry(partner="amazon").get("850", "004010")
    assert g is not None and g.partner == "amazon"
    segs = {s.path: s for s in g.segments()}
    assert segs["ST_LOOP/HEADER/CSH"].required
    beg02 = segs["ST_LOOP/HEADER/BEG"].elements[1]
    assert getattr(beg02, "codes", None) == frozenset({"NE", "RO", "NP", "CN"})
