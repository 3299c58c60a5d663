"""Pipeline tests run on SQLite and on a throwaway PostgreSQL cluster (the store's fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi.config.partner import PartnerSettings
from edi.pipeline import Pipeline
from edi.pipeline.ims import EmbeddedIms
from edi.store import ensure_schema, open_engine, transaction
from tests.conftest import ROOT, SAMPLES
from tests.pipeline._util import Clock
from tests.store.conftest import database_url, pg_cluster, pg_database_url  # noqa: F401 - fixtures


@pytest.fixture
def pipe(tmp_path: Path, database_url: str) -> tuple[Pipeline, Clock, Path]:  # noqa: F811
    """A pipeline on an empty store with the sample stock loaded and a clock at T0."""
    engine = open_engine(database_url, data_dir=tmp_path / "data")
    ensure_schema(engine, upgrade=True)
    clock = Clock()
    p = Pipeline(engine, tmp_path / "data",
                 settings=PartnerSettings(mappings_dir=ROOT / "mappings" / "amazon"), clock=clock)
    with transaction(engine) as conn:
        EmbeddedIms().import_stock(conn, SAMPLES / "stock.csv", clock())
    return p, clock, tmp_path
