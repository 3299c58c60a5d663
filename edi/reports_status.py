"""What ``edi status`` shows, as data: daemons, connectors, outbox depth, deadlines, open exceptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from edi.config.service import ConfigRoot
from edi.pipeline.records import AWAITING_855
from edi.store.pipeline_tables import connector_status, daemon, exception_log, outbox, purchase_order

SILENT_AFTER = timedelta(seconds=60)


def collect(conn: Connection, root: ConfigRoot, *, now: datetime | None = None, nearest: int = 10) -> dict[str, Any]:
    """Everything ``edi status`` prints, from one connection."""
    now = now or datetime.now(UTC)
    daemons = [{"id": r.id, "host": r.host, "pid": r.pid, "started_at": r.started_at, "heartbeat_at": r.heartbeat_at,
                "stopped_at": r.stopped_at, "alive": r.stopped_at is None and now - r.heartbeat_at < SILENT_AFTER}
               for r in conn.execute(select(daemon).where(
                   (daemon.c.stopped_at.is_(None)) | (daemon.c.stopped_at > now - timedelta(days=1)))
                   .order_by(daemon.c.started_at.desc()).limit(20))]
    status = {r.connector: r for r in conn.execute(select(connector_status))}
    connectors = []
    for c in root.connectors.values():
        s = status.get(c.name)
        connectors.append({"connector": c.name, "kind": c.spec.kind, "partner": c.spec.partner,
                           "enabled": c.spec.enabled, "last_poll_at": s.last_poll_at if s else None,
                           "last_success_at": s.last_success_at if s else None,
                           "last_error": s.last_error if s else None, "last_error_at": s.last_error_at if s else None,
                           "files_taken": s.files_taken if s else 0})
    depth = [{"partner": r.partner, "connector": r.connector, "kind": r.kind, "unsent": r.n, "failing": r.failing}
             for r in conn.execute(select(outbox.c.partner, outbox.c.connector, outbox.c.kind,
                                          func.count().label("n"),
                                          func.sum((outbox.c.failures > 0).cast(type_=outbox.c.failures.type))
                                          .label("failing"))
                                   .where(outbox.c.sent_at.is_(None))
                                   .group_by(outbox.c.partner, outbox.c.connector, outbox.c.kind))]
    for d in depth:
        d["failing"] = int(d["failing"] or 0)
    deadlines = [{"partner": r.partner, "po_number": r.po_number, "state": r.state, "hot": bool(r.hot),
                  "due": r.deadline_855_at, "overdue": r.deadline_855_at <= now}
                 for r in conn.execute(select(purchase_order.c.partner, purchase_order.c.po_number,
                                              purchase_order.c.state, purchase_order.c.hot,
                                              purchase_order.c.deadline_855_at)
                                       .where(purchase_order.c.state.in_(AWAITING_855))
                                       .order_by(purchase_order.c.deadline_855_at).limit(nearest))]
    exceptions = [{"kind": r.kind, "count": r.n} for r in conn.execute(
        select(exception_log.c.kind, func.count().label("n")).where(exception_log.c.status == "open")
        .group_by(exception_log.c.kind).order_by(func.count().desc()))]
    return {"daemons": daemons, "connectors": connectors, "outbox": depth, "deadlines": deadlines,
            "exceptions": exceptions}
