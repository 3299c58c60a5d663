"""``edi daemon``: the scheduled jobs of ``schedules/*.yaml`` under APScheduler, until SIGTERM or SIGINT.

- APScheduler 3 with its in-memory job store (coordination across daemons comes from database
  leases, never from a shared job store); every job coalesces, never overlaps itself
  (``max_instances`` 1) and has a misfire grace time. Times are UTC.
- ``--once`` runs every job once, in file order, and exits (cron, tests).
- SIGTERM/SIGINT: the running job finishes its current step, nothing new starts, exit 0.
- A heartbeat row per daemon (``edi status`` shows it). On SQLite one daemon per data directory:
  a second one is refused with a clear message (an advisory lock on ``data_dir/daemon.lock``).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from sqlalchemy import insert, update

from edi import events
from edi.errors import FatalError
from edi.jobs import Service, run_job
from edi.store import transaction
from edi.store.pipeline_tables import daemon as daemon_table

HEARTBEAT_SECONDS = 10.0


class DaemonLockedError(FatalError):
    """Another daemon already runs on this SQLite data directory."""

    code = "DAEMON_RUNNING"


@contextmanager
def single_daemon(svc: Service) -> Iterator[None]:
    """On SQLite, hold ``data_dir/daemon.lock`` for the daemon's life; refuse when another process holds it."""
    if svc.engine.dialect.name != "sqlite":
        yield
        return
    path = svc.root.data_dir / "daemon.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text(encoding="utf-8", errors="replace").strip() or "another process"
            raise DaemonLockedError(
                f"a daemon already runs on {svc.root.data_dir} ({holder}); SQLite supports one daemon per data "
                "directory", hint="stop the other one, or use PostgreSQL (EDI_DATABASE_URL) for several daemons"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        yield
    finally:
        os.close(fd)


def _beat(svc: Service, *, first: bool = False, stopped: bool = False) -> None:
    now = svc.clock()
    with transaction(svc.engine) as conn:
        if first:
            conn.execute(insert(daemon_table).values(id=svc.holder, host=socket.gethostname(), pid=os.getpid(),
                                                     started_at=now, heartbeat_at=now))
        else:
            values = {"heartbeat_at": now} | ({"stopped_at": now} if stopped else {})
            conn.execute(update(daemon_table).where(daemon_table.c.id == svc.holder).values(**values))


def run(svc: Service, *, once: bool = False) -> int:
    """Run the schedules until stopped (or each job once); returns the exit code (0 also after SIGTERM)."""
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415
    from apscheduler.triggers.interval import IntervalTrigger  # noqa: PLC0415

    jobs = svc.root.jobs
    with single_daemon(svc):
        _beat(svc, first=True)
        events.daemon_event("daemon_started", holder=svc.holder, jobs=[j.name for j in jobs], once=once,
                            root=str(svc.root.root))
        previous = _on_signals(svc.stopping)
        failed = 0
        try:
            if once:
                for j in jobs:
                    if svc.stopping.is_set():
                        break
                    failed += not run_job(svc, j.name, j.spec)
            else:
                scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
                for j in jobs:
                    trigger = (IntervalTrigger(seconds=j.spec.every_seconds, timezone="UTC")
                               if j.spec.every_seconds is not None
                               else CronTrigger.from_crontab(j.spec.cron or "", timezone="UTC"))
                    scheduler.add_job(run_job, trigger, args=(svc, j.name, j.spec), id=j.name, name=j.name,
                                      misfire_grace_time=j.spec.misfire_grace_seconds, next_run_time=None
                                      if j.spec.cron else _now_utc())
                scheduler.add_job(_beat, IntervalTrigger(seconds=HEARTBEAT_SECONDS, timezone="UTC"), args=(svc,),
                                  id="_heartbeat")
                scheduler.start()
                svc.stopping.wait()
                events.daemon_event("daemon_stopping", holder=svc.holder)
                scheduler.shutdown(wait=True)  # the running job sees `stopping` and ends after its current step
        finally:
            _restore(previous)
            _beat(svc, stopped=True)
            events.daemon_event("daemon_stopped", holder=svc.holder)
    return 0 if not once or failed == 0 else 1


def _now_utc() -> object:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)


_Handler = signal.Handlers | int | None | object


def _on_signals(stopping: threading.Event) -> dict[int, _Handler]:
    def stop(signum: int, frame: FrameType | None) -> None:
        del frame
        events.daemon_event("daemon_signal", signal=signal.Signals(signum).name)
        stopping.set()

    previous: dict[int, _Handler] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop)
    return previous


def _restore(previous: dict[int, _Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
