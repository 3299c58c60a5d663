"""The service over SFTP: one-PO 850 files put on a local sshd, taken by ``edi daemon``, 997s delivered back.

    python bench/sftp_daemon.py [--files 1000] [--poll 2] [--rate 0] [--stable 0.5] [--keep]

A throwaway OpenSSH sshd on 127.0.0.1 (``tests/transports/sshd.py``, stopped by its PID) holds
``in/`` and ``out/``. A config root made with ``edi init`` gets stock for every SKU, its folder
connector replaced by an SFTP connector (host key pinned, key file, ``after_take: delete``,
``stable_seconds: --stable``) and its ``cycle`` job set to every ``--poll`` seconds. The daemon
starts (``edi --config ROOT --log-format json daemon``); once it runs, N files of one Amazon-shaped
850 each (unique ISA13/GS06 and PO numbers, 1-20 lines, identifiers from the cross-reference) are
written into ``in/`` under a dot name and renamed (the connector ignores dot names), as fast as
possible (``--rate 0``) or at ``--rate`` files per second; each rename's time is the file's
arrival. When every file has its 997 in ``out/`` (and every PO its 855), SIGTERM stops the
daemon, which must exit 0.

Figures: files/s from the first arrival to the last 997 (its mtime, written by the server);
latency per file from its arrival to its 997 (matched by the group control number the 997's AK102
answers), p50/p99/max; how many 855s were delivered; the daemon's peak RSS and CPU seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.transports.sshd import SshServer, running_sshd  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_folder_daemon", REPO / "bench" / "daemon.py")
if _spec is None or _spec.loader is None:
    raise SystemExit("bench/daemon.py is missing")
folder_bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = folder_bench  # its dataclasses look their module up there
_spec.loader.exec_module(folder_bench)  # the 850 generator, root set-up and daemon helpers of bench/daemon.py

EDI = folder_bench.EDI
SENDER, RECEIVER = folder_bench.SENDER, folder_bench.RECEIVER


def _connector(root: Path, server: SshServer, stable_s: float) -> None:
    (root / "connectors" / "amazon_folder.yaml").unlink()
    (root / "connectors" / "amazon_sftp.yaml").write_text(
        "connector: amazon_sftp\npartner: amazon\nkind: sftp\n"
        f"stable_seconds: {stable_s:g}\n"
        "sftp:\n"
        f"  host: 127.0.0.1\n  port: {server.port}\n  username: {server.username}\n"
        f"  private_key_file: {server.client_key_file}\n  host_key_sha256: \"{server.host_key_sha256}\"\n"
        f"  inbound_dir: {server.remote('in')}\n  outbound_dir: {server.remote('out')}\n  after_take: delete\n",
        encoding="utf-8")


def _files(root: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """(name, text) of ``n`` one-PO interchanges; the GS06 is the name's number."""
    rng = random.Random(seed)
    products, locations = folder_bench._products(root), folder_bench._locations(root)
    today = datetime.now(UTC)
    base = rng.randrange(100_000, 800_000)
    tag = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))
    out = []
    for i in range(n):
        control = base + i
        segs, _lines = folder_bench._po(rng, f"S{tag}{i:07d}", "0001", products, locations, today)
        body = [f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*{today:%y%m%d}*{today:%H%M}"
                f"*U*00401*{control:09d}*0*P*>",
                f"GS*PO*{SENDER}*{RECEIVER}*{today:%Y%m%d}*{today:%H%M}*{control}*X*004010",
                *segs, f"GE*1*{control}", f"IEA*1*{control:09d}"]
        out.append((f"850_{control:09d}.edi", "~\n".join(body) + "~\n"))
    return out


def _put_all(server: SshServer, files: list[tuple[str, str]], rate: float) -> dict[str, float]:
    """Write each file under a dot name, then rename it into in/; returns GS06 -> arrival (time of the rename)."""
    inbox = server.data_dir / "in"
    arrival: dict[str, float] = {}
    start = time.monotonic()
    for i, (name, text) in enumerate(files):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        tmp = inbox / f".{name}.tmp"
        server.put(tmp, text.encode("ascii"))
        tmp.rename(inbox / name)
        arrival[str(int(name[4:13]))] = time.time()
    return arrival


def _st01(path: Path) -> str:
    text = path.read_text(encoding="ascii", errors="replace")
    return text.split("ST" + text[3], 1)[1][:3] if len(text) > 106 else ""


def run(n: int, poll_s: float, rate: float, stable_s: float, seed: int, timeout_s: float, keep: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDI_")}
    tmp = Path(tempfile.mkdtemp(prefix="edi-bench-sftp-daemon-"))
    result: dict = {"files": n, "poll_s": poll_s, "rate": rate or "burst", "stable_s": stable_s, "problems": []}
    try:
        with running_sshd() as server:
            server.make_dir("in")
            server.make_dir("out")
            root = tmp / "root"
            folder_bench.make_root(root, poll_s, env)
            _connector(root, server, stable_s)
            files = _files(root, n, seed)
            log_path = tmp / "daemon.stderr"
            with log_path.open("wb") as log:
                proc = subprocess.Popen([*EDI, "--config", str(root), "--log-format", "json", "daemon"],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
                try:
                    lock = root / "data" / "daemon.lock"
                    deadline = time.monotonic() + 60
                    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    arrival = _put_all(server, files, rate)
                    out = server.data_dir / "out"
                    deadline = time.monotonic() + timeout_s
                    while time.monotonic() < deadline and proc.poll() is None:
                        done = [p for p in out.iterdir() if not p.name.startswith(".") and not p.name.endswith(".part")]
                        if len(done) >= 2 * n:
                            break
                        time.sleep(0.2)
                    result["rss_mib"] = round(folder_bench._vm_hwm_kib(proc.pid) / 1024, 1)
                    result["cpu_s"] = round(folder_bench._cpu_seconds(proc.pid), 1)
                finally:
                    result["exit_code"] = folder_bench._stop(proc)
            _measure(result, server.data_dir / "out", arrival)
            result["left_in_inbox"] = len([p for p in (server.data_dir / "in").iterdir() if p.is_file()])
            if result["exit_code"] != 0:
                result["problems"].append(f"the daemon exited with {result['exit_code']} after SIGTERM")
            errors = [line for line in log_path.read_text(errors="replace").splitlines() if '"level": "error"' in line]
            if errors:
                result["problems"].append(f"{len(errors)} error log line(s), first: {errors[0][:300]}")
            if keep:
                shutil.copytree(tmp, tmp.with_name(tmp.name + "-kept"), dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _measure(result: dict, out: Path, arrival: dict[str, float]) -> None:
    latency: list[float] = []
    n855 = 0
    last997 = 0.0
    for p in out.iterdir():
        if p.name.startswith(".") or not p.is_file():
            continue
        kind = _st01(p)
        if kind == "855":
            n855 += 1
        elif kind == "997":
            gs06 = folder_bench._ak102(p)
            mtime = p.stat().st_mtime_ns / 1e9
            if gs06 in arrival:
                latency.append(mtime - arrival[gs06])
                last997 = max(last997, mtime)
    first = min(arrival.values())
    n = result["files"]
    result["997_delivered"] = len(latency)
    result["855_delivered"] = n855
    result["seconds"] = round(last997 - first, 2) if latency else None
    result["files_per_s"] = round(len(latency) / (last997 - first), 1) if latency else None
    result["latency_s"] = {"p50": round(folder_bench._pct(latency, 0.50), 2),
                           "p99": round(folder_bench._pct(latency, 0.99), 2),
                           "max": round(max(latency), 2) if latency else None}
    if len(latency) != n:
        result["problems"].append(f"{len(latency)} of {n} files got their 997")
    if n855 != n:
        result["problems"].append(f"{n855} 855s for {n} POs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=1000, help="one-PO files to put on the server (default 1000)")
    ap.add_argument("--poll", type=float, default=2.0, help="the cycle job's every_seconds (default 2)")
    ap.add_argument("--rate", type=float, default=0.0, help="files per second put on the server (0: all at once)")
    ap.add_argument("--stable", type=float, default=0.5, help="the connector's stable_seconds (default 0.5)")
    ap.add_argument("--seed", type=int, default=850)
    ap.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep a copy of the root, data and daemon log")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    r = run(args.files, args.poll, args.rate, args.stable, args.seed, args.timeout, args.keep)
    if args.json:
        print(json.dumps(r))
    else:
        lat = r["latency_s"]
        how = "all at once" if r["rate"] == "burst" else f"{r['rate']:g}/s"
        print(f"SFTP daemon: {r['files']} one-PO files ({how}), cycle every {r['poll_s']:g} s, "
              f"stable_seconds {r['stable_s']:g}")
        print(f"  997s delivered: {r['997_delivered']}/{r['files']}, 855s: {r['855_delivered']}/{r['files']}, "
              f"left on the server: {r['left_in_inbox']}")
        print(f"  throughput: {r['files_per_s']} files/s ({r['seconds']} s from the first arrival to the last 997)")
        print(f"  arrival -> 997 in out/: p50 {lat['p50']} s, p99 {lat['p99']} s, max {lat['max']} s")
        print(f"  daemon: peak RSS {r.get('rss_mib')} MiB, CPU {r.get('cpu_s')} s, exit {r['exit_code']}")
        for p in r["problems"]:
            print(f"  PROBLEM: {p}")
    return 1 if r["problems"] else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
