"""The service end to end: 850 files dropped into a folder connector -> 997s and 855s delivered by ``edi daemon``.

    python bench/daemon.py --pos 10000 --files 1000 [--poll 2] [--postgres] [--scale]

Each run makes a config root with ``edi init`` in a temporary directory, sets the ``cycle`` job's
``every_seconds`` to ``--poll``, loads stock for every SKU of ``mappings/amazon/sku-xref.csv``
(``edi stock import``), writes N Amazon-shaped 850s spread over F files into ``drop/in`` (each
file one interchange ZZ/AMAZON -> ZZ/VENDORCO, unique ISA13/GS06/ST02 and PO numbers, 1-20 lines
per PO using identifiers of the cross-reference, so every PO maps and allocates; each file written
under a dot name, then renamed, its arrival time recorded), then starts
``edi --config ROOT --log-format json daemon`` and waits until N 855s are in ``drop/out/855``.
The daemon is then stopped with SIGTERM (by its PID) and must exit 0.

Figures: POs/s from the first file's arrival to the last 855's delivery (file mtime); the 997
latency per file (the 997's mtime minus the arrival of the file whose GS06 its AK102 answers),
p50/p99; the daemon's peak RSS (VmHWM, read just before SIGTERM). ``--scale`` also runs 1,000 and
10,000 POs (same POs per file) to show whether memory stays flat. ``--postgres`` uses a throwaway
PostgreSQL cluster (tests/store/pgcluster.py, a new database per run) through EDI_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

EDI = [sys.executable, "-m", "edi"]  # the `edi` command, run by this interpreter (so the PID is the daemon's)
SENDER, RECEIVER, VENDOR_CODE = "AMAZON", "VENDORCO", "VENDC"
TARGET_POS_PER_S = 500.0  # on SQLite
RSS_FLAT_RATIO = 1.25  # "flat": the 10,000-PO peak at most this many times the 1,000-PO peak
STOCK_ON_HAND = 1_000_000_000
QTY_STEPS = (1, 2, 3, 4, 6, 8, 10, 12, 24, 36, 48)
STOP_TIMEOUT_S = 120.0


@dataclass
class Run:
    """What one run measured."""

    dialect: str
    pos: int
    files: int
    lines: int = 0
    first_arrival: float = 0.0
    last_arrival: float = 0.0
    daemon_started: float = 0.0
    last_855: float = 0.0
    n_855: int = 0
    n_997: int = 0
    ack_latency: list[float] = field(default_factory=list)
    unmatched_997: int = 0
    rss_kib: int = 0
    cpu_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    exit_code: int | None = None
    log_levels: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    not_json: list[str] = field(default_factory=list)
    cycles: list[dict] = field(default_factory=list)  # job_finished lines of cycles that did something
    problems: list[str] = field(default_factory=list)
    stderr_tail: str = ""
    started_event: float = 0.0  # the time on the daemon's own daemon_started log line

    @property
    def seconds(self) -> float:
        return self.last_855 - self.first_arrival if self.last_855 else float("nan")

    @property
    def pos_per_s(self) -> float:
        return self.pos / self.seconds if self.seconds > 0 else float("nan")


# -- the config root --------------------------------------------------------------------------------


def _edi(root: Path, *args: str, env: dict[str, str]) -> str:
    out = subprocess.run([*EDI, "--config", str(root), *args], capture_output=True, text=True, env=env,
                         check=False, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"`edi {' '.join(args)}` failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout


def make_root(root: Path, poll_s: float, env: dict[str, str]) -> None:
    """``edi init``, the cycle's interval, and stock for every SKU."""
    out = subprocess.run([*EDI, "init", str(root)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"`edi init` failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    schedule = root / "schedules" / "default.yaml"
    text = schedule.read_text(encoding="utf-8")
    new, n = re.subn(r"(?m)^(\s+job: cycle\n\s+every_seconds:)\s*[0-9.]+\s*$", rf"\g<1> {poll_s:g}", text)
    if n != 1:
        raise SystemExit(f"cannot find the cycle job's every_seconds in {schedule}:\n{text}")
    schedule.write_text(new, encoding="utf-8")
    stock = root / "bench-stock.csv"
    with stock.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "on_hand"])
        for item in _xref(root):
            w.writerow([item["sku"], STOCK_ON_HAND])
    _edi(root, "stock", "import", str(stock), env=env)


def _xref(root: Path) -> list[dict[str, str]]:
    with (root / "mappings" / "amazon" / "sku-xref.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _locations(root: Path) -> list[str]:
    with (root / "mappings" / "amazon" / "fulfillment-centers.csv").open(newline="", encoding="utf-8") as fh:
        return [row["location_id"] for row in csv.DictReader(fh)]


# -- the 850s ---------------------------------------------------------------------------------------


def _products(root: Path) -> list[tuple[str, str, str]]:
    """(qualifier, identifier, cost) for every UPC, EAN and ASIN of the cross-reference."""
    out = []
    for item in _xref(root):
        for column, qual in (("upc", "UP"), ("ean", "EN"), ("asin", "BP")):
            if item.get(column):
                out.append((qual, item[column], item["cost"]))
    return out


def _po(rng: random.Random, number: str, st02: str, products: list[tuple[str, str, str]], locations: list[str],
        today: datetime) -> tuple[list[str], int]:
    """The segments of one 850 and its number of lines."""
    n_lines = rng.randint(1, 20)
    segs = [
        f"ST*850*{st02}",
        f"BEG*00*NE*{number}**{today:%Y%m%d}",
        f"REF*CR*{VENDOR_CODE}",
        f"CSH*{rng.choice('YN')}",
        f"DTM*064*{today + timedelta(days=3):%Y%m%d}",
        f"DTM*063*{today + timedelta(days=10):%Y%m%d}",
        f"N1*ST**15*{rng.choice(locations)}",
    ]
    total = 0
    for line in range(1, n_lines + 1):
        qual, ident, cost = rng.choice(products)
        qty = rng.choice(QTY_STEPS)
        total += qty
        segs.append(f"PO1*{line}*{qty}*{rng.choice(('EA', 'EA', 'EA', 'CA'))}*{cost}*PE*{qual}*{ident}")
    segs.append(f"CTT*{n_lines}*{total}")
    segs.append(f"SE*{len(segs) + 1}*{st02}")
    return segs, n_lines


def write_files(root: Path, pos: int, files: int, seed: int) -> tuple[dict[str, float], int, list[float]]:
    """Write the 850 files into drop/in (dot name, then rename); returns GS06 -> arrival, lines, arrivals."""
    rng = random.Random(seed * 1_000_003 + pos)
    products, locations = _products(root), _locations(root)
    inbox = root / "drop" / "in"
    today = datetime.now(UTC)
    tag = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))
    base = rng.randrange(100_000, 800_000)
    arrival: dict[str, float] = {}
    times: list[float] = []
    lines = 0
    done = 0
    for f in range(files):
        count = pos // files + (f < pos % files)
        control = base + f
        gs06 = str(control)
        body = [f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*{today:%y%m%d}*{today:%H%M}"
                f"*U*00401*{control:09d}*0*P*>",
                f"GS*PO*{SENDER}*{RECEIVER}*{today:%Y%m%d}*{today:%H%M}*{gs06}*X*004010"]
        for _ in range(count):
            done += 1
            segs, n = _po(rng, f"B{tag}{done:07d}", f"{done:05d}", products, locations, today)
            body.extend(segs)
            lines += n
        body += [f"GE*{count}*{gs06}", f"IEA*1*{control:09d}"]
        name = f"850_{control:09d}.edi"
        tmp = inbox / f".{name}.tmp"
        tmp.write_text("~\n".join(body) + "~\n", encoding="ascii")
        tmp.rename(inbox / name)
        arrival[gs06] = time.time()
        times.append(arrival[gs06])
    return arrival, lines, times


# -- the daemon ----------------------------------------------------------------------------------------


def _delivered(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()]
    except FileNotFoundError:
        return []


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (a figure other processes on the machine do not inflate)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ak102(path: Path) -> str | None:
    """The group control number a 997 answers (AK1*PO*<GS06>)."""
    text = path.read_text(encoding="ascii", errors="replace")
    if len(text) < 106 or not text.startswith("ISA"):
        return None
    sep, term = text[3], text[105]
    for seg in text.split(term):
        els = seg.strip().split(sep)
        if els[0] == "AK1" and len(els) > 2:
            return els[2]
    return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen) -> int:
    """SIGTERM by PID, wait for the exit code (SIGKILL, also by PID, only if it does not stop in time)."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return -signal.SIGKILL


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[str]:
    """A temporary directory, removed afterwards unless ``keep``."""
    tmp = tempfile.mkdtemp(prefix="edi-bench-daemon-")
    try:
        yield tmp
    finally:
        if keep:
            print(f"kept {tmp} (config root, data, drop folders, daemon.stderr)", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def one_run(pos: int, files: int, *, poll_s: float, timeout_s: float, seed: int, database_url: str | None,
            keep: bool = False) -> Run:
    """Root, stock, files, daemon until every 855 is out, SIGTERM; everything in a temporary directory."""
    env = dict(os.environ)
    env.pop("EDI_CONFIG", None)
    if database_url:
        env["EDI_DATABASE_URL"] = database_url
    else:
        env.pop("EDI_DATABASE_URL", None)
    run = Run("postgresql" if database_url else "sqlite", pos, files)
    with _workdir(keep) as tmp:
        root = Path(tmp) / "root"
        make_root(root, poll_s, env)
        arrival, run.lines, times = write_files(root, pos, files, seed)
        run.first_arrival, run.last_arrival = min(times), max(times)
        out855, out997 = root / "drop" / "out" / "855", root / "drop" / "out" / "997"
        log_path = Path(tmp) / "daemon.stderr"
        with log_path.open("wb") as log:
            load_before = os.getloadavg()[0]
            run.daemon_started = time.time()
            proc = subprocess.Popen([*EDI, "--config", str(root), "--log-format", "json", "daemon"],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                deadline = time.monotonic() + timeout_s
                while True:
                    run.n_855 = len(_delivered(out855))
                    if run.n_855 >= pos:
                        break
                    if proc.poll() is not None:
                        run.problems.append(f"the daemon exited by itself with {proc.returncode} after "
                                            f"{time.time() - run.daemon_started:.1f} s ({run.n_855}/{pos} 855s)")
                        break
                    if time.monotonic() > deadline:
                        run.problems.append(f"timeout: {run.n_855}/{pos} 855s and {len(_delivered(out997))}/"
                                            f"{files} 997s after {timeout_s:g} s")
                        break
                    time.sleep(0.1)
                run.rss_kib = _vm_hwm_kib(proc.pid)
                run.cpu_s = _cpu_seconds(proc.pid)
                run.load = (load_before, os.getloadavg()[0])
            finally:
                run.exit_code = _stop(proc)
        if run.exit_code != 0:
            run.problems.append(f"the daemon exited with {run.exit_code} after SIGTERM (expected 0)")
        _collect(run, out855, out997, arrival)
        _read_log(run, log_path)
        if run.problems or run.failures:
            run.stderr_tail = _tail(log_path)
    return run


def _collect(run: Run, out855: Path, out997: Path, arrival: dict[str, float]) -> None:
    acks855 = _delivered(out855)
    run.n_855 = len(acks855)
    run.last_855 = max((p.stat().st_mtime_ns / 1e9 for p in acks855), default=0.0)
    acks997 = _delivered(out997)
    run.n_997 = len(acks997)
    seen = set()
    for p in acks997:
        gs06 = _ak102(p)
        if gs06 is None or gs06 not in arrival:
            run.unmatched_997 += 1
            continue
        if gs06 in seen:
            run.problems.append(f"a second 997 answers group {gs06} ({p.name})")
            continue
        seen.add(gs06)
        run.ack_latency.append(p.stat().st_mtime_ns / 1e9 - arrival[gs06])
    if run.n_855 != run.pos:
        run.problems.append(f"{run.n_855} 855s delivered for {run.pos} POs")
    if len(seen) != run.files:
        run.problems.append(f"{len(seen)} of {run.files} files got a matching 997 ({run.n_997} 997 files, "
                            f"{run.unmatched_997} unmatched)")


def _read_log(run: Run, path: Path) -> None:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                run.log_levels["(not json)"] += 1
                if len(run.not_json) < 3:
                    run.not_json.append(line.strip()[:300])
                continue
            if event.get("event") == "daemon_started" and not run.started_event:
                with contextlib.suppress(KeyError, ValueError):
                    run.started_event = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
            if event.get("event") == "job_finished" and event.get("job") == "cycle" and any(
                    event.get(k) for k in ("taken", "files", "acknowledged", "sent")):
                run.cycles.append(event)
            level = event.get("level", "?")
            run.log_levels[level] += 1
            if level in ("error", "critical") and len(run.failures) < 10:
                run.failures.append(line.strip()[:400])


# -- the report -----------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]  # nearest rank


def report(runs: list[Run], poll_s: float) -> bool:
    ack_target = poll_s + 2.0
    print(f"\ntargets: >= {TARGET_POS_PER_S:,.0f} POs/s end to end on SQLite; 997 p99 <= poll interval + 2 s = "
          f"{ack_target:g} s; peak RSS flat from 1,000 to 10,000 POs (<= {RSS_FLAT_RATIO:g}x)")
    head = (f"{'database':10} {'POs':>6} {'files':>5} {'lines':>7} {'e2e s':>7} {'POs/s':>7} {'target':>7} "
            f"{'997 p50':>8} {'997 p99':>8} {'target':>7} {'RSS MiB':>8} {'855s':>6} {'997s':>5} {'exit':>4}")
    print(head)
    print("-" * len(head))
    ok = True
    for r in runs:
        p50, p99 = _pct(r.ack_latency, 0.50), _pct(r.ack_latency, 0.99)
        rate_ok = r.dialect != "sqlite" or r.pos_per_s >= TARGET_POS_PER_S
        ack_ok = p99 <= ack_target
        print(f"{r.dialect:10} {r.pos:>6} {r.files:>5} {r.lines:>7} {r.seconds:>7.2f} {r.pos_per_s:>7,.0f} "
              f"{'ok' if rate_ok else 'MISS':>7} {p50:>7.2f}s {p99:>7.2f}s {'ok' if ack_ok else 'MISS':>7} "
              f"{r.rss_kib / 1024:>8.0f} {r.n_855:>6} {r.n_997:>5} {r.exit_code!s:>4}")
        ok = ok and rate_ok and ack_ok and not r.problems
    for r in runs:
        label = f"{r.dialect} {r.pos} POs"
        write_s = r.last_arrival - r.first_arrival
        run_s = r.last_855 - r.daemon_started if r.last_855 else float("nan")
        startup = f"{r.started_event - r.daemon_started:.2f} s" if r.started_event else "?"
        print(f"\n{label}: files written in {write_s:.2f} s; daemon started {r.daemon_started - r.last_arrival:.2f} s "
              f"after the last file, its daemon_started line {startup} later; daemon start -> last 855 "
              f"{run_s:.2f} s ({r.pos / run_s:,.0f} POs/s); 997 latency min "
              f"{min(r.ack_latency, default=float('nan')):.2f} s, max {max(r.ack_latency, default=float('nan')):.2f} s")
        print(f"{label}: daemon CPU {r.cpu_s:.1f} s ({r.pos / max(r.cpu_s, 1e-9):,.0f} POs per CPU second); "
              f"load average {r.load[0]:.1f} -> {r.load[1]:.1f} on {os.cpu_count()} CPUs")
        for c in r.cycles[:12]:
            counts = " ".join(f"{k}={c.get(k, '-')}" for k in ("taken", "files", "acknowledged", "sent"))
            print(f"{label}: cycle ending {c.get('timestamp', '?')[11:23]}: {c.get('duration_ms', 0) / 1000:.1f} s, "
                  f"{counts}")
        if len(r.cycles) > 12:
            print(f"{label}: ... {len(r.cycles) - 12} more cycles that did something")
        print(f"{label}: daemon log lines by level: {dict(sorted(r.log_levels.items()))}")
        for p in r.problems:
            print(f"{label}: PROBLEM: {p}")
        for line in r.not_json:
            print(f"{label}: a line of the daemon's stderr that is not JSON despite --log-format json: {line}")
        for f in r.failures:
            print(f"{label}: error logged: {f}")
        if r.stderr_tail:
            print(f"{label}: daemon stderr, last lines:\n{r.stderr_tail}")
    by_size = {(r.dialect, r.pos): r for r in runs}
    for dialect in sorted({r.dialect for r in runs}):
        small, large = by_size.get((dialect, 1_000)), by_size.get((dialect, 10_000))
        if small and large and small.rss_kib:
            ratio = large.rss_kib / small.rss_kib
            flat = ratio <= RSS_FLAT_RATIO
            ok = ok and flat
            print(f"\n{dialect} peak RSS 1,000 -> 10,000 POs: {small.rss_kib / 1024:.0f} -> {large.rss_kib / 1024:.0f} "
                  f"MiB ({ratio:.2f}x): {'flat' if flat else 'NOT flat'} (target <= {RSS_FLAT_RATIO:g}x)")
    return ok


def _sizes(args: argparse.Namespace) -> list[tuple[int, int]]:
    per_file = args.pos / args.files
    sizes = {args.pos: args.files}
    if args.scale:
        for n in (1_000, 10_000):
            sizes.setdefault(n, max(1, round(n / per_file)))
    return sorted(sizes.items())


@contextlib.contextmanager
def _databases(postgres: bool) -> Iterator[Callable[[int], str | None]]:
    if not postgres:
        yield lambda i: None
        return
    from tests.store.pgcluster import create_database, throwaway_cluster  # noqa: PLC0415

    with throwaway_cluster() as cluster:  # stopped by its PID and removed on exit
        yield lambda i: create_database(cluster, f"bench_daemon_{i}")


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pos", type=int, default=10_000, help="purchase orders (default 10000)")
    ap.add_argument("--files", type=int, default=1_000, help="files they are spread over (default 1000)")
    ap.add_argument("--poll", type=float, default=2.0, help="the cycle job's every_seconds (default 2)")
    ap.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster instead of SQLite")
    ap.add_argument("--scale", action="store_true", help="also run 1,000 and 10,000 POs to compare peak RSS")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for every 855 (default 900)")
    ap.add_argument("--seed", type=int, default=855)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories (for a look afterwards)")
    args = ap.parse_args()
    if not 1 <= args.files <= args.pos:
        ap.error("need 1 <= --files <= --pos")
    runs = []
    with _databases(args.postgres) as database_for:
        for i, (pos, files) in enumerate(_sizes(args)):
            print(f"run: {pos} POs in {files} files on {'postgresql' if args.postgres else 'sqlite'}, poll every "
                  f"{args.poll:g} s ...", file=sys.stderr, flush=True)
            runs.append(one_run(pos, files, poll_s=args.poll, timeout_s=args.timeout, seed=args.seed + i,
                                database_url=database_for(i), keep=args.keep))
    ok = report(runs, args.poll)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
