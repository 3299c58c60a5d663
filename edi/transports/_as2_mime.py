"""MIME for AS2: entities written byte for byte, multipart/signed split on the raw bytes, MDNs.

A signature covers the exact bytes of the first body part, so entities are built as bytes with
CRLF line ends (never re-serialised by ``email``) and signed parts are cut out of the received
body as they came. ``email`` only parses header blocks.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

CRLF = b"\r\n"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_MICALG = {"sha1": "sha1", "sha224": "sha-224", "sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}


class MimeError(ValueError):
    """The bytes are not the MIME structure AS2 expects (bad boundary, missing part, no headers)."""


@dataclass(frozen=True, slots=True)
class Entity:
    """A MIME entity: its parsed headers and its body bytes exactly as received."""

    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        """The lower-case ``type/subtype`` (``text/plain`` when absent, as RFC 2045 says)."""
        return self.headers.get_content_type()

    def param(self, name: str) -> str | None:
        """A Content-Type parameter, unquoted, or None."""
        value = self.headers.get_param(name)
        return value if isinstance(value, str) else None

    def decoded_body(self) -> bytes:
        """The body with a base64 transfer encoding undone (other encodings carry bytes as they are)."""
        if (self.headers.get("Content-Transfer-Encoding") or "").strip().lower() == "base64":
            try:
                return base64.b64decode(re.sub(rb"\s+", b"", self.body), validate=True)
            except binascii.Error as exc:
                raise MimeError("a base64 part is not valid base64") from exc
        return self.body


def micalg_name(digest_alg: str) -> str:
    """The RFC 5751 ``micalg`` spelling of a hashlib digest name."""
    return _MICALG.get(digest_alg, digest_alg)


def hashlib_name(micalg: str) -> str:
    """The hashlib name of an RFC 5751 or pyas2lib-style digest name (``sha-256`` or ``sha256``)."""
    return micalg.strip().lower().replace("-", "")


def header_block(headers: list[tuple[str, str]]) -> bytes:
    """``Name: value`` lines with CRLF and the blank line; values with CR or LF are refused."""
    out = bytearray()
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise MimeError(f"header {name!r} contains a line break")
        out += f"{name}: {value}".encode() + CRLF
    return bytes(out + CRLF)


def entity(headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One MIME entity as bytes: the header block, then the body unchanged."""
    return header_block(headers) + body


def parse_entity(raw: bytes) -> Entity:
    """Split ``raw`` at the first blank line into headers and body."""
    m = _HEADER_END.search(raw)
    if m is None:
        raise MimeError("no blank line after the MIME headers")
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[: m.start()] + b"\r\n\r\n")
    return Entity(headers, raw[m.end():])


def from_http(content_type: str, body: bytes) -> Entity:
    """The entity an HTTP request or response carries (its Content-Type header and its body)."""
    return Entity(BytesHeaderParser(policy=compat32).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")), body)


def new_boundary() -> str:
    """A random boundary that cannot occur in base64 or in our header lines."""
    return "----=_AS2_" + secrets.token_hex(16)


def signed_multipart(first_part: bytes, signature: bytes, digest_alg: str) -> tuple[str, bytes]:
    """``(content_type, body)`` of a multipart/signed holding ``first_part`` and a detached signature."""
    boundary = new_boundary()
    sig_b64 = base64.encodebytes(signature).replace(b"\n", CRLF)
    sig_part = entity([
        ("Content-Type", 'application/pkcs7-signature; name="smime.p7s"; smime-type=signed-data'),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", 'attachment; filename="smime.p7s"'),
    ], sig_b64)
    b = boundary.encode()
    body = b"--" + b + CRLF + first_part + CRLF + b"--" + b + CRLF + sig_part + CRLF + b"--" + b + b"--" + CRLF
    content_type = (f'multipart/signed; protocol="application/pkcs7-signature"; '
                    f'micalg={micalg_name(digest_alg)}; boundary="{boundary}"')
    return content_type, body


def split_multipart(ent: Entity) -> list[bytes]:
    """The raw bytes of each body part (the CRLF before each delimiter belongs to the delimiter)."""
    boundary = ent.param("boundary")
    if not boundary:
        raise MimeError(f"{ent.content_type} without a boundary parameter")
    delim = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode("latin-1")) + rb"(--)?[ \t]*(?:\r?\n|$)")
    parts: list[bytes] = []
    start: int | None = None
    for m in delim.finditer(ent.body):
        if start is not None:
            parts.append(ent.body[start:m.start()])
        if m.group(1):
            return parts
        start = m.end()
    raise MimeError("the multipart body has no closing delimiter (truncated?)")


@dataclass(frozen=True, slots=True)
class SignedParts:
    """A multipart/signed cut apart: the signed bytes as received, that entity, and the signature (DER)."""

    signed_bytes: bytes
    signed: Entity
    signature: bytes


def split_signed(ent: Entity) -> SignedParts:
    """Cut a multipart/signed into its first part and its signature part."""
    parts = split_multipart(ent)
    if len(parts) != 2:
        raise MimeError(f"multipart/signed with {len(parts)} parts (2 expected)")
    sig = parse_entity(parts[1])
    if sig.content_type not in _SIGNATURE_TYPES:
        raise MimeError(f"the second part of multipart/signed is {sig.content_type}, not a pkcs7 signature")
    return SignedParts(parts[0], parse_entity(parts[0]), sig.decoded_body())


def crlf_canonical(data: bytes) -> bytes:
    """``data`` with every bare LF turned into CRLF (the canonical form of a text entity)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def filename_of(ent: Entity) -> str | None:
    """The ``filename`` parameter of Content-Disposition, if any."""
    value = ent.headers.get_param("filename", header="Content-Disposition")
    return value if isinstance(value, str) and value else None


def report_fields(ent: Entity) -> dict[str, str]:
    """The fields of a message/disposition-notification part (all blocks merged, names lower-cased)."""
    fields: dict[str, str] = {}
    name = None
    for line in ent.decoded_body().decode("utf-8", "replace").splitlines():
        if not line.strip():
            name = None
            continue
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            fields[name] = value.strip()
    return fields


def find_report(ent: Entity, depth: int = 0) -> Entity | None:
    """The message/disposition-notification part inside a multipart/report (or None)."""
    if depth > 3:
        return None
    if ent.content_type == "message/disposition-notification":
        return ent
    if ent.headers.get_content_maintype() == "multipart":
        for raw in split_multipart(ent):
            found = find_report(parse_entity(raw), depth + 1)
            if found is not None:
                return found
    return None


def mdn_report(*, text: str, reporting_ua: str, recipient: str, original_message_id: str,
               disposition: str, mic: str | None) -> bytes:
    """The multipart/report entity (headers included) of an MDN, CRLF throughout."""
    boundary = new_boundary()
    lines = [
        f"Reporting-UA: {reporting_ua}",
        f"Original-Recipient: rfc822; {recipient}",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Message-ID: <{original_message_id}>",
        f"Disposition: automatic-action/MDN-sent-automatically; {disposition}",
    ]
    if mic:
        lines.append(f"Received-Content-MIC: {mic}")
    for line in lines:
        if "\r" in line or "\n" in line:
            raise MimeError("an MDN field contains a line break")
    b = boundary.encode()
    text_part = entity([("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "7bit")],
                       text.encode("ascii", "replace") + CRLF)
    dn_part = entity([("Content-Type", "message/disposition-notification"), ("Content-Transfer-Encoding", "7bit")],
                     "\r\n".join(lines).encode("utf-8") + CRLF)
    body = (b"--" + b + CRLF + text_part + CRLF + b"--" + b + CRLF + dn_part + CRLF
            + b"--" + b + b"--" + CRLF)
    return entity([("Content-Type", f'multipart/report; report-type=disposition-notification; boundary="{boundary}"')],
                  body)
