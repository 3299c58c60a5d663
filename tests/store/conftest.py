"""Fixtures for the store tests: a database URL per backend and a throwaway PostgreSQL cluster.

The PostgreSQL cluster (``tests/store/pgcluster.py``) is started once per session; without the
server binaries the PostgreSQL variants are skipped locally (with the reason) and fail in CI.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edi.store import ensure_schema, open_engine
from tests.conftest import unavailable
from tests.store.pgcluster import ClusterUnavailableError, PgCluster, create_database, throwaway_cluster

_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start a throwaway PostgreSQL cluster for the session; skip (locally) or fail (CI) when it cannot be had."""
    try:
        with throwaway_cluster() as cluster:
            yield cluster
    except ClusterUnavailableError as exc:
        unavailable(f"no PostgreSQL server for the postgres tests: {exc}")


@pytest.fixture
def pg_database_url(pg_cluster: PgCluster) -> Iterator[str]:
    """Create an empty database on the session cluster and drop it after the test."""
    import psycopg  # noqa: PLC0415 - only when PostgreSQL tests run

    name = f"edi_test_{os.getpid()}_{next(_db_counter)}"
    yield create_database(pg_cluster, name)
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: a SQLite file, and a PostgreSQL database (marked ``postgres``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'edi.sqlite3'}"
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database upgraded to the head revision."""
    eng = open_engine(database_url)
    ensure_schema(eng, upgrade=True)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh SQLite file in the test's temporary directory (no schema)."""
    eng = open_engine(data_dir=tmp_path)
    yield eng
    eng.dispose()
