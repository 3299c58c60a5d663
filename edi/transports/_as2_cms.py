"""CMS (S/MIME) operations for AS2: detached signatures, enveloping, RFC 3274 compression.

Signing, encryption and decryption use ``cryptography``; verification and compression read and
write the CMS structures with ``asn1crypto`` and check the signature with ``cryptography``.
Decompression is bounded here because a zlib stream of 1 MiB may expand to gigabytes.

Why not pyas2lib: it pins ``oscrypto==1.3.0``, which cannot detect OpenSSL 3.0.10 and later
(two-digit patch numbers) and fails at import; the fix is not released, and the repackagings of
the fixed oscrypto install into the same ``oscrypto`` directory as the pinned one that pyas2lib
still pulls in, so which copy wins depends on install order. ``cryptography`` is maintained and
ships its own OpenSSL. pyas2lib stays in the test extras as the independent partner.

Every failure is a ``CmsError`` whose ``reason`` is the AS2 disposition modifier to report.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

DigestAlg = Literal["sha256", "sha384", "sha512"]
EncryptionAlg = Literal["aes128_cbc", "aes256_cbc"]

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | hashes.SHA224 | hashes.SHA1]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_SIGN_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CIPHERS: dict[str, type[algorithms.AES128 | algorithms.AES256]] = {
    "aes128_cbc": algorithms.AES128,
    "aes256_cbc": algorithms.AES256,
}
_CHUNK = 1 << 16


class Reason(StrEnum):
    """AS2 disposition modifiers (RFC 4130 §7.4.3) for a message we cannot process."""

    AUTHENTICATION_FAILED = "authentication-failed"
    DECRYPTION_FAILED = "decryption-failed"
    INTEGRITY_CHECK_FAILED = "integrity-check-failed"
    INSUFFICIENT_SECURITY = "insufficient-message-security"
    DECOMPRESSION_FAILED = "decompression-failed"
    UNEXPECTED = "unexpected-processing-error"


class CmsError(ValueError):
    """A CMS structure is malformed, does not verify, cannot be decrypted or is too large."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    """A signature that checked out: the digest algorithm the signer used (hashlib name)."""

    digest_alg: str


def sign_detached(data: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate, digest_alg: DigestAlg) -> bytes:
    """A detached CMS SignedData (DER) over ``data`` exactly as given (no line-ending translation)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, _SIGN_HASHES[digest_alg]())
    return builder.sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def verify_detached(data: bytes, signature: bytes, cert: x509.Certificate) -> Verified:
    """Check a detached CMS signature over ``data`` against the partner's certificate.

    Raises:
        CmsError: malformed, signed by another key, or the signature or digest does not match.
    """
    try:
        info = asn1_cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise CmsError("the signature part is not CMS SignedData", Reason.AUTHENTICATION_FAILED)
        signer = info["content"]["signer_infos"][0]
        digest_alg = signer["digest_algorithm"]["algorithm"].native
        sig_alg = signer["signature_algorithm"].signature_algo
        sig_value = signer["signature"].native
        signed_attrs = signer["signed_attrs"]
        message_digest = None
        if signed_attrs.native is not None:
            for attr in signed_attrs:
                if attr["type"].native == "message_digest":
                    message_digest = attr["values"][0].native
            to_check = b"\x31" + signed_attrs.dump()[1:]  # signed as a SET OF, stored as [0] IMPLICIT
        else:
            to_check = data
    except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, CmsError):
            raise
        raise CmsError(f"the signature is not a readable CMS structure ({type(exc).__name__})",
                       Reason.AUTHENTICATION_FAILED) from exc
    hash_cls = _HASHES.get(digest_alg)
    if hash_cls is None:
        raise CmsError(f"unsupported signature digest {digest_alg}", Reason.AUTHENTICATION_FAILED)
    if message_digest is not None:
        actual = hashlib.new(digest_alg, data).digest()
        if not hmac.compare_digest(actual, message_digest):
            raise CmsError("the signed content digest does not match the received content",
                           Reason.INTEGRITY_CHECK_FAILED)
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsError("only RSA certificates are supported", Reason.AUTHENTICATION_FAILED)
    pad: padding.AsymmetricPadding
    if sig_alg == "rsassa_pss":
        pad = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.AUTO)
    elif sig_alg == "rsassa_pkcs1v15":
        pad = padding.PKCS1v15()
    else:
        raise CmsError(f"unsupported signature algorithm {sig_alg}", Reason.AUTHENTICATION_FAILED)
    try:
        public_key.verify(sig_value, to_check, pad, hash_cls())
    except InvalidSignature as exc:
        raise CmsError("the signature does not verify with the partner's certificate",
                       Reason.AUTHENTICATION_FAILED) from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CmsError(f"the signature cannot be checked ({type(exc).__name__})",
                       Reason.AUTHENTICATION_FAILED) from exc
    return Verified(digest_alg)


def encrypt(data: bytes, cert: x509.Certificate, alg: EncryptionAlg) -> bytes:
    """CMS EnvelopedData (DER) of ``data`` for the holder of ``cert`` (RSA key transport)."""
    builder = (pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(cert)
               .set_content_encryption_algorithm(_CIPHERS[alg]))
    return builder.encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])


def decrypt(der: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """The content of a CMS EnvelopedData addressed to ``cert``.

    Raises:
        CmsError: not addressed to our certificate, malformed, or an unsupported cipher.
    """
    try:
        return pkcs7.pkcs7_decrypt_der(der, cert, key, [])
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CmsError(f"the message cannot be decrypted with our certificate ({type(exc).__name__})",
                       Reason.DECRYPTION_FAILED) from exc


def compress(data: bytes) -> bytes:
    """RFC 3274 CompressedData (zlib) of ``data``, DER."""
    compressed = asn1_cms.CompressedData({
        "version": "v0",
        "compression_algorithm": {"algorithm": "zlib"},
        "encap_content_info": {"content_type": "data", "content": zlib.compress(data)},
    })
    return asn1_cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()


def decompress(der: bytes, max_bytes: int, max_ratio: int) -> bytes:
    """The content of a CompressedData, never inflating past ``max_bytes`` or ``max_ratio`` x its size.

    Raises:
        CmsError: malformed, not zlib, or over a bound (nothing past the bound is inflated).
    """
    try:
        info = asn1_cms.ContentInfo.load(der)
        if info["content_type"].native != "compressed_data":
            raise CmsError("the part is not CMS CompressedData", Reason.DECOMPRESSION_FAILED)
        content = info["content"]
        if content["compression_algorithm"]["algorithm"].native != "zlib":
            raise CmsError("only zlib compression is supported", Reason.DECOMPRESSION_FAILED)
        packed = content["encap_content_info"]["content"].native
    except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, CmsError):
            raise
        raise CmsError("the compressed part is not a readable CMS structure", Reason.DECOMPRESSION_FAILED) from exc
    if not isinstance(packed, bytes):
        raise CmsError("the compressed part has no content", Reason.DECOMPRESSION_FAILED)
    limit = min(max_bytes, max(len(packed), 1) * max_ratio)
    inflater = zlib.decompressobj()
    out = bytearray()
    pending = packed
    try:
        while pending:
            out += inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            if len(out) > limit:
                break
        if len(out) <= limit:
            out += inflater.flush()  # at most what zlib holds back internally (one window)
    except zlib.error as exc:
        raise CmsError("the compressed content is not valid zlib", Reason.DECOMPRESSION_FAILED) from exc
    if len(out) > limit:
        raise CmsError(f"the content inflates past {limit} bytes ({max_ratio}:1 or {max_bytes} bytes at most)",
                       Reason.DECOMPRESSION_FAILED)
    if not inflater.eof:
        raise CmsError("the compressed content is truncated", Reason.DECOMPRESSION_FAILED)
    return bytes(out)
