"""The ``edi`` command line.

Exit codes: 0 everything accepted, 1 something rejected or accepted with errors, 2 usage or I/O
error. Bad input never produces a traceback: it produces findings.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from edi.errors import CODES, EdiError, explain
from edi.transports.base import printable
from edi.x12.envelope import VERSIONS_5010
from edi.x12.limits import Limits
from edi.x12.results import FileReport, Finding, Severity

if TYPE_CHECKING:
    from edi.config.partner import PartnerSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="EDI middleware for Amazon Vendor Central: validate, acknowledge and translate X12.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")
mapping_app = typer.Typer(no_args_is_help=True, help="Mapping files: lint and golden tests.")
app.add_typer(mapping_app, name="mapping")

exceptions_app = typer.Typer(no_args_is_help=True, help="The exception log: list, show, resolve.")
app.add_typer(exceptions_app, name="exceptions")
stock_app = typer.Typer(no_args_is_help=True, help="The embedded IMS's stock ledger.")
app.add_typer(stock_app, name="stock")
pack_app = typer.Typer(no_args_is_help=True, help="Pack confirmations (they trigger the 856).")
app.add_typer(pack_app, name="pack")

DataDir = Annotated[Path | None, typer.Option(help="Data directory (default: the config root's data_dir).",
                                              envvar="EDI_DATA_DIR", show_default=False)]
_STATE: dict[str, Any] = {"config": None}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        typer.echo(f"edi {version('vendoredi')}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="EDI_CONFIG", show_default=False,
        help="Config root (edi.yaml, mappings/, connectors/, schedules/); default: the current directory.")] = None,
    log_format: Annotated[str | None, typer.Option(
        "--log-format", help="auto, json or console (default: the root's log_format).", show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """EDI middleware for Amazon Vendor Central: validate, acknowledge, translate, and run as a service."""
    del version
    _STATE["config"] = config
    _STATE["log_format"] = log_format


def _root():
    """The config root in effect, validated whole; its problems are printed as file:line:col and exit 2."""
    from edi.config.loader import YamlError  # noqa: PLC0415
    from edi.config.service import load_root, root_from  # noqa: PLC0415

    try:
        return load_root(root_from(_STATE["config"]))
    except YamlError as exc:
        for f in exc.findings:
            typer.echo(f.one_line() + (f"\n  hint: {f.hint}" if f.hint else ""), err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _engine(data_dir: Path | None = None, *, create: bool = True):
    """The store of the config root (or of ``data_dir``); read-only commands never create one."""
    from edi.store import check_durability, ensure_schema, open_engine  # noqa: PLC0415
    from edi.store.engine import SQLITE_FILE_NAME  # noqa: PLC0415

    url = None
    if data_dir is None:
        root = _root()
        data_dir, url = root.data_dir, root.database_url
    if url is None and not create and not (data_dir / SQLITE_FILE_NAME).exists() and not _env_url():
        typer.echo(f"no database in {data_dir}: nothing has run here yet (run `edi daemon --once` or `edi demo`, "
                   "or pass --config)", err=True)
        raise typer.Exit(EXIT_USAGE)
    engine = open_engine(url, data_dir=data_dir)
    ensure_schema(engine, upgrade=True)
    check_durability(engine)
    return engine


def _env_url() -> str | None:
    import os  # noqa: PLC0415

    return os.environ.get("EDI_DATABASE_URL") or None


def _verdict_layer(path: Path, partner: str | None) -> tuple[str | None, str, PartnerSettings | None]:
    """The guide layer a file is judged by, the same for validate, ack, translate and the pipeline.

    ``--partner`` names a partner of the config root (its ``guide_layer``), or ``none`` / ``''`` for
    the bare standard; an unknown name exits 2. Without it, the partner whose ISA ids the file's
    first interchange carries decides (the root's partners, or the shipped Amazon partner when there
    is no root here); no match means the bare 004010 standard. Returns (layer, why, the partner).
    """
    from edi.config.loader import YamlError  # noqa: PLC0415
    from edi.config.service import load_root, root_from  # noqa: PLC0415
    from edi.pipeline.inbound import isa_ids  # noqa: PLC0415
    from edi.scaffold import _template  # noqa: PLC0415

    try:
        root = load_root(root_from(_STATE["config"]))
    except YamlError:
        root = load_root(_template("root")) if _STATE["config"] is None else _root()
    if partner is not None:
        if partner in ("", "none"):
            return None, "bare 004010 standard (--partner none)", None
        if partner not in root.partners:
            typer.echo(f"error: CFG_UNKNOWN_PARTNER unknown partner {partner!r} (known: "
                       f"{', '.join(sorted(root.partners)) or 'none'}; or none for the bare standard)", err=True)
            raise typer.Exit(EXIT_USAGE)
        p = root.partners[partner]
        return p.layer, f"partner {partner} (--partner)", p
    try:
        ids = isa_ids(path)
    except OSError:
        ids = None
    match = root.partner_for(*ids) if ids else None
    if match is None:
        who = f"sender {ids[0]} to {ids[1]}" if ids else "no readable ISA"
        return None, f"bare 004010 standard ({who}: no partner matches)", None
    return match.layer, f"partner {match.partner} (ISA sender {ids[0]})" if ids else "", match


def _partner_settings(partner: str | None):
    """One partner's settings from the config root (the only one when there is one)."""
    from edi.config.loader import YamlError  # noqa: PLC0415

    root = _root()
    try:
        return root.partner(partner)
    except YamlError as exc:
        for f in exc.findings:
            typer.echo(f"error: {f.code} {f.message}", err=True)
        raise typer.Exit(EXIT_USAGE) from None

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
_EXCEPTION_KINDS = frozenset((  # noqa: SIM905 - one word per kind reads better as a block
    # exception-log kinds besides the finding codes of edi.errors.CODES (mapping codes come from the mappings)
    "ACK_CHECK ACK_MISSING ACK_REJECTED ACK_UNMATCHED ACK_WITH_ERRORS ALLOCATION_MISMATCH ARCHIVE_DAMAGED "
    "BAD_DELIVERY_WINDOW CFG_CONNECTOR CONTROL_NUMBER_REUSE DEADLINE DEADLINE_MISSED DELIVERY_CONFLICT "
    "DELIVERY_FAILED DUPLICATE HASH_TOTAL_MISMATCH HOST_KEY_MISMATCH HOT_PO IMS_FILE IMS_UNAVAILABLE INTERNAL_ERROR "
    "LINE_COUNT_MISMATCH LINES_REJECTED MAPPING MIXED_PARTNERS OVER_ALLOCATION PACK_INVALID PACK_MISMATCH "
    "PACK_WAITING PARTIAL_DUPLICATE PARTIAL_FILL PRICE_MISMATCH REMOTE_NAME REVISION SKU_MISMATCH TEST_INTERCHANGE "
    "TRANSPORT_ERROR TRANSPORT_TIMEOUT UNKNOWN_PARTNER UNKNOWN_SHIP_TO UNMAPPED_CODE UNSUPPORTED_UNIT VALIDATION "
    "VENDOR_CODE_MISSING IGNORED_FILE_STALE STORE_BUSY").split())

AcceptVersion = Annotated[list[str] | None, typer.Option(
    "--accept-version", help="Also accept this ISA12 control version (e.g. 00501); repeatable.")]


StripLineBreaks = Annotated[bool, typer.Option(
    "--strip-line-breaks", help="Remove CR/LF inside segments before validation (files hard-wrapped at 80 "
    "columns); reported as LINE_BREAKS_STRIPPED.")]
MaxFileSize = Annotated[int | None, typer.Option(
    "--max-file-size", min=1, metavar="BYTES",
    help=f"Largest file read, in bytes (default {Limits().max_file_bytes}); the connector setting is max_file_bytes.")]


def _limits(accept: list[str] | None, *, strip_line_breaks: bool = False, max_file_size: int | None = None) -> Limits:
    versions = set(Limits().supported_versions)
    for v in accept or []:
        if v == "5010":
            versions |= VERSIONS_5010
        else:
            versions.add(v)
    limits = Limits(supported_versions=frozenset(versions), strip_line_breaks=strip_line_breaks)
    if max_file_size is not None:
        limits = replace(limits, max_file_bytes=max_file_size)
    return limits


def _caret(f: Finding) -> list[str]:
    """The offending segment with a caret under the element, when known."""
    text = f.segment_text
    if not text:
        return []
    text = text.replace("\r", " ").replace("\n", " ")
    shown = "".join(c if " " <= c <= "~" else "?" for c in text[:200])
    col = 0
    if f.position.element is not None and len(text) > 3:
        sep = text[len(f.position.segment_id or text[:3])] if len(text) > len(f.position.segment_id or "") else "*"
        parts = text.split(sep)
        k = min(f.position.element, len(parts) - 1)
        col = sum(len(p) + 1 for p in parts[:k])
        col = min(col, len(shown))
    return [f"    {shown}", "    " + " " * col + "^"]


def _source_caret(mark: object) -> list[str]:
    """The YAML source line of a finding with a caret under its column (terminal output only)."""
    if mark is None or not sys.stderr.isatty():
        return []
    try:
        line = Path(mark.file).read_text(encoding="utf-8").splitlines()[mark.line - 1]  # type: ignore[attr-defined]
    except (OSError, IndexError, UnicodeDecodeError, AttributeError):
        return []
    return [f"    {line}", "    " + " " * (mark.column - 1) + "^"]  # type: ignore[attr-defined]


def _human(report: FileReport, out: typer.CallbackParam | None = None) -> None:
    del out
    for f in report.findings:
        pos = f.position
        where = report.file
        if pos.segment_index is not None:
            where += f":segment {pos.segment_index}"
        elif pos.segment_id:
            where += f":{pos.segment_id}"
        if pos.byte_offset is not None:
            where += f" (byte {pos.byte_offset})"
        codes = ", ".join(f"{k.upper()} {v}" for k, v in (("ta105", f.ta105), ("ak905", f.ak905), ("ak502", f.ak502),
                                                         ("ak304", f.ak304), ("ak403", f.ak403)) if v)
        env = pos.envelope_text()
        line = f"{where}: {f.code} {f.message}"
        if env:
            line += f" [{env}]"
        if codes:
            line += f" ({codes})"
        typer.echo(line, err=f.severity is not Severity.INFO)
        for extra in _caret(f):
            typer.echo(extra, err=True)
        if f.severity is Severity.ERROR and f.hint:
            typer.echo(f"    hint: {f.hint}", err=True)
    verdict = "accepted" if report.accepted else "REJECTED"
    typer.echo(f"{report.file}: {verdict}: {report.transaction_sets} transaction set(s), {report.segments} "
               f"segment(s), {len(report.errors)} error(s)")


def _report_json(report: FileReport) -> dict[str, object]:
    return {
        "file": report.file,
        "accepted": report.accepted,
        "quarantine": report.quarantine,
        "transaction_sets": report.transaction_sets,
        "segments": report.segments,
        "interchanges": [
            {
                "isa13": ic.control_number,
                "rejected": ic.rejected,
                "ta105": ic.ta105,
                "groups": [{"gs01": g.gs01, "gs06": g.gs06, "gs08": g.gs08, "ak901": g.ak901, "ak905": g.ak905,
                            "received": g.received, "accepted": g.accepted_sets} for g in ic.groups],
            }
            for ic in report.interchanges
        ],
        "findings": [f.as_dict() for f in report.findings],
    }


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="X12 files to validate.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    accept_version: AcceptVersion = None,
    partner: Annotated[str | None, typer.Option(help="Judge by this partner's guide layer (default: the partner "
                                                      "the ISA ids name; none: the bare standard).")] = None,
    strip_line_breaks: StripLineBreaks = False,
    max_file_size: MaxFileSize = None,
) -> None:
    """Validate X12 files: envelopes and implementation guides. Exit 1 if anything is rejected."""
    from edi.x12 import X12Validator  # noqa: PLC0415 - keep `edi --help` fast
    from edi.x12.guide import default_registry  # noqa: PLC0415

    limits = _limits(accept_version, strip_line_breaks=strip_line_breaks, max_file_size=max_file_size)
    validators: dict[tuple[str | None, bool], X12Validator] = {}
    reports, layers = [], []
    for path in files:
        layer, why, owner = _verdict_layer(path, partner)
        strip = limits.strip_line_breaks or bool(owner and owner.strip_line_breaks)
        if (layer, strip) not in validators:
            validators[layer, strip] = X12Validator(default_registry(layer),
                                                    replace(limits, strip_line_breaks=strip))
        reports.append(validators[layer, strip].validate_path(path))
        layers.append((layer, why))
    if as_json:
        typer.echo(json.dumps([_report_json(r) | {"guide_layer": layer or "none", "guide_layer_reason": why}
                               for r, (layer, why) in zip(reports, layers, strict=True)], indent=2))
    else:
        for r, (layer, why) in zip(reports, layers, strict=True):
            typer.echo(f"{r.file}: guide layer {layer or 'none'}: {why}")
            _human(r)
    raise typer.Exit(EXIT_OK if all(r.accepted for r in reports) else EXIT_REJECTED)


@app.command()
def ack(
    file: Annotated[Path, typer.Argument(help="The inbound X12 file to acknowledge.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the 997/TA1 files.")],
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (control-number ledger).",
                                                  envvar="EDI_DATA_DIR")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    accept_version: AcceptVersion = None,
    partner: Annotated[str | None, typer.Option(help="Judge by this partner's guide layer (default: the partner "
                                                      "the ISA ids name; none: the bare standard).")] = None,
    strip_line_breaks: StripLineBreaks = False,
    max_file_size: MaxFileSize = None,
) -> None:
    """Validate FILE and write the 997s (and TA1s) it calls for into OUT, numbered from the ledger."""
    from edi.x12 import AckBuilder, X12Validator  # noqa: PLC0415
    from edi.x12.guide import default_registry  # noqa: PLC0415
    from edi.x12.ledger import LedgerNumbers  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    if data_dir is None:  # the config root's data directory, never one under the current directory
        data_dir = _root().data_dir
    numbers = LedgerNumbers.open(data_dir)
    limits = _limits(accept_version, strip_line_breaks=strip_line_breaks, max_file_size=max_file_size)

    def opener(name: str):
        return (out / name).open("xb")

    builder = AckBuilder(opener, numbers, ta1_on_error=limits.ta1_on_error)
    layer, why, owner = _verdict_layer(file, partner)
    if owner is not None and owner.strip_line_breaks:
        limits = replace(limits, strip_line_breaks=True)
    report = X12Validator(default_registry(layer), limits).validate_path(file, builder)
    if as_json:
        body = _report_json(report) | {"guide_layer": layer or "none", "guide_layer_reason": why}
        body["acknowledgements"] = [{"kind": a.kind, "file": str(out / a.name), "isa13": a.isa13,
                                     "answers_isa13": a.answers_isa13, "answers_gs06": a.answers_gs06}
                                    for a in builder.written]
        typer.echo(json.dumps(body, indent=2))
    else:
        typer.echo(f"{report.file}: guide layer {layer or 'none'}: {why}")
        _human(report)
        for a in builder.written:
            typer.echo(f"wrote {out / a.name} ({a.kind} answering ISA {a.answers_isa13}"
                       + (f" / GS {a.answers_gs06}" if a.answers_gs06 else "") + ")")
    raise typer.Exit(EXIT_OK if report.accepted else EXIT_REJECTED)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="The X12 file to parse.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (the canonical tree).")] = False,
    accept_version: AcceptVersion = None,
) -> None:
    """Print each accepted transaction set with its elements named from the guide."""
    from edi.x12 import X12Validator  # noqa: PLC0415
    from edi.x12.tree import document_tree, named_segments  # noqa: PLC0415
    from edi.x12.validator import DocumentCollector  # noqa: PLC0415

    collector = DocumentCollector()
    v = X12Validator(limits=_limits(accept_version), keep_documents=True)
    report = v.validate_path(file, collector)
    docs = collector.documents
    if as_json:
        typer.echo(json.dumps({
            "file": str(file), "accepted": report.accepted,
            "documents": [{"isa13": d.isa13, "gs06": d.gs06, "st01": d.set_id, "st02": d.control_number,
                           "version": d.version, "tree": document_tree(d)} for d in docs],
            "findings": [f.as_dict() for f in report.findings]}, indent=2))
    else:
        for d in docs:
            typer.echo(f"== {d.set_id} {d.control_number} (ISA {d.isa13} / GS {d.gs06}, {d.version})")
            for seg in named_segments(d):
                loop = f" [{seg['loop']}]" if seg["loop"] else ""
                typer.echo(f"{seg['position']:>5} {seg['segment']:<4} {seg['name']}{loop}")
                for el in seg["elements"]:
                    typer.echo(f"        {el['id']:<9} {el['name'][:40]:<40} = {el['value']}")
        if report.findings:
            _human(report)
    raise typer.Exit(EXIT_OK if report.accepted else EXIT_REJECTED)


@app.command()
def translate(
    file: Annotated[Path, typer.Argument(help="An X12 850 file.")],
    mapping: Annotated[Path | None, typer.Option(help="Mapping file (default: the partner's 850 mapping).",
                                                 show_default=False)] = None,
    partner: Annotated[str | None, typer.Option(help="Partner whose mapping applies (when several exist).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Translate each accepted 850 of FILE into a sales order (after validating the whole file)."""
    from edi.mapping import load_mapping  # noqa: PLC0415
    from edi.mapping.testing import translate_file  # noqa: PLC0415

    layer, why, owner = _verdict_layer(file, partner)
    if mapping is None:
        named = (owner.partner if owner else None) if partner in (None, "", "none") else partner
        mapping = _partner_settings(named).mappings_dir / "850_to_sales_order.yaml"
    body = translate_file(load_mapping(mapping), file, layer) | {"guide_layer": layer or "none",
                                                                 "guide_layer_reason": why}
    if not as_json:
        typer.echo(f"{file}: guide layer {layer or 'none'}: {why}", err=True)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    else:
        for finding in body["findings"]:
            typer.echo(finding, err=True)
        for doc in body["documents"]:
            target = doc["target"]
            if target is not None:
                typer.echo(f"ST {doc['st02']}: sales order for PO {target['vendor_central_po_number']} "
                           f"({len(target['lines'])} lines)")
                typer.echo(json.dumps(target, indent=2))
            for exc in doc["exceptions"]:
                line = f" line {exc['line']}" if exc["line"] else ""
                po = f" PO {exc['po']}" if exc.get("po") else ""
                typer.echo(f"ST {doc['st02']}{po}{line}: {exc['code']} {exc['message']}; hint: {exc['hint']}",
                           err=True)
            for fail in doc["failures"]:
                typer.echo(f"ST {doc['st02']}: {fail['code']} {fail['message']}", err=True)
    ok = body["accepted"] and all(d["target"] is not None for d in body["documents"])
    raise typer.Exit(EXIT_OK if ok else EXIT_REJECTED)


@mapping_app.command("lint")
def mapping_lint(paths: Annotated[list[Path], typer.Argument(help="Mapping files or folders.")]) -> None:
    """Check mapping files (folders are walked, partner by partner): schema, fields, expressions, guide, codes."""
    from edi.mapping import lint_mapping  # noqa: PLC0415
    from edi.mapping.loader import mapping_files  # noqa: PLC0415

    files = []
    problems = 0
    for p in paths:
        found = mapping_files(p) if p.exists() else []
        if not found:
            problems += 1
            what = "does not exist" if not p.exists() else "holds no mapping file (*.yaml)"
            typer.echo(f"{p}: MAP_NOT_FOUND {what}", err=True)
        files.extend(found)
    for f in files:
        for finding in lint_mapping(f):
            problems += 1
            typer.echo(finding.one_line(), err=True)
            for extra in _source_caret(finding.mark):
                typer.echo(extra, err=True)
    typer.echo(f"{len(files)} mapping file(s), {problems} problem(s)")
    raise typer.Exit(EXIT_OK if problems == 0 else EXIT_REJECTED)


@mapping_app.command("test")
def mapping_test(
    path: Annotated[Path, typer.Argument(help="A *.test.yaml file or a folder of them.")] = Path("mappings"),
    update: Annotated[bool, typer.Option("--update", help="Rewrite the goldens and show the diff.")] = False,
) -> None:
    """Run mapping golden tests (the same runner pytest uses)."""
    from edi.mapping.testing import find_test_files, run_test_file  # noqa: PLC0415

    results = [r for f in find_test_files(path) for r in run_test_file(f, update=update)]
    for r in results:
        status = "ok" if r.ok else "FAIL"
        typer.echo(f"{status:4} {r.test_file}: {r.name}" + (f" ({r.message})" if r.message else ""))
        if r.diff and (update or not r.ok):
            typer.echo(r.diff)
    failed = sum(not r.ok for r in results)
    typer.echo(f"{len(results)} case(s), {failed} failed")
    raise typer.Exit(EXIT_OK if failed == 0 and results else EXIT_REJECTED)


@exceptions_app.command("list")
def exceptions_list(
    data_dir: DataDir = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open entries.")] = False,
    po: Annotated[str | None, typer.Option("--po", help="Only this PO number.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only this kind (repeatable), e.g. SKU_MISMATCH.")
                    ] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner's entries.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List exception-log entries, oldest first."""
    from sqlalchemy import select  # noqa: PLC0415

    from edi.store.pipeline_tables import exception_log as t  # noqa: PLC0415

    if kind:
        unknown = [k for k in kind if k.upper() not in CODES and k.upper() not in _EXCEPTION_KINDS]
        if unknown:
            typer.echo(f"unknown kind(s) {', '.join(unknown)}: `edi explain CODE` lists what exists", err=True)
            raise typer.Exit(EXIT_USAGE)
    with _engine(data_dir, create=False).connect() as conn:
        q = select(t).order_by(t.c.id)
        if open_only:
            q = q.where(t.c.status == "open")
        if po:
            q = q.where(t.c.po_number == po)
        if partner:
            q = q.where(t.c.partner == _partner_settings(partner).partner)
        if kind:
            q = q.where(t.c.kind.in_([k.upper() for k in kind]))
        rows = conn.execute(q).all()
    if as_json:
        typer.echo(json.dumps([{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r._mapping.items()}
                               for r in rows], indent=2))
        return
    for r in rows:
        where = " ".join(x for x in (f"PO {r.po_number}" if r.po_number else "",
                                     f"line {r.line_number}" if r.line_number else "") if x)
        typer.echo(f"{r.id:>5} {r.status:8} {r.kind:16} {r.partner or '-':10} {where:24} {printable(r.message)}")


@exceptions_app.command("show")
def exceptions_show(entry: Annotated[int, typer.Argument(help="Entry id.")], data_dir: DataDir = None) -> None:
    """Show one exception-log entry with its hint and resolution."""
    from sqlalchemy import select  # noqa: PLC0415

    from edi.store.pipeline_tables import exception_log as t  # noqa: PLC0415

    with _engine(data_dir, create=False).connect() as conn:
        r = conn.execute(select(t).where(t.c.id == entry)).first()
    if r is None:
        typer.echo(f"no exception entry {entry}", err=True)
        raise typer.Exit(EXIT_USAGE)
    for k, v in r._mapping.items():
        if k not in ("dedupe_key", "detail") and v not in (None, ""):
            typer.echo(f"{k:12} {printable(str(v))}")
    if r.detail:
        typer.echo(f"detail:\n{r.detail}")


@exceptions_app.command("resolve")
def exceptions_resolve(
    entry: Annotated[int, typer.Argument(help="Entry id.")],
    note: Annotated[str, typer.Option("--note", help="Why it is resolved (required).")],
    by: Annotated[str, typer.Option("--by", help="Who resolves it.", envvar="USER")] = "operator",
    data_dir: DataDir = None,
) -> None:
    """Mark an entry resolved, with who, when and why."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from edi.pipeline.records import resolve_exception  # noqa: PLC0415
    from edi.store import transaction  # noqa: PLC0415

    if not note.strip():
        typer.echo("--note must say why", err=True)
        raise typer.Exit(EXIT_USAGE)
    with transaction(_engine(data_dir)) as conn:
        done = resolve_exception(conn, entry, by, note, datetime.now(UTC))
    if not done:
        typer.echo(f"no open exception entry {entry}", err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(f"exception {entry} resolved by {by}")


@stock_app.command("import")
def stock_import(file: Annotated[Path, typer.Argument(help="CSV with sku,on_hand[,discontinued].")],
                 data_dir: DataDir = None) -> None:
    """Load or replace stock rows of the embedded IMS."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from edi.pipeline.ims import EmbeddedIms  # noqa: PLC0415
    from edi.store import transaction  # noqa: PLC0415

    with transaction(_engine(data_dir)) as conn:
        n = EmbeddedIms().import_stock(conn, file, datetime.now(UTC))
    typer.echo(f"{n} stock row(s) loaded from {file}")


@pack_app.command("confirm")
def pack_confirm(file: Annotated[Path, typer.Argument(help="Pack confirmation (JSON or CSV).")],
                 partner: Annotated[str | None, typer.Option(help="The partner (needed when several exist).")]
                 = None) -> None:
    """Apply a pack confirmation: checks against the sent 855s, then the 856 into the outbox.

    The 856 is delivered by the next cycle (or `edi daemon --once`) through the PO's connector.
    """
    from edi.jobs import open_service  # noqa: PLC0415
    from edi.pipeline import outbound  # noqa: PLC0415
    from edi.pipeline.records import ExceptionEntry  # noqa: PLC0415

    root = _root()
    settings = _partner_settings(partner)
    svc = open_service(root)
    ctx = svc.runtime.context(settings.partner)
    disposition = outbound.confirm_pack(ctx, file.read_bytes(), file.name)
    typer.echo(f"{file}: {disposition}")
    if disposition not in ("shipped", "duplicate"):
        from sqlalchemy import select  # noqa: PLC0415

        from edi.store.pipeline_tables import exception_log as t  # noqa: PLC0415

        with svc.engine.connect() as conn:
            for r in conn.execute(select(t).where(t.c.status == "open", t.c.kind.in_(
                    ["PACK_INVALID", "PACK_MISMATCH", "PACK_WAITING", "OUTBOUND_FORBIDDEN_CHAR"])).order_by(t.c.id)):
                typer.echo(f"  {r.kind}: {printable(r.message)}" + (f"\n    hint: {r.hint}" if r.hint else ""))
        del ExceptionEntry
    raise typer.Exit(EXIT_OK if disposition in ("shipped", "duplicate") else EXIT_REJECTED)


@app.command("explain")
def explain_cmd(code: Annotated[str, typer.Argument(help="A finding code, e.g. SE_SEGMENT_COUNT.")]) -> None:
    """Explain a finding code: what it means and what to do."""
    try:
        info = explain(code.upper())
    except KeyError:
        known = ", ".join(sorted(CODES))
        typer.echo(f"unknown code {code!r}; known codes: {known}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"{info.code} ({info.dotted}): {info.summary}\nhint: {info.hint}")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema (back up first)."""
    engine = _engine(data_dir)
    typer.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


from edi.cli import connectors as _connectors  # noqa: E402, F401 - registers connectors list|test, as2 serve
from edi.cli import orders as _orders  # noqa: E402, F401 - registers the po, report and partner commands
from edi.cli import service as _service  # noqa: E402, F401 - registers init, demo, daemon, status, check-config


def main() -> None:
    """Console entry point: run the app, turning our errors into one line and exit code 2."""
    try:
        app()
    except EdiError as exc:
        typer.echo(f"error: {exc.code} {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        from sqlalchemy.exc import ArgumentError, DBAPIError  # noqa: PLC0415

        if isinstance(exc, ArgumentError):
            typer.echo(f"error: DATABASE_URL the database URL is not valid ({exc}); set EDI_DATABASE_URL or "
                       "database_url in edi.yaml to postgresql+psycopg://user@host/db, or leave it empty for "
                       "SQLite", err=True)
            sys.exit(EXIT_USAGE)
        if isinstance(exc, DBAPIError):
            first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
            typer.echo(f"error: DATABASE_UNAVAILABLE {first[:300]}; check that the server runs, the database "
                       "exists and the URL (EDI_DATABASE_URL / database_url) is right", err=True)
            sys.exit(EXIT_USAGE)
        raise
