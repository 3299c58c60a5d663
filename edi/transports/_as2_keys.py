"""Loading an AS2 connector's key and certificates from PEM files (password by reference only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from edi.transports.as2_settings import As2Settings
from edi.transports.base import TransportConfigError


@dataclass(frozen=True, slots=True)
class Keys:
    """Our RSA key and certificate, and the partner's certificate."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    partner_cert: x509.Certificate

    def partner_cert_valid(self, now: datetime) -> bool:
        """Whether ``now`` lies within the partner certificate's validity period."""
        return self.partner_cert.not_valid_before_utc <= now <= self.partner_cert.not_valid_after_utc


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TransportConfigError(f"as2.{field}: cannot read {path} ({exc.strerror})",
                                   hint=f"check {field} (relative paths start at the config root)") from exc


def _password(settings: As2Settings, base_dir: Path) -> bytes | None:
    if settings.key_password_env:
        value = os.environ.get(settings.key_password_env)
        if value is None:
            raise TransportConfigError(
                f"as2.key_password_env: environment variable {settings.key_password_env} is not set",
                hint="export it in the daemon's environment, or use key_password_file")
        return value.encode()
    if settings.key_password_file:
        path = settings.resolve(base_dir, settings.key_password_file)
        return _read(path, "key_password_file").rstrip(b"\r\n")
    return None


def load_cert(path: Path, field: str) -> x509.Certificate:
    """The first certificate in a PEM file."""
    try:
        return x509.load_pem_x509_certificate(_read(path, field))
    except ValueError as exc:
        raise TransportConfigError(f"as2.{field}: {path} is not a PEM certificate",
                                   hint="export the certificate in PEM (BEGIN CERTIFICATE)") from exc


def load_keys(settings: As2Settings, base_dir: Path) -> Keys:
    """Read and check the key files named by ``settings``.

    Raises:
        TransportConfigError: a file is missing or unreadable, the password is missing or wrong,
            the key is not RSA, or the key does not belong to our certificate.
    """
    key_path = settings.resolve(base_dir, settings.key_file)
    try:
        key = load_pem_private_key(_read(key_path, "key_file"), _password(settings, base_dir))
    except (ValueError, TypeError) as exc:
        raise TransportConfigError(
            f"as2.key_file: {key_path} cannot be loaded (wrong or missing password, or not a PEM key)",
            hint="check key_password_env / key_password_file and the key file") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TransportConfigError(f"as2.key_file: {key_path} is not an RSA key", hint="AS2 here needs an RSA key")
    cert = load_cert(settings.resolve(base_dir, settings.cert_file), "cert_file")
    if cert.public_key() != key.public_key():
        raise TransportConfigError("as2.cert_file: the certificate does not belong to key_file",
                                   hint="pair the key with its own certificate")
    partner = load_cert(settings.resolve(base_dir, settings.partner_cert_file), "partner_cert_file")
    return Keys(key, cert, partner)


def certificate_expiry(settings: As2Settings, base_dir: Path) -> list[tuple[str, datetime]]:
    """``(which, not_after)`` for our certificate and the partner's, so the daemon can warn in time.

    ``which`` is the settings field (``cert_file`` or ``partner_cert_file``); ``not_after`` is UTC.
    A daemon raises ``CERT_EXPIRING`` when one is within 30 days of ``datetime.now(UTC)``.
    """
    out = []
    for field in ("cert_file", "partner_cert_file"):
        cert = load_cert(settings.resolve(base_dir, getattr(settings, field)), field)
        out.append((field, cert.not_valid_after_utc.astimezone(UTC)))
    return out
