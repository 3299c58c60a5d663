"""A throwaway PostgreSQL cluster for tests and benchmarks (Debian's server binaries, Unix socket only).

The server binaries come from ``EDI_PG_BIN``, ``PATH`` (``initdb``) or Debian's
``/usr/lib/postgresql/<version>/bin``. As root, the cluster runs as the unprivileged user
``edi-test`` (created with ``useradd`` when missing). It listens only on a Unix socket in a
temporary directory and is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
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

PG_BIN_ENV = "EDI_PG_BIN"
PG_OS_USER = "edi-test"
PG_ROLE = "edi_test"
PG_START_TIMEOUT_S = 30.0


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



class ClusterUnavailableError(RuntimeError):
    """PostgreSQL cannot be started here (no psycopg or no server binaries)."""


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """Start a PostgreSQL cluster in a temporary directory; stop it (by PID) and remove it on exit."""
    try:
        import psycopg  # noqa: PLC0415
    except ImportError as exc:
        raise ClusterUnavailableError("psycopg (v3) is not installed") from exc
    bindir = _find_pg_bin()
    if bindir is None:
        raise ClusterUnavailableError(
            f"PostgreSQL server binaries not found (set {PG_BIN_ENV}, put initdb on PATH or "
            "apt-get install postgresql)")
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="edi-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    data = base / "data"
    subprocess.run([bindir / "initdb", "-D", data, "-U", PG_ROLE, "--auth=trust", "--encoding=UTF8", "--no-sync"],
                   check=True, capture_output=True, user=user, cwd=base)
    port = _free_port()
    log = (base / "postgres.log").open("wb")
    proc = subprocess.Popen(
        [bindir / "postgres", "-D", data, "-k", base, "-p", str(port), "-c", "listen_addresses=",
         "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=50"],
        stdout=log, stderr=subprocess.STDOUT, user=user, cwd=base)
    cluster = PgCluster(socket_dir=base, port=port, pid=proc.pid)
    try:
        deadline = time.monotonic() + PG_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {proc.returncode}: {(base / 'postgres.log').read_text()}")
            try:
                psycopg.connect(cluster.conninfo(), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres did not accept connections in time") from None
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


def create_database(cluster: PgCluster, name: str) -> str:
    """Create an empty database on ``cluster``; returns its SQLAlchemy URL."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)
