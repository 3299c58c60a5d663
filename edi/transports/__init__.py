"""Transports: folder, SFTP and AS2 behind one interface (``edi.transports.base.Transport``)."""

from edi.transports.base import (
    DeliveryConflictError,
    HostKeyMismatchError,
    RemoteFile,
    Settle,
    Transport,
    TransportConfigError,
    TransportError,
    TransportTimeoutError,
    escape_name,
    stable_files,
)

__all__ = [
    "DeliveryConflictError",
    "HostKeyMismatchError",
    "RemoteFile",
    "Settle",
    "Transport",
    "TransportConfigError",
    "TransportError",
    "TransportTimeoutError",
    "escape_name",
    "stable_files",
]
