"""The service as operators run it: a config root from `edi init`, the daemon in a subprocess, two workers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from edi.config.service import load_root
from edi.jobs import cycle, open_service
from edi.scaffold import demo_samples, init_root
from edi.store import open_engine
from edi.store.pipeline_tables import exception_log, inbound_file, outbox, purchase_order
from tests.store.conftest import pg_cluster, pg_database_url  # noqa: F401 - fixtures

SAMPLES = demo_samples()


def edi(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "edi", "--config", str(root), *args], cwd="/", env=e,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _root(tmp: Path, *, stock: bool = True) -> Path:
    root = tmp / "root"
    init_root(root)
    (root / "schedules" / "default.yaml").write_text(
        "jobs:\n  cycle: {job: cycle, every_seconds: 0.5}\n  deadlines: {job: deadlines, every_seconds: 60}\n")
    if stock:
        assert edi(root, "stock", "import", str(SAMPLES / "stock.csv")).returncode == 0
    return root


def _drop(root: Path, *names: str) -> None:
    for n in names:
        shutil.copyfile(SAMPLES / "inbound" / n, root / "drop" / "in" / n)


def _counts(url: str | None, data: Path) -> dict[str, object]:
    engine = open_engine(url, data_dir=data)
    with engine.connect() as conn:
        out = {
            "pos": sorted((r.po_number, r.revision, r.state) for r in conn.execute(select(purchase_order))),
            "outbox": sorted((r.kind, r.subject) for r in conn.execute(select(outbox))),
            "files": conn.execute(select(func.count()).select_from(inbound_file)).scalar(),
            "dispositions": sorted(r.disposition for r in conn.execute(select(inbound_file.c.disposition))),
            "exceptions": sorted((r.kind, r.po_number or "", r.status) for r in conn.execute(select(exception_log))),
            "internal": conn.execute(select(func.count()).select_from(exception_log).where(
                exception_log.c.kind == "INTERNAL_ERROR")).scalar(),
        }
    engine.dispose()
    return out


def test_init_root_runs_from_any_directory_and_check_config_finds_problems(tmp_path: Path) -> None:
    """`edi init` writes a root that validates; a broken connector is reported as file:line:col, exit 1."""
    root = _root(tmp_path, stock=False)
    ok = edi(root, "check-config")
    assert ok.returncode == 0, ok.stderr
    assert "1 partner(s) (amazon), 1 connector(s)" in ok.stdout
    (root / "connectors" / "bad.yaml").write_text("connector: bad\npartner: nobody\nkind: sftpp\n")
    bad = edi(root, "check-config")
    assert bad.returncode == 1
    assert "bad.yaml:3:7: CFG_INVALID kind" in bad.stderr
    assert not (tmp_path / "data").exists() and not Path("/data").exists()


def test_daemon_delivers_997_and_855_survives_sigterm_and_restart(tmp_path: Path) -> None:
    """Drop 850s; the daemon delivers 997s and 855s; SIGTERM exits 0; after a restart nothing is lost or doubled."""
    root = _root(tmp_path)
    _drop(root, "01_single_line.edi", "02_multi_line.edi", "03_rush_order.edi")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")}
    proc = subprocess.Popen([sys.executable, "-m", "edi", "--config", str(root), "--log-format", "json", "daemon"],
                            cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        out855 = root / "drop" / "out" / "855"
        while time.monotonic() < deadline and len(list(out855.glob("*.edi"))) < 3:
            time.sleep(0.2)
        _drop(root, "04_asin_only.edi", "06_partial_fill.edi")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert '"event": "daemon_stopped"' in err and '"event": "job_finished"' in err
    again = edi(root, "daemon", "--once")
    assert again.returncode == 0, again.stderr[-2000:]
    state = _counts(None, root / "data")
    assert [p[0] for p in state["pos"]] == ["3K7QW2PA", "3K7QW2PB", "3K7QW2PC", "3K7QW2PD", "3K7QW2PF"]
    assert all(p[2] == "acknowledged" for p in state["pos"])
    assert [k for k, _ in state["outbox"]].count("855") == 5 and [k for k, _ in state["outbox"]].count("997") == 5
    assert len(list((root / "drop" / "out" / "855").glob("*.edi"))) == 5
    assert len(list((root / "drop" / "out" / "997").glob("*.edi"))) == 5
    assert sorted(p.name for p in (root / "drop" / "in" / "done").iterdir()) == sorted(
        ["01_single_line.edi", "02_multi_line.edi", "03_rush_order.edi", "04_asin_only.edi", "06_partial_fill.edi"])
    assert state["internal"] == 0
    status = edi(root, "status")
    assert status.returncode == 0 and "amazon_folder" in status.stdout


def test_sqlite_refuses_a_second_daemon(tmp_path: Path) -> None:
    """Two daemons on one SQLite data directory: the second is refused with a clear message and exit 2."""
    root = _root(tmp_path, stock=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")}
    first = subprocess.Popen([sys.executable, "-m", "edi", "--config", str(root), "daemon"], cwd="/", env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = root / "data" / "daemon.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.1)
        second = edi(root, "daemon", "--once")
        assert second.returncode == 2
        assert "DAEMON_RUNNING" in second.stderr and "PostgreSQL" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 0


def test_files_that_are_not_x12_get_a_typed_disposition_and_the_rest_goes_on(tmp_path: Path) -> None:
    """Empty, binary and UTF-16 files: rejected/ with a note, NOT_X12/EMPTY_FILE entries, no 997; good files flow."""
    root = _root(tmp_path)
    inbox = root / "drop" / "in"
    (inbox / "empty.edi").write_bytes(b"")
    (inbox / "binary.edi").write_bytes(bytes(range(256)) * 4)
    (inbox / "utf16.edi").write_bytes((SAMPLES / "inbound" / "01_single_line.edi").read_text().encode("utf-16"))
    (inbox / ".partial.tmp").write_bytes(b"ISA*")
    _drop(root, "02_multi_line.edi")
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    cycle(svc)
    state = _counts(None, root / "data")
    assert [p[0] for p in state["pos"]] == ["3K7QW2PB"] and state["internal"] == 0
    assert [k for k, _ in state["outbox"]].count("997") == 1
    rejected = sorted(p.name for p in (inbox / "rejected").iterdir())
    assert rejected == ["binary.edi", "binary.edi.error", "empty.edi", "empty.edi.error", "utf16.edi",
                        "utf16.edi.error"]
    assert (inbox / ".partial.tmp").exists()
    with svc.engine.connect() as conn:
        kinds = sorted(r.kind for r in conn.execute(select(exception_log).where(exception_log.c.status == "open"))
                       if r.kind in ("NOT_X12", "EMPTY_FILE", "INVALID_ENCODING"))
        dispositions = sorted(r.disposition for r in conn.execute(select(inbound_file)))
    assert len(kinds) == 3 and "EMPTY_FILE" in kinds
    assert dispositions == ["not_x12", "not_x12", "not_x12", "processed"]


def test_a_second_partner_is_routed_by_its_isa_ids_and_unknown_senders_are_kept_aside(tmp_path: Path) -> None:
    """A copy of the Amazon partner under other ISA ids gets its own POs; an unknown sender is UNKNOWN_PARTNER."""
    root = _root(tmp_path)
    other = root / "mappings" / "acme"
    shutil.copytree(root / "mappings" / "amazon", other)
    text = (other / "partner.yaml").read_text().replace("partner: amazon", "partner: acme").replace(
        "partner_ids: [ZZ/AMAZON]", "partner_ids: [ZZ/ACMEBUYER]")
    (other / "partner.yaml").write_text(text)
    one = (SAMPLES / "inbound" / "01_single_line.edi").read_text()
    (root / "drop" / "in" / "acme.edi").write_text(one.replace("ZZ*AMAZON         ", "ZZ*ACMEBUYER      ")
                                                   .replace("*AMAZON*", "*ACMEBUYER*"))
    (root / "drop" / "in" / "stranger.edi").write_text(
        (SAMPLES / "inbound" / "02_multi_line.edi").read_text().replace("ZZ*AMAZON         ", "ZZ*STRANGER       "))
    _drop(root, "03_rush_order.edi")
    assert edi(root, "check-config").returncode == 0
    svc = open_service(load_root(root))
    svc.sleep = lambda _s: None
    cycle(svc)
    with svc.engine.connect() as conn:
        pos = sorted((r.partner, r.po_number) for r in conn.execute(select(purchase_order)))
        unknown = conn.execute(select(exception_log).where(exception_log.c.kind == "UNKNOWN_PARTNER")).all()
        replies = sorted((r.partner, r.kind) for r in conn.execute(select(outbox)))
    assert pos == [("acme", "3K7QW2PA"), ("amazon", "3K7QW2PC")]
    assert len(unknown) == 1 and "ZZ/STRANGER" in unknown[0].message
    assert replies == [("acme", "855"), ("acme", "997"), ("amazon", "855"), ("amazon", "997")]
    shown = edi(root, "po", "show", "3K7QW2PA")
    assert shown.returncode == 2 and "--partner" in shown.stderr
    listed = edi(root, "exceptions", "list", "--partner", "acme")
    assert listed.returncode == 0 and "UNKNOWN_PARTNER" not in listed.stdout and " amazon " not in listed.stdout
    assert "UNKNOWN_PARTNER" in edi(root, "exceptions", "list", "--partner", "amazon").stdout
    typo = edi(root, "exceptions", "list", "--kind", "SKU_MISMACH")
    assert typo.returncode == 2 and "unknown kind" in typo.stderr
    assert edi(root, "po", "show", "3K7QW2PA", "--partner", "acme").returncode == 0


def _settled(engine: object, root: Path, files: int) -> bool:
    """Every dropped file taken and processed, every document delivered, no PO waiting for its 855."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        seen = conn.execute(select(func.count()).select_from(inbound_file)).scalar()
        waiting = conn.execute(select(func.count()).select_from(inbound_file).where(
            inbound_file.c.disposition == "new")).scalar()
        unsent = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar()
        busy = conn.execute(select(func.count()).select_from(purchase_order).where(
            purchase_order.c.state.in_(["validated", "ordered", "allocated"]))).scalar()
    return seen == files and not waiting and not unsent and not busy and not list(
        (root / "drop" / "in").glob("*.edi"))


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["once", "daemons"])
def test_two_workers_on_postgresql_share_the_files_exactly_once(tmp_path: Path, pg_database_url: str,  # noqa: F811
                                                                mode: str) -> None:
    """Two workers on one PostgreSQL (two `edi daemon --once` started together, or two running daemons), three
    rounds over 210 files with byte duplicates and revisions (PO numbers reused with other content): every file
    processed once, no INTERNAL_ERROR, the final state equal to one worker's on SQLite."""
    def build(name: str) -> Path:
        root = tmp_path / name
        init_root(root)
        (root / "schedules" / "default.yaml").write_text("jobs:\n  cycle: {job: cycle, every_seconds: 1}\n")
        return root

    base = (SAMPLES / "inbound" / "01_single_line.edi").read_text()

    def files(root: Path, start: int, n: int) -> None:
        for i in range(start, start + n):
            ctl = f"{800000 + i:09d}"
            body = base.replace("000071001", ctl).replace("GS*PO*AMAZON*VENDORCO*20261116*0912*71001",
                                                          f"GS*PO*AMAZON*VENDORCO*20261116*0912*{800000 + i}")
            body = body.replace("GE*1*71001", f"GE*1*{800000 + i}").replace("3K7QW2PA", f"P{i % 150:07d}")
            (root / "drop" / "in" / f"f{i:04d}.edi").write_text(body)
        # byte-identical duplicates of the first files
        for i in range(start, start + 10):
            shutil.copyfile(root / "drop" / "in" / f"f{i:04d}.edi", root / "drop" / "in" / f"dup{i:04d}.edi")

    url = pg_database_url
    shared = build("shared")
    single = build("single")
    env = {"EDI_DATABASE_URL": url}
    assert edi(shared, "stock", "import", str(SAMPLES / "stock.csv"), env=env).returncode == 0
    penv = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")} | env
    if mode == "once":
        for r in range(3):
            files(shared, r * 70, 70)
            procs = [subprocess.Popen([sys.executable, "-m", "edi", "--config", str(shared), "daemon", "--once"],
                                      cwd="/", env=penv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
            for p in procs:
                _, err = p.communicate(timeout=300)
                assert p.returncode == 0, err[-2000:]
            assert edi(shared, "daemon", "--once", env=env).returncode == 0  # whatever a lease made one skip
    else:
        procs = [subprocess.Popen([sys.executable, "-m", "edi", "--config", str(shared), "daemon"], cwd="/",
                                  env=penv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        try:
            engine = open_engine(url)
            for r in range(3):  # a round arrives once the one before is answered, as revisions do in life
                files(shared, r * 70, 70)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and not _settled(engine, shared, 70 * (r + 1)):
                    time.sleep(0.5)
                assert _settled(engine, shared, 70 * (r + 1)), f"round {r + 1} not done in 300 s"
            engine.dispose()
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                _, err = p.communicate(timeout=120)
                assert p.returncode == 0, err[-2000:]
    got = _counts(url, shared / "data")
    assert got["internal"] == 0
    assert got["files"] == 210
    assert not list((shared / "drop" / "in").glob("*.edi"))
    # one worker, SQLite, same files: the same POs, states and documents
    assert edi(single, "stock", "import", str(SAMPLES / "stock.csv")).returncode == 0
    for r in range(3):
        files(single, r * 70, 70)
        assert edi(single, "daemon", "--once").returncode == 0
    want = _counts(None, single / "data")
    assert got["pos"] == want["pos"]
    assert got["outbox"] == want["outbox"]
    assert got["dispositions"] == want["dispositions"]
    assert got["exceptions"] == want["exceptions"]


def test_a_po_number_never_becomes_a_path_in_the_files_ims(tmp_path: Path) -> None:
    """BEG03 `AB/../CD` (valid X12) is written as one file inside the orders folder; distinct keys stay distinct."""
    from datetime import date  # noqa: PLC0415

    from edi.model import SalesOrder  # noqa: PLC0415
    from edi.pipeline.ims import FilesIms, order_file_stem  # noqa: PLC0415

    def order(po: str, partner: str = "amazon") -> SalesOrder:
        return SalesOrder.model_validate({
            "partner": partner, "vendor_central_po_number": po, "revision": 1, "order_type": "standard",
            "order_date": date(2026, 11, 16), "ship_to": "X", "lines": [
                {"line_number": "1", "sku": "S", "quantity": 1, "unit": "each", "unit_price": "1.00",
                 "product_ids": [{"qualifier": "UP", "value": "1"}]}]})

    ims = FilesIms(tmp_path / "orders", tmp_path / "allocations")
    ims.submit_order(None, order("AB/../CD"))  # type: ignore[arg-type]
    (written,) = (tmp_path / "orders").iterdir()
    assert written.name == "amazon_AB%2F%2E%2E%2FCD_1.json"
    assert order_file_stem(order("a_b")) != order_file_stem(order("b", partner="amazon_a"))


@pytest.mark.parametrize(("body", "says"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a UTF-8 text file"),
    ("sku,on_hand\nVC-1001,5\n".encode("utf-16"), "not a UTF-8 text file"),
    (b"sku,onhand\nVC-1001,5\n", ":1: unknown column(s) 'onhand'; missing column(s) on_hand"),
    (b"sku,on_hand\nVC-1001,five\n", ":2: column on_hand: 'five'"),
    (b"sku,on_hand\nVC-1001,-3\n", ":2: column on_hand: '-3'"),
    (b"sku,on_hand\nVC-1001,5\nVC-1001,6\n", ":3: SKU VC-1001 is already on line 2"),
])
def test_a_bad_stock_file_is_refused_whole_with_row_and_column(tmp_path: Path, body: bytes, says: str) -> None:
    """Every bad stock file gives one typed line naming where, exit 2, and the stock stays as it was."""
    root = _root(tmp_path)
    before = edi(root, "status", "--json").stdout
    bad = tmp_path / "stock.csv"
    bad.write_bytes(body)
    r = edi(root, "stock", "import", str(bad))
    assert r.returncode == 2 and "STOCK_FILE_INVALID" in r.stderr and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    engine = open_engine(None, data_dir=root / "data")
    from edi.store.pipeline_tables import stock  # noqa: PLC0415

    with engine.connect() as conn:
        on_hand = dict(conn.execute(select(stock.c.sku, stock.c.on_hand)).all())
    engine.dispose()
    assert on_hand["VC-1001"] > 0 and before


def test_a_bom_stock_file_loads(tmp_path: Path) -> None:
    """A UTF-8 BOM (as spreadsheet tools write) is accepted."""
    root = _root(tmp_path, stock=False)
    f = tmp_path / "stock.csv"
    f.write_bytes(b"\xef\xbb\xbfsku,on_hand,discontinued\nVC-1001,7,no\n")
    r = edi(root, "stock", "import", str(f))
    assert r.returncode == 0 and "1 stock row(s)" in r.stdout, r.stderr


def test_database_problems_are_one_line(tmp_path: Path) -> None:
    """A server that is down or a bad URL: one line with what to do, exit 2, no traceback."""
    root = _root(tmp_path, stock=False)
    down = edi(root, "status", env={"EDI_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"})
    assert down.returncode == 2 and "DATABASE_UNAVAILABLE" in down.stderr and "Traceback" not in down.stderr
    bad = edi(root, "status", env={"EDI_DATABASE_URL": "nonsense://"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_one_verdict_per_file_whatever_the_command(tmp_path: Path) -> None:
    """A PO without CSH (mandatory in Amazon's layer, optional in the standard): validate, ack and translate all
    judge it by the partner its ISA ids name, say which layer they applied, and --partner none changes all three."""
    root = _root(tmp_path, stock=False)
    text = (SAMPLES / "inbound" / "01_single_line.edi").read_text()
    body = text.replace("CSH*Y~\n", "").replace("SE*10*0001", "SE*9*0001")
    assert body != text and "SE*9*0001" in body
    f = tmp_path / "no_csh.edi"
    f.write_text(body)
    for args in (["validate", str(f)], ["ack", str(f), "--out", str(tmp_path / "acks")], ["translate", str(f)]):
        r = edi(root, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "guide layer amazon: partner amazon (ISA sender ZZ/AMAZON)" in r.stdout + r.stderr
        bare = edi(root, *args[:1], "--partner", "none", *args[1:]) if args[0] != "ack" else edi(
            root, "ack", str(f), "--out", str(tmp_path / "acks2"), "--partner", "none")
        assert bare.returncode == 0, (args, bare.stdout, bare.stderr)
    unknown = edi(root, "validate", "--partner", "amazonn", str(f))
    assert unknown.returncode == 2 and "CFG_UNKNOWN_PARTNER" in unknown.stderr


def test_a_partner_whose_files_are_hard_wrapped_sets_strip_line_breaks(tmp_path: Path) -> None:
    """A file wrapped at 80 columns is rejected as it is; with strip_line_breaks in partner.yaml the pipeline
    and `edi validate` accept it and order its PO."""
    root = _root(tmp_path)
    flat = (SAMPLES / "inbound" / "02_multi_line.edi").read_bytes().replace(b"\n", b"")
    wrapped = b"".join(flat[i:i + 80] + b"\r\n" for i in range(0, len(flat), 80))
    f = root / "drop" / "in" / "wrapped.edi"
    f.write_bytes(wrapped)
    assert edi(root, "validate", str(f)).returncode == 1
    partner = root / "mappings" / "amazon" / "partner.yaml"
    partner.write_text(partner.read_text().replace("strip_line_breaks: false", "strip_line_breaks: true"))
    ok = edi(root, "validate", str(f))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert edi(root, "daemon", "--once").returncode == 0
    state = _counts(None, root / "data")
    assert [p[0] for p in state["pos"]] == ["3K7QW2PB"]
