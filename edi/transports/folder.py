"""The folder transport: a local or mounted inbound folder, and an outbound folder written atomically.

Taken files are moved to ``done/`` (or ``rejected/`` with a ``.error`` note) after the ledger has
them, or deleted. Names are data: a listed name is used only inside its own folder, opened without
following links, and never joined into any other path than the done/rejected folders beside it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from edi.durable import fsync_dir
from edi.transports.base import (
    DeliveryConflictError,
    RemoteFile,
    RemoteFileGoneError,
    RemoteNameError,
    Settle,
    TransportConfigError,
    TransportError,
    escape_name,
)


class FolderSettings(BaseModel):
    """A local or mounted folder pair (what the demo and ``edi init`` use)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound_dir: str = Field(description="files to take (relative to the config root)")
    outbound_dir: str = Field(description="documents are delivered here (relative to the config root)")
    per_kind_subfolders: bool = Field(default=True, description="deliver to <outbound_dir>/<kind>/ (997, 855, ...)")
    after_take: Literal["move", "delete"] = Field(default="move", description="move: into done/ or rejected/")
    done_dir: str | None = Field(default=None, description="default <inbound_dir>/done")
    rejected_dir: str | None = Field(default=None, description="default <inbound_dir>/rejected")
    ignore_patterns: tuple[str, ...] = Field(default=(".*", "*.part", "*.tmp"),
                                             description="names left alone (temporary files of the sender)")


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def check_name(name: str) -> str:
    """``name`` if it can only mean a file inside its folder; RemoteNameError otherwise."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise RemoteNameError(f"file name {escape_name(name)!r} cannot name a file inside a folder",
                              hint="the file is left where it is; ask the sender to use plain file names")
    return name


class FolderTransport:
    """Folder drops; see the module docstring."""

    kind = "folder"

    def __init__(self, settings: FolderSettings, *, base_dir: Path) -> None:
        self.settings = settings
        self.inbound = _resolve(base_dir, settings.inbound_dir)
        self.outbound = _resolve(base_dir, settings.outbound_dir)
        self.done = _resolve(base_dir, settings.done_dir) if settings.done_dir else self.inbound / "done"
        self.rejected = (_resolve(base_dir, settings.rejected_dir) if settings.rejected_dir
                         else self.inbound / "rejected")
        self._unsynced: set[Path] = set()
        self.ignored: list[RemoteFile] = []

    def _ignored(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pat) for pat in self.settings.ignore_patterns)

    def list(self) -> list[RemoteFile]:
        """Regular files of the inbound folder (links, folders and ignored names left alone), oldest name first."""
        try:
            entries = list(os.scandir(self.inbound))
        except FileNotFoundError as exc:
            raise TransportError(f"inbound folder {self.inbound} does not exist",
                                 hint="create it or mount the share; the connector tries again on the next poll"
                                 ) from exc
        except OSError as exc:
            raise TransportError(f"cannot list {self.inbound}: {exc.strerror or exc}") from exc
        out: list[RemoteFile] = []
        self.ignored = []
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                # names matching ignore_patterns (temporary names of transfers in progress) are kept
                # aside in ``ignored``, so the poll can account for them: never skipped silently
                (self.ignored if self._ignored(e.name) else out).append(RemoteFile(e.name, st.st_size, st.st_mtime))
        return sorted(out, key=lambda f: f.name)

    @contextlib.contextmanager
    def open(self, f: RemoteFile) -> Iterator[BinaryIO]:
        """The file's bytes, opened inside the inbound folder without following a link."""
        name = check_name(f.name)
        try:
            dir_fd = os.open(self.inbound, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise TransportError(f"cannot open {self.inbound}: {exc.strerror or exc}") from exc
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except FileNotFoundError as exc:
            raise RemoteFileGoneError(f"{escape_name(name)} disappeared from {self.inbound} before it was read"
                                      ) from exc
        except OSError as exc:
            raise TransportError(f"cannot read {escape_name(name)} in {self.inbound}: {exc.strerror or exc}") from exc
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as fh:
            yield fh

    def settle(self, f: RemoteFile, outcome: Settle, note: str | None = None) -> None:
        """Delete the file, or move it to done/ (rejected/ with a ``.error`` note); gone already is fine."""
        name = check_name(f.name)
        src = self.inbound / name
        if self.settings.after_take == "delete":
            with contextlib.suppress(FileNotFoundError):
                src.unlink()
            return
        target_dir = self.done if outcome is Settle.DONE else self.rejected
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            target = _free_name(target_dir, name)
            if outcome is Settle.REJECTED and note:
                (target_dir / f"{target.name}.error").write_text(note.rstrip() + "\n", encoding="utf-8",
                                                                 errors="backslashreplace")
            src.rename(target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise TransportError(f"cannot move {escape_name(name)} to {target_dir}: {exc.strerror or exc}") from exc

    def deliver(self, name: str, data: bytes) -> None:
        """Write ``name`` atomically (hidden temporary file, fsync, link); same bytes again is a no-op."""
        check_name(name)
        folder = self.outbound
        kind = name.split("_", 1)[0]
        if self.settings.per_kind_subfolders and kind.isalnum() and kind != name:
            folder = folder / kind
        target = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if target.exists():
                _same_or_conflict(target, data)
                return
            tmp = folder / f".{name}.{os.getpid()}.part"
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, target)  # never replaces an existing file, unlike rename
            except FileExistsError:
                _same_or_conflict(target, data)
            finally:
                tmp.unlink(missing_ok=True)
            self._unsynced.add(folder)
        except OSError as exc:
            raise TransportError(f"cannot write {target}: {exc.strerror or exc}",
                                 hint="check that the outbound folder exists and is writable") from exc

    def flush(self) -> None:
        """Make the names of the files delivered so far durable (one fsync per folder, not per file)."""
        for folder in sorted(self._unsynced):
            try:
                fsync_dir(folder)
            except OSError as exc:
                raise TransportError(f"cannot sync {folder}: {exc.strerror or exc}") from exc
        self._unsynced.clear()

    def close(self) -> None:
        """Sync what was delivered."""
        self.flush()


def _same_or_conflict(target: Path, data: bytes) -> None:
    if target.read_bytes() != data:
        raise DeliveryConflictError(f"{target} already exists with other content; nothing was overwritten",
                                    hint="move the other file away (it may be a document of another run), "
                                         "then deliver again")


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name.1``, ``name.2``, ... when taken (a file dropped twice keeps both copies)."""
    target = folder / name
    n = 0
    while target.exists():
        n += 1
        target = folder / f"{name}.{n}"
    return target


def validate_settings(settings: FolderSettings, base_dir: Path) -> list[str]:
    """Problems with the folders (for ``edi check-config``); empty when they exist or can be created."""
    t = FolderTransport(settings, base_dir=base_dir)
    problems = []
    for label, p in (("inbound_dir", t.inbound), ("outbound_dir", t.outbound)):
        if p.exists() and not p.is_dir():
            problems.append(f"{label} {p} is not a folder")
    return problems


__all__ = ["FolderSettings", "FolderTransport", "TransportConfigError", "check_name"]
