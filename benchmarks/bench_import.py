"""Import floor benchmark: the canonical import and the bare copy, on the demo's Parquet files
as given and re-chunked into smaller row groups, in the same run.

DuckDB scans a Parquet file one row group per thread and compresses what it writes per row
group, so a table stored in one big row group is written on one core. This script measures how
much the row groups matter, for both:

- ``floor``: the files copied by bare ``CREATE TABLE t AS SELECT * FROM read_parquet(f)`` (one
  transaction, no parsing or checks) into a fresh DuckDB file, with the import's memory budget;
- ``import``: ``cueva.importer.import_files`` of every file into a fresh workspace.

Each measurement runs in its own process, the copies alternating, ``--repeat`` rounds. Besides
wall time (noisy on a shared machine) it prints the process's CPU time (all threads) and the
CPU time of its busiest thread, read from /proc: on an idle machine with C cores a phase cannot
take less than max(busiest thread, CPU / C) seconds, so ``rows / that`` is an estimate of the
rows per second on an idle machine that other engineers' load does not change much.

Usage: .venv/bin/python benchmarks/bench_import.py --data /tmp/cueva-large/data
       [--rechunk 122880 (rows per row group of the copy)] [--repeat 2]
       [--dir PATH (default: a temporary folder)] [--skip-original]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def _threads_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


class Sampler:
    """CPU time of the process and of each of its threads over a block (sampled every 50 ms,
    so that threads that end inside the block are counted too)."""

    def __enter__(self) -> Sampler:
        self.start = _threads_cpu()
        self.last = dict(self.start)
        self._stop = threading.Event()
        r = resource.getrusage(resource.RUSAGE_SELF)
        self._cpu0 = r.ru_utime + r.ru_stime
        self._wall0 = time.perf_counter()

        def run() -> None:
            while not self._stop.wait(0.05):
                self.last.update(_threads_cpu())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.last.update(_threads_cpu())
        self._stop.set()
        self._thread.join()
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = r.ru_utime + r.ru_stime - self._cpu0
        per = [v - self.start.get(t, 0.0) for t, v in self.last.items()]
        self.threads = sorted(per, reverse=True)

    def result(self, rows: int) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        bound = max(self.threads[0], self.cpu / cores)
        return {
            "rows": rows,
            "seconds": self.wall,
            "cpu_seconds": self.cpu,
            "threads": [round(x, 2) for x in self.threads[:4]],
            "idle_bound": bound,
            "rows_per_second": rows / self.wall,
            "idle_rows_per_second": rows / bound,
            "load": os.getloadavg()[0],
        }


def phase_floor(data: Path, work: Path) -> dict[str, Any]:
    import duckdb

    from cueva.store.duckdb import IMPORT_MEMORY_LIMIT

    files = sorted(data.glob("*.parquet"))
    path = work / "floor.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
    rows = 0
    with Sampler() as s:
        con.execute("BEGIN TRANSACTION")
        for f in files:
            con.execute(f"CREATE TABLE \"{f.stem}\" AS SELECT * FROM read_parquet('{f}')")
            rows += con.execute(f'SELECT count(*) FROM "{f.stem}"').fetchone()[0]  # type: ignore[index]
        con.execute("COMMIT")
    con.close()
    out = s.result(rows)
    out["store_bytes"] = path.stat().st_size
    path.unlink()
    return out


def phase_import(data: Path, work: Path) -> dict[str, Any]:
    from cueva.contract import CONTRACT_FILE
    from cueva.demo import demo_contract_text
    from cueva.importer import import_files
    from cueva.workspace import Workspace

    ws_path = work / "ws"
    shutil.rmtree(ws_path, ignore_errors=True)
    Workspace.init(ws_path, "Bench").close()
    (ws_path / CONTRACT_FILE).write_text(demo_contract_text(), encoding="utf-8")
    files = sorted(data.glob("*.parquet"))
    with Workspace.open(ws_path) as ws:
        store = ws.store()
        with Sampler() as s:
            result = import_files(store, files, timezone=ws.contract.timezone)
    out = s.result(result.rows)
    out["store_bytes"] = (ws_path / "cueva.duckdb").stat().st_size
    shutil.rmtree(ws_path)
    return out


def rechunk(src: Path, dst: Path, rows: int) -> None:
    import pyarrow.parquet as pq

    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob("*.parquet")):
        pq.write_table(pq.read_table(f), dst / f.name, compression="snappy", row_group_size=rows)


def row_groups(data: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {
        f.stem: pq.ParquetFile(f).metadata.num_row_groups for f in sorted(data.glob("*.parquet"))
    }


PHASES = {"floor": phase_floor, "import": phase_import}


def run(phase: str, data: Path, work: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--data", str(data), "--dir", str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} on {data} failed:\n{proc.stdout}\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def line(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<22} {r['rows']:,} rows: wall {r['seconds']:6.1f} s "
        f"({r['rows_per_second']:>9,.0f} rows/s), CPU {r['cpu_seconds']:5.1f} s, busiest "
        f"threads {r['threads']} -> idle-machine bound {r['idle_bound']:5.1f} s "
        f"({r['idle_rows_per_second']:>9,.0f} rows/s); store {r['store_bytes'] / 2**20:.0f} MB; "
        f"load {r['load']:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--rechunk", type=int, default=122_880)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--skip-original", action="store_true")
    ap.add_argument("--phase", choices=list(PHASES), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.data, args.dir)))
        return
    with tempfile.TemporaryDirectory(prefix="cueva-bench-import-") as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        copy = work / f"data-{args.rechunk}"
        if not copy.exists():
            print(f"... re-chunking {args.data} into {copy}", file=sys.stderr, flush=True)
            rechunk(args.data, copy, args.rechunk)
        copies = {f"row groups of {args.rechunk:,}": copy}
        if not args.skip_original:
            copies = {"as given": args.data, **copies}
        load = os.getloadavg()
        print(f"# Import floor benchmark: {args.data}, {args.repeat} rounds")
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f} "
            f"{load[2]:.1f}"
        )
        for name, data in copies.items():
            print(f"row groups, {name}: {row_groups(data)}")
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for i in range(args.repeat):
            for name, data in copies.items():
                for phase in PHASES:
                    print(f"... round {i + 1}: {phase}, {name}", file=sys.stderr, flush=True)
                    results.setdefault((phase, name), []).append(run(phase, data, work))
        for (phase, name), rs in results.items():
            print(f"{phase}, {name}:")
            for r in rs:
                print(line("", r))
        print("best of the rounds (least wall; least idle-machine bound):")
        best: dict[tuple[str, str], tuple[float, float, float]] = {}
        for (phase, name), rs in results.items():
            w = min(r["seconds"] for r in rs)
            b = min(r["idle_bound"] for r in rs)
            c = min(r["cpu_seconds"] for r in rs)
            best[phase, name] = (w, b, c)
            rows = rs[0]["rows"]
            print(
                f"  {phase:<6} {name:<24} wall {w:6.1f} s = {rows / w:>9,.0f} rows/s; CPU {c:5.1f} s; "
                f"idle-machine bound {b:5.1f} s = {rows / b:>9,.0f} rows/s"
            )
        for name in copies:
            (iw, ib, ic), (fw, fb, fc) = best["import", name], best["floor", name]
            print(
                f"  import / floor, {name}: wall {iw / fw:.2f}x, CPU {ic / fc:.2f}x, "
                f"idle-machine bound {ib / fb:.2f}x"
            )


if __name__ == "__main__":
    main()
