"""The transport interface: where inbound files come from and where outbound documents go.

A transport lists, reads, settles and delivers files; it knows nothing of X12, partners or the
store. The poll job (``edi.jobs``) drives it:

1. ``list()`` twice, ``stable_seconds`` apart: only files whose size and mtime did not change are
   taken (a file still being written is left for the next poll);
2. ``open(f)`` streams the bytes into the ledger through a bounded reader (never whole in memory,
   never more than ``max_file_bytes`` + 1 bytes read);
3. only after the ledger row is committed, ``settle(f, ...)`` deletes or moves the remote copy.

A crash between 2 and 3 leaves the remote file in place; the next poll reads it again and the
ledger's transport key (the file's SHA-256) recognises it, so there is no second business effect.

Remote names are data: they are shown escaped, stored as given, and never used as local paths.

Outbound, ``deliver(name, data)`` writes atomically (temporary name, then rename) and is safe to
repeat with the same bytes; a different file already under that name is a ``DeliveryConflictError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Protocol, runtime_checkable

from edi.errors import DocumentError, FatalError, RetriableError

__all__ = [
    "DeliveryConflictError",
    "FileTooLargeError",
    "HostKeyMismatchError",
    "InboundSink",
    "Received",
    "RemoteFile",
    "RemoteFileGoneError",
    "RemoteNameError",
    "Settle",
    "Transport",
    "TransportConfigError",
    "TransportError",
    "TransportTimeoutError",
    "escape_name",
    "printable",
    "stable_files",
]


class Settle(StrEnum):
    """What happened to a taken file once its bytes are in the ledger."""

    DONE = "done"
    """Recorded (processed, or a duplicate with no effect): delete it or move it to the done folder."""
    REJECTED = "rejected"
    """Recorded but not X12 or refused: move it to the rejected folder with a note (or delete it)."""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file a transport offers: its name as the remote spells it (data, never a path), size and mtime."""

    name: str
    size: int
    mtime: float


@runtime_checkable
class Transport(Protocol):
    """One connector's access to its partner's drop (folder, SFTP server, AS2 endpoint)."""

    kind: str

    def list(self) -> list[RemoteFile]:
        """The regular files waiting in the inbound location (no directories, links or temporary names)."""
        ...

    def open(self, f: RemoteFile) -> AbstractContextManager[BinaryIO]:
        """A binary stream of ``f``'s bytes; the caller reads in chunks and closes it."""
        ...

    def settle(self, f: RemoteFile, outcome: Settle, note: str | None = None) -> None:
        """Delete or move ``f`` after its bytes are committed to the ledger; a file already gone is fine."""
        ...

    def deliver(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``name`` in the outbound location, atomically; same bytes again is a no-op.

        Raises:
            DeliveryConflictError: a different file already has that name (nothing is overwritten).
            TransportError: the remote cannot be reached or refused the write (retried later).
        """
        ...

    def close(self) -> None:
        """Release the connection (one connection per poll or delivery run)."""
        ...


@dataclass(frozen=True, slots=True)
class Received:
    """What the ledger made of one inbound file: its row, and whether it was new."""

    file_id: int
    new: bool
    """False: the same transport key (AS2 Message-ID) or the same bytes (SHA-256) were received before."""
    disposition: str


class InboundSink(Protocol):
    """The ledger's door: archive the bytes (fsynced) and commit their row before returning.

    A push transport (AS2) calls it before answering its peer; the poll job calls it before
    ``settle``. ``transport_key`` is the transport's own dedupe key (the AS2 Message-ID) or None.
    Raises ``FileTooLargeError`` (nothing stored) when the stream is longer than the bound.
    """

    def __call__(self, stream: BinaryIO, *, remote_name: str, connector: str,
                 transport_key: str | None = None) -> Received:
        """Store ``stream`` durably and return what the ledger made of it."""
        ...


class FileTooLargeError(DocumentError):
    """An inbound file is larger than the connector's ``max_file_bytes``: nothing of it was stored."""

    code = "FILE_TOO_LARGE"


class TransportError(RetriableError):
    """The remote cannot be reached or an operation on it failed; the work is retried on the next run."""

    code = "TRANSPORT_ERROR"


class RemoteFileGoneError(TransportError):
    """A listed file was no longer there when it was opened (taken by someone else, or renamed): skip it."""

    code = "REMOTE_FILE_GONE"


class TransportTimeoutError(TransportError):
    """A connect, authentication or operation timeout."""

    code = "TRANSPORT_TIMEOUT"


class TransportConfigError(FatalError):
    """The connector's settings are wrong (missing secret, bad path): the connector stops until fixed."""

    code = "CFG_CONNECTOR"


class HostKeyMismatchError(FatalError):
    """The server's host key is unknown or changed: nothing is transferred and the connector stops."""

    code = "HOST_KEY_MISMATCH"


class RemoteNameError(DocumentError):
    """A remote name that cannot name a file inside its folder (``/``, NUL, ``..``): left where it is."""

    code = "REMOTE_NAME"


class DeliveryConflictError(DocumentError):
    """A different file already has the outbound name: nothing was overwritten."""

    code = "DELIVERY_CONFLICT"


def stable_files(look: Callable[[], list[RemoteFile]], wait: Callable[[], None]) -> list[RemoteFile]:
    """The files whose size and mtime are the same across two looks ``wait()`` apart (the second look's)."""
    first = {(f.name, f.size, f.mtime) for f in look()}
    if not first:
        return []
    wait()
    return [f for f in look() if (f.name, f.size, f.mtime) in first]


def escape_name(name: str) -> str:
    """``name`` fit for one line of output: control characters, backslashes and undecodable bytes escaped."""
    return "".join(_escape_char(c) for c in name)


def printable(text: str) -> str:
    """``text`` safe on one line of output: control characters and undecodable bytes escaped, nothing else.

    Unlike ``escape_name`` it leaves backslashes alone, so a stored (already escaped) name is shown as
    stored; no character in the result can start a new line or drive the terminal.
    """
    return "".join(c if c == "\\" else _escape_char(c) for c in text)


def _escape_char(c: str) -> str:
    o = ord(c)
    if c == "\\":
        return "\\\\"
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not valid UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    if o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or o in (0x2028, 0x2029):
        return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"
    return c


def read_bounded(stream: BinaryIO, max_bytes: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Chunks of ``stream``; stops after ``max_bytes`` + 1 bytes so the caller can tell the bound was crossed."""
    left = max_bytes + 1
    while left > 0:
        data = stream.read(min(chunk, left))
        if not data:
            return
        left -= len(data)
        yield data
