"""``edi connectors test``: reach a connector's partner as the daemon would, report what is there, take nothing.

- folder: the inbound folder is listed, the outbound folder looked at;
- sftp: the key files and secrets are loaded, the server's host key is checked against the pin
  (nothing is sent before that), the inbound directory is listed and the outbound one looked at;
- as2: the key and both certificates are loaded and their expiry shown; the partner's endpoint
  is reached with a TCP connection only (no message is sent).

Nothing is read from, moved in or written to the partner's side. Every problem is one typed line
(``CODE message; hint: ...``), never a traceback.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from edi.config.service import ConfigRoot, Connector
from edi.errors import EdiError
from edi.transports.base import RemoteFile, Transport, TransportError, escape_name
from edi.transports.registry import open_transport

SHOW_FILES: Final = 50
"""At most this many waiting files are listed by name."""
CERT_WARNING_DAYS: Final = 30
TCP_TIMEOUT_SECONDS: Final = 10.0

__all__ = ["CheckReport", "check_connector"]


@dataclass
class CheckReport:
    """What ``check_connector`` found: facts (one line each), waiting files, and the problem if any."""

    connector: str
    kind: str
    partner: str
    facts: list[str] = field(default_factory=list)
    files: list[RemoteFile] = field(default_factory=list)
    over_limit: int = 0
    """Files over the connector's max_file_bytes: a poll would leave them (FILE_TOO_LARGE)."""
    warnings: list[str] = field(default_factory=list)
    problem: EdiError | None = None

    @property
    def ok(self) -> bool:
        """True when nothing stops the connector."""
        return self.problem is None

    def lines(self) -> list[str]:
        """The report as printable lines (names escaped)."""
        out = [f"connector {self.connector} ({self.kind}, partner {self.partner})"]
        out += [f"  {f}" for f in self.facts]
        if self.kind != "as2" and (self.files or self.problem is None):
            out.append(f"  {len(self.files)} file(s) would be taken" + (
                f", {self.over_limit} of them over max_file_bytes (would be left with FILE_TOO_LARGE)"
                if self.over_limit else ""))
            for f in self.files[:SHOW_FILES]:
                out.append(f"    {escape_name(f.name)}  {f.size:,} bytes")
            if len(self.files) > SHOW_FILES:
                out.append(f"    ... and {len(self.files) - SHOW_FILES} more")
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def check_connector(root: ConfigRoot, connector: Connector, *, now: datetime) -> CheckReport:
    """Check one connector as described in the module docstring; never raises for a connector problem."""
    spec = connector.spec
    report = CheckReport(connector.name, spec.kind, spec.partner)
    if not spec.enabled:
        report.warnings.append("enabled: false (the daemon skips it)")
    try:
        if spec.kind == "as2":
            _check_as2(root, connector, report, now)
        else:
            transport = open_transport(spec.kind, getattr(spec, spec.kind), base_dir=root.root,
                                       connector=connector.name)
            try:
                _check_files(root, connector, transport, report)
            finally:
                transport.close()
    except EdiError as exc:
        report.problem = exc
    return report


def _check_files(root: ConfigRoot, connector: Connector, transport: Transport, report: CheckReport) -> None:
    spec = connector.spec
    if spec.kind == "sftp":
        from edi.transports.sftp import SftpTransport  # noqa: PLC0415

        assert isinstance(transport, SftpTransport)
        s = transport.settings
        key_type, fingerprint = transport.server_key()
        pin = "host_key_sha256" if s.host_key_sha256 else f"known_hosts_file {s.known_hosts_file}"
        report.facts.append(f"server sftp://{s.username}@{s.host}:{s.port}: logged in; host key {key_type} "
                            f"{fingerprint} matches {pin}")
        report.files = transport.list()
        report.facts.append(f"inbound_dir {escape_name(s.inbound_dir)}: listed")
        transport.check_directory(s.outbound_dir)
        report.facts.append(f"outbound_dir {escape_name(s.outbound_dir)}: a directory")
    else:
        from edi.transports.folder import FolderTransport  # noqa: PLC0415

        assert isinstance(transport, FolderTransport)
        report.files = transport.list()
        report.facts.append(f"inbound_dir {transport.inbound}: listed")
        report.facts.append(f"outbound_dir {transport.outbound}: "
                            + ("a folder" if transport.outbound.is_dir() else "missing (created on first delivery)"))
    report.over_limit = sum(f.size > spec.max_file_bytes for f in report.files)


def _check_as2(root: ConfigRoot, connector: Connector, report: CheckReport, now: datetime) -> None:
    from edi.transports._as2_keys import load_keys  # noqa: PLC0415
    from edi.transports.as2 import As2Settings  # noqa: PLC0415

    settings = As2Settings.model_validate(connector.spec.as2)
    keys = load_keys(settings, root.root)
    report.facts.append(f"AS2 ids: ours {settings.as2_id}, partner {settings.partner_as2_id}; "
                        f"our key loads and matches cert_file")
    for name, cert in (("cert_file", keys.cert), ("partner_cert_file", keys.partner_cert)):
        not_after = cert.not_valid_after_utc
        left = not_after - now
        subject = cert.subject.rfc4514_string() or "(empty subject)"
        report.facts.append(f"{name} {settings.resolve(root.root, getattr(settings, name))}: {subject}, "
                            f"valid until {not_after:%Y-%m-%d %H:%M} UTC ({left.days} day(s) left)")
        if left.total_seconds() <= 0:
            raise _expired(name, not_after)
        if cert.not_valid_before_utc > now:
            report.warnings.append(f"{name} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
        if left <= timedelta(days=CERT_WARNING_DAYS):
            report.warnings.append(f"{name} expires within {CERT_WARNING_DAYS} days (CERT_EXPIRING): renew it and "
                                   "exchange the new certificate with the partner")
    listen = root.settings.as2_listen
    report.facts.append(f"our endpoint: {listen} (/as2), served by "
                        + ("`edi daemon`" if root.settings.as2_in_daemon else "`edi as2 serve`"))
    report.facts.append(_reach(settings.partner_url))


def _expired(name: str, not_after: datetime) -> EdiError:
    from edi.transports.base import TransportConfigError  # noqa: PLC0415

    return TransportConfigError(f"as2.{name}: the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC",
                                code="CERT_EXPIRING",
                                hint="get the renewed certificate from its owner, exchange it, and point "
                                     f"{name} at it; nothing can be exchanged until then")


def _reach(url: str) -> str:
    """A TCP connection to the partner URL's host and port (no HTTP request): reachable, or TransportError."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=TCP_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        why: Any = exc.strerror or type(exc).__name__
        raise TransportError(f"partner_url {url}: cannot connect to {host}:{port} ({why})",
                             hint="check the URL with the partner, DNS and any firewall; nothing was sent") from exc
    return f"partner_url {url}: {host}:{port} accepts connections (nothing was sent)"
