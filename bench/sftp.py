"""Measure the SFTP transport against a throwaway OpenSSH sshd on 127.0.0.1.

Two runs over one connection each, as the poll and send jobs use it:

- **take**: N one-PO-sized files (~2 KB) waiting in the inbound directory are listed twice
  (``stable_files``, ``--stable-wait`` apart), then each is opened, read through ``read_bounded``
  and settled (deleted);
- **deliver**: N files of the same size are delivered (temporary name, size check, rename), each to
  a name not yet present.

Prints files/s (whole run, listing included) and p50/p99 per file; ``--json`` prints one JSON object.
Needs ``/usr/sbin/sshd`` (Debian's openssh-server); as root the server chroots its sessions (see
``tests/transports/sshd.py``).

    python bench/sftp.py
    python bench/sftp.py --files 5000 --size 4096 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edi.transports.base import Settle, read_bounded, stable_files  # noqa: E402
from edi.transports.sftp import SftpSettings, SftpTransport  # noqa: E402
from tests.transports.sshd import running_sshd  # noqa: E402

MAX_FILE_BYTES = 50 << 20


def _payload(size: int, n: int) -> bytes:
    """A PO-shaped file of ``size`` bytes (an ISA header, then segment-like filler, numbered)."""
    head = (f"ISA*00*          *00*          *ZZ*AMAZON         *ZZ*VENDORCO       *260101*1200*U*00401*"
            f"{n:09d}*0*P*>~\n").encode()
    body = b"PO1*1*12*EA*9.99**UP*012345678905~\n"
    return (head + body * (size // len(body) + 1))[:size]


def _percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 3), "p99_ms": round(cuts[98] * 1000, 3),
            "max_ms": round(max(samples) * 1000, 3)}


def main() -> int:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="files per run (default 1000)")
    parser.add_argument("--size", type=int, default=2048, help="bytes per file (default 2048)")
    parser.add_argument("--stable-wait", type=float, default=0.0,
                        help="seconds between the two listings of the stable check (default 0: cost only)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()

    with running_sshd() as server:
        server.make_dir("inbound")
        server.make_dir("outbound")
        settings = SftpSettings(
            host=server.host, port=server.port, username=server.username,
            private_key_file=server.client_key_file, known_hosts_file=server.known_hosts_file,
            inbound_dir=server.remote("inbound"), outbound_dir=server.remote("outbound"))
        for i in range(args.files):
            server.put(server.data_dir / "inbound" / f"850_{i:06d}.edi", _payload(args.size, i))

        transport = SftpTransport(settings, base_dir=server.work_dir)
        take_started = time.perf_counter()
        files = stable_files(transport.list, lambda: time.sleep(args.stable_wait))
        listed = time.perf_counter()
        take: list[float] = []
        taken_bytes = 0
        for f in files:
            t0 = time.perf_counter()
            with transport.open(f) as stream:
                taken_bytes += sum(len(c) for c in read_bounded(stream, MAX_FILE_BYTES))
            transport.settle(f, Settle.DONE)
            take.append(time.perf_counter() - t0)
        take_total = time.perf_counter() - take_started
        transport.close()
        if len(files) != args.files or taken_bytes != args.files * args.size:
            print(f"took {len(files)} files / {taken_bytes} bytes, expected {args.files} / "
                  f"{args.files * args.size}", file=sys.stderr)
            return 1

        transport = SftpTransport(settings, base_dir=server.work_dir)
        payloads = [_payload(args.size, i) for i in range(args.files)]
        deliver: list[float] = []
        started = time.perf_counter()
        for i, data in enumerate(payloads):
            t0 = time.perf_counter()
            transport.deliver(f"855_{i:06d}.edi", data)
            deliver.append(time.perf_counter() - t0)
        deliver_total = time.perf_counter() - started
        transport.close()
        delivered = sorted((server.data_dir / "outbound").iterdir())
        if len(delivered) != args.files or any(p.suffix != ".edi" for p in delivered):
            print(f"outbound holds {len(delivered)} entries, expected {args.files} final names", file=sys.stderr)
            return 1

    result = {
        "files": args.files, "bytes_per_file": args.size, "stable_wait_s": args.stable_wait,
        "take": {"files_per_s": round(args.files / take_total, 1), "total_s": round(take_total, 3),
                 "stable_check_s": round(listed - take_started, 3), **_percentiles(take)},
        "deliver": {"files_per_s": round(args.files / deliver_total, 1), "total_s": round(deliver_total, 3),
                    **_percentiles(deliver)},
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"SFTP transport, local OpenSSH sshd, {args.files} files of {args.size} bytes, one connection per run")
    for name in ("take", "deliver"):
        r = result[name]
        assert isinstance(r, dict)
        print(f"  {name:8s} {r['files_per_s']:8.1f} files/s   total {r['total_s']:7.3f} s   "
              f"per file p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.2f} ms")
    print(f"  (take includes the stable check: two listings of {args.files} files, "
          f"{result['take']['stable_check_s']:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
