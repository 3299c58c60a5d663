"""``edi connectors list|test`` and ``edi as2 serve``: the connectors as operators look at them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from edi.cli import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, _root, app

connectors_app = typer.Typer(no_args_is_help=True, help="Connectors: list them, test one against its partner.")
app.add_typer(connectors_app, name="connectors")
as2_app = typer.Typer(no_args_is_help=True, help="The AS2 endpoint.")
app.add_typer(as2_app, name="as2")


def _where(spec: object) -> str:
    kind = getattr(spec, "kind", "")
    section = getattr(spec, kind, None)
    if kind == "folder" and section is not None:
        return f"{section.inbound_dir} -> {section.outbound_dir}"
    if isinstance(section, dict):
        if kind == "sftp":
            return (f"sftp://{section.get('username', '?')}@{section.get('host', '?')}:{section.get('port', 22)} "
                    f"{section.get('inbound_dir', '?')} -> {section.get('outbound_dir', '?')}")
        if kind == "as2":
            return f"{section.get('as2_id', '?')} <-> {section.get('partner_as2_id', '?')} {section.get('partner_url')}"
    return ""


@connectors_app.command("list")
def connectors_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every connector of the config root: name, kind, partner, enabled, where it takes from and delivers to."""
    root = _root()
    rows = [{"connector": c.name, "kind": c.spec.kind, "partner": c.spec.partner, "enabled": c.spec.enabled,
             "where": _where(c.spec), "file": str(c.file)} for _, c in sorted(root.connectors.items())]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no connectors in {root.root / 'connectors'}")
        return
    for r in rows:
        typer.echo(f"{r['connector']:24} {r['kind']:6} partner {r['partner']:12} "
                   f"{'enabled ' if r['enabled'] else 'DISABLED'} {r['where']}")


@connectors_app.command("test")
def connectors_test(name: Annotated[str, typer.Argument(help="The connector's name (see `edi connectors list`).")]
                    ) -> None:
    """Reach the connector's partner as the daemon would and show what is waiting; nothing is taken or sent.

    sftp: logs in (host key checked against the pin first), lists inbound_dir, looks at outbound_dir.
    folder: lists inbound_dir. as2: loads the key and certificates (shows their expiry) and opens a
    TCP connection to partner_url. Exit 0 when the connector works, 1 with a one-line error when not.
    """
    from edi.connector_check import check_connector  # noqa: PLC0415

    root = _root()
    if name not in root.connectors:
        typer.echo(f"error: CFG_UNKNOWN_CONNECTOR unknown connector {name!r} (known: "
                   f"{', '.join(sorted(root.connectors)) or 'none'})", err=True)
        raise typer.Exit(EXIT_USAGE)
    report = check_connector(root, root.connectors[name], now=datetime.now(UTC))
    for line in report.lines():
        typer.echo(line)
    if report.problem is not None:
        typer.echo(f"error: {report.problem.code} {name}: {report.problem}".replace("\n", " "), err=True)
        raise typer.Exit(EXIT_REJECTED)
    typer.echo("ok: nothing was taken, moved or sent")
    raise typer.Exit(EXIT_OK)


@as2_app.command("serve")
def as2_serve(listen: Annotated[str | None, typer.Option(
        "--listen", help="HOST:PORT to listen on (default: as2_listen of edi.yaml).", show_default=False)] = None,
              ) -> None:
    """Serve the AS2 endpoint in this process, until SIGTERM or SIGINT (exit 0).

    For deployments that run the endpoint apart from the daemon: set as2_in_daemon: false in
    edi.yaml so `edi daemon` does not also listen. Messages are stored in the ledger before the
    MDN is sent; the daemon's process job takes them from there.
    """
    from edi import daemon as service_daemon  # noqa: PLC0415
    from edi import events  # noqa: PLC0415
    from edi.as2_endpoint import as2_connectors, start_endpoint  # noqa: PLC0415
    from edi.cli.service import _configure_logs  # noqa: PLC0415
    from edi.jobs import open_service  # noqa: PLC0415

    root = _root()
    _configure_logs(root)
    if not as2_connectors(root):
        typer.echo(f"no enabled AS2 connector (kind: as2) in {root.root / 'connectors'}: nothing to serve", err=True)
        raise typer.Exit(EXIT_USAGE)
    svc = open_service(root)
    previous = service_daemon._on_signals(svc.stopping)
    try:
        endpoint = start_endpoint(svc, listen=listen)
        if endpoint is None:
            typer.echo("error: AS2_ENDPOINT no AS2 connector has usable keys; nothing to serve; hint: `edi connectors "
                       "test NAME` shows what is wrong with each", err=True)
            raise typer.Exit(EXIT_REJECTED)
        try:
            while not svc.stopping.wait(1.0):
                if not endpoint.alive:
                    events.daemon_event("as2_endpoint_died")
                    raise typer.Exit(EXIT_REJECTED)
        finally:
            endpoint.stop()
    finally:
        service_daemon._restore(previous)
    raise typer.Exit(EXIT_OK)
