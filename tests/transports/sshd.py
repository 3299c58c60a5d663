"""A throwaway OpenSSH ``sshd`` for the SFTP tests and benchmark (127.0.0.1 only, stopped by its own PID).

The server runs Debian's ``/usr/sbin/sshd -D -e -f <generated config>`` on a free loopback port with
a host key and a user key made for the run, ``UsePAM no`` and ``ForceCommand internal-sftp``.

As root (how CI runs), the SFTP user is the unprivileged system account ``edi-sftp-test`` (created
with ``useradd`` when missing, no password, no shell, kept between runs like the PostgreSQL test
account) and every session is chrooted (``ChrootDirectory``) to a root-owned directory under
``/var/lib/edi-sftp-test``; the user may write only below ``/data`` in it. sshd's privilege
separation directory ``/run/sshd`` is created when missing. As another user, sshd runs as that user
without a chroot and serves a temporary directory.

When ``/usr/sbin/sshd`` is missing, :func:`ensure_sshd` installs Debian's ``openssh-server`` with
apt-get if we are root; otherwise it raises :class:`SshdUnavailableError` (the fixture skips, or
fails when ``CI=true``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = "ssh-keygen"
SFTP_OS_USER = "edi-sftp-test"
CHROOT_PARENT = Path("/var/lib/edi-sftp-test")
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class SshdUnavailableError(RuntimeError):
    """An OpenSSH server cannot be started here (not installed and not installable)."""


@dataclass(frozen=True)
class SshServer:
    """A running throwaway sshd: where it listens, who may log in, and where its files live locally."""

    host: str
    port: int
    pid: int
    username: str
    client_key_file: Path
    """The user's private key (mode 0600), authorised on this server."""
    known_hosts_file: Path
    """An OpenSSH known_hosts file holding this server's host key for ``[127.0.0.1]:port``."""
    host_key_sha256: str
    """The host key's fingerprint in OpenSSH's ``SHA256:...`` form."""
    data_dir: Path
    """The local directory the SFTP user sees as ``remote_root``."""
    remote_root: str
    work_dir: Path
    log_file: Path
    uid: int
    gid: int

    def remote(self, *parts: str) -> str:
        """The remote path of ``parts`` below the user's data directory."""
        return "/".join([self.remote_root.rstrip("/"), *parts])

    def local(self, *parts: str | bytes) -> Path | bytes:
        """The local path of ``parts`` below the data directory (bytes when a part is bytes)."""
        if any(isinstance(p, bytes) for p in parts):
            return b"/".join([os.fsencode(self.data_dir), *(os.fsencode(p) for p in parts)])
        return self.data_dir.joinpath(*(str(p) for p in parts))

    def make_dir(self, *parts: str) -> Path:
        """Create a directory below the data directory, owned by the SFTP user; returns its local path."""
        path = self.data_dir
        for part in parts:
            path = path / part
            if not path.is_dir():
                path.mkdir()
                os.chown(path, self.uid, self.gid)
        return path

    def put(self, path: Path | bytes, data: bytes) -> None:
        """Write ``data`` to a local path inside the data directory, owned by the SFTP user."""
        with open(path, "wb") as fh:
            fh.write(data)
        os.chown(path, self.uid, self.gid)

    def session_pids(self) -> list[int]:
        """PIDs of every process serving a connection now (the listener's descendants, deepest first)."""
        return _descendants(self.pid)

    def signal_sessions(self, signum: int) -> list[int]:
        """Send ``signum`` to every process serving a connection (by PID); returns the PIDs signalled."""
        sent = []
        for pid in self.session_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
                sent.append(pid)
        return sent

    def drop_sessions(self) -> list[int]:
        """Kill every process serving a connection (SIGKILL, by PID): the connection drops."""
        return self.signal_sessions(signal.SIGKILL)

    def log(self) -> str:
        """What sshd wrote to its log so far."""
        return self.log_file.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the fields after the last ')' are fixed
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    """Every descendant of ``pid``, deepest first."""
    out: list[int] = []
    for child in _children(pid):
        out += _descendants(child)
        out.append(child)
    return out


def ensure_sshd() -> None:
    """Make ``/usr/sbin/sshd`` available: install Debian's openssh-server as root, else raise."""
    if SSHD.is_file():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SshdUnavailableError(
            f"{SSHD} not found: install Debian's openssh-server (apt-get install openssh-server) "
            "or run the tests as root, which installs it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "openssh-server"], check=True, capture_output=True, env=env)
    if not SSHD.is_file():
        raise SshdUnavailableError(f"openssh-server was installed but {SSHD} is still missing")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sftp_user() -> pwd.struct_passwd:
    """The account sessions run as: ``edi-sftp-test`` as root (created when missing), else ourselves."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SFTP_OS_USER)
    except KeyError:
        # '*' (not '!'): without PAM sshd refuses public-key logins to accounts whose password is locked
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--password", "*", SFTP_OS_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(SFTP_OS_USER)


def _keygen(path: Path, comment: str) -> None:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)


def sha256_fingerprint(public_key_line: str) -> str:
    """The OpenSSH ``SHA256:...`` fingerprint of one ``type base64 [comment]`` public key line."""
    blob = base64.b64decode(public_key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def make_user_key(directory: Path, name: str = "other_user_key") -> Path:
    """A fresh ed25519 key pair in ``directory`` (not authorised anywhere); returns the private key path."""
    path = directory / name
    _keygen(path, "edi-test-other")
    return path


@contextlib.contextmanager
def running_sshd() -> Iterator[SshServer]:
    """Start a throwaway sshd on 127.0.0.1; stop it and its sessions (by PID) and remove its files on exit."""
    ensure_sshd()
    as_root = os.geteuid() == 0
    user = _sftp_user()
    work = Path(tempfile.mkdtemp(prefix="edi-sshd-"))
    chroot: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    log = None
    try:
        os.chmod(work, 0o755)  # sshd reads the authorised keys as the session user
        host_key = work / "host_ed25519"
        _keygen(host_key, "edi-test-host")
        client_key = work / "user_ed25519"
        _keygen(client_key, "edi-test-user")
        authorized = work / "authorized_keys"
        shutil.copyfile(client_key.with_suffix(".pub"), authorized)
        os.chmod(authorized, 0o644)

        if as_root:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
            CHROOT_PARENT.mkdir(mode=0o755, exist_ok=True)
            chroot = Path(tempfile.mkdtemp(prefix="run-", dir=CHROOT_PARENT))
            os.chmod(chroot, 0o755)  # root-owned and not writable by others, as ChrootDirectory demands
            data_dir = chroot / "data"
            remote_root = "/data"
        else:
            data_dir = work / "data"
            remote_root = str(data_dir)
        data_dir.mkdir()
        os.chown(data_dir, user.pw_uid, user.pw_gid)

        port = _free_port()
        config = work / "sshd_config"
        lines = [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            "PidFile none",
            "UsePAM no",
            "StrictModes no",
            f"AuthorizedKeysFile {authorized}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            f"AllowUsers {user.pw_name}",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "MaxStartups 50:30:100",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp",
        ]
        if chroot is not None:
            lines.append(f"ChrootDirectory {chroot}")
        config.write_text("\n".join(lines) + "\n")

        log_file = work / "sshd.log"
        log = log_file.open("wb")
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=work)
        _wait_for_banner(proc, port, log_file)

        host_pub = host_key.with_suffix(".pub").read_text().split()
        known_hosts = work / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        yield SshServer(
            host="127.0.0.1", port=port, pid=proc.pid, username=user.pw_name, client_key_file=client_key,
            known_hosts_file=known_hosts, host_key_sha256=sha256_fingerprint(" ".join(host_pub)),
            data_dir=data_dir, remote_root=remote_root, work_dir=work, log_file=log_file,
            uid=user.pw_uid, gid=user.pw_gid)
    finally:
        if proc is not None:
            _stop(proc)
        if log is not None:
            log.close()
        shutil.rmtree(work, ignore_errors=True)
        if chroot is not None:
            shutil.rmtree(chroot, ignore_errors=True)


def _wait_for_banner(proc: subprocess.Popen[bytes], port: int, log_file: Path) -> None:
    """Wait until sshd answers with its SSH banner on ``port``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise SshdUnavailableError(f"sshd exited with {proc.returncode}: {log_file.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SshdUnavailableError(f"sshd did not answer on port {port} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the sessions sshd forked (by PID, deepest first), then the listener itself."""
    for pid in _descendants(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
