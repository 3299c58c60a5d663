"""Control numbers for acknowledgements from the persistent ledger (``edi.store``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine


@dataclass
class LedgerNumbers:
    """A ``ControlNumberSource`` backed by the store: every reservation is committed and audited."""

    engine: Engine
    purpose: str = "acknowledgement"

    @classmethod
    def open(cls, data_dir: Path | None = None, url: str | None = None) -> LedgerNumbers:
        """Open (and create or upgrade) the store in ``data_dir`` and refuse unsafe durability settings."""
        from edi.store import check_durability, ensure_schema, open_engine  # noqa: PLC0415

        engine = open_engine(url, data_dir)
        ensure_schema(engine, upgrade=True)
        check_durability(engine)
        return cls(engine)

    @contextmanager
    def reserving(self, sender: tuple[str, str], receiver: tuple[str, str],
                  groups: int) -> Iterator[tuple[int, list[int]]]:
        """Reserve ISA13/GS06 in a transaction that commits only if the block (the write) succeeds."""
        from edi.store import reserve, transaction  # noqa: PLC0415

        with transaction(self.engine) as conn:
            r = reserve(conn, sender=sender, receiver=receiver, groups=groups, sets_per_group=1,
                        purpose=self.purpose)
            yield r.isa13, list(r.group_numbers)
