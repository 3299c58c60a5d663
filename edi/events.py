"""Structured logs: configured once by the entry points, one function per event with fixed fields.

JSON lines when the output is not a terminal (or ``log_format: json``), readable console lines on
a terminal. Events carry identifiers only (partner, connector, PO number, control numbers, file
ids, counts, durations): never payloads, segments or secrets. Library code only calls the event
functions; it never configures logging.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(log_format: str = "auto", level: str = "info") -> None:
    """Configure structlog for the process (call once, from the CLI or the daemon)."""
    json_out = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if json_out else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    bridge = _StdlibBridge()
    for name in ("edi", "uvicorn", "uvicorn.error"):  # our transports and the AS2 server log through stdlib logging
        std = logging.getLogger(name)
        std.handlers = [h for h in std.handlers if not isinstance(h, _StdlibBridge)] + [bridge]
        std.setLevel(_LEVELS.get(level, logging.INFO))
        std.propagate = False
    for noisy in ("pyas2lib", "paramiko", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # they log payloads or chatter at DEBUG/INFO
    # APScheduler warns in plain text whenever a run is skipped because the previous one still runs (by
    # design: max_instances 1); only its errors are worth a line, and they break no JSON stream then
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _StdlibBridge(logging.Handler):
    """Stdlib log records (our transports, uvicorn) as structlog events: the same stream, the same format.

    The event is the record's message (fixed texts such as ``as2 message stored``); its ``extra``
    fields become event fields. Exceptions are reduced to their type: no payload reaches a log line.
    """

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}
        if record.exc_info and record.exc_info[0] is not None:
            extra["exc_type"] = record.exc_info[0].__name__
        level = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}.get(record.levelno, "error")
        try:
            getattr(_log(), level)(record.getMessage(), logger=record.name, **extra)
        except Exception:  # noqa: BLE001 - a log line must never break the code that logs it
            self.handleError(record)


def _log() -> Any:
    return structlog.get_logger("edi")


def file_taken(*, connector: str, partner: str, file_id: int, name: str, size: int, new: bool) -> None:
    """An inbound file is in the ledger (new, or a transport duplicate with no effect)."""
    _log().info("inbound_file_received", connector=connector, partner=partner, file_id=file_id, name=name,
                size=size, outcome="new" if new else "duplicate_transport")


def file_left(*, connector: str, name: str, code: str, reason: str) -> None:
    """A remote file was not taken (too large, unusable name, vanished)."""
    _log().warning("inbound_file_left", connector=connector, name=name, code=code, reason=reason)


def poll_failed(*, connector: str, code: str, error: str) -> None:
    """A connector could not be polled; it is tried again on its next run."""
    _log().error("connector_poll_failed", connector=connector, code=code, error=error)


def job_done(*, job: str, outcome: str, duration_ms: float, **counts: Any) -> None:
    """One job run finished (one line per run, with what it did)."""
    level = "info" if outcome == "ok" else "warning" if outcome == "skipped" else "error"
    getattr(_log(), level)("job_finished", job=job, outcome=outcome, duration_ms=round(duration_ms, 1), **counts)


def job_failed(*, job: str, code: str, error: str, exception_id: int | None = None) -> None:
    """A job failed; where the details are (the exception log entry) is part of the event."""
    _log().error("job_failed", job=job, code=code, error=error, exception_log_id=exception_id)


def files_ignored(*, connector: str, count: int, names: list[str]) -> None:
    """A poll saw names matching the connector's ignore_patterns (temporary names): left alone, counted."""
    _log().info("files_ignored", connector=connector, count=count, names=names)


def job_retry(*, job: str, error: str, waited_s: float, next_in_s: float) -> None:
    """A job met a locked or unreachable store and runs again after a pause (F22)."""
    _log().warning("job_retry", job=job, error=error, waited_s=waited_s, next_in_s=next_in_s)


def po_step(*, step: str, partner: str, po_number: str, revision: int, outcome: str, **ids: Any) -> None:
    """One PO went through a step (855 rendered, held, ...), with its control numbers when it has them."""
    (_log().warning if outcome == "held" else _log().info)(
        "po_step", step=step, partner=partner, po_number=po_number, revision=revision, outcome=outcome, **ids)


def delivered(*, connector: str, partner: str, sent: int, failed: int, error: str | None) -> None:
    """One delivery run to one destination."""
    (_log().warning if failed else _log().info)("outbox_delivered", connector=connector, partner=partner,
                                                 sent=sent, failed=failed, error=error)


def daemon_event(event: str, **fields: Any) -> None:
    """Daemon life: started, stopping, stopped, refused."""
    _log().info(event, **fields)
