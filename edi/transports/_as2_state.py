"""The AS2 connector's state directory: built messages, sent markers, MDNs, each written atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

from edi.durable import write_durably


def key_of(text: str) -> str:
    """A file-name-safe key for a name or Message-ID (its SHA-256): remote text never becomes a path."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def mdn_path(state_dir: Path, message_id: str) -> Path:
    """Where an asynchronous MDN for our ``message_id`` is kept once the endpoint received it."""
    return state_dir / f"{key_of(message_id)}.mdn"


def expect_path(state_dir: Path, message_id: str) -> Path:
    """The marker saying ``deliver`` sent ``message_id`` and waits for its asynchronous MDN."""
    return state_dir / f"{key_of(message_id)}.expect"


def sent_mdn_path(state_dir: Path, message_id: str) -> Path:
    """Where the MDN we answered the partner's ``message_id`` with is kept (re-sent on a duplicate)."""
    return state_dir / f"in-{key_of(message_id)}.mdn"


def store_async_mdn(state_dir: Path, message_id: str, content_type: str, body: bytes) -> None:
    """Keep an asynchronous MDN durably for the ``deliver`` call waiting for it."""
    write_durably(mdn_path(state_dir, message_id), content_type.encode("latin-1") + b"\n" + body)
