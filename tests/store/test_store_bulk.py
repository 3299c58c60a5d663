"""bulk_insert binds exactly what conn.execute(insert(...)) binds, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, text

from edi.store.bulk import bulk_insert
from edi.store.pipeline_tables import inbound_duplicate as t


def _row(name: str, at: datetime) -> dict[str, object]:
    return {"connector": "sftp", "remote_name": name, "sha256": "0" * 64, "seen_at": at, "disposition": "x"}


def test_bulk_rows_are_stored_like_orm_rows(engine: Engine) -> None:
    at = datetime(2026, 11, 16, 13, 0, tzinfo=UTC)            # zero microseconds: the format must still match
    later = datetime(2026, 11, 16, 13, 0, 0, 250000, tzinfo=UTC)
    odd = "it's \"quoted\", tab\there, \\N and back\\slash"      # COPY and CSV-ish escapes must not bite
    with engine.begin() as conn:
        conn.execute(insert(t).values(**_row("1", at)))
        bulk_insert(conn, t, [_row("2", at), _row(odd, later), _row("4", at)])
    with engine.connect() as conn:
        got = conn.execute(select(t.c.remote_name, t.c.seen_at).order_by(t.c.id)).all()
        raw = [r[0] for r in conn.execute(text("SELECT CAST(seen_at AS TEXT) FROM inbound_duplicate ORDER BY id"))]
        same_instant = conn.execute(select(t.c.remote_name).where(t.c.seen_at == at).order_by(t.c.id)).scalars().all()
    assert [tuple(r) for r in got] == [("1", at), ("2", at), (odd, later), ("4", at)]
    assert raw[0] == raw[1] == raw[3]                          # identical storage, so SQL comparisons agree
    assert same_instant == ["1", "2", "4"]
