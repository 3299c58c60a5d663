"""Schema versioning against the packaged Alembic migrations (F26)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from edi.store import (
    SchemaOutdatedError,
    SchemaTooNewError,
    current_revision,
    ensure_schema,
    head_revision,
    open_engine,
    upgrade,
)
from edi.store import migrate as migrate_module
from edi.store.migrate import target_metadata

EXTRA_REVISION = '''"""Test-only revision after the packaged head."""
import sqlalchemy as sa
from alembic import op

revision = "9001_test_extra"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_extra", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("test_extra")
'''


@pytest.fixture
def newer_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return a copy of the migrations with one extra revision, made the code's migrations."""
    target = tmp_path / "migrations"
    shutil.copytree(migrate_module.MIGRATIONS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "versions" / "9001_test_extra.py").write_text(EXTRA_REVISION.format(head=head_revision()))
    monkeypatch.setattr(migrate_module, "MIGRATIONS_DIR", target)
    return "9001_test_extra"


def test_f26_empty_database_upgraded_to_head(database_url: str) -> None:
    """An empty database is brought to the head revision when upgrading is allowed."""
    eng = open_engine(database_url)
    try:
        assert current_revision(eng) is None
        ensure_schema(eng, upgrade=True)
        assert current_revision(eng) == head_revision()
        tables = set(inspect(eng).get_table_names())
        assert {"control_number", "control_number_reservation"} <= tables
        ensure_schema(eng, upgrade=False)  # at head: accepted
    finally:
        eng.dispose()


def test_f26_empty_database_refused_without_upgrade(sqlite_engine: Engine) -> None:
    """An empty database is refused when upgrading is not allowed, naming `edi db upgrade`."""
    with pytest.raises(SchemaOutdatedError) as info:
        ensure_schema(sqlite_engine, upgrade=False)
    assert info.value.code == "STORE_SCHEMA_OUTDATED"
    assert "edi db upgrade" in str(info.value)


def test_f26_outdated_schema_refused(sqlite_engine: Engine, newer_migrations: str) -> None:
    """A database behind the code's head is refused, then upgraded when allowed."""
    upgrade(sqlite_engine, "0001")
    with pytest.raises(SchemaOutdatedError, match="0001"):
        ensure_schema(sqlite_engine, upgrade=False)
    ensure_schema(sqlite_engine, upgrade=True)
    assert current_revision(sqlite_engine) == newer_migrations
    assert "test_extra" in inspect(sqlite_engine).get_table_names()


def test_f26_newer_schema_refused(engine: Engine) -> None:
    """A database stamped with a revision the code does not know is refused, even with upgrade."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for allow in (False, True):
        with pytest.raises(SchemaTooNewError) as info:
            ensure_schema(engine, upgrade=allow)
        assert info.value.code == "STORE_SCHEMA_TOO_NEW"
        assert info.value.hint


def test_migrations_match_table_definitions(engine: Engine) -> None:
    """The head migration creates exactly what the table definitions declare."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, target_metadata()) == []


def test_migrations_ship_inside_the_package() -> None:
    """The Alembic environment, template and first revision are in the package directory."""
    migrations = migrate_module.MIGRATIONS_DIR
    assert migrations.parent == Path(migrate_module.__file__).resolve().parent
    for name in ("env.py", "script.py.mako", "versions/0001_control_numbers.py"):
        assert (migrations / name).is_file(), name


def test_a_database_created_at_0002_upgrades_to_head_with_its_rows(tmp_path: Path) -> None:
    """0002 shipped: a store created then (with a PO and a sent 855) upgrades in place, keeping its rows."""
    eng = open_engine(data_dir=tmp_path)
    migrate_module.upgrade(eng, "0002")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO inbound_file (connector, remote_name, size, sha256, archive_path, "
                          "received_at, disposition) VALUES ('f', 'a.edi', 1, 'x', 'p', "
                          "'2026-11-16 13:00:00.000000', 'processed')"))
        conn.execute(text("INSERT INTO interchange (inbound_file_id, sender, receiver, isa13, usage, accepted) "
                          "VALUES (1, 'ZZ/AMAZON', 'ZZ/VENDORCO', '000000001', 'P', 1)"))
        conn.execute(text("INSERT INTO outbox (kind, subject, partner, isa13, filename, payload, created_at, attempts)"
                          " VALUES ('855', 'PO1/1', 'amazon', 7, 'f.edi', X'00', '2026-11-16 13:00:00.000000', 1)"))
    ensure_schema(eng, upgrade=True)
    assert current_revision(eng) == head_revision()
    with eng.connect() as conn:
        assert conn.execute(text("SELECT sha256 FROM interchange")).scalar() == ""
        assert conn.execute(text("SELECT ack_status, gs06 FROM outbox")).one() == (None, None)
