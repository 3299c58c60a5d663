"""Settings of one AS2 connector (``kind: as2``): identities, key files, security and bounds.

Relative file paths are resolved against the config root handed to the transport and the
endpoint, never against the current directory. The key password is referenced, never inlined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BODY_BYTES: Final = 50 << 20
"""Largest HTTP body accepted (and sent) by default."""
MAX_DECOMPRESSED_BYTES: Final = 50 << 20
"""Largest payload after decompression by default."""
MAX_COMPRESSION_RATIO: Final = 100
"""Decompressed size may be at most this many times the compressed size."""
CONNECT_TIMEOUT_SECONDS: Final = 15.0
READ_TIMEOUT_SECONDS: Final = 60.0

_AS2_ID = r"^[!#-\[\]-~]{1,128}$"  # printable ASCII without space, '"' or '\' (no quoting needed)


class As2Settings(BaseModel):
    """One AS2 trading relationship: who we are, who the partner is, and what each side must do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as2_id: str = Field(pattern=_AS2_ID, description="Our AS2 identifier (AS2-From on what we send).")
    partner_as2_id: str = Field(pattern=_AS2_ID, description="The partner's AS2 identifier (AS2-To on what we send).")
    partner_url: str = Field(pattern=r"^https?://", description="The partner's AS2 endpoint (http or https URL).")
    key_file: Path = Field(
        description="Our private key (PEM), used to sign and to decrypt; relative to the config root.")
    cert_file: Path = Field(description="Our certificate (PEM), given to the partner; relative to the config root.")
    key_password_env: str | None = Field(
        default=None, description="Environment variable holding the key's password (if the key is encrypted).")
    key_password_file: Path | None = Field(
        default=None,
        description="File holding the key's password (if the key is encrypted); relative to the config root.")
    partner_cert_file: Path = Field(
        description="The partner's certificate (PEM): verifies its signatures, encrypts what we send.")
    sign: bool = Field(default=True, description="Sign what we send.")
    encrypt: bool = Field(default=True, description="Encrypt what we send.")
    compress: bool = Field(default=False, description="Compress what we send (before signing).")
    mdn_mode: Literal["sync", "async"] = Field(
        default="sync", description="Ask for the MDN in the HTTP response (sync) or posted back later (async).")
    mdn_url: str | None = Field(
        default=None, pattern=r"^https?://",
        description="Our endpoint URL the partner posts asynchronous MDNs to (required when mdn_mode is async).")
    mdn_signed: bool = Field(default=True, description="Ask for a signed MDN, and refuse an unsigned one.")
    digest_alg: Literal["sha256", "sha384", "sha512"] = Field(
        default="sha256", description="Digest for our signatures and the MIC we ask for.")
    encryption_alg: Literal["aes128_cbc", "aes256_cbc"] = Field(
        default="aes256_cbc", description="Content encryption for what we send.")
    require_signed: bool = Field(default=True, description="Refuse unsigned messages from the partner.")
    require_encrypted: bool = Field(default=True, description="Refuse unencrypted messages from the partner.")
    content_type: str = Field(
        default="application/edi-x12", pattern=r"^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+$",
        description="MIME type of the payloads we send.")
    connect_timeout_seconds: float = Field(
        default=CONNECT_TIMEOUT_SECONDS, gt=0, le=600, description="HTTP connect timeout when sending.")
    read_timeout_seconds: float = Field(
        default=READ_TIMEOUT_SECONDS, gt=0, le=3600,
        description="HTTP read timeout when sending; also how long a send waits for an asynchronous MDN.")
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES, ge=1024, description="Largest HTTP body accepted from the partner.")
    max_decompressed_bytes: int = Field(
        default=MAX_DECOMPRESSED_BYTES, ge=1024, description="Largest payload after decompression.")
    max_compression_ratio: int = Field(
        default=MAX_COMPRESSION_RATIO, ge=1, description="Largest decompressed:compressed size ratio accepted.")
    state_dir: Path = Field(
        default=Path("data/as2"),
        description="Where built outbound messages and MDNs are kept (one subfolder per AS2 id pair); "
                    "relative to the config root.")

    @model_validator(mode="after")
    def _consistent(self) -> As2Settings:
        if self.key_password_env and self.key_password_file:
            raise ValueError("set key_password_env or key_password_file, not both")
        if self.mdn_mode == "async" and not self.mdn_url:
            raise ValueError("mdn_mode async needs mdn_url (where the partner posts the MDN)")
        return self

    def resolve(self, base_dir: Path, path: Path) -> Path:
        """``path`` made absolute against the config root ``base_dir``."""
        return path if path.is_absolute() else base_dir / path

    def connection_dir(self, base_dir: Path) -> Path:
        """This relationship's own folder under ``state_dir`` (named after both AS2 ids, made path-safe)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{self.as2_id}__{self.partner_as2_id}")
        return self.resolve(base_dir, self.state_dir) / safe.lstrip(".")
