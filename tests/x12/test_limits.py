"""Reading policies and bounds: hard-wrapped files (``strip_line_breaks``) and the file-size bound."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from edi.x12 import Limits, X12Validator
from edi.x12.results import Severity
from tests.conftest import REALWORLD, SAMPLES, need
from tests.x12.test_catalogue import ic
from tests.x12.test_cli import run

GOOD = SAMPLES / "inbound" / "01_single_line.edi"


def wrapped(width: int = 80, eol: str = "\n") -> bytes:
    """The catalogue's four-line PO written on one line, then hard-wrapped every ``width`` characters."""
    flat = "".join(s + "~" for s in ic())
    return eol.join(flat[i:i + width] for i in range(0, len(flat), width)).encode("ascii")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_wrapped_file_is_rejected_by_default(eol: str) -> None:
    """By default a line break inside the ISA or a segment is an error (the option is off)."""
    report = X12Validator().validate_bytes(wrapped(eol=eol), "wrapped.edi")
    assert not report.accepted
    assert "LINE_BREAKS_STRIPPED" not in {f.code for f in report.findings}


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_strip_line_breaks_accepts_a_wrapped_file_and_says_so(eol: str, chunk: int) -> None:
    """With the option a wrapped PO is accepted, whatever the read chunk, and an INFO finding reports it."""
    limits = Limits(strip_line_breaks=True, chunk_bytes=chunk)
    report = X12Validator(limits=limits).validate_bytes(wrapped(eol=eol), "wrapped.edi")
    assert report.accepted, [f.one_line() for f in report.findings]
    (note,) = report.findings
    assert (note.code, note.severity) == ("LINE_BREAKS_STRIPPED", Severity.INFO)
    breaks = wrapped(eol=eol).count(b"\n") + wrapped(eol=eol).count(b"\r")
    assert note.message.startswith(f"{breaks} CR/LF")
    assert note.position.byte_offset == 80


def test_strip_line_breaks_keeps_a_line_feed_terminator() -> None:
    """When LF is the terminator itself, nothing is removed and the file is still accepted."""
    data = "".join(s + "\n" for s in ic()).encode("ascii")
    report = X12Validator(limits=Limits(strip_line_breaks=True)).validate_bytes(data, "lf.edi")
    assert report.accepted, [f.one_line() for f in report.findings]
    assert [f.code for f in report.findings] == ["LINE_BREAKS_STRIPPED"]
    assert "nothing was removed" in report.findings[0].message


@pytest.mark.parametrize("name", ["bots_850-004010-08.x12", "bots_850-004010.16.x12"])
def test_real_wrapped_files_equal_their_unwrapped_original(name: str) -> None:
    """The 80-column Therma-Tru files give the same verdicts per set as the unwrapped original."""
    v = X12Validator(limits=Limits(strip_line_breaks=True))
    original = v.validate_path(need(REALWORLD / "850" / "bots_850-004010-05.x12"))
    report = v.validate_path(need(REALWORLD / "850" / name))
    verdicts = [(s.transaction_sets, s.segments) for s in (original, report)]
    assert verdicts[0] == verdicts[1]
    assert sorted(f.code for f in report.findings if f.severity is Severity.ERROR) == sorted(
        f.code for f in original.findings if f.severity is Severity.ERROR)


def test_cli_strip_line_breaks_on_a_file(tmp_path: Path) -> None:
    """The flag reaches the validator: a wrapped file is accepted with it and rejected without it."""
    path = tmp_path / "wrapped.edi"
    path.write_bytes(wrapped())
    assert run("validate", str(path)).returncode == 1
    res = run("validate", "--strip-line-breaks", str(path))
    assert res.returncode == 0, res.stderr
    assert "LINE_BREAKS_STRIPPED" in res.stdout + res.stderr


def test_cli_max_file_size() -> None:
    """``--max-file-size`` lowers or raises the bound; the FILE_TOO_LARGE hint names the settings that exist."""
    size = GOOD.stat().st_size
    small = run("validate", "--max-file-size", str(size - 1), str(GOOD))
    assert small.returncode == 1
    assert "FILE_TOO_LARGE" in small.stderr
    assert "--max-file-size" in small.stderr
    assert "max_file_bytes" in small.stderr
    assert run("validate", "--max-file-size", str(size), str(GOOD)).returncode == 0


def test_max_file_bytes_bounds_a_stream() -> None:
    """A stream over ``Limits.max_file_bytes`` stops with FILE_TOO_LARGE instead of being read whole."""
    data = GOOD.read_bytes()
    report = X12Validator(limits=Limits(max_file_bytes=100, chunk_bytes=64)).validate_stream(io.BytesIO(data), "s")
    assert [f.code for f in report.findings][:1] == ["FILE_TOO_LARGE"]


@pytest.mark.parametrize("chunk", [256, 1 << 20])
def test_overlong_segment_names_the_element_where_the_bound_is_crossed(chunk: int) -> None:
    """A REF over max_segment_bytes is reported at REF03 (DE 352) in the AK4, with the segment's start shown."""
    from tests.x12._util import acknowledge  # noqa: PLC0415
    from tests.x12.test_catalogue import BODY, grp, po, tx  # noqa: PLC0415

    body = list(BODY)
    body[1] = "REF*CR*HOUBX*" + "A" * 5000
    data = po(groups=[grp([tx(body)])])
    report, acks = acknowledge(data, limits=Limits(chunk_bytes=chunk))
    (finding,) = report.findings
    assert (finding.code, finding.position.element, finding.data_element, finding.ak403) == (
        "ELEMENT_TOO_LONG", 3, "352", "5")
    assert "crossed in REF03" in finding.message
    assert finding.segment_text is not None
    assert finding.segment_text.startswith("REF*CR*HOUBX*AAAA")
    assert finding.position.byte_offset == data.index(b"REF*CR*HOUBX*") + len("REF*CR*HOUBX*")
    (doc,) = acks.values()
    assert b"AK3*REF*3**8~AK4*3*352*5~" in doc


def test_segment_with_too_many_elements_names_the_first_one_over() -> None:
    """A segment over both bounds with 70 separators is reported at element 65 (over the 64 bound), code 3."""
    from tests.x12.test_catalogue import BODY, grp, po, tx  # noqa: PLC0415

    body = list(BODY)
    body[1] = "REF*CR*HOUBX" + "*" + "B" * 60 + "*X" * 68
    report = X12Validator(limits=Limits(max_segment_bytes=128)).validate_bytes(po(groups=[grp([tx(body)])]), "x")
    (finding,) = report.findings
    assert (finding.code, finding.position.element, finding.ak403) == ("ELEMENT_TOO_MANY", 65, "3")
