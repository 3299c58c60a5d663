"""The deployment's AS2 endpoint: the enabled ``kind: as2`` connectors behind one uvicorn server.

``edi daemon`` starts it in a background thread when the root has enabled AS2 connectors (and
``as2_in_daemon`` is true); ``edi as2 serve`` runs the same endpoint as its own process. Either
way:

- it listens on ``as2_listen`` (loopback by default); the socket is bound before the thread
  starts, so a port in use is a typed error at start-up, never a thread that died quietly;
- every message goes through the service's ledger (``edi.pipeline.ledger.Ledger``) with the
  connector's ``max_file_bytes``, and only then is the partner answered (``make_as2_app``); the
  process job then takes the stored file like any polled one;
- a connector whose keys cannot be loaded is left out (its partner gets 403 until fixed) and an
  open ``CFG_CONNECTOR`` entry says why; the others are served (none left: no endpoint, and the
  daemon's other connectors go on);
- ``stop()`` sets uvicorn's ``should_exit``, lets requests in flight finish (bounded) and joins
  the thread.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Final

from sqlalchemy.exc import SQLAlchemyError

from edi import events
from edi.errors import FatalError, RetriableError
from edi.jobs import Service, connector_problem, note_received
from edi.transports.base import Received, TransportConfigError, escape_name

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

    from edi.config.service import ConfigRoot, Connector

START_TIMEOUT_SECONDS: Final = 10.0
"""Longest wait for uvicorn to accept connections once its thread runs."""
GRACEFUL_SECONDS: Final = 10
"""Requests in flight at stop get this long to finish (their ledger writes are transactions either way)."""
_POLL_SECONDS: Final = 0.02

__all__ = ["As2Endpoint", "As2EndpointError", "as2_connectors", "build_app", "start_endpoint"]


class As2EndpointError(FatalError):
    """The AS2 endpoint cannot start (address in use, no usable connector)."""

    code = "AS2_ENDPOINT"


def as2_connectors(root: ConfigRoot) -> list[Connector]:
    """The enabled ``kind: as2`` connectors of ``root``, in name order."""
    return [c for _, c in sorted(root.connectors.items()) if c.spec.kind == "as2" and c.spec.enabled]


@dataclass
class _LedgerSink:
    """The service's ledger as the endpoint's ``InboundSink``, bounded by each connector's ``max_file_bytes``."""

    svc: Service
    limits: dict[str, int]
    partners: dict[str, str]

    def __call__(self, stream: BinaryIO, *, remote_name: str, connector: str,
                 transport_key: str | None = None) -> Received:
        try:
            got = self.svc.ledger(stream, remote_name=remote_name, connector=connector, transport_key=transport_key,
                                  max_bytes=self.limits[connector])
        except (SQLAlchemyError, OSError) as exc:  # the endpoint answers 503 and the partner sends again
            raise RetriableError(f"AS2 connector {connector}: the ledger cannot store the message now "
                                 f"({type(exc).__name__})", code="LEDGER_UNAVAILABLE",
                                 hint="the partner resends; check the database and the data directory's disk") from exc
        size = stream.getbuffer().nbytes if isinstance(stream, io.BytesIO) else 0
        events.file_taken(connector=connector, partner=self.partners[connector], file_id=got.file_id,
                          name=escape_name(remote_name), size=size, new=got.new)
        try:
            note_received(self.svc, connector, new=got.new)
        except SQLAlchemyError as exc:  # only the status counter: the message is stored and gets its MDN
            events.daemon_event("as2_status_not_updated", connector=connector, error=type(exc).__name__)
        return got


def build_app(svc: Service) -> tuple[Starlette | None, list[str]]:
    """The Starlette app for ``svc``'s enabled AS2 connectors and the names it serves (None: no usable one)."""
    from edi.transports._as2_keys import load_keys  # noqa: PLC0415
    from edi.transports.as2 import As2Settings  # noqa: PLC0415
    from edi.transports.as2_server import make_as2_app  # noqa: PLC0415

    served: list[tuple[str, As2Settings]] = []
    for c in as2_connectors(svc.root):
        settings = As2Settings.model_validate(c.spec.as2)
        try:
            load_keys(settings, svc.root.root)
        except TransportConfigError as exc:
            events.daemon_event("as2_connector_left_out", connector=c.name, code=exc.code, error=str(exc))
            connector_problem(svc, c, exc)
            continue
        served.append((c.name, settings))
    if not served:
        return None, []
    conns = svc.root.connectors
    sink = _LedgerSink(svc, {n: conns[n].spec.max_file_bytes for n, _ in served},
                       {n: conns[n].spec.partner for n, _ in served})
    return make_as2_app(served, sink, svc.root.root), [n for n, _ in served]


@dataclass
class As2Endpoint:
    """A running endpoint: uvicorn in its own thread on a socket bound before it started."""

    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    connectors: list[str]
    host: str
    port: int
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """Where partners post (``/as2``; ``/`` works too)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/as2"

    @property
    def alive(self) -> bool:
        """Whether the server thread still runs."""
        return self.thread.is_alive()

    def stop(self, timeout: float = GRACEFUL_SECONDS + 5) -> None:
        """Ask uvicorn to exit, let requests in flight finish, join the thread, close the socket."""
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(5)
        self.sock.close()
        events.daemon_event("as2_endpoint_stopped", listen=f"{self.host}:{self.port}",
                            clean=not self.thread.is_alive())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise As2EndpointError(
            f"the AS2 endpoint cannot listen on {host}:{port} ({exc.strerror or exc})",
            hint="another process holds the port (`edi as2 serve` or a second daemon?): stop it, or change "
                 "as2_listen in edi.yaml (EDI_AS2_LISTEN); set as2_in_daemon: false when `edi as2 serve` runs "
                 "separately") from exc
    return sock


def start_endpoint(svc: Service, *, listen: str | None = None) -> As2Endpoint | None:
    """Bind ``listen`` (default: the settings' ``as2_listen``), start uvicorn in a thread, wait until it serves.

    Returns None, with an ``as2_endpoint_not_started`` event, when no enabled AS2 connector has
    usable keys (each has its CFG_CONNECTOR entry): the daemon's other connectors go on.

    Raises:
        As2EndpointError: the address cannot be bound or uvicorn did not start.
    """
    import uvicorn  # noqa: PLC0415 - only deployments with AS2 load the server

    from edi.config.service import listen_address  # noqa: PLC0415

    try:
        host, port = listen_address(listen) if listen is not None else svc.root.settings.as2_address
    except ValueError as exc:
        raise As2EndpointError(f"--listen: {exc}", hint="give HOST:PORT, e.g. 127.0.0.1:4080") from None
    app, names = build_app(svc)
    if app is None:
        events.daemon_event("as2_endpoint_not_started", reason="no AS2 connector with usable keys; see the "
                            "CFG_CONNECTOR entries and `edi connectors test NAME`")
        return None
    sock = _bind(host, port)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off", access_log=False,
                            server_header=False, timeout_graceful_shutdown=GRACEFUL_SECONDS, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="as2-endpoint", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise As2EndpointError(f"the AS2 endpoint on {host}:{port} did not start",
                                   hint="see the log lines before this one; then restart")
        time.sleep(_POLL_SECONDS)
    endpoint = As2Endpoint(server, thread, sock, names, host, port)
    events.daemon_event("as2_endpoint_started", listen=f"{host}:{port}", url=endpoint.url, connectors=names)
    return endpoint
