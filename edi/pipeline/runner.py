"""The order pipeline: receive -> validate + 997 -> sales order -> allocate -> 855 -> pack -> 856 -> send.

Every step commits its state change, outbox documents (with their control numbers) and exception
entries in one transaction, so a process killed anywhere continues on restart without loss or
duplication: inbound files are archived and committed before anything else (ledger before
touch), the unique keys of the store stop a second business effect, and the outbox holds the
bytes every (re)send uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from edi.config.partner import PartnerSettings
from edi.pipeline.base import Clock
from edi.pipeline.ims import EmbeddedIms, ImsAdapter
from edi.pipeline.inbound import ORDER_BATCH, InboundSteps
from edi.pipeline.outbound import OutboundSteps
from edi.pipeline.support import ReplayRefusedError, SupportSteps
from edi.x12 import X12Validator
from edi.x12.guide import default_registry

__all__ = ["ORDER_BATCH", "Pipeline", "ReplayRefusedError"]


class Pipeline(InboundSteps, OutboundSteps, SupportSteps):
    """One partner's order flow over one store."""

    def __init__(self, engine: Engine, data_dir: Path, settings: PartnerSettings | None = None,
                 clock: Clock | None = None, ims: ImsAdapter | None = None) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.archive = data_dir / "archive"
        self.archive.mkdir(parents=True, exist_ok=True)
        self.settings = settings or PartnerSettings.load(Path("mappings/amazon"))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.validator = X12Validator(default_registry(self.settings.partner), keep_documents=True)
        self.refresh_mappings()
        self.ims: ImsAdapter = ims or EmbeddedIms()
