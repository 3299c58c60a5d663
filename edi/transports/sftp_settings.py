"""The SFTP connector's settings (``kind: sftp``): where the server is, how we log in, what we pin."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_CONNECT_TIMEOUT_SECONDS", "DEFAULT_IGNORE_PATTERNS", "DEFAULT_OPERATION_TIMEOUT_SECONDS",
           "SftpSettings"]

DEFAULT_CONNECT_TIMEOUT_SECONDS = 15.0
"""TCP connect, SSH banner, key exchange and authentication, each."""
DEFAULT_OPERATION_TIMEOUT_SECONDS = 60.0
"""Longest wait for any one answer from the server once connected."""
DEFAULT_IGNORE_PATTERNS = (".*", "*.part", "*.tmp")
"""Names that are someone's temporary files, never taken."""

_SHA256_PATTERN = r"^SHA256:[A-Za-z0-9+/]{43}$"
_ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SftpSettings(BaseModel):
    """How to reach a partner's SFTP server and where its files are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="Server host name or IP address.")
    port: int = Field(default=22, ge=1, le=65535, description="Server TCP port.")
    username: str = Field(min_length=1, description="Account to log in as.")
    private_key_file: Path | None = Field(
        default=None,
        description="File holding the private key (OpenSSH or PEM, unencrypted, mode 600); relative to the "
                    "config root.")
    password_env: str | None = Field(
        default=None, pattern=_ENV_NAME_PATTERN,
        description="Name of the environment variable holding the password (never the password itself).")
    password_file: Path | None = Field(
        default=None,
        description="File holding the password (one line, mode 600); relative to the config root.")
    known_hosts_file: Path | None = Field(
        default=None,
        description="OpenSSH known_hosts file with the server's host key (entry '[host]:port' unless port is "
                    "22); relative to the config root. Set this or host_key_sha256.")
    host_key_sha256: str | None = Field(
        default=None, pattern=_SHA256_PATTERN,
        description="The server's host key fingerprint as 'ssh-keygen -lf' prints it ('SHA256:' + 43 "
                    "characters), of the key type this client negotiates (ed25519 when the server has one; the "
                    "refusal names the type and fingerprint seen). Set this or known_hosts_file, which pins "
                    "the key type too.")
    inbound_dir: str = Field(min_length=1, description="Remote directory the partner's files are taken from.")
    outbound_dir: str = Field(min_length=1, description="Remote directory our documents are delivered to.")
    after_take: Literal["delete", "move"] = Field(
        default="delete",
        description="What happens to a remote file once its bytes are in the ledger: delete it, or move it "
                    "to done_dir (recorded) or rejected_dir (refused, with a '<name>.error' note).")
    done_dir: str | None = Field(
        default=None, min_length=1,
        description="Remote directory recorded files are moved to (after_take: move); created when missing.")
    rejected_dir: str | None = Field(
        default=None, min_length=1,
        description="Remote directory refused files are moved to (after_take: move); created when missing.")
    rename_on_upload: bool = Field(
        default=True,
        description="Upload under a temporary name, then rename; false for servers that forbid rename "
                    "(the file is then written under its final name directly).")
    temporary_suffix: str = Field(
        default=".part", min_length=1, max_length=32,
        description="Appended to a file's name while it is being uploaded (rename_on_upload: true).")
    connect_timeout_seconds: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_SECONDS, gt=0, le=600,
        description="Longest wait for the TCP connection, the SSH banner, key exchange and authentication.")
    operation_timeout_seconds: float = Field(
        default=DEFAULT_OPERATION_TIMEOUT_SECONDS, gt=0, le=3600,
        description="Longest wait for any one answer from the server (list, read, write, rename, delete).")
    ignore_patterns: tuple[str, ...] = Field(
        default=DEFAULT_IGNORE_PATTERNS,
        description="Glob patterns (whole-name, case-sensitive) of inbound names never taken: temporary files.")

    @field_validator("inbound_dir", "outbound_dir", "done_dir", "rejected_dir")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("a remote directory cannot contain a NUL character")
        return value

    @field_validator("temporary_suffix")
    @classmethod
    def _plain_suffix(cls, value: str) -> str:
        if "/" in value or "\x00" in value:
            raise ValueError("temporary_suffix must not contain '/' or NUL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SftpSettings:
        problems = []
        if (self.known_hosts_file is None) == (self.host_key_sha256 is None):
            problems.append("set exactly one of known_hosts_file and host_key_sha256 (the host key must be pinned)")
        if self.private_key_file is None and self.password_env is None and self.password_file is None:
            problems.append("set private_key_file, password_env or password_file (how to log in)")
        if self.password_env is not None and self.password_file is not None:
            problems.append("set password_env or password_file, not both")
        if self.after_take == "move":
            problems += [f"{name} is required when after_take is move" for name in ("done_dir", "rejected_dir")
                         if getattr(self, name) is None]
        else:
            problems += [f"{name} is only used when after_take is move" for name in ("done_dir", "rejected_dir")
                         if getattr(self, name) is not None]
        if problems:
            raise ValueError("; ".join(problems))
        return self
