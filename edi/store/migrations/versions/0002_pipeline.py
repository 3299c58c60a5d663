"""Order pipeline: inbound ledger, dedupe keys, PO records and trail, outbox, exception log, stock, shipments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The tables are created from their declarations in ``edi.store.pipeline_tables`` as they stand at
this revision; later changes to them come as new revisions with explicit operations.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the pipeline tables."""
    from edi.store._base import metadata  # noqa: PLC0415
    from edi.store.pipeline_tables import PIPELINE_TABLES  # noqa: PLC0415

    metadata.create_all(bind=op.get_bind(), tables=list(PIPELINE_TABLES))


def downgrade() -> None:
    """Drop the pipeline tables."""
    from edi.store._base import metadata  # noqa: PLC0415
    from edi.store.pipeline_tables import PIPELINE_TABLES  # noqa: PLC0415

    metadata.drop_all(bind=op.get_bind(), tables=list(reversed(PIPELINE_TABLES)))
