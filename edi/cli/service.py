"""``edi init``, ``edi demo``, ``edi daemon``, ``edi status`` and ``edi check-config``: the service's faces."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from edi.cli import _STATE, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, _root, app


def _configure_logs(root: Any | None = None) -> None:
    from edi import events  # noqa: PLC0415

    fmt = _STATE.get("log_format") or (root.settings.log_format if root is not None else "auto")
    events.configure(str(fmt), root.settings.log_level if root is not None else "info")


@app.command("init")
def init(target: Annotated[Path, typer.Argument(help="Folder for the new config root (created if missing).")],
         force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False) -> None:
    """Write a working config root: the Amazon partner, a folder connector (drop/in, drop/out), schedules.

    Example: edi init /srv/edi && edi --config /srv/edi check-config
    """
    from edi.scaffold import init_root  # noqa: PLC0415

    written = init_root(target, force=force)
    typer.echo(f"wrote {len(written)} file(s) under {target.resolve()}; next: edi --config {target} check-config")


@app.command("check-config")
def check_config() -> None:
    """Validate the whole config root: settings, partners, mappings and tables, connectors, schedules.

    Every problem is printed as file:line:col: CODE message; exit 1 when there is any.
    """
    from edi.config.loader import YamlError  # noqa: PLC0415
    from edi.config.service import load_root, root_from  # noqa: PLC0415
    from edi.mapping import lint_mapping  # noqa: PLC0415

    try:
        root = load_root(root_from(_STATE["config"]))
    except YamlError as exc:
        for f in exc.findings:
            typer.echo(f.one_line() + (f"\n  hint: {f.hint}" if f.hint else ""), err=True)
        typer.echo(f"{len(exc.findings)} problem(s)", err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    problems = 0
    for p in root.partners.values():
        for mapping in sorted(p.mappings_dir.glob("*.yaml")):
            if mapping.name == "partner.yaml":
                continue
            for finding in lint_mapping(mapping):
                problems += 1
                typer.echo(finding.one_line(), err=True)
    typer.echo(f"{root.root}: {len(root.partners)} partner(s) ({', '.join(sorted(root.partners))}), "
               f"{len(root.connectors)} connector(s), {len(root.jobs)} job(s), {problems} problem(s)")
    raise typer.Exit(EXIT_OK if problems == 0 else EXIT_REJECTED)


@app.command("daemon")
def daemon(once: Annotated[bool, typer.Option("--once", help="Run every job once, then exit.")] = False) -> None:
    """Run the jobs of schedules/*.yaml until SIGTERM or SIGINT (which finish the current step, exit 0).

    Example: edi --config /srv/edi daemon     (or: edi daemon --once from cron)
    """
    from edi import daemon as service_daemon  # noqa: PLC0415
    from edi.jobs import open_service  # noqa: PLC0415

    root = _root()
    _configure_logs(root)
    if not root.jobs:
        typer.echo(f"no jobs in {root.root / 'schedules'}: nothing to run", err=True)
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(service_daemon.run(open_service(root), once=once))


@app.command("demo")
def demo(root_dir: Annotated[Path | None, typer.Option(
        "--root", help="Config root to run the demo in (created with `edi init` if missing); default: a new "
                       "temporary folder.", show_default=False)] = None) -> None:
    """The whole flow on the embedded default: sample 850s in; 997s, sales orders, 855s and 856s out.

    It runs the same jobs the daemon runs (poll, process, acknowledge, ship, deliver, deadlines) on
    a config root: the sample files are dropped into its drop/in once, stock is loaded once, and
    every run after the first changes nothing.
    """
    from edi.config.service import load_root  # noqa: PLC0415
    from edi.scaffold import demo_samples, init_root  # noqa: PLC0415

    if root_dir is None:
        root_dir = Path(tempfile.mkdtemp(prefix="edi-demo-"))
    root_dir = root_dir.expanduser().resolve()
    if not (root_dir / "edi.yaml").exists():
        init_root(root_dir)
    root = load_root(root_dir)
    _configure_logs(root)
    _seed(root, demo_samples())
    from edi import jobs  # noqa: PLC0415

    svc = jobs.open_service(root)
    _load_stock(svc, demo_samples() / "stock.csv")
    before = _written(root)
    jobs.cycle(svc)
    jobs.deadlines(svc)
    _summary(svc, root, sorted(_written(root) - before))


def _seed(root: Any, samples: Path) -> None:
    """Copy the sample 850s into the first folder connector's inbound folder and the packs into the IMS's, once."""
    marker = root.data_dir / ".demo-seeded"
    if marker.exists():
        return
    folder = next((c for c in root.connectors.values() if c.spec.kind == "folder" and c.spec.folder), None)
    if folder is None:
        typer.echo("the demo needs a folder connector in connectors/", err=True)
        raise typer.Exit(EXIT_USAGE)
    inbound = root.path(folder.spec.folder.inbound_dir)
    inbound.mkdir(parents=True, exist_ok=True)
    for f in sorted((samples / "inbound").iterdir()):
        shutil.copyfile(f, inbound / f.name)
    packs = root.path(root.settings.ims.packs_dir)
    packs.mkdir(parents=True, exist_ok=True)
    for f in sorted((samples / "pack").iterdir()):
        shutil.copyfile(f, packs / f.name)
    root.data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("sample files copied once\n", encoding="utf-8")


def _load_stock(svc: Any, stock_file: Path) -> None:
    from sqlalchemy import func, select  # noqa: PLC0415

    from edi.pipeline.ims import EmbeddedIms  # noqa: PLC0415
    from edi.store import transaction  # noqa: PLC0415
    from edi.store.pipeline_tables import stock  # noqa: PLC0415

    if not isinstance(svc.runtime.partners[next(iter(svc.runtime.partners))].ims, EmbeddedIms):
        return
    with transaction(svc.engine) as conn:
        if not conn.execute(select(func.count()).select_from(stock)).scalar():
            EmbeddedIms().import_stock(conn, stock_file, svc.clock())


def _written(root: Any) -> set[Path]:
    out: set[Path] = set()
    for c in root.connectors.values():
        if c.spec.kind == "folder" and c.spec.folder:
            base = root.path(c.spec.folder.outbound_dir)
            if base.exists():
                out |= {p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")}
    return out


def _summary(svc: Any, root: Any, written: list[Path]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from sqlalchemy import func, select  # noqa: PLC0415

    from edi.store.pipeline_tables import (  # noqa: PLC0415
        exception_log,
        inbound_duplicate,
        inbound_file,
        outbox,
        purchase_order,
    )
    from edi.transports.base import printable  # noqa: PLC0415

    console = Console()
    with svc.engine.connect() as conn:
        pos = conn.execute(select(purchase_order).order_by(purchase_order.c.id)).all()
        excs = conn.execute(select(exception_log).where(exception_log.c.status == "open")
                            .order_by(exception_log.c.id)).all()
        docs = conn.execute(select(outbox.c.kind, func.count()).group_by(outbox.c.kind)).all()
        files = conn.execute(select(inbound_file.c.disposition, func.count()).group_by(inbound_file.c.disposition)
                             ).all()
        dups = conn.execute(select(func.count()).select_from(inbound_duplicate)).scalar() + conn.execute(
            select(func.count()).select_from(exception_log).where(exception_log.c.status == "info")).scalar()
    t = Table(title="Purchase orders")
    for col in ("PO", "rev", "state", "hot", "lines", "855 due (UTC)"):
        t.add_column(col)
    for r in pos:
        lines = len(json.loads(r.canonical).get("PO1_loop", []))
        t.add_row(r.po_number, str(r.revision), r.state, "yes" if r.hot else "", str(lines),
                  f"{r.deadline_855_at:%Y-%m-%d %H:%M}")
    console.print(t)
    e = Table(title="Open exceptions")
    for col in ("id", "kind", "PO", "line", "message", "hint"):
        e.add_column(col, overflow="fold")
    for x in excs:
        e.add_row(str(x.id), x.kind, x.po_number or "", x.line_number or "", printable(x.message), x.hint)
    console.print(e)
    if written:
        f = Table(title="Files delivered this run")
        for col in ("kind", "file", "bytes"):
            f.add_column(col)
        for path in written:
            f.add_row(path.parent.name, str(path.relative_to(root.root)), f"{path.stat().st_size:,}")
        console.print(f)
    console.print(f"config root: {root.root}")
    console.print("inbound files: " + ", ".join(f"{n} {d}" for d, n in sorted(files))
                  + f"; {dups} duplicate(s) with no effect")
    console.print("outbox: " + ", ".join(f"{n} x {k}" for k, n in sorted(docs))
                  + f"; delivered this run: {len(written)} file(s)")
    console.print(f"next: edi --config {root.root} status   |   edi --config {root.root} po show 3K7QW2PE")


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Daemons and heartbeats, connectors (last poll, success, error), outbox per destination, POs nearest
    their 855 deadline, open exceptions by kind."""
    from edi.cli import _engine  # noqa: PLC0415
    from edi.reports_status import collect  # noqa: PLC0415
    from edi.transports.base import printable  # noqa: PLC0415

    root = _root()
    with _engine(create=False).connect() as conn:
        body = collect(conn, root)
    if as_json:
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    def when(t: Any) -> str:
        """A time for people: to the second, in UTC, or '-'."""
        return "-" if t is None else t.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(t, "strftime") else str(t)

    typer.echo(f"config root {root.root}")
    typer.echo("daemons:" + ("" if body["daemons"] else " none running"))
    for d in body["daemons"]:
        state = (f"stopped {when(d['stopped_at'])}" if d["stopped_at"] else "running" if d["alive"]
                 else "SILENT (no heartbeat for a minute)")
        typer.echo(f"  {d['id']}  heartbeat {when(d['heartbeat_at'])}  {state}")
    typer.echo("connectors:")
    for c in body["connectors"]:
        typer.echo(f"  {c['connector']:20} {c['kind']:6} partner {c['partner']:10} last poll {when(c['last_poll_at'])}"
                   f"  last success {when(c['last_success_at'])}  files {c['files_taken']}"
                   + (f"\n    last error {when(c['last_error_at'])}: {printable(c['last_error'])}"
                      if c["last_error"] else ""))
        for cert in c.get("certificates", []):
            typer.echo(f"    certificate: {cert['error']}" if cert["error"] else
                       f"    {cert['which']:17} expires {cert['not_after']:%Y-%m-%d %H:%M} UTC "
                       f"({cert['days_left']} day(s))" + ("  EXPIRING: renew and exchange it" if cert["expiring"]
                                                          else ""))
    typer.echo("outbox (unsent per destination):" + ("" if body["outbox"] else " empty"))
    for o in body["outbox"]:
        typer.echo(f"  {o['connector'] or '(any of ' + o['partner'] + ')':24} {o['kind']:4} {o['unsent']:>6} unsent"
                   + (f", {o['failing']} failing" if o["failing"] else ""))
    typer.echo("POs nearest their 855 deadline:" + ("" if body["deadlines"] else " none waiting"))
    for p in body["deadlines"]:
        typer.echo(f"  {p['partner']:10} {p['po_number']:12} {p['state']:10} due {when(p['due'])}"
                   f"{' HOT' if p['hot'] else ''}{'  OVERDUE' if p['overdue'] else ''}")
    typer.echo("open exceptions:" + ("" if body["exceptions"] else " none"))
    for k in body["exceptions"]:
        typer.echo(f"  {k['kind']:24} {k['count']:>5}")
