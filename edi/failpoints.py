"""Named checkpoints for crash testing, inert unless ``EDI_FAILPOINTS`` arms them.

``EDI_FAILPOINTS="parse.validated_before_commit=kill9"`` makes the process SIGKILL itself when it
reaches that point; ``=raise`` raises ``FailpointError`` instead. Several points are separated by
commas. With the variable unset a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


class FailpointError(RuntimeError):
    """Raised by a failpoint armed with ``raise``."""


def failpoint(name: str) -> None:
    """Act if ``name`` is armed in ``EDI_FAILPOINTS``; otherwise do nothing."""
    spec = os.environ.get("EDI_FAILPOINTS")
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.partition("=")
        if point.strip() != name:
            continue
        if action.strip() == "kill9":
            os.kill(os.getpid(), signal.SIGKILL)
        raise FailpointError(f"failpoint {name} armed")
