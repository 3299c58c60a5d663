"""The root `edi init` writes and the demo's samples are the repository's own files, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi.scaffold import _template
from tests.conftest import ROOT

TEMPLATE = _template("root")
PAIRS = [(p, ROOT / p.relative_to(TEMPLATE)) for p in sorted(TEMPLATE.rglob("*"))
         if p.is_file() and p.name != "README.md"]
SAMPLES = [(p, ROOT / "samples" / p.relative_to(_template("demo"))) for p in sorted(_template("demo").rglob("*"))
           if p.is_file()]


@pytest.mark.parametrize(("packaged", "repo"), PAIRS + SAMPLES, ids=lambda p: str(p.name))
def test_packaged_file_equals_the_repository_one(packaged: Path, repo: Path) -> None:
    """A mapping, table, connector, schedule or sample changed in one place only would drift: keep them equal."""
    assert repo.is_file(), f"{repo} is missing from the repository's own config root"
    assert packaged.read_bytes() == repo.read_bytes(), f"{packaged} and {repo} differ: copy the change to both"


def test_the_template_is_complete() -> None:
    """The template holds a partner with its three mappings, a connector and a schedule."""
    names = {p.relative_to(TEMPLATE).as_posix() for p, _ in PAIRS}
    assert {"edi.yaml", "connectors/amazon_folder.yaml", "schedules/default.yaml", "mappings/amazon/partner.yaml",
            "mappings/amazon/850_to_sales_order.yaml", "mappings/amazon/sales_order_to_855.yaml",
            "mappings/amazon/shipment_to_856.yaml", "mappings/amazon/sku-xref.csv"} <= names
