"""Fixtures for the transport tests: one throwaway OpenSSH server per session (``tests/transports/sshd.py``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from tests.transports.sshd import SshdUnavailableError, SshServer, running_sshd


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """A running sshd on 127.0.0.1 for the session; skipped without one, a failure when ``CI=true``."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_sshd())
        except SshdUnavailableError as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI needs an OpenSSH server: {exc}")
            pytest.skip(str(exc))
        yield server
