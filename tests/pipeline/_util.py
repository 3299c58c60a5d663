"""Shared helpers of the pipeline tests: a clock tests can move, and row reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

T0 = datetime(2026, 11, 16, 13, 0, tzinfo=UTC)


class Clock:
    """An injectable clock tests can move."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def rows(p: Any, table: Any, *where: Any) -> list[Any]:
    with p.engine.connect() as conn:
        return conn.execute(select(table).where(*where)).all()


def feed(p: Any, *names: str) -> None:
    """Receive sample 850 files by name, then validate, order, allocate and acknowledge them."""
    from tests.conftest import SAMPLES  # noqa: PLC0415

    for name in names:
        p.receive_bytes((SAMPLES / "inbound" / name).read_bytes(), name, "folder")
    p.process_inbound()
    p.allocate_and_acknowledge()
