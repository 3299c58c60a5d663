"""The AS2 transport (``kind: as2``): send signed, encrypted messages and check their MDNs.

Receiving is push: the partner posts to the endpoint built by ``edi.transports.as2_server``, so
``list`` returns nothing and ``open``/``settle`` are not used. ``deliver(name, data)`` builds the
message once, keeps it in the connector's state directory and sends exactly those bytes, with
the same Message-ID, on every retry. It returns only after a positive MDN whose MIC matches.

Errors::

    As2DeliveryError (TransportError: retried)   no answer, HTTP error, bad or unsigned MDN,
    ├── As2MdnPendingError                       MIC mismatch or processed/warning; async MDN not in yet
    As2RejectedError (DocumentError: held)       the partner answered with a negative MDN
    TransportTimeoutError                        connect or read timeout
    TransportConfigError                         key files, password, settings
    DeliveryConflictError                        another payload was already sent under that name

Signing, encryption and compression use ``cryptography`` and ``asn1crypto`` (see ``_as2_cms``).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Final

import httpx
from cryptography.exceptions import UnsupportedAlgorithm

from edi.durable import write_durably
from edi.errors import DocumentError, UsageError
from edi.transports import _as2_cms as cms
from edi.transports import _as2_mime as mime
from edi.transports._as2_keys import Keys, certificate_expiry, load_keys
from edi.transports._as2_state import expect_path, key_of, mdn_path
from edi.transports.as2_settings import As2Settings
from edi.transports.base import (
    DeliveryConflictError,
    RemoteFile,
    Settle,
    TransportConfigError,
    TransportError,
    TransportTimeoutError,
)

__all__ = [
    "As2DeliveryError",
    "As2MdnPendingError",
    "As2RejectedError",
    "As2Settings",
    "As2Transport",
    "certificate_expiry",
]

log = logging.getLogger(__name__)

MAX_MDN_BYTES: Final = 1 << 20
"""Largest MDN read from a partner (a real one is a few KiB)."""
_ASYNC_POLL_SECONDS: Final = 0.1


class As2DeliveryError(TransportError):
    """The message was not confirmed delivered (no answer, bad MDN, MIC mismatch); it is sent again later."""

    code = "AS2_DELIVERY_FAILED"


class As2MdnPendingError(As2DeliveryError):
    """The message was posted but its asynchronous MDN has not arrived yet; the retry resends the same message."""

    code = "AS2_MDN_PENDING"


class As2RejectedError(DocumentError):
    """The partner's MDN says it could not process the message (``disposition`` holds its words)."""

    code = "AS2_REJECTED"

    def __init__(self, message: str, *, disposition: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.disposition = disposition


@dataclass(frozen=True, slots=True)
class Built:
    """One built AS2 message as kept on disk: sent byte for byte on every attempt."""

    name: str
    data_sha256: str
    message_id: str
    mic: str | None
    digest_alg: str
    headers: list[tuple[str, str]]


def _mic(data: bytes, digest_alg: str) -> str:
    return base64.b64encode(hashlib.new(digest_alg, data).digest()).decode()


class As2Transport:
    """Send to one AS2 partner; a built message is kept per outbound name in its state folder."""

    kind = "as2"

    def __init__(self, settings: As2Settings, *, base_dir: Path, state_dir: Path | None = None,
                 connector: str | None = None, http: httpx.Client | None = None) -> None:
        """Load the keys and prepare the state folder.

        Args:
            settings: the connector's ``as2:`` section.
            base_dir: the config root; relative paths in ``settings`` start there.
            state_dir: overrides ``settings.connection_dir(base_dir)`` (the endpoint must use the same).
            connector: the connector's name, for messages (default: the two AS2 ids).
            http: an HTTP client to use instead of a new one (closed by ``close``).

        Raises:
            TransportConfigError: a key file, certificate or password is missing or wrong.
        """
        self.connector = connector or f"{settings.as2_id}->{settings.partner_as2_id}"
        self.settings = settings
        self.keys: Keys = load_keys(settings, base_dir)
        state_dir = state_dir or settings.connection_dir(base_dir)
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        timeout = httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds)
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)

    # -- the parts of the Transport protocol AS2 does not use --------------------------------

    def list(self) -> list[RemoteFile]:
        """Nothing: the partner pushes its messages to the AS2 endpoint."""
        return []

    def open(self, f: RemoteFile) -> AbstractContextManager[BinaryIO]:
        """Not used: inbound AS2 messages reach the ledger through the endpoint."""
        raise UsageError(f"AS2 connector {self.connector}: open() is not used; inbound messages arrive at the "
                         "AS2 endpoint (edi.transports.as2_server), which stores them in the ledger")

    def settle(self, f: RemoteFile, outcome: Settle, note: str | None = None) -> None:
        """Not used: there is no remote copy to delete after an AS2 message is stored."""
        raise UsageError(f"AS2 connector {self.connector}: settle() is not used; the MDN answers the partner")

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    # -- sending --------------------------------------------------------------------------------

    def deliver(self, name: str, data: bytes) -> None:
        """Send ``data`` as ``name`` and return once a positive, matching MDN confirms it.

        A retry sends the stored message (same Message-ID, same bytes); once confirmed, a repeat
        with the same bytes is a no-op.

        Raises:
            DeliveryConflictError: another payload was already built under ``name``.
            As2RejectedError: negative MDN.
            As2DeliveryError: not confirmed (network, HTTP status, bad MDN signature, MIC mismatch).
            TransportTimeoutError: connect or read timeout.
        """
        key = key_of(name)
        msg_path, done_path = self.state_dir / f"{key}.msg", self.state_dir / f"{key}.done"
        built, body = self._load(msg_path) if msg_path.exists() else (None, b"")
        data_sha = hashlib.sha256(data).hexdigest()
        if built is not None and built.data_sha256 != data_sha:
            raise DeliveryConflictError(
                f"AS2 connector {self.connector}: {name!r} was already sent with other content "
                f"(Message-ID {built.message_id})", hint="send the new content under a new name")
        if built is not None and done_path.exists():
            return
        if built is None:
            try:
                built, body = self._build(name, data, data_sha)
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise TransportConfigError(
                    f"AS2 connector {self.connector}: cannot sign or encrypt with the configured keys "
                    f"({type(exc).__name__}: {exc})", hint="check key_file, cert_file and partner_cert_file") from exc
            self._save(msg_path, built, body)
        if self.settings.mdn_mode == "async":
            write_durably(expect_path(self.state_dir, built.message_id), b"")
        content_type, mdn_body = self._post(built, body)
        if self.settings.mdn_mode == "async":
            content_type, mdn_body = self._await_async_mdn(built)
        disposition = self._check_mdn(built, content_type, mdn_body)
        write_durably(done_path, json.dumps({"message_id": built.message_id, "disposition": disposition}).encode())
        log.info("as2 message delivered", extra={"connector": self.connector, "message_id": built.message_id})

    def _build(self, name: str, data: bytes, data_sha: str) -> tuple[Built, bytes]:
        s, k = self.settings, self.keys
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
            raise UsageError(f"outbound name {name!r} contains control characters; it cannot be an AS2 filename")
        part = mime.entity([
            ("Content-Type", s.content_type),
            ("Content-Transfer-Encoding", "binary"),
            ("Content-Disposition", f'attachment; filename="{email.utils.quote(name)}"'),
        ], data)
        if s.compress:
            part = mime.entity([
                ("Content-Type", 'application/pkcs7-mime; smime-type=compressed-data; name="smime.p7z"'),
                ("Content-Transfer-Encoding", "binary"),
                ("Content-Disposition", 'attachment; filename="smime.p7z"'),
            ], cms.compress(part))
        mic = _mic(part, s.digest_alg)
        if s.sign:
            signature = cms.sign_detached(part, k.key, k.cert, s.digest_alg)
            content_type, body = mime.signed_multipart(part, signature, s.digest_alg)
            outer_headers = [("Content-Type", content_type)]
        else:
            head = mime.parse_entity(part)
            outer_headers, body = list(head.headers.items()), head.body
        if s.encrypt:
            body = cms.encrypt(mime.header_block(outer_headers) + body, k.partner_cert, s.encryption_alg)
            outer_headers = [
                ("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'),
                ("Content-Transfer-Encoding", "binary"),
                ("Content-Disposition", 'attachment; filename="smime.p7m"'),
            ]
        message_id = f"{secrets.token_hex(16)}@{s.as2_id.replace('@', '.')}"
        headers = [
            ("AS2-Version", "1.2"),
            ("EDIINT-Features", "CMS"),
            ("Message-ID", f"<{message_id}>"),
            ("AS2-From", s.as2_id),
            ("AS2-To", s.partner_as2_id),
            ("Subject", "EDI"),
            ("Date", email.utils.formatdate(usegmt=True)),
            ("MIME-Version", "1.0"),
            *outer_headers,
            ("Disposition-Notification-To", s.as2_id),
        ]
        if s.mdn_signed:
            headers.append(("Disposition-Notification-Options",
                            "signed-receipt-protocol=optional, pkcs7-signature; "
                            f"signed-receipt-micalg=optional, {mime.micalg_name(s.digest_alg)}"))
        if s.mdn_mode == "async" and s.mdn_url:
            headers.append(("Receipt-Delivery-Option", s.mdn_url))
        return Built(name, data_sha, message_id, mic if s.sign else None, s.digest_alg, headers), body

    def _save(self, path: Path, built: Built, body: bytes) -> None:
        meta = json.dumps(asdict(built)).encode()
        write_durably(path, meta + b"\n" + body)

    def _load(self, path: Path) -> tuple[Built, bytes]:
        raw = path.read_bytes()
        meta, _, body = raw.partition(b"\n")
        fields = json.loads(meta)
        fields["headers"] = [tuple(h) for h in fields["headers"]]
        return Built(**fields), body

    def _post(self, built: Built, body: bytes) -> tuple[str, bytes]:
        try:
            with self._http.stream("POST", self.settings.partner_url, headers=built.headers, content=body) as resp:
                answer = b"".join(_bounded(resp.iter_bytes(), MAX_MDN_BYTES))
                if resp.status_code // 100 != 2:
                    raise As2DeliveryError(
                        f"AS2 connector {self.connector}: the partner answered HTTP {resp.status_code} "
                        f"to Message-ID {built.message_id}",
                        hint="retried; check the partner's endpoint if it persists")
                return resp.headers.get("content-type", ""), answer
        except httpx.TimeoutException as exc:
            raise TransportTimeoutError(
                f"AS2 connector {self.connector}: timeout posting to {self.settings.partner_url}") from exc
        except httpx.HTTPError as exc:
            raise As2DeliveryError(
                f"AS2 connector {self.connector}: cannot post to {self.settings.partner_url} ({type(exc).__name__})",
                hint="retried; check the partner URL and the network") from exc

    def _await_async_mdn(self, built: Built) -> tuple[str, bytes]:
        path = mdn_path(self.state_dir, built.message_id)
        deadline = time.monotonic() + self.settings.read_timeout_seconds
        while not path.exists():
            if time.monotonic() >= deadline:
                raise As2MdnPendingError(
                    f"AS2 connector {self.connector}: no asynchronous MDN for {built.message_id} yet",
                    hint="the next attempt resends the same message; the partner answers a duplicate with its MDN")
            time.sleep(_ASYNC_POLL_SECONDS)
        raw = path.read_bytes()
        content_type, _, body = raw.partition(b"\n")
        return content_type.decode("latin-1"), body

    def _check_mdn(self, built: Built, content_type: str, body: bytes) -> str:
        try:
            return self._check_mdn_parts(built, mime.from_http(content_type, body))
        except (mime.MimeError, cms.CmsError) as exc:
            raise As2DeliveryError(f"AS2 connector {self.connector}: the MDN for {built.message_id} "
                                   f"cannot be accepted: {exc}", code="AS2_MDN_INVALID",
                                   hint="retried; if it persists compare certificates with the partner") from exc

    def _check_mdn_parts(self, built: Built, ent: mime.Entity) -> str:
        where = f"AS2 connector {self.connector}: MDN for {built.message_id}"
        if ent.content_type == "multipart/signed":
            parts = mime.split_signed(ent)
            try:
                cms.verify_detached(parts.signed_bytes, parts.signature, self.keys.partner_cert)
            except cms.CmsError:
                cms.verify_detached(mime.crlf_canonical(parts.signed_bytes), parts.signature, self.keys.partner_cert)
            ent = parts.signed
        elif self.settings.mdn_signed:
            raise As2DeliveryError(f"{where} is not signed but a signed MDN was asked for",
                                   code="AS2_MDN_UNSIGNED", hint="retried; the partner must sign its MDNs")
        report = mime.find_report(ent)
        if report is None:
            raise mime.MimeError("no message/disposition-notification part")
        fields = mime.report_fields(report)
        original = fields.get("original-message-id", "").strip().strip("<>")
        if original != built.message_id:
            raise mime.MimeError(f"it answers Message-ID {original!r}")
        disposition = fields.get("disposition", "")
        status = disposition.rpartition(";")[2].strip()
        kind = status.partition(":")[0].strip().lower()
        if kind == "processed":
            theirs = fields.get("received-content-mic", "").partition(",")[0].strip()
            if built.mic is not None and theirs != built.mic:
                raise As2DeliveryError(f"{where}: the MIC does not match what we signed",
                                       code="AS2_MIC_MISMATCH",
                                       hint="not delivered; retried, alert if it persists (content altered?)")
            return status
        if kind.startswith("processed/warning"):
            raise As2DeliveryError(f"{where}: the partner reports a warning ({status})", code="AS2_MDN_WARNING",
                                   hint="not counted as delivered; retried, alert if it persists")
        raise As2RejectedError(f"{where}: the partner refused the message ({status})", disposition=status,
                               hint="read the disposition, fix the cause with the partner, then resend")


def _bounded(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise As2DeliveryError(f"the partner's answer is larger than {limit} bytes", code="AS2_MDN_INVALID")
        yield chunk
