"""The AS2 transport against an independent AS2 partner built on pyas2lib (tests/transports/as2peer.py).

Our endpoint runs under uvicorn on a free 127.0.0.1 port and the peer's receiver on another; each
test starts and stops both by their handles. Rows F13-F16, K6 and D7 of reliability.md name the
hostile cases.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from edi.errors import CODES, RetriableError
from edi.transports import _as2_cms as cms
from edi.transports.as2 import (
    As2DeliveryError,
    As2MdnPendingError,
    As2RejectedError,
    As2Settings,
    As2Transport,
    certificate_expiry,
)
from edi.transports.as2_server import make_as2_app
from edi.transports.base import DeliveryConflictError, RemoteFile, Settle, TransportConfigError
from tests.conftest import SAMPLES
from tests.transports.as2peer import Identity, Peer, PeerConfig, PeerServer, make_identity
from tests.transports.ledger_sink import SinkDown, SqliteSink

# CRLF line ends: pyas2lib sends text types (application/edi-x12) in MIME canonical form, so a bare LF
# would arrive as CRLF; with CRLF the bytes stored must equal the bytes sent exactly.
PO = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
CONNECTOR = "amazon_as2"
US, THEM = "VENDOREDI", "AMAZON"
KEY_ENV = "EDI_TEST_AS2_KEY_PASSWORD"
KEY_PASSWORD = b"canary-key-password-7431"


class Uvicorn:
    """Our endpoint under uvicorn in a thread, on a socket bound before the settings are written."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/as2"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="as2-us")
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


@dataclass
class World:
    """Both parties wired together in one temporary directory."""

    root: Path
    config_root: Path
    us: Identity
    them: Identity
    settings: As2Settings
    sink: SqliteSink
    state_dir: Path
    ours: Uvicorn
    peer: Peer
    peer_server: PeerServer

    def transport(self) -> As2Transport:
        return As2Transport(self.settings, base_dir=self.config_root, connector=CONNECTOR)


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Identity, Identity, Identity]:
    """Our key (password-protected), the peer's key and a stranger's key, made once for the module."""
    d = tmp_path_factory.mktemp("keys")
    return (make_identity(d, "us", password=KEY_PASSWORD), make_identity(d, "them", password=b"peer-pass"),
            make_identity(d, "stranger"))


@pytest.fixture
def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          identities: tuple[Identity, Identity, Identity]) -> Iterator[Any]:
    """A factory: ``start(our settings overrides, peer config)`` -> a running World; stopped afterwards."""
    monkeypatch.setenv(KEY_ENV, KEY_PASSWORD.decode())
    us, them, _ = identities
    running: list[World] = []

    def make(peer_config: PeerConfig | None = None, peer_identity: Identity | None = None, **ours: Any) -> World:
        config_root = tmp_path / "config"
        (config_root / "keys").mkdir(parents=True, exist_ok=True)
        them_now = peer_identity or them
        for ident, stem in ((us, "us"), (them_now, "them")):
            (config_root / "keys" / f"{stem}.key.pem").write_bytes(ident.key_path.read_bytes())
            (config_root / "keys" / f"{stem}.cert.pem").write_bytes(ident.cert_path.read_bytes())
        ours_server = Uvicorn()
        peer = Peer(THEM, them_now, US, us.cert_pem, config=peer_config or PeerConfig())
        peer_server = PeerServer(peer)
        peer.mdn_url = peer_server.url
        fields: dict[str, Any] = {
            "as2_id": US, "partner_as2_id": THEM, "partner_url": peer_server.url,
            "key_file": "keys/us.key.pem", "cert_file": "keys/us.cert.pem", "key_password_env": KEY_ENV,
            "partner_cert_file": "keys/them.cert.pem", "read_timeout_seconds": 10,
        }
        if ours.get("mdn_mode") == "async":
            fields["mdn_url"] = ours_server.url
        fields.update(ours)
        settings = As2Settings.model_validate(fields)
        sink = SqliteSink(tmp_path / "ledger")
        state_dir = settings.connection_dir(config_root)
        app = make_as2_app([(CONNECTOR, settings)], sink, config_root)
        ours_server.start(app)
        world = World(tmp_path, config_root, us, them, settings, sink, state_dir, ours_server, peer, peer_server)
        running.append(world)
        return world

    yield make
    for w in running:
        w.ours.stop()
        w.peer_server.stop()
        w.sink.close()


def _wait(predicate: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- the partner sends to us --------------------------------------------------------------------


@pytest.mark.parametrize(("sign", "encrypt", "compress"), [(True, True, False), (True, False, False),
                                                           (True, True, True)],
                         ids=["signed+encrypted", "signed-only", "signed+encrypted+compressed"])
def test_inbound_sync_mdn(start: Any, sign: bool, encrypt: bool, compress: bool) -> None:
    """The partner's message is stored with its filename and Message-ID, then a signed MDN with its MIC answers."""
    w = start(PeerConfig(sign=sign, encrypt=encrypt, compress=compress), require_encrypted=encrypt)
    msg, resp = w.peer.send(w.ours.url, PO, "850-0001.edi")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("multipart/signed")
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed", None)
    assert w.sink.rows() == [(CONNECTOR, "850-0001.edi", msg.message_id, PO)]


def test_inbound_async_mdn(start: Any) -> None:
    """Asked for an asynchronous MDN, we answer 200 after the ledger commit and post a valid MDN to the partner."""
    w = start(PeerConfig(mdn_mode="ASYNC"))
    msg, resp = w.peer.send(w.ours.url, PO)
    assert resp.status_code == 200
    assert resp.content == b""
    assert len(w.sink.rows()) == 1
    _wait(lambda: w.peer.async_mdns)
    assert w.peer.async_mdns == [("processed", None)]
    assert w.sink.rows()[0][2] == msg.message_id


def test_inbound_without_filename_uses_message_id(start: Any) -> None:
    """A payload without a Content-Disposition filename is stored under its Message-ID."""
    w = start()
    msg = w.peer.build(PO, filename=None)  # type: ignore[arg-type]
    resp = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert w.peer.parse_mdn(resp.headers, resp.content)[0] == "processed"
    assert w.sink.rows()[0][1] == msg.message_id


def test_D7_replayed_message_id_has_one_effect(start: Any) -> None:
    """The same message posted twice is acknowledged twice with the stored MDN and stored once."""
    w = start()
    msg = w.peer.build(PO)
    first = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    second = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert w.peer.parse_mdn(second.headers, second.content) == ("processed", None)
    assert len(w.sink.rows()) == 1
    assert w.sink.calls == 2


def test_F13_unsigned_refused_when_required(start: Any) -> None:
    """An unsigned message gets a negative MDN (insufficient-message-security) and nothing is stored."""
    w = start(PeerConfig(sign=False))
    _, resp = w.peer.send(w.ours.url, PO)
    status, detail = w.peer.parse_mdn(resp.headers, resp.content)
    assert (status, detail) == ("processed/error", "insufficient-message-security")
    assert w.sink.calls == 0


def test_F13_unencrypted_refused_when_required(start: Any) -> None:
    """An unencrypted message gets a negative MDN when the partner must encrypt; nothing is stored."""
    w = start(PeerConfig(encrypt=False))
    _, resp = w.peer.send(w.ours.url, PO)
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "insufficient-message-security")
    assert w.sink.calls == 0


def test_F13_bad_signature(start: Any) -> None:
    """A signed message altered after signing gets a negative MDN and nothing is stored."""
    w = start(PeerConfig(encrypt=False), require_encrypted=False)
    msg = w.peer.build(PO)
    body = msg.content.replace(b"PO1*", b"PO9*", 1)
    assert body != msg.content
    resp = w.peer.post(w.ours.url, dict(msg.headers), body)
    status, detail = w.peer.parse_mdn(resp.headers, resp.content)
    assert status == "processed/error"
    assert detail in ("authentication-failed", "integrity-check-failed")
    assert w.sink.calls == 0


def test_F13_wrong_signing_certificate(start: Any, identities: tuple[Identity, Identity, Identity]) -> None:
    """A message signed with a key other than the partner's certificate is refused (authentication-failed)."""
    w = start()
    _, resp = w.peer.send(w.ours.url, PO, sign_with=identities[2])
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "authentication-failed")
    assert w.sink.calls == 0


def test_F13_encrypted_for_another_certificate(start: Any, identities: tuple[Identity, Identity, Identity]) -> None:
    """A message encrypted for a certificate that is not ours is refused (decryption-failed)."""
    w = start()
    _, resp = w.peer.send(w.ours.url, PO, encrypt_cert=identities[2].cert_pem)
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "decryption-failed")
    assert w.sink.calls == 0


def test_F13_expired_partner_certificate(start: Any, tmp_path: Path) -> None:
    """A message signed with the partner's certificate after that certificate expired is refused."""
    expired = make_identity(tmp_path / "old", "them-old", days=-1, since_days=30)
    w = start(peer_identity=expired)
    _, resp = w.peer.send(w.ours.url, PO)
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "authentication-failed")
    assert w.sink.calls == 0


def test_async_mdn_url_of_an_unsigned_message_must_be_the_partners_host(start: Any) -> None:
    """An unauthenticated message cannot make us post its MDN to a host other than the partner's."""
    w = start(PeerConfig(sign=False, encrypt=False), require_signed=False, require_encrypted=False,
              partner_url="http://partner.invalid/as2")
    msg = w.peer.build(PO)
    headers = dict(msg.headers)
    headers["receipt-delivery-option"] = w.peer_server.url
    headers["disposition-notification-to"] = "x"
    resp = w.peer.post(w.ours.url, headers, msg.content)
    assert resp.status_code == 200
    time.sleep(0.5)
    assert w.peer.async_mdns == []
    assert len(w.sink.rows()) == 1


def test_truncated_body_refused(start: Any) -> None:
    """An encrypted body cut in half (Content-Length matching) is refused with a negative MDN."""
    w = start()
    msg = w.peer.build(PO)
    headers = dict(msg.headers)
    resp = w.peer.post(w.ours.url, headers, msg.content[: len(msg.content) // 2])
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "decryption-failed")
    assert w.sink.calls == 0


def test_connection_dropped_mid_body_stores_nothing(start: Any) -> None:
    """A connection closed before the announced Content-Length arrived reaches no ledger and gets no MDN."""
    w = start()
    msg = w.peer.build(PO)
    port = int(w.ours.url.split(":")[2].split("/")[0])
    head = "".join(f"{k}: {v}\r\n" for k, v in msg.headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"POST /as2 HTTP/1.1\r\nHost: x\r\nContent-Length: {len(msg.content)}\r\n{head}\r\n".encode()
                  + msg.content[:100])
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        answer = s.recv(65536)
    assert not answer.startswith(b"HTTP/1.1 200")
    time.sleep(0.2)
    assert w.sink.calls == 0


def test_F15_huge_body_refused(start: Any) -> None:
    """A body over max_body_bytes gets 413 with a negative MDN before it is read; nothing is stored."""
    w = start(max_body_bytes=64 * 1024)
    _, resp = w.peer.send(w.ours.url, PO * 200)
    assert resp.status_code == 413
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "unexpected-processing-error")
    assert w.sink.calls == 0


def test_F15_huge_chunked_body_refused(start: Any) -> None:
    """A chunked body (no Content-Length) is cut off at max_body_bytes with 413; nothing is stored."""
    w = start(max_body_bytes=64 * 1024)
    msg = w.peer.build(PO)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"\0" * 4096

    with httpx.Client(timeout=30) as client:
        resp = client.post(w.ours.url, headers=dict(msg.headers), content=chunks())
    assert resp.status_code == 413
    assert w.sink.calls == 0


def test_K6_crash_after_commit_before_mdn(start: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure between the ledger commit and the MDN gives 5xx; the resend is acknowledged, stored once."""
    w = start()
    msg = w.peer.build(PO)
    monkeypatch.setenv("EDI_FAILPOINTS", "as2.ledger_committed=raise")
    first = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    monkeypatch.delenv("EDI_FAILPOINTS")
    again = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert first.status_code == 500
    assert w.peer.parse_mdn(again.headers, again.content) == ("processed", None)
    assert len(w.sink.rows()) == 1


def test_F15_compression_bomb_refused(start: Any) -> None:
    """A payload inflating more than 100:1 is refused (decompression-failed) without inflating it all."""
    w = start(PeerConfig(compress=True))
    bomb = b"ISA" + b"0" * (20 << 20)
    msg = w.peer.build(bomb)
    assert len(msg.content) < 200_000
    resp = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert w.peer.parse_mdn(resp.headers, resp.content) == ("processed/error", "decompression-failed")
    assert w.sink.calls == 0


def test_decompress_stops_at_the_bound() -> None:
    """Decompression of a 1 MiB -> 1 GiB style stream stops right after the limit instead of inflating everything."""
    packed = zlib.compress(b"\0" * (64 << 20), 9)
    der = cms.compress(b"x")  # a well-formed envelope, then swap in the bomb as the content
    from asn1crypto import cms as a  # noqa: PLC0415

    info = a.ContentInfo.load(der)
    info["content"]["encap_content_info"]["content"] = packed
    with pytest.raises(cms.CmsError) as err:
        cms.decompress(info.dump(force=True), max_bytes=50 << 20, max_ratio=100)
    assert err.value.reason is cms.Reason.DECOMPRESSION_FAILED


def test_K6_ledger_failure_answers_5xx_then_resend_stored(start: Any) -> None:
    """While the ledger fails the partner gets 503 (known error) or 500 (unexpected), no MDN; its resend is stored."""
    w = start()
    msg = w.peer.build(PO)
    w.sink.down = RetriableError("database is locked")
    busy = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    w.sink.down = SinkDown("disk gone")
    broken = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert (busy.status_code, broken.status_code) == (503, 500)
    assert w.sink.rows() == []
    w.sink.down = None
    again = w.peer.post(w.ours.url, dict(msg.headers), msg.content)
    assert again.status_code == 200
    assert w.peer.parse_mdn(again.headers, again.content) == ("processed", None)
    assert len(w.sink.rows()) == 1


def test_K6_no_answer_before_the_ledger_returns(start: Any) -> None:
    """The answer waits for the sink: while the ledger is held the partner has no reply; then the row exists."""
    w = start()
    w.sink.gate = threading.Event()
    result: list[httpx.Response] = []
    msg = w.peer.build(PO)
    t = threading.Thread(target=lambda: result.append(w.peer.post(w.ours.url, dict(msg.headers), msg.content)))
    t.start()
    time.sleep(0.5)
    assert result == []
    assert w.sink.rows() == []
    w.sink.gate.set()
    t.join(10)
    assert result[0].status_code == 200
    assert len(w.sink.rows()) == 1


def test_unknown_as2_ids_refused(start: Any) -> None:
    """A message for an AS2-To/AS2-From pair we have no connector for is refused with 403."""
    w = start()
    msg = w.peer.build(PO)
    headers = dict(msg.headers)
    headers["AS2-From"] = "SOMEBODY"
    resp = w.peer.post(w.ours.url, headers, msg.content)
    assert resp.status_code == 403
    assert w.sink.calls == 0


# -- we send to the partner ---------------------------------------------------------------------


@pytest.mark.parametrize(("sign", "encrypt", "compress"), [(True, True, False), (True, False, False),
                                                           (True, True, True)],
                         ids=["signed+encrypted", "signed-only", "signed+encrypted+compressed"])
def test_outbound_sync_mdn(start: Any, sign: bool, encrypt: bool, compress: bool) -> None:
    """deliver() signs/encrypts, pyas2lib accepts it, and its signed MDN with matching MIC confirms it."""
    w = start(PeerConfig(require_encrypted=encrypt), sign=sign, encrypt=encrypt, compress=compress)
    t = w.transport()
    try:
        t.deliver("855-0001.edi", PO)
    finally:
        t.close()
    assert [(r.payload, r.filename, r.status) for r in w.peer.received] == [(PO, "855-0001.edi", "processed")]


def test_outbound_async_mdn(start: Any) -> None:
    """With mdn_mode async, deliver() returns once the partner's MDN, posted to our endpoint, checks out."""
    w = start(mdn_mode="async")
    t = w.transport()
    try:
        t.deliver("856-0001.edi", PO)
    finally:
        t.close()
    assert len(w.peer.received) == 1
    assert w.sink.calls == 0  # an MDN is not a document


def test_retry_reuses_message_id_and_bytes(start: Any) -> None:
    """After a failed attempt the retry sends the very same bytes under the same Message-ID."""
    w = start()
    w.peer.reply_status = [503]
    t = w.transport()
    try:
        with pytest.raises(As2DeliveryError):
            t.deliver("855-0002.edi", PO)
        t2 = w.transport()  # as after a restart
        t2.deliver("855-0002.edi", PO)
        t2.deliver("855-0002.edi", PO)  # confirmed already: nothing sent
        t2.close()
    finally:
        t.close()
    assert [r.payload for r in w.peer.received] == [PO]
    (id1, body1), (id2, body2) = w.peer.bodies  # the 503 answer, then the accepted one; none after
    assert (id1, body1) == (id2, body2)


def test_retry_after_crash_resends_identical_bytes(start: Any) -> None:
    """A message built and posted but not confirmed is sent again byte for byte, same Message-ID."""
    w = start()
    w.peer.mdn_tamper = "mic"
    t = w.transport()
    with pytest.raises(As2DeliveryError):
        t.deliver("855-0003.edi", PO)
    w.peer.mdn_tamper = None
    t.deliver("855-0003.edi", PO)
    t.close()
    (id1, body1), (id2, body2) = w.peer.bodies
    assert (id1, body1) == (id2, body2)


def test_other_bytes_under_a_sent_name_conflict(start: Any) -> None:
    """A different payload under a name already sent is a DeliveryConflictError; nothing is posted."""
    w = start()
    t = w.transport()
    t.deliver("855-0004.edi", PO)
    with pytest.raises(DeliveryConflictError):
        t.deliver("855-0004.edi", PO + b"X")
    t.close()
    assert len(w.peer.bodies) == 1


def test_F16_mic_mismatch_is_not_delivered(start: Any) -> None:
    """A positive MDN with a MIC other than ours raises AS2_MIC_MISMATCH (retried), nothing marked delivered."""
    w = start()
    w.peer.mdn_tamper = "mic"
    t = w.transport()
    with pytest.raises(As2DeliveryError) as err:
        t.deliver("855-0005.edi", PO)
    t.close()
    assert err.value.code == "AS2_MIC_MISMATCH"
    assert not list(w.state_dir.glob("*.done"))


def test_F16_pyas2lib_warning_is_a_failure(start: Any) -> None:
    """A processed/warning disposition is not counted as delivered."""
    w = start()
    w.peer.mdn_tamper = "warning"
    t = w.transport()
    with pytest.raises(As2DeliveryError) as err:
        t.deliver("855-0006.edi", PO)
    t.close()
    assert err.value.code == "AS2_MDN_WARNING"


def test_F16_unsigned_mdn_when_signed_asked(start: Any) -> None:
    """An unsigned MDN in answer to a request for a signed one raises AS2_MDN_UNSIGNED (retried)."""
    w = start()
    w.peer.mdn_tamper = "unsigned"
    t = w.transport()
    with pytest.raises(As2DeliveryError) as err:
        t.deliver("855-0007.edi", PO)
    t.close()
    assert err.value.code == "AS2_MDN_UNSIGNED"


def test_negative_mdn_is_rejected(start: Any) -> None:
    """A negative MDN raises As2RejectedError (a DocumentError: held, not retried) with the disposition."""
    w = start()
    w.peer.mdn_tamper = "negative"
    t = w.transport()
    with pytest.raises(As2RejectedError) as err:
        t.deliver("855-0008.edi", PO)
    t.close()
    assert "authentication-failed" in err.value.disposition


def test_F16_mdn_signed_by_another_key(start: Any, identities: tuple[Identity, Identity, Identity]) -> None:
    """An MDN signed by a key other than the partner's certificate is not accepted (AS2_MDN_INVALID)."""
    w = start()
    w.peer.identity = identities[2]  # signs its MDN with the stranger's key (so we must not encrypt for it)
    w.settings = w.settings.model_copy(update={"encrypt": False})
    w.peer.config.require_encrypted = False
    t = w.transport()
    with pytest.raises(As2DeliveryError) as err:
        t.deliver("855-0009.edi", PO)
    t.close()
    assert err.value.code == "AS2_MDN_INVALID"


def test_async_mdn_not_arrived_is_pending(start: Any) -> None:
    """With no asynchronous MDN within the read timeout, deliver() raises As2MdnPendingError (retried)."""
    w = start(mdn_mode="async", read_timeout_seconds=1)
    w.settings = w.settings.model_copy(update={"mdn_url": "http://127.0.0.1:9/as2"})  # the MDN goes nowhere
    t = w.transport()
    with pytest.raises(As2MdnPendingError):
        t.deliver("855-0010.edi", PO)
    t.close()


# -- settings, keys, contract -------------------------------------------------------------------


def test_paths_resolve_against_the_config_root(start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative key paths start at base_dir, whatever the current directory is."""
    w = start()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys").mkdir(exist_ok=True)  # a decoy beside the cwd must not be used
    t = w.transport()
    t.close()
    with pytest.raises(TransportConfigError):
        As2Transport(w.settings, base_dir=tmp_path, state_dir=w.state_dir)


def test_missing_password_env_names_the_variable(start: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset key_password_env is a TransportConfigError naming the variable."""
    w = start()
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(TransportConfigError, match=KEY_ENV):
        w.transport()


def test_settings_refuse_inline_secrets_and_unknown_fields() -> None:
    """Settings are extra=forbid: an inline key_password is refused."""
    with pytest.raises(ValueError, match="key_password"):
        As2Settings.model_validate({"as2_id": US, "partner_as2_id": THEM, "partner_url": "http://x",
                                    "key_file": "k", "cert_file": "c", "partner_cert_file": "p",
                                    "key_password": "secret"})


def test_registry_opens_as2_from_a_connector_section(start: Any) -> None:
    """kind as2 in the transport registry builds an As2Transport from the YAML section (strings, as loaded)."""
    from edi.transports.registry import open_transport  # noqa: PLC0415 - the registry is what is tested

    w = start()
    section = {k: str(v) for k, v in w.settings.model_dump(exclude_defaults=True).items()}
    section.update(sign="true", max_body_bytes="1048576")
    t = open_transport("as2", section, base_dir=w.config_root)
    assert isinstance(t, As2Transport)
    assert t.state_dir == w.state_dir
    assert t.settings.max_body_bytes == 1 << 20
    t.deliver("855-0012.edi", PO)
    t.close()
    assert len(w.peer.received) == 1


def test_push_transport_contract(start: Any) -> None:
    """list() is empty; open() and settle() are not used for AS2 and say so."""
    w = start()
    t = w.transport()
    f = RemoteFile("x", 1, 0.0)
    assert t.list() == []
    with pytest.raises(Exception, match="not used"):
        t.open(f)
    with pytest.raises(Exception, match="not used"):
        t.settle(f, Settle.DONE)
    t.close()


def test_certificate_expiry(start: Any) -> None:
    """certificate_expiry reports both certificates' not-after dates, and CERT_EXPIRING is a documented code."""
    w = start()
    got = dict(certificate_expiry(w.settings, w.config_root))
    assert set(got) == {"cert_file", "partner_cert_file"}
    assert all(timedelta(days=300) < d - datetime.now(UTC) < timedelta(days=366) for d in got.values())
    assert "CERT_EXPIRING" in CODES


def test_F81_no_payload_or_secret_in_logs(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, neither our logs nor pyas2lib's carry the payload or the key password."""
    caplog.set_level(logging.DEBUG)
    w = start()
    w.peer.send(w.ours.url, PO)
    t = w.transport()
    t.deliver("855-0011.edi", PO)
    t.close()
    text = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert logging.getLogger("pyas2lib").getEffectiveLevel() >= logging.INFO
    assert b"BEG*00" not in text.encode()
    assert KEY_PASSWORD.decode() not in text
