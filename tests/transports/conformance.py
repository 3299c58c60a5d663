"""Behaviour every transport shares (the contract in ``edi.transports.base``), written once.

A transport's test module subclasses :class:`TransportConformance` and defines a ``transport_factory``
fixture that yields a :class:`TransportHarness`: the transport under test, working on an empty inbound
and an empty outbound location, with helpers that place a file in the inbound location and read one
from the outbound location the way the partner would (directly, not through the transport)::

    class TestFolderConformance(TransportConformance):
        @pytest.fixture
        def transport_factory(self, tmp_path): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest

from edi.errors import DocumentError
from edi.transports.base import (
    DeliveryConflictError,
    RemoteFile,
    Settle,
    Transport,
    read_bounded,
    stable_files,
)


class TransportHarness(NamedTuple):
    """A transport on empty locations, and the partner's side of them."""

    transport: Transport
    put_inbound: Callable[[str, bytes], None]
    """Write a file into the inbound location (replacing one of the same name)."""
    read_outbound: Callable[[str], bytes | None]
    """The bytes of a file in the outbound location, or None when there is none of that name."""


PO = b"ISA*00*          *00*          *ZZ*AMAZON         *ZZ*VENDOR         *260101*1200*U*00401*000000001*0*P*>~"


def _read(transport: Transport, f: RemoteFile, max_bytes: int = 1 << 30) -> bytes:
    with transport.open(f) as stream:
        return b"".join(read_bounded(stream, max_bytes))


def _names(transport: Transport) -> list[str]:
    return sorted(f.name for f in transport.list())


class TransportConformance:
    """Generic behaviour tests; subclasses provide the ``transport_factory`` fixture."""

    def test_is_a_transport(self, transport_factory: TransportHarness) -> None:
        """The object satisfies the Transport protocol and names its kind."""
        assert isinstance(transport_factory.transport, Transport)
        assert transport_factory.transport.kind

    def test_empty_inbound_lists_nothing(self, transport_factory: TransportHarness) -> None:
        """An empty inbound location lists no files."""
        assert transport_factory.transport.list() == []

    def test_list_gives_name_size_mtime(self, transport_factory: TransportHarness) -> None:
        """Each waiting file is listed once with its name and exact size."""
        t, put, _ = transport_factory
        put("a.edi", PO)
        put("b.x12", b"")
        listed = {f.name: f for f in t.list()}
        assert set(listed) == {"a.edi", "b.x12"}
        assert listed["a.edi"].size == len(PO)
        assert listed["b.x12"].size == 0
        assert listed["a.edi"].mtime > 0

    def test_list_skips_temporary_names(self, transport_factory: TransportHarness) -> None:
        """Hidden files and '.part'/'.tmp' names are someone's unfinished uploads and are not listed."""
        t, put, _ = transport_factory
        for name in (".hidden", "upload.edi.part", "upload.tmp", "real.edi"):
            put(name, PO)
        assert _names(t) == ["real.edi"]

    def test_open_streams_exact_bytes(self, transport_factory: TransportHarness) -> None:
        """open() returns every byte of the file unchanged, binary and multi-megabyte included."""
        t, put, _ = transport_factory
        blob = bytes(range(256)) * (3 * 4096 + 7)
        put("big.bin", blob)
        put("po.edi", PO)
        files = {f.name: f for f in t.list()}
        assert _read(t, files["big.bin"]) == blob
        assert _read(t, files["po.edi"]) == PO

    def test_read_bounded_stops_after_bound_plus_one(self, transport_factory: TransportHarness) -> None:
        """A file over the bound yields exactly max_bytes + 1 bytes through read_bounded, then stops."""
        t, put, _ = transport_factory
        put("huge.edi", b"x" * (3 << 20))
        (f,) = t.list()
        with t.open(f) as stream:
            got = sum(len(c) for c in read_bounded(stream, 1 << 20, chunk=64 << 10))
        assert got == (1 << 20) + 1

    @pytest.mark.parametrize("outcome", [Settle.DONE, Settle.REJECTED])
    def test_settle_takes_the_file_away(self, transport_factory: TransportHarness, outcome: Settle) -> None:
        """A settled file (done or rejected) is no longer listed; the others stay."""
        t, put, _ = transport_factory
        put("one.edi", PO)
        put("two.edi", PO)
        one = next(f for f in t.list() if f.name == "one.edi")
        t.settle(one, outcome, "not X12" if outcome is Settle.REJECTED else None)
        assert _names(t) == ["two.edi"]

    def test_settle_of_a_file_already_gone_is_fine(self, transport_factory: TransportHarness) -> None:
        """Settling twice (a retried poll after a crash) does not fail."""
        t, put, _ = transport_factory
        put("one.edi", PO)
        (f,) = t.list()
        t.settle(f, Settle.DONE)
        t.settle(f, Settle.DONE)
        assert t.list() == []

    def test_name_with_newline_is_data(self, transport_factory: TransportHarness) -> None:
        """A name holding a newline is listed, read and settled like any other."""
        t, put, _ = transport_factory
        put("po\n2.edi", PO)
        (f,) = t.list()
        assert f.name == "po\n2.edi"
        assert _read(t, f) == PO
        t.settle(f, Settle.DONE)
        assert t.list() == []

    @pytest.mark.parametrize("name", ["../escape.edi", "a/b.edi", "..", "nul\x00.edi"])
    def test_path_like_names_are_refused(self, transport_factory: TransportHarness, name: str) -> None:
        """A name that is not a single file name is refused by open, settle and deliver (a DocumentError)."""
        t = transport_factory.transport
        f = RemoteFile(name=name, size=1, mtime=1.0)
        with pytest.raises(DocumentError):
            t.open(f).__enter__()
        with pytest.raises(DocumentError):
            t.settle(f, Settle.DONE)
        with pytest.raises(DocumentError):
            t.deliver(name, PO)

    def test_growing_file_is_not_stable(self, transport_factory: TransportHarness) -> None:
        """A file that changes between two looks is left for the next poll; an unchanged one is taken."""
        t, put, _ = transport_factory
        put("growing.edi", PO[:50])
        put("quiet.edi", PO)
        stable = stable_files(t.list, lambda: put("growing.edi", PO))
        assert [f.name for f in stable] == ["quiet.edi"]

    def test_deliver_writes_exact_bytes(self, transport_factory: TransportHarness) -> None:
        """deliver() puts the bytes under the final name."""
        t, _, read_out = transport_factory
        blob = bytes(range(256)) * 9000
        t.deliver("855_0001.edi", blob)
        assert read_out("855_0001.edi") == blob

    def test_deliver_same_bytes_twice_is_a_no_op(self, transport_factory: TransportHarness) -> None:
        """A retried delivery of the same bytes succeeds and leaves one identical file."""
        t, _, read_out = transport_factory
        t.deliver("997_1.edi", PO)
        t.deliver("997_1.edi", PO)
        assert read_out("997_1.edi") == PO

    def test_deliver_different_bytes_is_a_conflict(self, transport_factory: TransportHarness) -> None:
        """Different bytes under an existing name raise DeliveryConflictError and overwrite nothing."""
        t, _, read_out = transport_factory
        t.deliver("856_1.edi", PO)
        with pytest.raises(DeliveryConflictError):
            t.deliver("856_1.edi", PO + b"GS*changed~")
        with pytest.raises(DeliveryConflictError):
            t.deliver("856_1.edi", PO[:-1])
        assert read_out("856_1.edi") == PO

    def test_close_then_use_again(self, transport_factory: TransportHarness) -> None:
        """After close() the transport can be used again (the next poll reconnects)."""
        t, put, _ = transport_factory
        t.close()
        put("later.edi", PO)
        assert _names(t) == ["later.edi"]
        t.close()
        t.close()
