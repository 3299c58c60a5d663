"""SFTP and AS2 through the service, as operators run them: a config root, the cycle or the daemon, the CLI.

SFTP runs against a throwaway OpenSSH sshd on 127.0.0.1 (tests/transports/sshd.py); AS2 against
the independent pyas2lib partner (tests/transports/as2peer.py) with the daemon in a subprocess.
Every process a test starts is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from edi.as2_endpoint import start_endpoint
from edi.config.service import load_root
from edi.jobs import Service, cycle, deadlines, open_service
from edi.pipeline.ims import EmbeddedIms
from edi.scaffold import demo_samples, init_root
from edi.store import open_engine, transaction
from edi.store.pipeline_tables import exception_log, inbound_file, outbox, purchase_order
from edi.transports.as2 import As2Settings, As2Transport
from edi.transports.registry import open_transport, settings_model
from edi.transports.sftp import SftpSettings
from tests.service.test_service import edi
from tests.transports.as2peer import Identity, Peer, PeerServer, make_identity
from tests.transports.conftest import sshd  # noqa: F401 - the session's sshd fixture
from tests.transports.sshd import SshServer

SAMPLES = demo_samples()
WRONG_PIN = "SHA256:" + "A" * 43
KEY_ENV = "EDI_TEST_AS2_KEY_PASSWORD"
KEY_PASSWORD = "as2-key-password-5519"


def _root(tmp: Path, *, folder: bool) -> Path:
    root = tmp / "root"
    init_root(root)
    if not folder:
        (root / "connectors" / "amazon_folder.yaml").unlink()
    (root / "schedules" / "default.yaml").write_text(
        "jobs:\n  cycle: {job: cycle, every_seconds: 0.5}\n  deadlines: {job: deadlines, every_seconds: 60}\n")
    return root


def _service(root: Path) -> Service:
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    with transaction(svc.engine) as conn:
        EmbeddedIms().import_stock(conn, SAMPLES / "stock.csv", svc.clock())
    return svc


def _sftp_connector(root: Path, server: SshServer, folder: str, *, pin: str | None = None) -> None:
    for sub in ("in", "out"):
        server.make_dir(folder, sub)
    (root / "connectors" / "amazon_sftp.yaml").write_text(
        "connector: amazon_sftp\npartner: amazon\nkind: sftp\nstable_seconds: 0\nsftp:\n"
        f"  host: 127.0.0.1\n  port: {server.port}\n  username: {server.username}\n"
        f"  private_key_file: {server.client_key_file}\n  host_key_sha256: \"{pin or server.host_key_sha256}\"\n"
        f"  inbound_dir: {server.remote(folder, 'in')}\n  outbound_dir: {server.remote(folder, 'out')}\n"
        f"  after_take: move\n  done_dir: {server.remote(folder, 'in', 'done')}\n"
        f"  rejected_dir: {server.remote(folder, 'in', 'rejected')}\n")


def _put(server: SshServer, folder: str, *names: str) -> None:
    for n in names:
        target = server.local(folder, "in", n)
        assert isinstance(target, Path)
        server.put(target, (SAMPLES / "inbound" / n).read_bytes())


def _kinds(folder: Path) -> list[str]:
    """The transaction set ids (ST01) of the files in ``folder``, sorted."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file():
            text = p.read_text(encoding="ascii")
            out.append(text.split("ST" + text[3], 1)[1][:3])
    return sorted(out)


def test_sftp_connector_takes_850s_and_delivers_997s_and_855s(tmp_path: Path, sshd: SshServer) -> None:  # noqa: F811
    """850s on the SFTP server: `connectors test` lists them and takes nothing; a cycle moves them to done/ and
    delivers a 997 and an 855 for each into the server's outbound directory."""
    root = _root(tmp_path, folder=False)
    _sftp_connector(root, sshd, "a")
    names = ["01_single_line.edi", "02_multi_line.edi", "03_rush_order.edi"]
    _put(sshd, "a", *names)
    probe = edi(root, "connectors", "test", "amazon_sftp")
    assert probe.returncode == 0, probe.stderr
    assert sshd.host_key_sha256 in probe.stdout and "3 file(s) would be taken" in probe.stdout
    size = (SAMPLES / "inbound" / names[0]).stat().st_size
    assert f"{names[0]}  {size:,} bytes" in probe.stdout
    assert sorted(p.name for p in sshd.data_dir.joinpath("a", "in").iterdir()) == names  # nothing taken

    svc = _service(root)
    counts = cycle(svc)
    assert counts["taken"] == 3
    assert sorted(p.name for p in sshd.data_dir.joinpath("a", "in", "done").iterdir()) == names
    assert not [p for p in sshd.data_dir.joinpath("a", "in").iterdir() if p.is_file()]
    assert _kinds(sshd.data_dir / "a" / "out") == ["855"] * 3 + ["997"] * 3
    with svc.engine.connect() as conn:
        assert {r.state for r in conn.execute(select(purchase_order))} == {"acknowledged"}
        rows = conn.execute(select(outbox)).all()
        assert len(rows) == 6 and all(r.sent_at is not None and r.connector == "amazon_sftp" for r in rows)
        assert not conn.execute(select(exception_log).where(exception_log.c.kind.in_(
            ["INTERNAL_ERROR", "HOST_KEY_MISMATCH", "DELIVERY_FAILED"]))).all()


def test_wrong_host_key_transfers_nothing_and_the_cycle_goes_on(tmp_path: Path, sshd: SshServer) -> None:  # noqa: F811
    """A wrong host-key pin: `connectors test` exits 1 with one typed line, the cycle raises HOST_KEY_MISMATCH,
    takes and sends nothing over SFTP, and the folder connector's files still flow."""
    root = _root(tmp_path, folder=True)
    _sftp_connector(root, sshd, "b", pin=WRONG_PIN)
    _put(sshd, "b", "01_single_line.edi", "02_multi_line.edi")
    inbox = root / "drop" / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "01_single_line.edi").write_bytes((SAMPLES / "inbound" / "01_single_line.edi").read_bytes())
    (inbox / "odd\nname.edi").write_bytes((SAMPLES / "inbound" / "03_rush_order.edi").read_bytes())

    bad = edi(root, "connectors", "test", "amazon_sftp")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error: HOST_KEY_MISMATCH amazon_sftp:") and WRONG_PIN in bad.stderr
    good = edi(root, "connectors", "test", "amazon_folder")
    assert good.returncode == 0, good.stderr
    assert "odd\\x0aname.edi" in good.stdout and "2 file(s) would be taken" in good.stdout
    listed = edi(root, "connectors", "list")
    assert listed.returncode == 0 and "amazon_sftp" in listed.stdout and "amazon_folder" in listed.stdout

    svc = _service(root)
    counts = cycle(svc)
    assert counts["taken"] == 2 and "sent" in counts  # the cycle ran to its last step
    assert sorted(p.name for p in sshd.data_dir.joinpath("b", "in").iterdir()) == [
        "01_single_line.edi", "02_multi_line.edi"]
    assert not list(sshd.data_dir.joinpath("b", "out").iterdir())
    assert len(list((root / "drop" / "out" / "997").iterdir())) == 2
    assert len(list((root / "drop" / "out" / "855").iterdir())) == 2
    with svc.engine.connect() as conn:
        assert {r.connector for r in conn.execute(select(inbound_file))} == {"amazon_folder"}
        entries = conn.execute(select(exception_log).where(exception_log.c.kind == "HOST_KEY_MISMATCH")).all()
    assert len(entries) == 1 and entries[0].status == "open" and WRONG_PIN in entries[0].message
    cycle(svc)  # the same problem again: still one open entry
    with svc.engine.connect() as conn:
        assert len(conn.execute(select(exception_log).where(exception_log.c.kind == "HOST_KEY_MISMATCH")).all()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


def _peer(tmp: Path) -> tuple[Peer, PeerServer, Identity]:
    """The pyas2lib partner (its certificate expires in 20 days) with its receiver running, and our identity."""
    keys = tmp / "keys"
    us = make_identity(keys, "us", password=KEY_PASSWORD.encode())
    them = make_identity(keys, "them", days=20)
    peer = Peer("AMAZON", them, "VENDOREDI", us.cert_pem)
    receiver = PeerServer(peer)
    peer.mdn_url = receiver.url
    return peer, receiver, us


def _setting(root: Path, key: str, value: str) -> None:
    """Set one top-level setting of edi.yaml (replacing the template's line, or adding one)."""
    path = root / "edi.yaml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"{key}:")]
    path.write_text("\n".join([*lines, f"{key}: {value}"]) + "\n")


def _as2_root(tmp: Path, port: int, partner_url: str, us: Identity, them: Identity) -> Path:
    root = _root(tmp, folder=False)
    _setting(root, "as2_listen", f'"127.0.0.1:{port}"')
    (root / "connectors" / "amazon_as2.yaml").write_text(
        "connector: amazon_as2\npartner: amazon\nkind: as2\nas2:\n  as2_id: VENDOREDI\n  partner_as2_id: AMAZON\n"
        f"  partner_url: {partner_url}\n  key_file: {us.key_path}\n  cert_file: {us.cert_path}\n"
        f"  key_password_env: {KEY_ENV}\n  partner_cert_file: {them.cert_path}\n  read_timeout_seconds: 10\n")
    return root


def test_daemon_serves_as2_processes_and_answers_over_as2(tmp_path: Path) -> None:
    """The daemon serves AS2: the pyas2lib partner posts an 850 and gets a positive signed MDN, then receives the
    997 and the 855 over AS2; CERT_EXPIRING is raised once for the partner certificate expiring in 20 days, `edi
    status` shows both certificates, and SIGTERM exits 0."""
    peer, receiver, us = _peer(tmp_path)
    port = _free_port()
    root = _as2_root(tmp_path, port, receiver.url, us, peer.identity)
    check = edi(root, "check-config")
    assert check.returncode == 0, check.stderr
    _service(root).engine.dispose()  # stock, before the daemon owns the data directory

    env = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")} | {KEY_ENV: KEY_PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "edi", "--config", str(root), "--log-format", "json", "daemon"],
                            cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_port(port, proc)
        po = (SAMPLES / "inbound" / "01_single_line.edi").read_bytes().replace(b"\r\n", b"\n").replace(
            b"\n", b"\r\n")
        msg, resp = peer.send(f"http://127.0.0.1:{port}/as2", po, "01_single_line.edi")
        assert resp.status_code == 200
        assert peer.parse_mdn(resp.headers, resp.content) == ("processed", None)
        assert resp.headers["content-type"].startswith("multipart/signed")
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(peer.received) < 2:
            time.sleep(0.1)
        got = sorted(r.payload.decode("ascii").split("ST*", 1)[1][:3] for r in peer.received)
        assert got == ["855", "997"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        receiver.stop()
    assert proc.returncode == 0, err[-3000:]
    assert '"as2_endpoint_stopped"' in err and '"daemon_stopped"' in err and "Traceback" not in err
    assert KEY_PASSWORD not in err

    engine = open_engine(None, data_dir=root / "data")
    with engine.connect() as conn:
        files = conn.execute(select(inbound_file)).all()
        assert [(f.connector, f.transport_key, f.disposition) for f in files] == [
            ("amazon_as2", msg.message_id, "processed")]
        assert all(r.sent_at is not None for r in conn.execute(select(outbox)))
        certs = conn.execute(select(exception_log).where(exception_log.c.kind == "CERT_EXPIRING")).all()
    engine.dispose()
    assert len(certs) == 1 and "partner_cert_file" in certs[0].message
    svc = open_service(load_root(root))
    deadlines(svc)
    with svc.engine.connect() as conn:
        assert len(conn.execute(select(exception_log).where(exception_log.c.kind == "CERT_EXPIRING")).all()) == 1
    svc.engine.dispose()
    status = edi(root, "status")
    assert status.returncode == 0, status.stderr
    assert "cert_file" in status.stdout and "partner_cert_file" in status.stdout and "EXPIRING" in status.stdout


def test_as2_serve_runs_apart_and_a_port_in_use_refuses_the_daemon(tmp_path: Path) -> None:
    """A daemon whose as2_listen port is taken exits 2 with one AS2_ENDPOINT line; `edi as2 serve` runs the endpoint
    as its own process (as2_in_daemon: false), refuses unknown AS2 ids and exits 0 on SIGTERM."""
    keys = tmp_path / "keys"
    us, them = make_identity(keys, "us", password=KEY_PASSWORD.encode()), make_identity(keys, "them")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        root = _as2_root(tmp_path, busy, "http://127.0.0.1:9/as2", us, them)
        refused = edi(root, "daemon", env={KEY_ENV: KEY_PASSWORD})
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(f"error: AS2_ENDPOINT the AS2 endpoint cannot listen on "
                                                              f"127.0.0.1:{busy}")
    assert "Traceback" not in refused.stderr

    port = _free_port()
    _setting(root, "as2_listen", f'"127.0.0.1:{port}"')
    _setting(root, "as2_in_daemon", "false")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")} | {KEY_ENV: KEY_PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "edi", "--config", str(root), "--log-format", "json", "as2",
                             "serve"], cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_port(port, proc)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-To: NOBODY\r\nAS2-From: ME\r\nContent-Length: 1\r\n"
                         b"Connection: close\r\n\r\nx")
            answer = conn.recv(200)
        assert answer.startswith(b"HTTP/1.1 403")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert '"as2_endpoint_stopped"' in err and '"clean": true' in err


def test_registry_builds_sftp_and_as2_and_check_config_points_at_bad_sections(tmp_path: Path) -> None:
    """The registry knows the SFTP and AS2 settings models; a bad sftp or as2 section is reported file:line:col,
    an inline password gets the hint to reference it instead."""
    assert settings_model("sftp") is SftpSettings
    assert settings_model("as2") is As2Settings
    keys = tmp_path / "keys"
    us, them = make_identity(keys, "us"), make_identity(keys, "them")
    section = {"as2_id": "US", "partner_as2_id": "THEM", "partner_url": "http://127.0.0.1:9/as2",
               "key_file": str(us.key_path), "cert_file": str(us.cert_path), "partner_cert_file": str(them.cert_path),
               "state_dir": str(tmp_path / "state")}
    transport = open_transport("as2", section, base_dir=tmp_path, connector="amazon_as2")
    assert isinstance(transport, As2Transport)
    assert transport.connector == "amazon_as2"
    transport.close()

    root = _root(tmp_path, folder=True)
    (root / "connectors" / "bad_sftp.yaml").write_text(
        "connector: bad_sftp\npartner: amazon\nkind: sftp\nsftp:\n  host: h\n  port: 70000\n  username: u\n"
        "  password: hunter2\n  inbound_dir: /in\n  outbound_dir: /out\n")
    (root / "connectors" / "bad_as2.yaml").write_text(
        "connector: bad_as2\npartner: amazon\nkind: as2\nas2:\n  as2_id: US\n  partner_as2_id: THEM\n"
        "  partner_url: ftp://x\n  key_file: k.pem\n  cert_file: c.pem\n  partner_cert_file: p.pem\n")
    out = edi(root, "check-config")
    assert out.returncode == 1
    assert "bad_sftp.yaml:6:9: CFG_INVALID sftp.port:" in out.stderr
    assert "bad_sftp.yaml:8:3: CFG_INVALID sftp.password: Extra inputs are not permitted" in out.stderr
    assert "password_env, password_file" in out.stderr and "hunter2" not in out.stderr
    assert "bad_as2.yaml:7:16: CFG_INVALID as2.partner_url:" in out.stderr


def test_an_as2_connector_without_its_key_password_is_left_out_with_an_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key password's variable is not set: no endpoint starts, CFG_CONNECTOR names the variable, the rest goes
    on; `connectors test` says the same in one line."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    keys = tmp_path / "keys"
    us, them = make_identity(keys, "us", password=KEY_PASSWORD.encode()), make_identity(keys, "them")
    root = _as2_root(tmp_path, _free_port(), "http://127.0.0.1:9/as2", us, them)
    svc = open_service(load_root(root))
    assert start_endpoint(svc) is None
    with svc.engine.connect() as conn:
        entries = conn.execute(select(exception_log).where(exception_log.c.kind == "CFG_CONNECTOR")).all()
    assert len(entries) == 1 and KEY_ENV in entries[0].message and KEY_PASSWORD not in entries[0].message
    svc.engine.dispose()
    probe = edi(root, "connectors", "test", "amazon_as2")
    assert probe.returncode == 1 and "Traceback" not in probe.stderr
    assert probe.stderr.startswith("error: CFG_CONNECTOR amazon_as2: as2.key_password_env:") and KEY_ENV in probe.stderr
