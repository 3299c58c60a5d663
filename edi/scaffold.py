"""``edi init``: write a working config root (the Amazon partner, a folder connector, schedules) anywhere."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from edi.errors import UsageError

TEMPLATE = "templates"


def _template(*parts: str) -> Path:
    return Path(str(resources.files("edi").joinpath(TEMPLATE, *parts)))


def init_root(target: Path, *, force: bool = False) -> list[Path]:
    """Copy the template root into ``target``; refuse to overwrite an existing file unless ``force``."""
    src = _template("root")
    files = [p for p in sorted(src.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    existing = [target / p.relative_to(src) for p in files if (target / p.relative_to(src)).exists()]
    if existing and not force:
        raise UsageError(f"{target} already has {existing[0].relative_to(target)} (and {len(existing) - 1} more); "
                         "nothing was written", hint="choose an empty folder, or pass --force to overwrite")
    written = []
    for p in files:
        dest = target / p.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
        written.append(dest)
    for folder in ("drop/in", "drop/out", "data"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    return written


def demo_samples() -> Path:
    """The demo's sample files (850s in ``inbound/``, ``stock.csv``, pack confirmations in ``pack/``)."""
    return _template("demo")
