"""The public corpus through our validator, compared file by file with Bots (``edi_parser``).

Every file must be read without an exception. Our accept/reject must equal Bots' unless the file is
listed in ``KNOWN_DIFFERENCES`` with the reason (checked against the evidence in ``EVIDENCE``, so a
listed difference that disappears or changes cause fails the test). Differences where we are wrong
are in ``WE_ARE_WRONG`` and run as strict xfails.

Several files agree only by accident: Bots refuses every file that starts with a UTF-8 BOM
("Expect ISA, found \\ufeffISA") while we strip the BOM and then reject those files for their own
faults (indented "pretty" segments, short ISA fields, unsupported versions).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import edi_parser
import pytest

from edi.x12 import AckBuilder, CounterNumbers, Limits, X12Validator
from edi.x12.envelope import VERSIONS_4010_FAMILY
from tests.conftest import CORPUS, need

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")
SE_COUNT_WRONG = CORPUS / "850" / "amazon_850_real_HOUBX_PO1-stripped_SE-count-wrong.edi"
AMAZON_850 = sorted(p for p in (CORPUS / "850").glob("amazon_850_*") if p != SE_COUNT_WRONG)

logging.getLogger("edi_parser").setLevel(logging.CRITICAL)


@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    """Every test here reads the public corpus: skip locally, fail in CI, when it is absent."""
    need(CORPUS)

NO_5010_GUIDE = ("we ship no {set} 005010 guide (Amazon's {set} is 004010; 005010 only for the 856): "
                 "the group gets AK905 2. Bots has a 5010 grammar and accepts it")
KNOWN_DIFFERENCES: dict[str, str] = {
    "generic_850_004010VICS_node-x12.edi":
        "GS08 004010VICS: we read it as 004010 and accept; Bots has no grammar 850004010VICS",
    "generic_850_004010VICS_newline-terminated_node-x12.edi":
        "same VICS document with newline as terminator: we accept; Bots has no grammar 850004010VICS",
    "generic_850_004010_ERR_PO1-qualifier-without-id_ediengine.edi":
        "the file's intended error: PO106 CB without PO107 (syntax note P0607), plus PO405 without PO406 "
        "(C0506); we reject with AK403 2, Bots does not enforce paired/conditional syntax notes",
    "walmart_850_005010_real_predi.edi": NO_5010_GUIDE.format(set="850"),
    "stedi_bootstrap_855_005010_ack_IA_dropship.edi": NO_5010_GUIDE.format(set="855"),
    "stedi_bootstrap_855_005010_trailing_empty_segment.edi":
        NO_5010_GUIDE.format(set="855") + "; also a stray '~' after IEA (TRAILING_DATA) that Bots ignores",
    "generic_997_005010_AK3-AK4-reject_staedi.edi":
        "GS08 005010X230: we read 997s as 004010 only (no 997 005010 guide); Bots has 997005010X230",
    "oopfactory_855_4010_ssimmons_multi_st.txt":
        "pretty-printed: segments indented with spaces after the terminator; we only tolerate CR/LF there, "
        "so '  GS' is no segment ID (TA1 024). Bots strips the indentation. (The other oopfactory pretty "
        "files also start with a BOM, which Bots refuses, so there both reject)",
}
# (side, token): 'ours' = a finding code we report, 'bots' = text in Bots' errors
EVIDENCE: dict[str, tuple[str, str]] = {
    "generic_850_004010VICS_node-x12.edi": ("bots", "850004010VICS"),
    "generic_850_004010VICS_newline-terminated_node-x12.edi": ("bots", "850004010VICS"),
    "generic_850_004010_ERR_PO1-qualifier-without-id_ediengine.edi": ("ours", "ELEMENT_CONDITIONAL_MISSING"),
    "walmart_850_005010_real_predi.edi": ("ours", "GROUP_VERSION_UNSUPPORTED"),
    "stedi_bootstrap_855_005010_ack_IA_dropship.edi": ("ours", "GROUP_VERSION_UNSUPPORTED"),
    "stedi_bootstrap_855_005010_trailing_empty_segment.edi": ("ours", "GROUP_VERSION_UNSUPPORTED"),
    "generic_997_005010_AK3-AK4-reject_staedi.edi": ("ours", "GROUP_VERSION_UNSUPPORTED"),
    "oopfactory_855_4010_ssimmons_multi_st.txt": ("ours", "INTERCHANGE_STRUCTURE"),
}
WE_ARE_WRONG: dict[str, str] = {}


def ours() -> X12Validator:
    return X12Validator(limits=Limits(supported_versions=VERSIONS_4010_FAMILY | {"00501"}))


def bots(data: bytes) -> tuple[bool, str]:
    """Bots' verdict and its error text (an exception counts as a rejection)."""
    try:
        res = edi_parser.parse_edi(data, "x12", "x12")
    except Exception as exc:  # noqa: BLE001 - Bots failing is a verdict, not a test error
        return False, repr(exc)
    errors = res.get("errors") or []
    return bool(res.get("success")) and not errors, "\n".join(map(str, errors))


CRASHES: dict[str, str] = {}


def _param(p: Path, wrong: dict[str, str]) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=wrong[p.name])] if p.name in wrong else []
    return pytest.param(p, id=f"{p.parent.name}/{p.name}", marks=marks)


def test_corpus_tables_name_real_files() -> None:
    """Every file named in the difference tables exists in the corpus."""
    names = {p.name for p in FILES}
    assert set(KNOWN_DIFFERENCES) <= names
    assert set(EVIDENCE) == set(KNOWN_DIFFERENCES)
    assert set(WE_ARE_WRONG) <= names
    assert set(CRASHES) <= names
    assert len(FILES) > 50


@pytest.mark.parametrize("path", [_param(p, CRASHES) for p in FILES])
def test_corpus_file_read_without_exception(path: Path) -> None:
    """The file is validated and acknowledged (TA1s, 997s) without an exception; findings name the file."""
    files: dict[str, io.BytesIO] = {}

    class _Open:
        def __init__(self, name: str) -> None:
            self.buf = files.setdefault(name, io.BytesIO())

        def __enter__(self) -> io.BytesIO:
            return self.buf

        def __exit__(self, *exc: object) -> None:
            return None

    report = ours().validate_path(path, AckBuilder(_Open, CounterNumbers()))
    assert report.file
    for f in report.findings:
        assert path.name in f.one_line()


@pytest.mark.parametrize("path", [_param(p, WE_ARE_WRONG) for p in FILES])
def test_corpus_agrees_with_bots(path: Path) -> None:
    """Our accept/reject equals Bots', except for the documented differences."""
    data = path.read_bytes()
    report = ours().validate_bytes(data, path.name)
    theirs, bots_errors = bots(data)
    if path.name in KNOWN_DIFFERENCES:
        assert report.accepted != theirs, f"no longer differs: {KNOWN_DIFFERENCES[path.name]}"
        side, token = EVIDENCE[path.name]
        if side == "ours":
            assert token in {f.code for f in report.findings}, [f.one_line() for f in report.findings]
        else:
            assert token in bots_errors, bots_errors
        return
    assert report.accepted == theirs, (
        [f.one_line() for f in report.findings if f.severity.value == "error"][:5], bots_errors[:500])


@pytest.mark.parametrize("path", AMAZON_850, ids=lambda p: p.name)
def test_amazon_850_accepted(path: Path) -> None:
    """Every real/spec Amazon 850 except the broken one is accepted by the default validator."""
    report = X12Validator().validate_path(path)
    assert report.accepted, [f.one_line() for f in report.findings]
    assert report.transaction_sets == 1


def test_amazon_850_list_is_complete() -> None:
    """The Amazon 850 set covers the real PO (both layouts) and the spec example."""
    assert {p.name for p in AMAZON_850} >= {
        "amazon_850_real_vendor-HOUBX_PO-1PCPDX1U.edi",
        "amazon_850_real_vendor-HOUBX_PO-1PCPDX1U_single-line.edi",
        "amazon_850_spec-example_L8266355.edi",
    }


def test_se_count_wrong_gives_the_documented_997() -> None:
    """The PO1-stripped 850 gives exactly the 997 body of amazon-x12.md §3 and nothing else."""
    out: dict[str, bytes] = {}

    class _Open:
        def __init__(self, name: str) -> None:
            self.name = name
            self.buf = io.BytesIO()

        def __enter__(self) -> io.BytesIO:
            return self.buf

        def __exit__(self, *exc: object) -> None:
            out[self.name] = self.buf.getvalue()

    builder = AckBuilder(_Open, CounterNumbers())
    report = X12Validator().validate_path(SE_COUNT_WRONG, builder)
    assert not report.accepted
    assert [d.kind for d in builder.written] == ["997"]
    assert builder.written[0].answers_gs06 == "69737"
    segs = [s.strip() for s in out[builder.written[0].name].decode("ascii").split("~") if s.strip()]
    body = segs[segs.index("ST*997*0001"):]
    body = body[: next(i for i, s in enumerate(body) if s.startswith("SE*")) + 1]
    assert body == [
        "ST*997*0001",
        "AK1*PO*69737",
        "AK2*850*0001",
        "AK3*PO1*8**3",
        "AK5*R*4*5",
        "AK9*R*1*1*0",
        "SE*7*0001",
    ]
