"""The AS2 endpoint: a Starlette app that receives partners' messages and answers with MDNs.

For each POST: find the connector by AS2-To/AS2-From, read the body within ``max_body_bytes``,
decrypt, decompress (bounded) and verify per the partner's settings, hand the payload to the
ledger (``InboundSink``) and only then answer with a positive MDN (in the response, or posted to
the partner's Receipt-Delivery-Option URL afterwards). A message that fails a check gets a
negative MDN and never reaches the ledger; a ledger failure gets HTTP 503 so the partner
resends. A resent Message-ID is answered like the first time and has no second effect.

The app also accepts asynchronous MDNs for messages ``As2Transport.deliver`` sent.

Run it with uvicorn (``uvicorn.Server(uvicorn.Config(app, ...))``); it holds no global state.
"""

from __future__ import annotations

import email.utils
import io
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from edi.durable import write_durably
from edi.errors import EdiError
from edi.failpoints import failpoint
from edi.transports import _as2_cms as cms
from edi.transports import _as2_mime as mime
from edi.transports._as2_inbound import Mdn, MdnRequest, RefusedError, build_mdn, unwrap
from edi.transports._as2_keys import Keys, load_keys
from edi.transports._as2_state import expect_path, sent_mdn_path, store_async_mdn
from edi.transports.as2 import MAX_MDN_BYTES
from edi.transports.as2_settings import As2Settings
from edi.transports.base import FileTooLargeError, InboundSink, Received

__all__ = ["make_as2_app"]

log = logging.getLogger(__name__)

_CONFIRM_TEXT: Final = "The AS2 message was received and stored."
_FAILED_TEXT: Final = "The AS2 message was not processed; the disposition says why."


@dataclass(frozen=True, slots=True)
class _Connector:
    name: str
    settings: As2Settings
    keys: Keys
    state_dir: Path


def make_as2_app(connectors: Sequence[tuple[str, As2Settings]], sink: InboundSink, base_dir: Path, *,
                 state_dirs: Mapping[str, Path] | None = None) -> Starlette:
    """The endpoint for ``connectors`` (name, settings), storing payloads through ``sink``.

    Args:
        connectors: one entry per AS2 relationship; routed by (our AS2 id, partner AS2 id).
        sink: the ledger's door; called before any positive answer.
        base_dir: the config root that relative key and certificate paths start from.
        state_dirs: per connector, overrides its ``settings.connection_dir(base_dir)``, the folder
            it shares with its ``As2Transport``: asynchronous MDNs for our messages are kept
            there, and the MDNs we send, to answer a resend identically.

    Raises:
        TransportConfigError: a connector's key files cannot be loaded, or two share AS2 ids.
    """
    table: dict[tuple[str, str], _Connector] = {}
    for name, settings in connectors:
        ids = (settings.as2_id, settings.partner_as2_id)
        if ids in table:
            from edi.transports.base import TransportConfigError  # noqa: PLC0415 - only on this error

            raise TransportConfigError(f"AS2 connectors {table[ids].name} and {name} share AS2 ids {ids}",
                                       hint="each (as2_id, partner_as2_id) pair needs its own connector")
        state = (state_dirs or {}).get(name) or settings.connection_dir(base_dir)
        state.mkdir(parents=True, exist_ok=True)
        table[ids] = _Connector(name, settings, load_keys(settings, base_dir), state)
    handler = _Handler(table, sink)
    return Starlette(routes=[Route(path, handler.handle, methods=["POST"]) for path in ("/", "/as2")])


def _mdn_response(mdn: Mdn, status: int = 200) -> Response:
    headers = {k: v for k, v in mdn.headers if k != "Content-Type"}
    return Response(mdn.body, status_code=status, headers=headers, media_type=mdn.content_type())


def _same_host(a: str, b: str) -> bool:
    return urlsplit(a).hostname == urlsplit(b).hostname


class _Handler:
    def __init__(self, table: dict[tuple[str, str], _Connector], sink: InboundSink) -> None:
        self.table = table
        self.sink = sink

    async def handle(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        as2_to = email.utils.unquote(headers.get("as2-to", "").strip())
        as2_from = email.utils.unquote(headers.get("as2-from", "").strip())
        conn = self.table.get((as2_to, as2_from))
        if conn is None:
            log.warning("as2 message for unknown AS2 ids refused")
            return PlainTextResponse("unknown AS2-To/AS2-From pair\n", status_code=403)
        message_id = headers.get("message-id", "").strip().strip("<>").strip()
        if not message_id or len(message_id) > 998:
            return PlainTextResponse("Message-ID missing or too long\n", status_code=400)
        s = conn.settings
        mdn_request = MdnRequest.from_headers(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > s.max_body_bytes:
            return self._refuse(conn, message_id, mdn_request, cms.Reason.UNEXPECTED,
                                f"body of {declared} bytes is over max_body_bytes", status=413)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > s.max_body_bytes:
                    return self._refuse(conn, message_id, mdn_request, cms.Reason.UNEXPECTED,
                                        "body over max_body_bytes", status=413)
        except ClientDisconnect:
            log.warning("as2 body cut off by the partner", extra={"connector": conn.name})
            return PlainTextResponse("body incomplete\n", status_code=400)
        failpoint("as2.body_received")
        ent = mime.from_http(headers.get("content-type", ""), bytes(body))
        if _is_mdn(ent):
            return self._async_mdn(conn, ent, bytes(body), headers.get("content-type", ""))
        return await self._message(conn, message_id, mdn_request, ent)

    async def _message(self, conn: _Connector, message_id: str, mdn_request: MdnRequest,
                       ent: mime.Entity) -> Response:
        try:
            got = await run_in_threadpool(unwrap, ent, conn.keys, conn.settings)
        except RefusedError as exc:
            return self._refuse(conn, message_id, mdn_request, exc.reason, str(exc))
        name = got.filename or message_id
        try:
            received: Received = await run_in_threadpool(
                self.sink, io.BytesIO(got.payload), remote_name=name, connector=conn.name, transport_key=message_id)
        except FileTooLargeError as exc:
            return self._refuse(conn, message_id, mdn_request, cms.Reason.UNEXPECTED, str(exc))
        except EdiError as exc:
            log.error("as2 message not stored; answered 503 so the partner resends",
                      extra={"connector": conn.name, "code": exc.code})
            return PlainTextResponse("not stored, send again later\n", status_code=503)
        failpoint("as2.ledger_committed")
        log.info("as2 message stored", extra={"connector": conn.name, "message_id": message_id,
                                              "new": received.new, "file_id": received.file_id})
        if not mdn_request.wanted:
            failpoint("as2.before_mdn")
            return Response(status_code=200)
        stored = self._stored_mdn(conn, message_id) if not received.new else None
        mdn = stored or build_mdn(keys=conn.keys, settings=conn.settings, message_id=message_id, request=mdn_request,
                                  mic=got.mic, reason=None, text=_CONFIRM_TEXT, mdn_message_id=self._new_id(conn))
        if stored is None:
            self._store_mdn(conn, message_id, mdn)
        failpoint("as2.before_mdn")
        return self._answer(conn, mdn_request, mdn, trusted=got.signed)

    def _refuse(self, conn: _Connector, message_id: str, mdn_request: MdnRequest, reason: cms.Reason,
                why: str, status: int = 200) -> Response:
        log.warning("as2 message refused", extra={"connector": conn.name, "message_id": message_id,
                                                  "reason": reason.value, "why": why})
        if not mdn_request.wanted:
            return PlainTextResponse(f"refused: {reason.value}\n", status_code=status if status != 200 else 400)
        mdn = build_mdn(keys=conn.keys, settings=conn.settings, message_id=message_id, request=mdn_request,
                        mic=None, reason=reason, text=_FAILED_TEXT, mdn_message_id=self._new_id(conn))
        return self._answer(conn, mdn_request, mdn, trusted=False, status=status)

    def _answer(self, conn: _Connector, mdn_request: MdnRequest, mdn: Mdn, *, trusted: bool,
                status: int = 200) -> Response:
        url = mdn_request.async_url
        if url is None:
            return _mdn_response(mdn, status)
        if not (trusted or _same_host(url, conn.settings.partner_url)) or not url.startswith(("http://", "https://")):
            log.warning("as2 asynchronous MDN URL not trusted; MDN not posted", extra={"connector": conn.name})
            return Response(status_code=status)
        return Response(status_code=status, background=BackgroundTask(_post_mdn, conn, url, mdn))

    def _async_mdn(self, conn: _Connector, ent: mime.Entity, body: bytes, content_type: str) -> Response:
        if len(body) > MAX_MDN_BYTES:
            return PlainTextResponse("asynchronous MDNs are not accepted here\n", status_code=400)
        try:
            signed = mime.split_signed(ent).signed if ent.content_type == "multipart/signed" else ent
            report = mime.find_report(signed)
        except mime.MimeError:
            report = None
        original = mime.report_fields(report).get("original-message-id", "").strip().strip("<>") if report else ""
        if not original or not expect_path(conn.state_dir, original).exists():
            return PlainTextResponse("no message of ours waits for this MDN\n", status_code=400)
        store_async_mdn(conn.state_dir, original, content_type, body)
        return Response(status_code=200)

    @staticmethod
    def _new_id(conn: _Connector) -> str:
        return f"{secrets.token_hex(16)}@{conn.settings.as2_id.replace('@', '.')}"

    def _stored_mdn(self, conn: _Connector, message_id: str) -> Mdn | None:
        path = sent_mdn_path(conn.state_dir, message_id)
        if not path.exists():
            return None
        head = mime.parse_entity(path.read_bytes())
        return Mdn(list(head.headers.items()), head.body)

    def _store_mdn(self, conn: _Connector, message_id: str, mdn: Mdn) -> None:
        write_durably(sent_mdn_path(conn.state_dir, message_id), mime.entity(mdn.headers, mdn.body))


def _is_mdn(ent: mime.Entity) -> bool:
    if ent.content_type == "multipart/report":
        return True
    if ent.content_type != "multipart/signed":
        return False
    try:
        return mime.split_signed(ent).signed.content_type == "multipart/report"
    except mime.MimeError:
        return False


def _post_mdn(conn: _Connector, url: str, mdn: Mdn) -> None:
    s = conn.settings
    timeout = httpx.Timeout(s.read_timeout_seconds, connect=s.connect_timeout_seconds)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            resp = client.post(url, headers=mdn.headers, content=mdn.body)
        if resp.status_code // 100 != 2:
            log.warning("as2 asynchronous MDN refused by the partner",
                        extra={"connector": conn.name, "status": resp.status_code})
    except httpx.HTTPError as exc:
        log.warning("as2 asynchronous MDN not delivered; the partner's resend gets it again",
                    extra={"connector": conn.name, "error": type(exc).__name__})
