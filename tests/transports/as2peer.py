"""An independent AS2 trading partner for the tests, built directly on pyas2lib (none of our AS2 code).

It sends to our endpoint with pyas2lib's ``Message.build`` and checks our MDNs with ``Mdn.parse``;
it receives from our transport with its own loopback HTTP server, ``Message.parse`` and
pyas2lib's MDNs (sync in the response, async posted back). Knobs let a test make it misbehave.
Certificates come from ``make_identity`` (``cryptography``), self-signed, in a temp directory.
"""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.transports._oscrypto_compat import import_pyas2lib

as2lib = import_pyas2lib()
logging.getLogger("pyas2lib").setLevel(logging.INFO)  # it logs whole payloads at DEBUG


@dataclass(frozen=True)
class Identity:
    """A key pair and self-signed certificate written as PEM files."""

    key_path: Path
    cert_path: Path
    password: bytes | None
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_and_cert_pem(self) -> bytes:
        """The key (encrypted with ``password``) followed by the certificate, as pyas2lib loads them."""
        enc = (serialization.BestAvailableEncryption(self.password) if self.password
               else serialization.NoEncryption())
        key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        return key_pem + self.cert_pem


def make_identity(directory: Path, name: str, *, password: bytes | None = None, days: int = 365,
                  key_size: int = 2048, since_days: int = 1) -> Identity:
    """A fresh RSA key and a self-signed certificate for ``name``, valid from ``since_days`` ago to ``days`` ahead."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=since_days))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    key_path, cert_path = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Identity(key_path, cert_path, password, key, cert)


@dataclass
class PeerConfig:
    """How the peer treats us: pyas2lib's Partner settings for our side."""

    sign: bool = True
    encrypt: bool = True
    compress: bool = False
    mdn_mode: str = "SYNC"
    mdn_digest_alg: str | None = "sha256"
    require_signed: bool = True
    require_encrypted: bool = True


@dataclass
class Received:
    """What the peer's receiver got from us."""

    message_id: str
    payload: bytes
    filename: str | None
    status: str
    body: bytes


@dataclass
class Peer:
    """The partner: pyas2lib organization ``as2_id`` talking to us (``our_as2_id``)."""

    as2_id: str
    identity: Identity
    our_as2_id: str
    our_cert_pem: bytes
    config: PeerConfig = field(default_factory=PeerConfig)
    mdn_url: str | None = None
    """Where we must post asynchronous MDNs for the peer's messages (its receiver)."""
    # misbehaviour of the receiver, set by tests
    reply_status: list[int] = field(default_factory=list)
    """HTTP statuses to answer with before processing (popped one per request)."""
    mdn_tamper: str | None = None
    """None, "mic" (wrong MIC, still signed), "unsigned" or "negative"."""
    received: list[Received] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    async_mdns: list[tuple[str, str | None]] = field(default_factory=list)
    sent: dict[str, Any] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def org(self, identity: Identity | None = None) -> Any:
        ident = identity or self.identity
        pem = ident.key_and_cert_pem()
        password = ident.password.decode() if ident.password else None
        return as2lib.Organization(as2_name=self.as2_id, sign_key=pem, sign_key_pass=password,
                                   decrypt_key=pem, decrypt_key_pass=password, mdn_url=self.mdn_url)

    def partner(self, *, encrypt_cert: bytes | None = None, **overrides: Any) -> Any:
        c = self.config
        settings = {"sign": c.sign, "encrypt": c.encrypt, "compress": c.compress, "mdn_mode": c.mdn_mode,
                    "mdn_digest_alg": c.mdn_digest_alg, "digest_alg": "sha256", "enc_alg": "aes_256_cbc"}
        settings.update(overrides)
        return as2lib.Partner(as2_name=self.our_as2_id, verify_cert=self.our_cert_pem,
                              encrypt_cert=encrypt_cert or self.our_cert_pem, validate_certs=False, **settings)

    # -- sending to us ------------------------------------------------------------------

    def build(self, data: bytes, filename: str = "po.edi", *, sign_with: Identity | None = None,
              encrypt_cert: bytes | None = None, **overrides: Any) -> Any:
        """A pyas2lib Message for us (not sent)."""
        msg = as2lib.Message(self.org(sign_with), self.partner(encrypt_cert=encrypt_cert, **overrides))
        msg.build(data, filename=filename, content_type="application/edi-x12")
        self.sent[msg.message_id] = msg
        return msg

    def post(self, url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return client.post(url, headers=headers, content=body)

    def send(self, url: str, data: bytes, filename: str = "po.edi", **kw: Any) -> tuple[Any, httpx.Response]:
        msg = self.build(data, filename, **kw)
        return msg, self.post(url, dict(msg.headers), msg.content)

    def parse_mdn(self, headers: dict[str, str] | httpx.Headers, body: bytes) -> tuple[str | None, str | None]:
        """pyas2lib's verdict on an MDN from us: (status, detailed status)."""
        raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n" + body
        mdn = as2lib.Mdn()
        return mdn.parse(raw, find_message_cb=lambda mid, _rcpt: self.sent.get(mid))

    # -- receiving from us --------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes,
                                                                     Callable[[], None] | None]:
        """Answer one POST to the peer's receiver: (status, headers, body, after-response action)."""
        raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n" + body
        ctype = headers.get("content-type", "")
        if "multipart/report" in ctype or (b"disposition-notification" in body[:4096] and "signed" in ctype):
            self.async_mdns.append(self.parse_mdn(headers, body))
            return 200, [], b"", None
        self.bodies.append((headers.get("message-id", ""), body))
        if self.reply_status:
            return self.reply_status.pop(0), [], b"busy\n", None
        msg = as2lib.Message()
        status, _exc, mdn = msg.parse(
            raw,
            find_org_cb=lambda _id: self.org(),
            find_partner_cb=lambda _id: self.partner(sign=self.config.require_signed,
                                                     encrypt=self.config.require_encrypted),
            find_message_cb=lambda mid, _p: False,
        )
        if status == "processed" and msg.message_id not in self._seen:
            self._seen.add(msg.message_id)
            filename = msg.payload.get_filename()
            self.received.append(Received(msg.message_id, msg.content, filename, status, body))
        if mdn is not None and self.mdn_tamper and status == "processed":
            mdn = self._tampered(msg, mdn)
        if mdn is None:
            return 200, [], b"", None
        if mdn.mdn_mode == "ASYNC":
            url = mdn.mdn_url
            hdrs, content = dict(mdn.headers), mdn.content

            def post_later() -> None:
                try:
                    with httpx.Client(timeout=30) as client:
                        client.post(url, headers=hdrs, content=content)
                except httpx.HTTPError:
                    self.async_mdns.append(("not-posted", url))

            return 200, [], b"", post_later
        return 200, list(mdn.headers.items()), mdn.content, None

    def _tampered(self, msg: Any, mdn: Any) -> Any:
        fresh = as2lib.Mdn(mdn_mode=mdn.mdn_mode, mdn_url=mdn.mdn_url, digest_alg=mdn.digest_alg)
        if self.mdn_tamper == "mic":
            msg.mic = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
            fresh.build(message=msg, status="processed")
        elif self.mdn_tamper == "unsigned":
            del msg.payload["disposition-notification-options"]
            fresh.build(message=msg, status="processed")
        elif self.mdn_tamper == "negative":
            fresh.build(message=msg, status="processed/Error", detailed_status="authentication-failed")
        elif self.mdn_tamper == "warning":
            fresh.build(message=msg, status="processed/warning", detailed_status="duplicate-document")
        return fresh


class PeerServer:
    """The peer's HTTP receiver on 127.0.0.1, in a thread stopped by ``stop()``."""

    def __init__(self, peer: Peer) -> None:
        handler = _make_handler(peer)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/as2"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="as2-peer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _make_handler(peer: Peer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out_headers, out_body, after = peer.handle(headers, body)
            self.send_response(status)
            for k, v in out_headers:
                if k.lower() not in ("content-length", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out_body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(out_body)
            self.wfile.flush()
            if after is not None:
                threading.Thread(target=after, name="as2-peer-mdn", daemon=True).start()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
