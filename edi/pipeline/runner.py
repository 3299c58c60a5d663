"""One partner's pipeline as one object: a thin facade over the step modules, for the CLI and the tests.

It holds a ``Runtime`` with one partner and forwards to the step functions (``ledger``, ``inbound``,
``outbound``, ``support``, ``deliver``); it decides nothing itself. The order of the steps for a
service lives in ``edi.jobs``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from edi.config.partner import PartnerSettings
from edi.pipeline import deliver, inbound, ledger, outbound, support
from edi.pipeline.context import Clock, PartnerContext, Runtime
from edi.pipeline.ims import ImsAdapter
from edi.pipeline.inbound import ORDER_BATCH
from edi.pipeline.support import ReplayRefusedError
from edi.transports.folder import FolderSettings, FolderTransport

__all__ = ["ORDER_BATCH", "Pipeline", "ReplayRefusedError"]


class Pipeline:
    """One partner's order flow over one store (see the module docstring)."""

    def __init__(self, engine: Engine, data_dir: Path, settings: PartnerSettings | None = None,
                 clock: Clock | None = None, ims: ImsAdapter | None = None) -> None:
        if settings is None:
            raise TypeError("Pipeline needs the partner's settings (PartnerSettings.load(<root>/mappings/<partner>))")
        self.runtime = Runtime.build(engine, data_dir, [settings], clock=clock, ims=ims)
        self.ctx: PartnerContext = self.runtime.context(settings.partner)
        self.ledger = ledger.Ledger(engine, self.runtime.archive, self.runtime.clock)

    # the context's parts, for callers that read them
    @property
    def engine(self) -> Engine:
        """The store."""
        return self.ctx.engine

    @property
    def settings(self) -> PartnerSettings:
        """The partner's settings."""
        return self.ctx.settings

    @settings.setter
    def settings(self, value: PartnerSettings) -> None:
        """Replace the partner's settings (same partner name)."""
        self.ctx.settings = value

    @property
    def clock(self) -> Clock:
        """The clock every step reads."""
        return self.ctx.clock

    @property
    def ims(self) -> ImsAdapter:
        """The IMS adapter."""
        return self.ctx.ims

    def receive_bytes(self, data: bytes, remote_name: str, connector: str = "folder") -> bool:
        """Archive and commit one file; False for a duplicate."""
        return ledger.receive_bytes(self.ledger, data, remote_name, connector)

    def receive_folder(self, folder: Path, connector: str = "folder") -> tuple[int, int]:
        """Archive every regular file of ``folder`` without moving it (the demo's samples); (new, duplicate)."""
        new = dup = 0
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink()):
            with path.open("rb") as fh:
                got = ledger.receive_stream(self.ledger, fh, remote_name=path.name, connector=connector)
            new, dup = (new + 1, dup) if got.new else (new, dup + 1)
        return new, dup

    def process_inbound(self) -> int:
        """Validate new files, write 997s, create sales orders."""
        return inbound.process_inbound(self.runtime)

    def submit_pending(self) -> int:
        """Submit sales orders the IMS could not take earlier."""
        return outbound.submit_pending(self.ctx)

    def allocate_and_acknowledge(self) -> int:
        """Acknowledge (allocate + 855), then apply the shipments waiting for those 855s: the jobs' order."""
        done = outbound.acknowledge(self.ctx)
        outbound.retry_waiting_packs(self.ctx)
        return done

    def confirm_pack(self, data: bytes, name: str) -> str:
        """Apply one pack confirmation."""
        return outbound.confirm_pack(self.ctx, data, name)

    def confirm_pack_folder(self, folder: Path, *, move: bool = True) -> list[tuple[str, str]]:
        """Apply every pack confirmation of ``folder``."""
        return outbound.confirm_pack_folder(self.ctx, folder, move=move)

    def confirm_ims_packs(self) -> list[tuple[str, str]]:
        """Apply the IMS adapter's pack folder."""
        return outbound.confirm_ims_packs(self.ctx)

    def retry_waiting_packs(self) -> list[tuple[str, str]]:
        """Ship the shipments that were waiting for an 855."""
        return outbound.retry_waiting_packs(self.ctx)

    def replay(self, po_number: str, by: str, note: str) -> str:
        """Replay a held PO."""
        return support.replay(self.ctx, po_number, by, note)

    def reject_unknown_items(self) -> int:
        """Release POs held only by unknown items at the configured hour."""
        return support.reject_unknown_items(self.ctx)

    def watch_deadlines(self) -> int:
        """Raise the 855 deadline alarms and missing-997 alerts."""
        return support.watch_deadlines(self.ctx)

    def send_outbox(self, out_dir: Path) -> list[Path]:
        """Write every unsent document of this partner to ``out_dir/<kind>/`` (same bytes on every retry)."""
        folder = FolderTransport(FolderSettings(inbound_dir=str(out_dir), outbound_dir=str(out_dir)),
                                 base_dir=out_dir)
        got = deliver.deliver(self.engine, self.clock, folder, partner=self.settings.partner, connector=None)
        return [out_dir / name.split("_", 1)[0] / name for name in got.sent]
