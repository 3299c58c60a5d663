"""The SFTP transport against a real OpenSSH sshd on 127.0.0.1 (``tests/transports/sshd.py``).

Settings and secrets are checked without a server; everything else runs against the session's sshd,
each test in its own directory. Hostile cases are named after their ``reliability.md`` row.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edi.transports.base import (
    DeliveryConflictError,
    HostKeyMismatchError,
    RemoteFile,
    RemoteNameError,
    Settle,
    Transport,
    TransportConfigError,
    TransportError,
    TransportTimeoutError,
    read_bounded,
    stable_files,
)
from edi.transports.sftp import PREFETCH_BYTES, RemoteFileGoneError, SftpSettings, SftpTransport
from tests.transports.conformance import PO, TransportConformance, TransportHarness
from tests.transports.sshd import SshServer, make_user_key, sha256_fingerprint

pytestmark = pytest.mark.sftp

_dirs = itertools.count(1)


@dataclass
class Remote:
    """One test's directories on the session's sshd, and transports made for them."""

    server: SshServer
    sub: str
    made: list[SftpTransport] = field(default_factory=list)

    def settings(self, **overrides: Any) -> SftpSettings:
        """Settings for this test's inbound/outbound directories (key login, known_hosts pin)."""
        values: dict[str, Any] = {
            "host": self.server.host, "port": self.server.port, "username": self.server.username,
            "private_key_file": self.server.client_key_file, "known_hosts_file": self.server.known_hosts_file,
            "inbound_dir": self.server.remote(self.sub, "inbound"),
            "outbound_dir": self.server.remote(self.sub, "outbound"),
            "connect_timeout_seconds": 5, "operation_timeout_seconds": 10,
        }
        values.update(overrides)
        return SftpSettings.model_validate(values)

    def transport(self, **overrides: Any) -> SftpTransport:
        """A transport on this test's directories (closed after the test)."""
        t = SftpTransport(self.settings(**overrides), base_dir=self.server.work_dir)
        self.made.append(t)
        return t

    def local(self, *parts: str) -> Path:
        """Local path of ``parts`` below this test's directory."""
        return self.server.data_dir.joinpath(self.sub, *parts)

    def put_inbound(self, name: str | bytes, data: bytes) -> None:
        """Place a file in the inbound directory as the partner would."""
        base = os.fsencode(self.local("inbound"))
        self.server.put(os.path.join(base, os.fsencode(name)), data)

    def read_outbound(self, name: str) -> bytes | None:
        """The bytes of an outbound file, or None."""
        path = self.local("outbound", name)
        return path.read_bytes() if path.exists() else None

    def outbound_names(self) -> list[str]:
        """Every name in the outbound directory."""
        return sorted(os.listdir(self.local("outbound")))


@pytest.fixture
def remote(sshd: SshServer) -> Iterator[Remote]:
    """Fresh inbound and outbound directories on the session's sshd."""
    sub = f"t{next(_dirs)}"
    sshd.make_dir(sub, "inbound")
    sshd.make_dir(sub, "outbound")
    r = Remote(sshd, sub)
    yield r
    for t in r.made:
        t.close()
    shutil.rmtree(sshd.data_dir / sub, ignore_errors=True)


class TestSftpConformance(TransportConformance):
    """The shared transport behaviour, over SFTP."""

    @pytest.fixture
    def transport_factory(self, remote: Remote) -> TransportHarness:
        """SFTP transport on empty directories of the session's sshd."""
        return TransportHarness(remote.transport(), remote.put_inbound, remote.read_outbound)


class TestSftpConformanceMoveNoRename(TransportConformance):
    """The shared behaviour again with the other options: settle by move, upload without rename."""

    @pytest.fixture
    def transport_factory(self, remote: Remote) -> TransportHarness:
        """SFTP transport moving taken files and writing outbound files under their final names."""
        t = remote.transport(after_take="move", done_dir=remote.server.remote(remote.sub, "done"),
                             rejected_dir=remote.server.remote(remote.sub, "rejected"), rename_on_upload=False)
        return TransportHarness(t, remote.put_inbound, remote.read_outbound)


# ---- settings and secrets (no server) ------------------------------------------------------------

_BASE: dict[str, Any] = {
    "host": "127.0.0.1", "port": 2222, "username": "v1",
    "host_key_sha256": "SHA256:" + "A" * 43, "password_env": "EDI_TEST_SFTP_PASSWORD",
    "inbound_dir": "/in", "outbound_dir": "/out",
}


def _problems(**changes: Any) -> str:
    values = {**_BASE, **changes}
    with pytest.raises(ValidationError) as info:
        SftpSettings.model_validate({k: v for k, v in values.items() if v is not None})
    return str(info.value)


def test_settings_defaults() -> None:
    """Defaults: port 22 unless given, delete after take, rename with '.part', 15 s / 60 s, temp names ignored."""
    s = SftpSettings.model_validate({**_BASE, "port": "22"})
    assert (s.port, s.after_take, s.rename_on_upload, s.temporary_suffix) == (22, "delete", True, ".part")
    assert (s.connect_timeout_seconds, s.operation_timeout_seconds) == (15, 60)
    assert s.ignore_patterns == (".*", "*.part", "*.tmp")


def test_settings_require_exactly_one_host_key_pin() -> None:
    """Without a pinned host key (or with two pins) the settings are refused."""
    assert "known_hosts_file and host_key_sha256" in _problems(host_key_sha256=None)
    assert "known_hosts_file and host_key_sha256" in _problems(known_hosts_file="kh")


def test_settings_require_one_way_to_log_in() -> None:
    """A key or a password source is needed, and only one password source."""
    assert "how to log in" in _problems(password_env=None)
    assert "not both" in _problems(password_file="pw")


def test_settings_move_needs_both_folders() -> None:
    """after_take: move needs done_dir and rejected_dir; delete refuses them."""
    text = _problems(after_take="move", done_dir="/done")
    assert "rejected_dir is required" in text
    assert "done_dir is only used" in _problems(done_dir="/done")


def test_settings_refuse_unknown_keys_bad_fingerprint_and_inline_secrets() -> None:
    """Unknown keys (an inline 'password'), a malformed fingerprint and a bad variable name are refused."""
    assert "password" in _problems(password="hunter2")
    assert "host_key_sha256" in _problems(host_key_sha256="SHA256:short")
    assert "host_key_sha256" in _problems(host_key_sha256="MD5:" + "a" * 43)
    assert "password_env" in _problems(password_env="not a name")


def test_missing_password_env_names_field_and_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A password variable that is not set is a config error naming the field and the variable."""
    monkeypatch.delenv("EDI_TEST_SFTP_PASSWORD", raising=False)
    with pytest.raises(TransportConfigError, match=r"password_env: the environment variable EDI_TEST_SFTP_PASSWORD"):
        SftpTransport(SftpSettings.model_validate(_BASE), base_dir=tmp_path)


def test_relative_files_resolve_against_the_config_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """password_file and private_key_file are read relative to base_dir, never the current directory."""
    root = tmp_path / "config"
    (root / "secrets").mkdir(parents=True)
    (root / "secrets" / "pw").write_text("s3cret\n")
    elsewhere = tmp_path / "cwd"
    (elsewhere / "secrets").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    s = SftpSettings.model_validate({**_BASE, "password_env": None, "password_file": "secrets/pw"})
    assert SftpTransport(s, base_dir=root)._password == "s3cret"
    with pytest.raises(TransportConfigError, match=r"password_file: cannot read .*config/secrets/missing"):
        SftpTransport(s.model_copy(update={"password_file": Path("secrets/missing")}), base_dir=root)


def test_f85_key_file_readable_by_others_is_refused(tmp_path: Path, sshd: SshServer) -> None:
    """A private key file other users can read is refused with the chmod to run."""
    key = tmp_path / "key"
    shutil.copyfile(sshd.client_key_file, key)
    key.chmod(0o644)
    s = SftpSettings.model_validate({**_BASE, "password_env": None, "private_key_file": str(key)})
    with pytest.raises(TransportConfigError, match=r"private_key_file: .*\(mode 644\); chmod 600"):
        SftpTransport(s, base_dir=tmp_path)


def test_missing_key_file_names_field_and_path(tmp_path: Path) -> None:
    """A missing key file is reported with the field, the resolved path and the config root."""
    s = SftpSettings.model_validate({**_BASE, "password_env": None, "private_key_file": "keys/none"})
    with pytest.raises(TransportConfigError, match=r"private_key_file: cannot read .*keys/none .*config root"):
        SftpTransport(s, base_dir=tmp_path)


def test_known_hosts_without_the_server_is_a_config_error(remote: Remote, tmp_path: Path) -> None:
    """A known_hosts file with no entry for [host]:port is refused before any connection."""
    other = tmp_path / "known_hosts"
    other.write_text(remote.server.known_hosts_file.read_text().replace(f"]:{remote.server.port} ", "]:1 "))
    with pytest.raises(TransportConfigError, match=r"has no key for \[127\.0\.0\.1\]:\d+"):
        remote.transport(known_hosts_file=other)


# ---- connecting ------------------------------------------------------------------------------------


def _accepted_logins(server: SshServer) -> int:
    return server.log().count("Accepted publickey")


def test_f80_unknown_host_key_transfers_nothing(remote: Remote, tmp_path: Path) -> None:
    """A server whose key is not the pinned fingerprint: HostKeyMismatchError, no login, no file moved."""
    remote.put_inbound("po.edi", PO)
    other = make_user_key(tmp_path)
    wrong = sha256_fingerprint(other.with_suffix(".pub").read_text())
    before = _accepted_logins(remote.server)
    t = remote.transport(known_hosts_file=None, host_key_sha256=wrong)
    with pytest.raises(HostKeyMismatchError, match="is not the pinned one"):
        t.list()
    with pytest.raises(HostKeyMismatchError):
        t.deliver("out.edi", PO)
    assert _accepted_logins(remote.server) == before
    assert remote.local("inbound", "po.edi").read_bytes() == PO
    assert remote.outbound_names() == []


def test_f80_changed_host_key_transfers_nothing(remote: Remote, tmp_path: Path) -> None:
    """known_hosts holds another key for the server: HostKeyMismatchError naming both fingerprints."""
    remote.put_inbound("po.edi", PO)
    other = make_user_key(tmp_path, "pretend_host_key")
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{remote.server.port} {kind} {blob}\n")
    before = _accepted_logins(remote.server)
    t = remote.transport(known_hosts_file=known)
    with pytest.raises(HostKeyMismatchError, match="host key changed") as info:
        t.list()
    assert remote.server.host_key_sha256 in str(info.value)
    assert _accepted_logins(remote.server) == before
    assert remote.local("inbound", "po.edi").exists()


def test_pinned_fingerprint_connects(remote: Remote) -> None:
    """The SHA256 fingerprint form pins the key as well as a known_hosts file does."""
    remote.put_inbound("po.edi", PO)
    t = remote.transport(known_hosts_file=None, host_key_sha256=remote.server.host_key_sha256)
    assert [f.name for f in t.list()] == ["po.edi"]


def test_f7_wrong_user_key_is_a_config_error(remote: Remote, tmp_path: Path) -> None:
    """A key the server does not accept: TransportConfigError saying the login was refused."""
    key = make_user_key(tmp_path)
    t = remote.transport(private_key_file=key)
    with pytest.raises(TransportConfigError, match="login refused for user"):
        t.list()


def test_connection_refused_is_a_transport_error(remote: Remote) -> None:
    """Nothing listening on the port: a retriable TransportError, not a timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    known = remote.server.work_dir / f"known_hosts_{port}"
    known.write_text(remote.server.known_hosts_file.read_text().replace(str(remote.server.port), str(port)))
    t = remote.transport(port=port, known_hosts_file=known)
    with pytest.raises(TransportError, match="cannot connect") as info:
        t.list()
    assert not isinstance(info.value, TransportTimeoutError)


def test_f3_silent_server_is_a_connect_timeout(remote: Remote) -> None:
    """A port that accepts but never speaks SSH: TransportTimeoutError after connect_timeout_seconds."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        t = remote.transport(port=port, known_hosts_file=None, host_key_sha256=remote.server.host_key_sha256,
                             connect_timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError):
            t.list()
        assert time.monotonic() - started < 5


# ---- taking and settling ---------------------------------------------------------------------------


def test_take_and_delete(remote: Remote) -> None:
    """list, open, settle with after_take delete: the bytes arrive and the remote file is removed."""
    remote.put_inbound("po1.edi", PO)
    t = remote.transport()
    (f,) = t.list()
    with t.open(f) as stream:
        assert stream.read() == PO
    t.settle(f, Settle.DONE)
    assert os.listdir(remote.local("inbound")) == []


def test_take_and_move_to_done_and_rejected(remote: Remote) -> None:
    """after_take move: done files go to done_dir, rejected ones to rejected_dir with '<name>.error' (dirs made)."""
    remote.put_inbound("good.edi", PO)
    remote.put_inbound("bad\nname.edi", b"not x12")
    done = remote.server.remote(remote.sub, "archive", "done")
    rejected = remote.server.remote(remote.sub, "archive", "rejected")
    t = remote.transport(after_take="move", done_dir=done, rejected_dir=rejected)
    files = {f.name: f for f in t.list()}
    t.settle(files["good.edi"], Settle.DONE)
    t.settle(files["bad\nname.edi"], Settle.REJECTED, "NOT_X12 the file does not start with ISA")
    assert remote.local("archive", "done", "good.edi").read_bytes() == PO
    assert remote.local("archive", "rejected", "bad\nname.edi").read_bytes() == b"not x12"
    note = remote.local("archive", "rejected", "bad\nname.edi.error").read_text()
    assert note == "NOT_X12 the file does not start with ISA"
    assert os.listdir(remote.local("inbound")) == []
    t.settle(files["good.edi"], Settle.DONE)  # already moved: fine


def test_move_replaces_an_older_copy_in_done(remote: Remote) -> None:
    """A name reused by the partner moves over the earlier copy in done_dir."""
    done = remote.server.remote(remote.sub, "done")
    t = remote.transport(after_take="move", done_dir=done, rejected_dir=remote.server.remote(remote.sub, "rej"))
    for content in (b"first", b"second"):
        remote.put_inbound("850.edi", content)
        (f,) = t.list()
        t.settle(f, Settle.DONE)
    assert remote.local("done", "850.edi").read_bytes() == b"second"


def test_f4_refused_delete_is_a_transport_error(remote: Remote) -> None:
    """A read-only inbound directory: settle raises TransportError saying the server refused; the file stays."""
    remote.put_inbound("po.edi", PO)
    t = remote.transport()
    (f,) = t.list()
    remote.local("inbound").chmod(0o555)
    try:
        with pytest.raises(TransportError, match=r"delete '.*po\.edi' failed: server answered \(Permission denied\)"):
            t.settle(f, Settle.DONE)
        assert t.list() == [f]  # the session survives a refusal
    finally:
        remote.local("inbound").chmod(0o755)


def test_f5_non_utf8_name_does_not_abort_the_listing(remote: Remote) -> None:
    """A name that is not UTF-8 is listed (surrogate-escaped), read and settled byte for byte."""
    remote.put_inbound(b"po-\xff\xfe.edi", PO)
    remote.put_inbound("plain.edi", PO)
    t = remote.transport()
    files = {f.name: f for f in t.list()}
    assert set(files) == {"po-\udcff\udcfe.edi", "plain.edi"}
    with t.open(files["po-\udcff\udcfe.edi"]) as stream:
        assert stream.read() == PO
    t.settle(files["po-\udcff\udcfe.edi"], Settle.DONE)
    assert os.listdir(remote.local("inbound")) == ["plain.edi"]


def test_f5_traversal_names_touch_nothing_outside_the_inbox(remote: Remote) -> None:
    """'../x' and 'a/b' names are refused (RemoteNameError) by open, settle and deliver; the canary survives."""
    canary = remote.local("escape.edi")
    remote.server.put(canary, b"canary")
    remote.server.make_dir(remote.sub, "inbound", "a")
    remote.server.put(remote.local("inbound", "a", "b.edi"), b"nested")
    t = remote.transport()
    for name in ("../escape.edi", "a/b.edi", "/etc/passwd"):
        f = RemoteFile(name=name, size=6, mtime=1.0)
        with pytest.raises(RemoteNameError, match="not a single file name"):
            t.open(f)
        with pytest.raises(RemoteNameError):
            t.settle(f, Settle.DONE)
        with pytest.raises(RemoteNameError):
            t.deliver(name, b"overwrite")
    assert canary.read_bytes() == b"canary"
    assert remote.local("inbound", "a", "b.edi").read_bytes() == b"nested"
    assert t.list() == []  # the subdirectory is not a file


def test_f9_links_fifos_and_directories_are_not_listed(remote: Remote) -> None:
    """Only regular files are listed; a file replaced by a link after listing is not read through it."""
    canary = remote.local("secret.txt")
    remote.server.put(canary, b"secret")
    inbound = remote.local("inbound")
    os.symlink("../secret.txt", inbound / "link.edi")
    os.mkfifo(inbound / "fifo.edi")
    (inbound / "dir.edi").mkdir()
    remote.put_inbound("real.edi", PO)
    t = remote.transport()
    (f,) = t.list()
    assert f.name == "real.edi"
    os.unlink(inbound / "real.edi")
    os.symlink("../secret.txt", inbound / "real.edi")
    with pytest.raises(RemoteFileGoneError, match="no longer a regular file"):
        t.open(f).__enter__()


def test_file_gone_between_list_and_open(remote: Remote) -> None:
    """A listed file taken by someone else before open: RemoteFileGoneError, the session stays usable."""
    remote.put_inbound("po.edi", PO)
    t = remote.transport()
    (f,) = t.list()
    os.unlink(remote.local("inbound", "po.edi"))
    with pytest.raises(RemoteFileGoneError, match="is gone since it was listed"):
        t.open(f).__enter__()
    assert t.list() == []


def test_f1_file_growing_while_polled_is_left_for_later(remote: Remote) -> None:
    """A writer appending during the two looks keeps the file out; once it stops, the file is taken."""
    remote.put_inbound("slow.edi", b"ISA")
    path = remote.local("inbound", "slow.edi")
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with path.open("ab") as fh:
                fh.write(b"*")
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    t = remote.transport()
    try:
        assert stable_files(t.list, lambda: time.sleep(0.3)) == []
    finally:
        stop.set()
        thread.join()
    (f,) = stable_files(t.list, lambda: time.sleep(0.3))
    assert f.size == path.stat().st_size


def test_directory_that_disappears_is_a_transport_error(remote: Remote) -> None:
    """The inbound directory removed between polls: TransportError naming the directory."""
    t = remote.transport()
    assert t.list() == []
    shutil.rmtree(remote.local("inbound"))
    with pytest.raises(TransportError, match=rf"list directory '{remote.server.remote(remote.sub, 'inbound')}'"):
        t.list()


def test_f6_remote_file_larger_than_the_bound(remote: Remote) -> None:
    """A file bigger than the read-ahead and the bound: read_bounded yields max + 1 bytes and stops."""
    remote.put_inbound("huge.edi", b"x" * (PREFETCH_BYTES + (4 << 20)))
    t = remote.transport()
    (f,) = t.list()
    bound = PREFETCH_BYTES + (1 << 20)
    with t.open(f) as stream:
        got = sum(len(c) for c in read_bounded(stream, bound))
    assert got == bound + 1
    assert t.list() == [f]  # the session is fine afterwards


# ---- delivering ------------------------------------------------------------------------------------


def test_deliver_goes_through_a_temporary_name(remote: Remote) -> None:
    """A stale '.part' from a cut run is replaced; afterwards only the final name exists."""
    remote.server.put(remote.local("outbound", "855_7.edi.part"), b"half of an old upl")
    t = remote.transport()
    t.deliver("855_7.edi", PO)
    assert remote.outbound_names() == ["855_7.edi"]
    assert remote.read_outbound("855_7.edi") == PO
    remote.server.put(remote.local("outbound", "855_7.edi.part"), PO)  # as if cut between link and unlink
    t.deliver("855_7.edi", PO)
    assert remote.outbound_names() == ["855_7.edi"]


@pytest.mark.parametrize(("appears", "conflict"), [(b"another file", True), (PO, False)])
def test_deliver_never_replaces_a_file_that_appears_during_the_upload(
        remote: Remote, monkeypatch: pytest.MonkeyPatch, appears: bytes, conflict: bool) -> None:
    """A file put under the final name while ours uploads is not replaced: conflict, or a no-op if identical."""
    t = remote.transport()
    write = t._write

    def write_then_race(sftp: Any, path: str, data: bytes) -> None:
        write(sftp, path, data)
        remote.server.put(remote.local("outbound", "855_9.edi"), appears)

    monkeypatch.setattr(t, "_write", write_then_race)
    if conflict:
        with pytest.raises(DeliveryConflictError, match="nothing was overwritten"):
            t.deliver("855_9.edi", PO)
    else:
        t.deliver("855_9.edi", PO)
    assert remote.read_outbound("855_9.edi") == appears
    assert remote.outbound_names() == ["855_9.edi"]  # our temporary is cleaned up either way


def test_deliver_with_a_custom_temporary_suffix(remote: Remote) -> None:
    """temporary_suffix is used for the upload name; the result is the same."""
    t = remote.transport(temporary_suffix=".uploading")
    t.deliver("a.edi", PO)
    assert remote.outbound_names() == ["a.edi"]


def test_deliver_without_rename_writes_the_final_name(remote: Remote) -> None:
    """rename_on_upload false: no temporary name; a cut earlier upload (a prefix) is a conflict that says so."""
    t = remote.transport(rename_on_upload=False)
    t.deliver("856_1.edi", PO)
    t.deliver("856_1.edi", PO)
    assert remote.outbound_names() == ["856_1.edi"]
    remote.server.put(remote.local("outbound", "856_2.edi"), PO[:40])  # our earlier upload, cut
    with pytest.raises(DeliveryConflictError, match="first part of our"):
        t.deliver("856_2.edi", PO)
    assert remote.read_outbound("856_2.edi") == PO[:40]
    remote.server.put(remote.local("outbound", "856_3.edi"), b"someone else's file")
    with pytest.raises(DeliveryConflictError, match="nothing was overwritten"):
        t.deliver("856_3.edi", PO)
    assert remote.read_outbound("856_3.edi") == b"someone else's file"


def test_deliver_over_a_directory_is_a_conflict(remote: Remote) -> None:
    """A directory already under the outbound name: DeliveryConflictError, nothing changed."""
    remote.server.make_dir(remote.sub, "outbound", "997.edi")
    t = remote.transport()
    with pytest.raises(DeliveryConflictError):
        t.deliver("997.edi", PO)
    assert (remote.local("outbound", "997.edi")).is_dir()


# ---- connections that break --------------------------------------------------------------------


def test_f2_connection_dropped_mid_download(remote: Remote) -> None:
    """The serving sshd process killed after the first chunk: TransportError, remote untouched, then reconnects."""
    size = PREFETCH_BYTES + (24 << 20)
    remote.put_inbound("big.edi", b"y" * size)
    t = remote.transport()
    (f,) = t.list()
    got = 0

    def drain() -> None:
        nonlocal got
        with t.open(f) as stream:
            got += len(stream.read(1 << 20))
            remote.server.drop_sessions()
            while chunk := stream.read(1 << 20):
                got += len(chunk)

    with pytest.raises(TransportError, match="connection lost"):
        drain()
    assert 0 < got < size
    assert remote.local("inbound", "big.edi").stat().st_size == size
    assert t.list() == [f]  # a fresh connection


def test_f8_connection_dropped_mid_upload(remote: Remote) -> None:
    """The serving sshd process killed during the upload: TransportError, no final name; the retry completes."""
    data = os.urandom(48 << 20)
    temporary = remote.local("outbound", "856_big.edi.part")
    t = remote.transport()

    def cut() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if temporary.exists() and temporary.stat().st_size > (1 << 20):
                remote.server.drop_sessions()
                return
            time.sleep(0.002)

    killer = threading.Thread(target=cut)
    killer.start()
    try:
        with pytest.raises(TransportError, match="connection lost"):
            t.deliver("856_big.edi", data)
    finally:
        killer.join()
    assert remote.read_outbound("856_big.edi") is None
    t.deliver("856_big.edi", data)
    assert remote.read_outbound("856_big.edi") == data
    assert remote.outbound_names() == ["856_big.edi"]


def test_f3_stalled_server_times_out(remote: Remote) -> None:
    """A session process that stops answering: TransportTimeoutError after operation_timeout_seconds."""
    remote.put_inbound("po.edi", PO)
    t = remote.transport(operation_timeout_seconds=1)
    (f,) = t.list()
    assert remote.server.signal_sessions(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(TransportTimeoutError, match="no answer within 1 s"):
            t.open(f).__enter__()
        assert time.monotonic() - started < 5
    finally:
        remote.server.drop_sessions()  # SIGKILL ends stopped processes too
    assert [g.name for g in t.list()] == ["po.edi"]  # reconnected


def test_nothing_from_paramiko_escapes(remote: Remote) -> None:
    """Every failure above surfaces as an edi error; a closed transport is a Transport and reusable."""
    t: Transport = remote.transport()
    assert isinstance(t, Transport)
    t.close()
    assert t.list() == []


def test_registry_builds_the_sftp_transport_from_yaml_strings(remote: Remote) -> None:
    """The registry turns a connector's sftp section (YAML scalars are strings) into a working SftpTransport."""
    from edi.transports.registry import open_transport, settings_model  # noqa: PLC0415

    assert settings_model("sftp") is SftpSettings
    server = remote.server
    section = {
        "host": server.host, "port": str(server.port), "username": server.username,
        "private_key_file": server.client_key_file.name, "known_hosts_file": server.known_hosts_file.name,
        "inbound_dir": server.remote(remote.sub, "inbound"), "outbound_dir": server.remote(remote.sub, "outbound"),
        "rename_on_upload": "true", "connect_timeout_seconds": "5", "ignore_patterns": ["*.tmp"],
    }
    t = open_transport("sftp", section, base_dir=server.work_dir)
    assert isinstance(t, SftpTransport)
    remote.made.append(t)
    remote.put_inbound(".hidden-but-not-ignored", PO)
    assert [f.name for f in t.list()] == [".hidden-but-not-ignored"]
