"""Unwrapping one received AS2 message: decrypt, decompress, verify, and the MDN that answers it.

Pure functions over bytes: the HTTP endpoint (``edi.transports.as2_server``) reads the body,
calls ``unwrap``, hands the payload to the ledger and then sends what ``build_mdn`` returns.
A message that must be refused raises ``RefusedError`` with the disposition modifier for the MDN.
"""

from __future__ import annotations

import base64
import hashlib
import quopri
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate

from edi.transports import _as2_cms as cms
from edi.transports import _as2_mime as mime
from edi.transports._as2_keys import Keys
from edi.transports.as2_settings import As2Settings

REPORTING_UA = "vendoredi AS2"
_ENVELOPED = "enveloped-data"
_COMPRESSED = "compressed-data"


class RefusedError(Exception):
    """The message is not processed; ``reason`` goes into the negative MDN."""

    def __init__(self, message: str, reason: cms.Reason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """The payload of a message that passed every check, with what the MDN must report."""

    payload: bytes
    filename: str | None
    mic: str | None
    """``base64-digest, alg`` for Received-Content-MIC."""
    signed: bool
    encrypted: bool


@dataclass(frozen=True, slots=True)
class MdnRequest:
    """What the sender asked for in its Disposition-Notification headers."""

    wanted: bool
    signed: bool
    micalg: str | None
    async_url: str | None

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> MdnRequest:
        """Read ``disposition-notification-to``/``-options`` and ``receipt-delivery-option`` (lower-case keys)."""
        options = headers.get("disposition-notification-options", "")
        signed = "pkcs7-signature" in options.lower()
        micalg = None
        for clause in options.split(";"):
            name, _, value = clause.partition("=")
            if name.strip().lower() == "signed-receipt-micalg":
                algs = [mime.hashlib_name(a) for a in value.split(",")[1:]]
                micalg = next((a for a in algs if a in ("sha256", "sha384", "sha512")), None)
        url = headers.get("receipt-delivery-option", "").strip() or None
        return cls(wanted="disposition-notification-to" in headers, signed=signed, micalg=micalg, async_url=url)


def _typed(ent: mime.Entity, smime_type: str) -> bool:
    return (ent.content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime")
            and (ent.param("smime-type") or "").lower() == smime_type)


def _payload_bytes(ent: mime.Entity) -> bytes:
    cte = (ent.headers.get("Content-Transfer-Encoding") or "").strip().lower()
    if cte == "quoted-printable":
        return quopri.decodestring(ent.body)
    return ent.decoded_body()


def unwrap(ent: mime.Entity, keys: Keys, settings: As2Settings, *, now: datetime | None = None) -> Unwrapped:
    """Decrypt, decompress and verify ``ent`` (the HTTP body with its Content-Type) per the partner's settings.

    Raises:
        RefusedError: security the partner must apply is missing, a check failed, or a bound was crossed.
    """
    try:
        return _unwrap(ent, keys, settings, now or datetime.now(UTC))
    except cms.CmsError as exc:
        raise RefusedError(str(exc), exc.reason) from exc
    except mime.MimeError as exc:
        raise RefusedError(str(exc), cms.Reason.UNEXPECTED) from exc


def _decompress(ent: mime.Entity, settings: As2Settings) -> mime.Entity:
    data = cms.decompress(ent.decoded_body(), settings.max_decompressed_bytes, settings.max_compression_ratio)
    return mime.parse_entity(data)


def _unwrap(ent: mime.Entity, keys: Keys, settings: As2Settings, now: datetime) -> Unwrapped:
    encrypted = _typed(ent, _ENVELOPED)
    if encrypted:
        ent = mime.parse_entity(cms.decrypt(ent.decoded_body(), keys.key, keys.cert))
    elif settings.require_encrypted:
        raise RefusedError("the partner must encrypt its messages and this one is not encrypted",
                      cms.Reason.INSUFFICIENT_SECURITY)
    if _typed(ent, _COMPRESSED):
        ent = _decompress(ent, settings)
    mic = None
    signed = ent.content_type == "multipart/signed"
    if signed:
        parts = mime.split_signed(ent)
        if not keys.partner_cert_valid(now):
            raise RefusedError("the partner's certificate is expired or not yet valid",
                               cms.Reason.AUTHENTICATION_FAILED)
        signed_bytes = parts.signed_bytes
        try:
            verified = cms.verify_detached(signed_bytes, parts.signature, keys.partner_cert)
        except cms.CmsError:
            canonical = mime.crlf_canonical(signed_bytes)
            if canonical == signed_bytes:
                raise
            verified = cms.verify_detached(canonical, parts.signature, keys.partner_cert)
            signed_bytes = canonical
        digest = hashlib.new(verified.digest_alg, signed_bytes).digest()
        mic = f"{base64.b64encode(digest).decode()}, {verified.digest_alg}"
        ent = parts.signed
    elif settings.require_signed:
        raise RefusedError("the partner must sign its messages and this one is not signed",
                      cms.Reason.INSUFFICIENT_SECURITY)
    if _typed(ent, _COMPRESSED):
        ent = _decompress(ent, settings)
    if ent.headers.get_content_maintype() == "multipart" or _typed(ent, _ENVELOPED):
        raise RefusedError(f"unexpected {ent.content_type} inside the message", cms.Reason.UNEXPECTED)
    payload = _payload_bytes(ent)
    if len(payload) > settings.max_decompressed_bytes:
        raise RefusedError("the payload is larger than max_decompressed_bytes", cms.Reason.UNEXPECTED)
    return Unwrapped(payload, mime.filename_of(ent), mic, signed, encrypted)


@dataclass(frozen=True, slots=True)
class Mdn:
    """An MDN ready to send: its HTTP headers and body."""

    headers: list[tuple[str, str]]
    body: bytes

    def content_type(self) -> str:
        """The Content-Type among the headers."""
        return next(v for k, v in self.headers if k == "Content-Type")


def build_mdn(*, keys: Keys, settings: As2Settings, message_id: str, request: MdnRequest,
              mic: str | None, reason: cms.Reason | None, text: str, mdn_message_id: str) -> Mdn:
    """A positive (``reason`` None) or negative MDN for ``message_id``, signed when the sender asked."""
    disposition = "processed" if reason is None else f"processed/error: {reason.value}"
    report = mime.mdn_report(text=text, reporting_ua=REPORTING_UA, recipient=settings.as2_id,
                             original_message_id=message_id, disposition=disposition, mic=mic)
    if request.signed:
        digest = request.micalg or settings.digest_alg
        signature = cms.sign_detached(report, keys.key, keys.cert, digest)  # type: ignore[arg-type]
        content_type, body = mime.signed_multipart(report, signature, digest)
    else:
        head = mime.parse_entity(report)
        content_type = head.headers["Content-Type"]
        body = head.body
    headers = [
        ("AS2-Version", "1.2"),
        ("AS2-From", settings.as2_id),
        ("AS2-To", settings.partner_as2_id),
        ("Message-ID", f"<{mdn_message_id}>"),
        ("Date", formatdate(usegmt=True)),
        ("MIME-Version", "1.0"),
        ("Content-Type", content_type),
    ]
    return Mdn(headers, body)
