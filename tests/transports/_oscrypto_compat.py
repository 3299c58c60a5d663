"""Lets the test peer import pyas2lib on OpenSSL releases with a two-digit patch number.

pyas2lib pins ``oscrypto==1.3.0``, whose libcrypto version check only matches one digit per
version part ("3.0.9" passes, "3.0.19" does not), so ``import pyas2lib`` fails with
"Error detecting the version of libcrypto". The fix is in oscrypto's repository but not released.
Only the independent AS2 peer used by the tests needs pyas2lib (the product signs and encrypts
with ``cryptography``), so the tests widen that one pattern while the module is loaded, and only
when the unmodified import fails. Every other byte of oscrypto is used as shipped.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

_MODULES = ("oscrypto._openssl._libcrypto_ctypes", "oscrypto._openssl._libcrypto_cffi")
_NARROW = "'\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b'"
_WIDE = "'\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b'"


class _WideningLoader(importlib.machinery.SourceFileLoader):
    def get_data(self, path: str) -> bytes:
        if not path.endswith(".py"):
            raise OSError("compiled cache skipped")  # forces get_source to be used
        text = super().get_data(path).decode("utf-8")
        if _NARROW not in text:
            raise ImportError(f"oscrypto's version pattern changed in {path}; review this shim")
        return text.replace(_NARROW, _WIDE, 1).encode("utf-8")

    def path_stats(self, path: str) -> dict[str, float]:
        raise OSError("never cache the widened source")


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.origin:
                loader = _WideningLoader(fullname, spec.origin)
                return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)
        return None


def import_pyas2lib() -> ModuleType:
    """``pyas2lib.as2``, importing oscrypto with its version pattern widened if it fails as shipped."""
    from oscrypto.errors import LibraryNotFoundError  # noqa: PLC0415 - this part of oscrypto imports cleanly

    try:
        return importlib.import_module("pyas2lib.as2")
    except LibraryNotFoundError:
        pass
    for name in [m for m in sys.modules if m == "oscrypto" or m.startswith(("oscrypto.", "pyas2lib"))]:
        del sys.modules[name]
    sys.meta_path.insert(0, _Finder())
    return importlib.import_module("pyas2lib.as2")
