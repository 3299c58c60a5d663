"""One explicit registry of transport kinds: the connector's ``kind`` names its class and settings model.

Kinds are imported only when a connector uses them, so a deployment without SFTP never imports paramiko.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edi.transports.base import Transport, TransportConfigError

_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (module, transport class, settings model)
    "folder": ("edi.transports.folder", "FolderTransport", "FolderSettings"),
    "sftp": ("edi.transports.sftp", "SftpTransport", "SftpSettings"),
    "as2": ("edi.transports.as2", "As2Transport", "As2Settings"),
}


def known_kinds() -> list[str]:
    """The transport kinds this build knows."""
    return sorted(_KINDS)


def _module(kind: str) -> Any | None:
    if kind not in _KINDS:
        near = difflib.get_close_matches(kind, _KINDS, n=1)
        raise TransportConfigError(f"unknown transport kind {kind!r} (known: {', '.join(known_kinds())})"
                                   + (f"; did you mean {near[0]!r}?" if near else ""))
    try:
        return importlib.import_module(_KINDS[kind][0])
    except ModuleNotFoundError:
        return None


def settings_model(kind: str) -> type[BaseModel] | None:
    """The pydantic model of a kind's settings section (None when this build lacks the kind)."""
    mod = _module(kind)
    if mod is None:
        return None
    model = getattr(mod, _KINDS[kind][2], None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def open_transport(kind: str, section: Any, *, base_dir: Path) -> Transport:
    """A transport of ``kind`` from its validated settings section; paths resolve against ``base_dir``."""
    mod = _module(kind)
    if mod is None:
        raise TransportConfigError(f"transport kind {kind!r} is not available in this installation")
    model = settings_model(kind)
    settings = section if model is None or isinstance(section, model) else model.model_validate(section)
    cls = getattr(mod, _KINDS[kind][1])
    transport: Transport = cls(settings, base_dir=base_dir)
    return transport
