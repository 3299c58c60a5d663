"""The SFTP transport (``type: sftp``): a partner's SFTP server, host key pinned, one connection per poll.

```yaml
sftp:
  host: sftp.vendor-edi.example
  port: 22
  username: v123456
  private_key_file: keys/amazon_sftp_ed25519      # relative paths resolve against the config root
  known_hosts_file: keys/amazon_known_hosts        # or host_key_sha256: "SHA256:..." (ssh-keygen -lf)
  inbound_dir: /download/850
  outbound_dir: /upload
  after_take: move                                 # delete | move (to done_dir / rejected_dir)
  done_dir: /download/850/done
  rejected_dir: /download/850/rejected
  rename_on_upload: true                           # false for a server that forbids rename
```

Behaviour (see ``edi.transports.base`` for the contract):

- The connection opens on first use and ``close()`` ends it; an operation that loses the connection
  drops it, so the next call (the next retry) connects afresh.
- The server's host key must match ``known_hosts_file`` or ``host_key_sha256`` before anything is
  sent: an unknown or changed key is a ``HostKeyMismatchError`` (nothing is transferred, the
  connector stops). A refused login is a ``TransportConfigError``. Network failures and timeouts are
  ``TransportError`` / ``TransportTimeoutError``. No paramiko exception leaves this module.
- Directory listings are read at the protocol level so a name that is not UTF-8 does not abort the
  listing: such a name is kept with ``surrogateescape`` and written back byte for byte.
- Remote names are data. A name with ``/`` or NUL, or ``.`` / ``..``, cannot name a file in the
  inbound directory: ``open``, ``settle`` and ``deliver`` refuse it with ``RemoteNameError`` (a
  ``DocumentError``, so the poll job records it) and touch nothing. Newlines are legal characters.
- ``open`` streams with a bounded read-ahead (``PREFETCH_BYTES``); the caller bounds what it reads.
- ``deliver`` writes ``name + temporary_suffix``, checks its size, then renames it to ``name``.
  OpenSSH's plain rename never replaces an existing file, so a file that appears under the final name
  in the meantime is detected rather than overwritten; ``posix-rename`` is the fallback for servers
  whose plain rename fails. With ``rename_on_upload: false`` the bytes go straight to the final name;
  an upload cut there leaves a partial file, which the retry reports as a conflict saying so (the
  partner may have seen it: a person decides).
"""

from __future__ import annotations

import base64
import builtins
import errno
import fnmatch
import hashlib
import io
import os
import posixpath
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR, SFTPError

from edi.errors import EdiError
from edi.transports.base import (
    DeliveryConflictError,
    HostKeyMismatchError,
    RemoteFile,
    RemoteFileGoneError,
    RemoteNameError,
    Settle,
    TransportConfigError,
    TransportError,
    TransportTimeoutError,
    escape_name,
)
from edi.transports.sftp_settings import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_IGNORE_PATTERNS,
    DEFAULT_OPERATION_TIMEOUT_SECONDS,
    SftpSettings,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_IGNORE_PATTERNS",
    "DEFAULT_OPERATION_TIMEOUT_SECONDS",
    "PREFETCH_BYTES",
    "RemoteFileGoneError",
    "SftpSettings",
    "SftpTransport",
]

PREFETCH_BYTES = 16 << 20
"""Read-ahead per open file: files up to this size arrive in one pipelined burst, the rest in sequence.

A caller that stops reading early (a file over its bound) leaves at most this much in flight.
"""
_UPLOAD_CHUNK = 1 << 20
_ONE_REQUEST_BYTES = 32 << 10
_COMPARE_CHUNK = 1 << 20
_READ_BUFFER = 1 << 16

def _fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` form of a host key's fingerprint."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class _HostKeyRefusedError(Exception):
    """Raised inside paramiko's connect by our policy; turned into ``HostKeyMismatchError`` at the boundary."""

    def __init__(self, fingerprint: str, key_type: str) -> None:
        super().__init__(fingerprint)
        self.fingerprint = fingerprint
        self.key_type = key_type


class _PinnedKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Accept exactly the pinned fingerprint (if any); refuse every other key not in the known hosts."""

    def __init__(self, pinned_sha256: str | None) -> None:
        self._pinned = pinned_sha256

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        seen = _fingerprint(key)
        if self._pinned is not None and seen == self._pinned:
            return
        raise _HostKeyRefusedError(seen, key.get_name())


def _discard(client: paramiko.SSHClient, sock: socket.socket | None) -> None:
    """Close a client whose connect failed, and the socket we opened for it."""
    client.close()
    if sock is not None:
        sock.close()


def _caused_by_timeout(exc: BaseException) -> bool:
    """Whether a timeout is anywhere in the chain of exceptions that led to ``exc``."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_name(name: str) -> None:
    """Refuse a name that cannot be one entry of a remote directory."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise RemoteNameError(
            f"remote name '{escape_name(name)}' is not a single file name ('/', NUL, '.' or '..'): not touched",
            hint="the file stays where it is; a person must rename or remove it on the server")


def _encode(path: str) -> bytes:
    """Bytes of a remote path as they go on the wire (names that were not UTF-8 come back byte for byte)."""
    return path.encode("utf-8", "surrogateescape")


def _join(directory: str, name: str) -> str:
    return posixpath.join(directory, name)


class _RemoteReader(io.RawIOBase):
    """A raw binary stream over an open SFTP file that raises only ``edi`` errors."""

    def __init__(self, handle: paramiko.SFTPFile, owner: SftpTransport, path: str) -> None:
        super().__init__()
        self._handle = handle
        self._owner = owner
        self._path = path
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._at_end or not len(view):
            return 0
        with self._owner._guard("read", self._path):
            data = self._handle.read(len(view))  # paramiko reads until the size asked for or the end
        view[: len(data)] = data
        self._at_end = len(data) < len(view)  # the end was reached: no further round trip to learn it again
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                with self._owner._guard("close", self._path):
                    self._handle.close()
            except TransportError:
                pass  # the bytes were read (or the read already failed and said so); nothing to keep open
        super().close()


class SftpTransport:
    """A partner's SFTP server behind the ``Transport`` protocol (see the module docstring)."""

    kind = "sftp"

    def __init__(self, settings: SftpSettings, *, base_dir: Path) -> None:
        """Check the settings' files and secrets now (every problem at once); connect on first use.

        Raises:
            TransportConfigError: a secret or file named in the settings is missing or unusable.
        """
        self.settings = settings
        self.ignored: builtins.list[RemoteFile] = []
        self._base_dir = base_dir
        self._where = f"sftp://{settings.username}@{settings.host}:{settings.port}"
        problems: list[str] = []
        self._known_hosts = self._resolve(settings.known_hosts_file)
        if self._known_hosts is not None:
            self._check_known_hosts(self._known_hosts, problems)
        self._pkey = self._load_key(problems)
        self._password = self._load_password(problems)
        if problems:
            raise TransportConfigError(
                f"sftp connector {self._where}: " + "; ".join(problems),
                hint="fix the connector's sftp settings or the files and variables they name, then restart")
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._made_dirs: set[str] = set()

    # ---- configuration -------------------------------------------------------------------------

    def _resolve(self, path: Path | None) -> Path | None:
        if path is None:
            return None
        return path if path.is_absolute() else self._base_dir / path

    def _host_entry(self) -> str:
        s = self.settings
        return s.host if s.port == 22 else f"[{s.host}]:{s.port}"

    def _check_known_hosts(self, path: Path, problems: list[str]) -> None:
        keys = paramiko.HostKeys()
        try:
            keys.load(str(path))
        except (OSError, paramiko.SSHException, ValueError) as exc:
            problems.append(f"known_hosts_file: cannot read {path} ({exc})")
            return
        if keys.lookup(self._host_entry()) is None:
            problems.append(f"known_hosts_file: {path} has no key for {self._host_entry()} "
                            f"(add the line 'ssh-keyscan -p {self.settings.port} {self.settings.host}' prints, "
                            "after checking its fingerprint with the partner)")

    def _load_key(self, problems: list[str]) -> paramiko.PKey | None:
        path = self._resolve(self.settings.private_key_file)
        if path is None:
            return None
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            problems.append(f"private_key_file: cannot read {path} ({exc.strerror}; relative paths resolve "
                            f"against the config root {self._base_dir})")
            return None
        if mode & 0o077:
            problems.append(f"private_key_file: {path} is accessible to other users (mode {stat.S_IMODE(mode):o}); "
                            "chmod 600 it")
            return None
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException:
            problems.append(f"private_key_file: {path} is encrypted; give the connector an unencrypted key file "
                            "(mode 600) instead")
        except (paramiko.SSHException, OSError, ValueError) as exc:
            problems.append(f"private_key_file: {path} is not a private key this transport can read ({exc}); "
                            "use an OpenSSH or PEM ed25519, ECDSA or RSA key")
        return None

    def _load_password(self, problems: list[str]) -> str | None:
        s = self.settings
        if s.password_env is not None:
            value = os.environ.get(s.password_env)
            if not value:
                problems.append(f"password_env: the environment variable {s.password_env} is not set or empty "
                                "(looked in this process's environment)")
            return value or None
        path = self._resolve(s.password_file)
        if path is None:
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            problems.append(f"password_file: cannot read {path} ({exc}; relative paths resolve against the "
                            f"config root {self._base_dir})")
            return None
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            problems.append(f"password_file: {path} is empty")
            return None
        return value

    # ---- connection ----------------------------------------------------------------------------

    def _session(self) -> paramiko.SFTPClient:
        """The open SFTP session, connecting (host key checked first) when there is none."""
        if self._sftp is not None:
            return self._sftp
        s = self.settings
        client = paramiko.SSHClient()
        started = time.monotonic()
        sock: socket.socket | None = None
        if self._known_hosts is not None:
            try:  # read on every connect, so a key rotated in the file is used without a restart
                client.get_host_keys().load(str(self._known_hosts))
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise TransportConfigError(f"{self._where}: known_hosts_file: cannot read {self._known_hosts} "
                                           f"({exc})", hint="restore the file, then restart the connector") from exc
        try:
            client.set_missing_host_key_policy(_PinnedKeyPolicy(s.host_key_sha256))
            sock = socket.create_connection((s.host, s.port), timeout=s.connect_timeout_seconds)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # SFTP is request/answer: no Nagle delay
            client.connect(
                s.host, port=s.port, username=s.username, pkey=self._pkey, password=self._password, sock=sock,
                timeout=s.connect_timeout_seconds, banner_timeout=s.connect_timeout_seconds,
                auth_timeout=s.connect_timeout_seconds, channel_timeout=s.connect_timeout_seconds,
                allow_agent=False, look_for_keys=False)
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(s.operation_timeout_seconds)
        except _HostKeyRefusedError as exc:
            _discard(client, sock)
            pinned = s.host_key_sha256 or f"the keys in {self._known_hosts}"
            raise HostKeyMismatchError(
                f"{self._where}: host key {exc.key_type} {exc.fingerprint} is not the pinned one ({pinned}); "
                "no login, no file transferred",
                hint="if the partner announced a new host key, check its fingerprint with them and update "
                     "known_hosts_file or host_key_sha256; otherwise treat this as an attack") from exc
        except paramiko.BadHostKeyException as exc:
            _discard(client, sock)
            raise HostKeyMismatchError(
                f"{self._where}: host key changed: the server offers {exc.key.get_name()} "
                f"{_fingerprint(exc.key)}, {self._known_hosts} holds {_fingerprint(exc.expected_key)}; "
                "no login, no file transferred",
                hint="confirm the new key with the partner before replacing the entry in known_hosts_file") from exc
        except paramiko.AuthenticationException as exc:
            _discard(client, sock)
            if time.monotonic() - started >= s.connect_timeout_seconds:  # paramiko's auth timeout is this type too
                raise TransportTimeoutError(
                    f"{self._where}: no answer to the login within {s.connect_timeout_seconds:g} s",
                    hint="retried on the next run; the server may be overloaded") from exc
            how = "key" if self._pkey is not None else "password"
            raise TransportConfigError(
                f"{self._where}: login refused for user {s.username!r} with the configured {how} ({exc})",
                hint="check username, and that the public key is authorised for the account (or the password "
                     "is current); the connector stays stopped until fixed") from exc
        except TimeoutError as exc:
            _discard(client, sock)
            raise TransportTimeoutError(
                f"{self._where}: no connection within {s.connect_timeout_seconds:g} s ({exc or 'timed out'})",
                hint="retried on the next run; check the host, port and any firewall if it persists") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            _discard(client, sock)
            # paramiko wraps a banner timeout in SSHException and lets a key-exchange timeout surface later
            if _caused_by_timeout(exc) or time.monotonic() - started >= s.connect_timeout_seconds:
                raise TransportTimeoutError(
                    f"{self._where}: no SSH handshake within {s.connect_timeout_seconds:g} s",
                    hint="retried on the next run; check that the port is the SSH server's") from exc
            raise TransportError(
                f"{self._where}: cannot connect ({type(exc).__name__}: {exc})",
                hint="retried on the next run; check the host, port and the server if it persists") from exc
        self._client, self._sftp = client, sftp
        return sftp

    def close(self) -> None:
        """End the connection (if any); the next call connects again."""
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        self._made_dirs.clear()
        for thing in (sftp, client):
            if thing is not None:
                with suppress(paramiko.SSHException, OSError, EOFError):  # thrown away either way
                    thing.close()

    def _alive(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    @contextmanager
    def _guard(self, action: str, path: str) -> Iterator[None]:
        """Translate what paramiko and the socket raise during ``action`` on ``path`` into ``edi`` errors."""
        try:
            yield
        except EdiError:
            raise
        except TimeoutError as exc:
            self.close()  # answers may still be in flight: this session cannot be trusted any more
            raise TransportTimeoutError(
                f"{self._where}: {action} '{escape_name(path)}': no answer within "
                f"{self.settings.operation_timeout_seconds:g} s",
                hint="the connection was closed; the operation is retried on the next run") from exc
        except (paramiko.SSHException, SFTPError, OSError, EOFError) as exc:
            lost = isinstance(exc, (paramiko.SSHException, EOFError)) or not self._alive()
            if lost:
                self.close()
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise TransportError(
                f"{self._where}: {action} '{escape_name(path)}' failed: "
                f"{'connection lost' if lost else 'server answered'} ({detail})",
                hint="retried on the next run; if it persists, check the path and the account's permissions "
                     "on the server") from exc

    # ---- checks (``edi connectors test``) ------------------------------------------------------

    def server_key(self) -> tuple[str, str]:
        """The server's host key as (type, ``SHA256:...``), connecting (host key checked) if needed."""
        self._session()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None:
            raise TransportError(f"{self._where}: the connection closed right after login",
                                 hint="try again; check the server's logs if it persists")
        key = transport.get_remote_server_key()
        return key.get_name(), _fingerprint(key)

    def check_directory(self, directory: str) -> None:
        """Raise ``TransportError`` unless ``directory`` exists on the server and is a directory (reads only)."""
        sftp = self._session()
        with self._guard("check directory", directory):
            try:
                attr = sftp.stat(_encode(directory))
            except FileNotFoundError as exc:
                raise TransportError(f"{self._where}: directory '{escape_name(directory)}' does not exist",
                                     hint="create it on the server or fix the connector's setting") from exc
        if attr.st_mode is None or not stat.S_ISDIR(attr.st_mode):
            raise TransportError(f"{self._where}: '{escape_name(directory)}' is not a directory",
                                 hint="fix the connector's setting")

    # ---- Transport -----------------------------------------------------------------------------

    def list(self) -> list[RemoteFile]:
        """Regular files in ``inbound_dir`` not matching ``ignore_patterns``, oldest first."""
        s = self.settings
        sftp = self._session()
        with self._guard("list directory", s.inbound_dir):
            entries = self._read_dir(sftp, s.inbound_dir)
        regular = [
            RemoteFile(name=name, size=int(attr.st_size or 0), mtime=float(attr.st_mtime or 0))
            for name, attr in entries if attr.st_mode is not None and stat.S_ISREG(attr.st_mode)
        ]
        files = [f for f in regular if not any(fnmatch.fnmatchcase(f.name, p) for p in s.ignore_patterns)]
        self.ignored = [f for f in regular if f not in files]  # accounted for by the poll, never silently
        return sorted(files, key=lambda f: (f.mtime, f.name))

    def _read_dir(self, sftp: paramiko.SFTPClient,
                  directory: str) -> builtins.list[tuple[str, paramiko.SFTPAttributes]]:
        """Every entry of ``directory`` with its attributes; names decoded with ``surrogateescape``.

        paramiko's ``listdir_attr`` decodes names strictly, so one name that is not UTF-8 would abort
        the whole listing; this reads the same protocol messages and keeps such names as data.
        """
        raw = cast(Any, sftp)  # the request helpers below are paramiko's own, stable since 1.x
        kind, msg = raw._request(CMD_OPENDIR, _encode(directory))
        if kind != CMD_HANDLE:
            raise SFTPError("expected a directory handle")
        handle = msg.get_binary()
        entries: builtins.list[tuple[str, paramiko.SFTPAttributes]] = []
        try:
            while True:
                try:
                    kind, msg = raw._request(CMD_READDIR, handle)
                except EOFError:
                    if not self._alive():
                        raise
                    break  # end of the directory
                if kind != CMD_NAME:
                    raise SFTPError("expected a name list")
                for _ in range(msg.get_int()):
                    name = msg.get_string().decode("utf-8", "surrogateescape")
                    msg.get_string()  # the 'ls -l' line, not used
                    attr = cast(Any, paramiko.SFTPAttributes)._from_msg(msg)
                    if name not in (".", ".."):
                        entries.append((name, attr))
        finally:
            if self._alive():
                raw._request(CMD_CLOSE, handle)
        return entries

    def open(self, f: RemoteFile) -> AbstractContextManager[BinaryIO]:
        """A stream of ``f``'s bytes (read ahead up to ``PREFETCH_BYTES``); ``RemoteNameError`` for a bad name."""
        _check_name(f.name)
        return self._open(_join(self.settings.inbound_dir, f.name))

    @contextmanager
    def _open(self, path: str) -> Iterator[BinaryIO]:
        sftp = self._session()
        wire = _encode(path)
        with self._guard("open", path):
            try:
                attr = sftp.lstat(wire)
            except FileNotFoundError as exc:
                raise RemoteFileGoneError(f"{self._where}: '{escape_name(path)}' is gone since it was listed",
                                          hint="nothing to do: it is taken again if it comes back") from exc
            if attr.st_mode is None or not stat.S_ISREG(attr.st_mode):
                raise RemoteFileGoneError(
                    f"{self._where}: '{escape_name(path)}' is no longer a regular file; not read",
                    hint="a link or directory replaced the listed file; a person should look at the server")
            handle = sftp.open(wire, "rb")
            if int(attr.st_size or 0) > _ONE_REQUEST_BYTES:  # smaller files come in one request anyway
                handle.prefetch(min(int(attr.st_size or 0), PREFETCH_BYTES))
        with io.BufferedReader(_RemoteReader(handle, self, path), buffer_size=_READ_BUFFER) as stream:
            yield cast(BinaryIO, stream)

    def settle(self, f: RemoteFile, outcome: Settle, note: str | None = None) -> None:
        """Delete ``f`` or move it to ``done_dir`` / ``rejected_dir`` (with ``<name>.error`` holding ``note``)."""
        _check_name(f.name)
        s = self.settings
        source = _join(s.inbound_dir, f.name)
        sftp = self._session()
        if s.after_take == "delete":
            with self._guard("delete", source):
                try:
                    sftp.remove(_encode(source))
                except FileNotFoundError:
                    return  # already gone: settled
            return
        target_dir = s.done_dir if outcome is Settle.DONE else s.rejected_dir
        assert target_dir is not None  # the settings validator requires both for after_take: move
        self._make_dirs(sftp, target_dir)
        if outcome is Settle.REJECTED and note:
            self._write(sftp, _join(target_dir, f.name + ".error"), note.encode("utf-8", "surrogateescape"))
        target = _join(target_dir, f.name)
        with self._guard("move", source):
            try:
                sftp.posix_rename(_encode(source), _encode(target))
            except FileNotFoundError:
                return  # already moved or deleted
            except OSError as exc:
                if exc.errno is not None:
                    raise
                self._rename_replacing(sftp, source, target)

    def _rename_replacing(self, sftp: paramiko.SFTPClient, source: str, target: str) -> None:
        """Plain SFTP rename for servers without posix-rename; an older copy under ``target`` is replaced."""
        try:
            sftp.rename(_encode(source), _encode(target))
        except FileNotFoundError:
            return
        except OSError as refused:
            try:
                sftp.remove(_encode(target))  # an earlier file of the same name in done/rejected
            except FileNotFoundError:
                raise refused from None  # no earlier copy: the rename failed for another reason
            sftp.rename(_encode(source), _encode(target))

    def _make_dirs(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        """Create ``directory`` and its missing parents (once per connection)."""
        if directory in self._made_dirs:
            return
        with self._guard("create directory", directory):
            missing: list[str] = []
            current = directory.rstrip("/") or "/"
            while current not in ("", "/", "."):
                try:
                    attr = sftp.stat(_encode(current))
                except FileNotFoundError:
                    missing.append(current)
                    current = posixpath.dirname(current)
                    continue
                if attr.st_mode is not None and not stat.S_ISDIR(attr.st_mode):
                    raise TransportError(f"{self._where}: '{escape_name(current)}' exists and is not a directory",
                                         hint="fix done_dir / rejected_dir or the server")
                break
            for path in reversed(missing):
                try:
                    sftp.mkdir(_encode(path))
                except OSError:
                    if not stat.S_ISDIR(sftp.stat(_encode(path)).st_mode or 0):
                        raise  # not created by someone else meanwhile: a real failure
        self._made_dirs.add(directory)

    def deliver(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``outbound_dir/name`` atomically; the same bytes again is a no-op.

        Raises:
            RemoteNameError: ``name`` is not a single file name.
            DeliveryConflictError: a different file already has that name (nothing is overwritten).
            TransportError: the server cannot be reached or refused the write (retry later).
        """
        _check_name(name)
        s = self.settings
        final = _join(s.outbound_dir, name)
        sftp = self._session()
        existing = self._compare(sftp, final, data)
        if existing == "same":
            if s.rename_on_upload:  # a cut between the server's link and unlink may have left the temporary
                with self._guard("remove temporary", final + s.temporary_suffix), suppress(FileNotFoundError):
                    sftp.remove(_encode(final + s.temporary_suffix))
            return
        if existing != "absent":
            raise self._conflict(final, data, existing)
        if not s.rename_on_upload:
            self._write(sftp, final, data)
            return
        temporary = final + s.temporary_suffix
        self._write(sftp, temporary, data)
        with self._guard("rename", temporary):
            try:
                sftp.rename(_encode(temporary), _encode(final))  # OpenSSH: never replaces an existing file
                return
            except OSError as exc:
                if exc.errno is not None and exc.errno != errno.EEXIST:
                    raise
            after = self._compare(sftp, final, data)
            if after == "same":
                sftp.remove(_encode(temporary))
                return
            if after != "absent":
                sftp.remove(_encode(temporary))
                raise self._conflict(final, data, after)
            sftp.posix_rename(_encode(temporary), _encode(final))  # plain rename unsupported: the atomic one

    def _conflict(self, final: str, data: bytes, existing: str = "different") -> DeliveryConflictError:
        if existing == "prefix":
            return DeliveryConflictError(
                f"{self._where}: '{escape_name(final)}' already exists and holds the first part of our "
                f"{len(data)} bytes: probably our own upload, cut short (rename_on_upload is false); "
                "nothing was overwritten",
                hint="make sure the partner has not processed the partial file, remove it on the server, "
                     "then resend")
        return DeliveryConflictError(
            f"{self._where}: '{escape_name(final)}' already exists with different content "
            f"(ours: {len(data)} bytes); nothing was overwritten",
            hint="check whether the partner already picked up an earlier version; resend under a new name "
                 "only after confirming with them")

    def _compare(self, sftp: paramiko.SFTPClient, path: str, data: bytes) -> Literal["absent", "same", "prefix",
                                                                                      "different"]:
        """How the remote file at ``path`` relates to ``data`` (``prefix``: shorter and equal so far)."""
        with self._guard("check existing", path):
            try:
                attr = sftp.lstat(_encode(path))
            except FileNotFoundError:
                return "absent"
            if attr.st_mode is None or not stat.S_ISREG(attr.st_mode):
                return "different"
            size = int(attr.st_size or 0)
            if size > len(data) or (size < len(data) and self.settings.rename_on_upload):
                return "different"  # with rename, the final name only ever holds a whole file
            with sftp.open(_encode(path), "rb") as handle:
                handle.prefetch(size)
                offset = 0
                while offset < size:
                    chunk = handle.read(min(_COMPARE_CHUNK, size - offset))
                    if not chunk or chunk != data[offset:offset + len(chunk)]:
                        return "different"
                    offset += len(chunk)
        return "same" if size == len(data) else "prefix"

    def _write(self, sftp: paramiko.SFTPClient, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (truncating), then check the server holds exactly ``len(data)`` bytes."""
        with self._guard("upload", path):
            with sftp.open(_encode(path), "wb") as handle:
                handle.set_pipelined(True)
                view = memoryview(data)
                for offset in range(0, len(data), _UPLOAD_CHUNK):
                    handle.write(view[offset:offset + _UPLOAD_CHUNK])
            size = sftp.stat(_encode(path)).st_size
            if size != len(data):
                raise TransportError(f"{self._where}: upload of '{escape_name(path)}' left {size} bytes, "
                                     f"expected {len(data)}", hint="retried on the next run")
