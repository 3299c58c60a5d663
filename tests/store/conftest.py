"""Fixtures for the store tests: a database URL per backend and a throwaway PostgreSQL cluster.

The PostgreSQL cluster is started from the server binaries found in ``EDI_PG_BIN``, on ``PATH``
(``initdb``) or in Debian's ``/usr/lib/postgresql/<version>/bin``; without them the PostgreSQL
variants are skipped. As root, the cluster runs as the unprivileged user ``edi-test`` (created with
``useradd`` when missing). It listens only on a Unix socket in a temporary directory and is stopped
by its own PID at the end of the session.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edi.store import ensure_schema, open_engine

PG_BIN_ENV = "EDI_PG_BIN"
PG_OS_USER = "edi-test"
PG_ROLE = "edi_test"
PG_START_TIMEOUT_S = 30.0
_db_counter = itertools.count(1)


@dataclass(frozen=True)
class PgCluster:
    """A running throwaway PostgreSQL server reachable through a Unix socket."""

    socket_dir: Path
    port: int
    pid: int

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://{PG_ROLE}@/{database}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, database: str = "postgres") -> str:
        """Return the libpq connection string of ``database`` on this cluster."""
        return f"host={self.socket_dir} port={self.port} user={PG_ROLE} dbname={database}"


def _find_pg_bin() -> Path | None:
    """Locate a directory holding both ``initdb`` and ``postgres``."""
    candidates: list[Path] = []
    if env := os.environ.get(PG_BIN_ENV):
        candidates.append(Path(env))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    return None


def _free_port() -> int:
    """Return a TCP port that is free right now (names the socket file only: no TCP listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """Return the OS user to run PostgreSQL as when we are root (created if missing), else None."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            check=True,
            capture_output=True,
        )
    return PG_OS_USER


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start a throwaway PostgreSQL cluster for the session, or skip when it cannot be had."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg (v3) is not installed")
    bindir = _find_pg_bin()
    if bindir is None:
        pytest.skip(
            f"PostgreSQL server binaries not found (set {PG_BIN_ENV}, put initdb on PATH or "
            "apt-get install postgresql)"
        )
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="edi-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    data = base / "data"
    subprocess.run(
        [bindir / "initdb", "-D", data, "-U", PG_ROLE, "--auth=trust", "--encoding=UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        user=user,
        cwd=base,
    )
    port = _free_port()
    log = (base / "postgres.log").open("wb")
    proc = subprocess.Popen(
        [
            bindir / "postgres",
            "-D",
            data,
            "-k",
            base,
            "-p",
            str(port),
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",
            "-c",
            "max_connections=50",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        user=user,
        cwd=base,
    )
    cluster = PgCluster(socket_dir=base, port=port, pid=proc.pid)
    try:
        deadline = time.monotonic() + PG_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"postgres exited with {proc.returncode}: {(base / 'postgres.log').read_text()}")
            try:
                psycopg.connect(cluster.conninfo(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    pytest.fail("postgres did not accept connections in time")
                time.sleep(0.1)
        yield cluster
    finally:
        # Fast shutdown of the postmaster we started, by its own PID.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database_url(pg_cluster: PgCluster) -> Iterator[str]:
    """Create an empty database on the session cluster and drop it after the test."""
    import psycopg  # noqa: PLC0415 - only when PostgreSQL tests run

    name = f"edi_test_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_cluster.url(name)
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
