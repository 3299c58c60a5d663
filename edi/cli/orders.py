"""``edi po``, ``edi report`` and ``edi partner``: what support staff use to follow and unstick POs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edi.cli import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, DataDir, _engine, _partner_settings, _root, app

po_app = typer.Typer(no_args_is_help=True, help="Purchase orders: show one's history, replay a held one.")
app.add_typer(po_app, name="po")
report_app = typer.Typer(no_args_is_help=True, help="Reports.")
app.add_typer(report_app, name="report")
partner_app = typer.Typer(no_args_is_help=True, help="Trading-partner settings (partner.yaml).")
app.add_typer(partner_app, name="partner")

Partner = Annotated[str | None, typer.Option("--partner", help="The partner (needed when the root has several).",
                                             show_default=False)]


@po_app.command("show")
def po_show(po_number: Annotated[str, typer.Argument(help="Vendor Central PO number (BEG03).")],
            data_dir: DataDir = None, partner: Partner = None,
            as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Why a PO is where it is: every version, state transitions, line trail and exceptions.

    Example: edi po show 3K7QW2PE
    """
    from edi.pipeline.reports import po_story  # noqa: PLC0415

    partner = _partner_settings(partner).partner
    with _engine(data_dir, create=False).connect() as conn:
        story = po_story(conn, partner, po_number)
    if not story:
        typer.echo(f"no PO {po_number} for partner {partner}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if as_json:
        typer.echo(json.dumps(story, indent=2))
        return
    for v in story:
        typer.echo(f"PO {v['po_number']} revision {v['revision']}: {v['state']}{' (hot)' if v['hot'] else ''}; "
                   f"received {v['received_at']}, 855 due {v['deadline_855_at']}")
        for t in v["transitions"]:
            typer.echo(f"  {t['at']}  {t['from'] or '-':>12} -> {t['to']:<12} {t['reason']}")
        for t in v["trail"]:
            typer.echo(f"  line {t['line']:>4} {t['stage']:<12} {t['detail']}")
        for d in v["documents"]:
            sent = f"sent {d['sent_at']}" if d["sent_at"] else "not sent yet"
            fa = f"; partner's 997: {d['partner_997']}" if d["partner_997"] else ""
            typer.echo(f"  {d['kind']:>4} {d['file']} (ISA13 {d['isa13']}): {sent}{fa}")
        for x in v.get("exceptions", []):
            done = f" (resolved by {x['resolved_by']}: {x['resolution']})" if x["status"] == "resolved" else ""
            typer.echo(f"  exception {x['id']} {x['status']} {x['kind']}"
                       f"{' line ' + x['line'] if x['line'] else ''}: {x['message']}{done}")
            if x["status"] == "open" and x["hint"]:
                typer.echo(f"    hint: {x['hint']}")


@po_app.command("replay")
def po_replay(po_number: Annotated[str, typer.Argument(help="Vendor Central PO number (BEG03).")],
              note: Annotated[str, typer.Option("--note", help="What was fixed (required; goes into the log).")],
              by: Annotated[str, typer.Option("--by", help="Who replays it.", envvar="USER")] = "operator",
              partner: Partner = None) -> None:
    """Replay a held PO after fixing its cause: re-map, re-allocate or re-check, never duplicate.

    Only this PO moves on (its 855 and a waiting 856 of its own); its documents are delivered through
    its connector right away. Example: edi po replay 3K7QW2PE --note "added UPC to sku-xref.csv"
    """
    from sqlalchemy import select  # noqa: PLC0415

    from edi import jobs  # noqa: PLC0415
    from edi.pipeline import outbound, support  # noqa: PLC0415
    from edi.pipeline.support import ReplayRefusedError  # noqa: PLC0415
    from edi.store.pipeline_tables import purchase_order as po  # noqa: PLC0415

    if not note.strip():
        typer.echo("--note must say what was fixed", err=True)
        raise typer.Exit(EXIT_USAGE)
    svc = jobs.open_service(_root())
    ctx = svc.runtime.context(_partner_settings(partner).partner)
    try:
        outcome = support.replay(ctx, po_number, by, note)
    except ReplayRefusedError as exc:
        typer.echo(f"PO {po_number}: not replayed: {exc}", err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    with svc.engine.connect() as conn:
        row = conn.execute(select(po.c.id, po.c.revision).where(po.c.partner == ctx.partner,
                                                                 po.c.po_number == po_number)
                           .order_by(po.c.revision.desc())).first()
    subjects: list[str] = []
    if row is not None:
        outbound.acknowledge(ctx, po_id=row.id)
        subjects = [f"{po_number}/{row.revision}"]
        subjects += [sid for sid, _ in outbound.retry_waiting_packs(ctx, po_number=po_number)]
    sent = jobs.deliver_subjects(svc, ctx.partner, subjects)  # this PO's documents only, nothing else
    typer.echo(f"PO {po_number}: {outcome}" + (f"\n{sent} document(s) delivered" if sent else ""))
    raise typer.Exit(EXIT_REJECTED if outcome.startswith("still held") else EXIT_OK)


@report_app.command("fill-rate")
def report_fill_rate(data_dir: DataDir = None, partner: Partner = None,
                     hot: Annotated[bool, typer.Option("--hot", help="Only hot POs.")] = False,
                     as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
                     ) -> None:
    """Fill rate per acknowledged PO and overall: units accepted and shipped / units requested."""
    from edi.mapping import load_mapping  # noqa: PLC0415
    from edi.mapping.views import accepted_codes  # noqa: PLC0415
    from edi.pipeline.reports import fill_rates  # noqa: PLC0415

    settings = _partner_settings(partner)
    codes = {k: str(v) for k, v in load_mapping(settings.mappings_dir / "sales_order_to_855.yaml").spec.constants
             .items()}
    with _engine(data_dir, create=False).connect() as conn:
        rates = fill_rates(conn, settings.partner, accepted_codes(codes), hot_only=hot)
    req = sum(r.requested for r in rates)
    acc = sum(r.accepted for r in rates)
    shp = sum(r.shipped for r in rates)
    filled = sum(r.filled for r in rates)
    if as_json:
        typer.echo(json.dumps({"pos": [{"po_number": r.po_number, "hot": r.hot, "requested": r.requested,
                                        "accepted": r.accepted, "shipped": r.shipped, "filled": r.filled,
                                        "fill_rate": round(r.rate, 4), "ack_rate": round(r.ack_rate, 4)}
                                       for r in rates],
                               "overall": {"requested": req, "accepted": acc, "shipped": shp, "filled": filled,
                                           "fill_rate": round(filled / req, 4) if req else None}}, indent=2))
        return
    typer.echo(f"{'PO':12} {'hot':3} {'requested':>9} {'accepted':>9} {'shipped':>9} {'fill':>7} {'ack':>7}")
    for r in rates:
        typer.echo(f"{r.po_number:12} {'hot' if r.hot else '':3} {r.requested:>9} {r.accepted:>9} {r.shipped:>9} "
                   f"{r.rate:7.1%} {r.ack_rate:7.1%}")
    if req:
        typer.echo(f"{'overall':12} {'':3} {req:>9} {acc:>9} {shp:>9} {filled / req:7.1%} {acc / req:7.1%}")


@partner_app.command("check")
def partner_check(partner_dir: Annotated[Path | None, typer.Argument(
        help="The partner's mappings folder (default: every partner of the config root).", show_default=False)]
        = None) -> None:
    """Validate partner.yaml (every problem with file:line:col) and show the settings in effect."""
    from edi.config.loader import YamlError  # noqa: PLC0415
    from edi.config.partner import PartnerSettings  # noqa: PLC0415

    if partner_dir is None:
        for each in _root().partners.values():
            partner_check(each.mappings_dir)
        return
    try:
        s = PartnerSettings.load(partner_dir)
    except YamlError as exc:
        for f in exc.findings:
            typer.echo(f.one_line() + (f"\n  hint: {f.hint}" if f.hint else ""), err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    typer.echo(f"partner {s.partner}: 855 due {s.deadline_hours} h after the 850 (alarm at {s.alarm_hours} h); "
               f"backorders {s.backorders}; price mismatch {s.price_mismatch}; unknown items rejected at "
               f"{s.reject_unknown_items_at_hours or 'off'} h; "
               f"hot POs: order types {', '.join(s.hot_order_types) or 'none'}, "
               f"ship window <= {s.hot_window_days} day(s), list {s.hot_list_file or 'none'} "
               f"({len(s.hot_list())} PO(s)); 856 version {s.asn_version}; test interchanges {s.test_interchanges}")
