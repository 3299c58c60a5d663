"""Files that must survive a crash: written whole or not at all, and on disk before we go on."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and rename; the directory is fsynced too.

    The temporary name is unique, so two processes writing the same file never trip over each other.
    """
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make the names in ``folder`` durable (after a rename or link into it)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
