"""PostgreSQL store benchmark: import the demo company into PostgreSQL and run the funnel there,
against the DuckDB store doing the same in the same run (the peer).

1. ``cueva.demo.write_demo`` writes the demo's Parquet files (seed 7; not timed);
2. ``cueva.importer.import_files`` loads every table into a fresh DuckDB store, then into a
   fresh PostgreSQL database (rows/s, wall and CPU; for PostgreSQL also the server's CPU), then
   again into PostgreSQL with ``force`` (every row replaced by key: the merge path);
3. ``cueva.metrics.funnel`` by month and by channel over the whole data range on both stores:
   each query once cold, then the best of ``--repeat`` warm runs; the funnel reports of the two
   stores are compared (counts equal, rates within 1e-9). On PostgreSQL the funnel runs again
   with the metrics' temporary tables left without statistics (``create_table`` without the
   ``ANALYZE`` the store adds), an A/B in the same run.

The PostgreSQL server is a throw-away cluster started like the tests' (tests/pg.py) but
durable (fsync and synchronous commit on, PostgreSQL's defaults otherwise), on 127.0.0.1;
``--url`` uses an existing empty database instead (then the server CPU is not measured).

Usage: .venv/bin/python benchmarks/bench_postgres.py [--scale medium] [--seed 7] [--repeat 3]
       [--url postgresql://USER@HOST:PORT/DATABASE] [--dir PATH] [--data FOLDER_OF_PARQUET]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
VIEWS: dict[str, dict[str, str | None]] = {
    "month": {"by": None, "grain": "month"},
    "channel": {"by": "channel", "grain": None},
}


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


class ServerCpu:
    """CPU seconds of a PostgreSQL server's processes (the postmaster and its children)."""

    def __init__(self, pid: int | None) -> None:
        self.proc = psutil.Process(pid) if pid else None

    def __call__(self) -> float:
        if self.proc is None:
            return float("nan")
        total = 0.0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
        return total


def _timed(fn: Callable[[], Any], server: ServerCpu) -> tuple[float, float, float, Any]:
    c, s, t = _cpu(), server(), time.perf_counter()
    res = fn()
    return time.perf_counter() - t, _cpu() - c, server() - s, res


def bench_import(url: str, ws: Path, files: list[Path], server: ServerCpu, force: bool = False):
    from cueva.importer import import_files
    from cueva.workspace import Workspace

    with Workspace.open(ws, url) as w:
        store, tz = w.store(), w.contract.timezone
        wall, cpu, scpu, res = _timed(
            lambda: import_files(store, files, timezone=tz, force=force), server
        )
    return {"wall": wall, "cpu": cpu, "server_cpu": scpu, "rows": res.rows}


def bench_funnel(url: str, ws: Path, repeat: int, server: ServerCpu) -> dict[str, Any]:
    from cueva.metrics import funnel as F
    from cueva.workspace import Workspace

    out: dict[str, Any] = {"queries": {}, "reports": {}}
    with Workspace.open(ws, url) as w:
        store, contract = w.store(), w.contract
        period = F.data_period(store, contract)
        for view, kw in VIEWS.items():
            by, grain = kw["by"], kw["grain"]
            queries: dict[str, Callable[[], Any]] = {
                "stage_counts": lambda by=by, grain=grain: F.stage_counts(
                    store, contract, period, by, grain
                ),
                "conversion_by_period": lambda by=by, grain=grain: F.conversion_by_period(
                    store, contract, period, by, grain
                ),
                "deal_metrics": lambda by=by, grain=grain: F.deal_metrics(
                    store, contract, period, by, grain
                ),
                "funnel_report": lambda by=by, grain=grain: F.funnel_report(
                    store, contract, period, by, grain
                ),
            }
            for name, fn in queries.items():
                cold = _timed(fn, server)
                warm = min((_timed(fn, server) for _ in range(repeat)), key=lambda r: r[0])
                out["queries"][f"{name} by {view}"] = {
                    "cold": cold[0],
                    "cold_server_cpu": cold[2],
                    "warm": warm[0],
                    "cpu": warm[1],
                    "server_cpu": warm[2],
                }
                if name == "funnel_report":
                    out["reports"][view] = warm[3]
    return out


def _same(a: Any, b: Any, where: str) -> list[str]:
    """Differences between two funnel reports (dicts of frames)."""
    if isinstance(a, dict):
        return [p for k in a for p in _same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(
                a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False, rtol=1e-9
            )
        except AssertionError as exc:
            return [f"{where}: {str(exc).splitlines()[0]}"]
    return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", help="an existing, empty PostgreSQL database")
    ap.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument(
        "--data", type=Path, help="use the demo's Parquet files in this folder (not generated)"
    )
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from cueva.contract import CONTRACT_FILE
    from cueva.demo import demo_contract_text, write_demo
    from cueva.workspace import Workspace

    tmp = tempfile.TemporaryDirectory(prefix="cueva-bench-pg-")
    d = args.dir or Path(tmp.name)
    server = None
    if args.url:
        pg_url, scpu = args.url, ServerCpu(None)
    else:
        from tests.pg import PgServer

        server = PgServer.start(durable=True)
        pg_url, scpu = server.new_database("bench"), ServerCpu(server.pid)
    nothing = ServerCpu(None)
    try:
        if args.data:
            files = sorted(args.data.glob("*.parquet"))
            print(f"demo files: {args.data} ({len(files)} Parquet files)")
        else:
            t = time.perf_counter()
            files = write_demo(d, args.seed, args.scale)
            print(f"demo {args.scale} (seed {args.seed}) written in {time.perf_counter() - t:.1f}s")
        ws = d / "ws"
        Workspace.init(ws, "Bench").close()
        (ws / CONTRACT_FILE).write_text(demo_contract_text(), encoding="utf-8")
        duck_url = f"duckdb://{ws / 'cueva.duckdb'}"

        imp: dict[str, dict[str, Any]] = {}
        for name, url, cpu, force in (
            ("duckdb", duck_url, nothing, False),
            ("postgres", pg_url, scpu, False),
            ("postgres re-import (force)", pg_url, scpu, True),
        ):
            imp[name] = r = bench_import(url, ws, files, cpu, force=force)
            print(f"import {name}: {r['rows']:,} rows in {r['wall']:.1f}s", flush=True)
        fun = {
            "duckdb": bench_funnel(duck_url, ws, args.repeat, nothing),
            "postgres": bench_funnel(pg_url, ws, args.repeat, scpu),
        }
        # A/B in the same run: the metrics' temporary tables without ANALYZE (as Ibis alone).
        from cueva.store import postgres as P

        analyzed = P.Backend.create_table
        P.Backend.create_table = P._translated(P.PostgresBackend.create_table)  # type: ignore[method-assign]
        try:
            fun["postgres, temp tables not analyzed"] = bench_funnel(pg_url, ws, args.repeat, scpu)
        finally:
            P.Backend.create_table = analyzed  # type: ignore[method-assign]
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"scale {args.scale}, seed {args.seed}, best of {args.repeat} warm runs"
    )
    print("\n| import | rows | wall | client CPU | server CPU | rows/s | vs DuckDB (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = imp["duckdb"]["wall"]
    for name, r in imp.items():
        print(
            f"| {name} | {r['rows']:,} | {r['wall']:.2f} s | {r['cpu']:.2f} s | "
            f"{r['server_cpu']:.2f} s | {r['rows'] / r['wall']:,.0f} | {r['wall'] / base:.1f}x |"
        )
    print(
        "\n| funnel query | DuckDB warm | DuckDB CPU | PostgreSQL cold | PostgreSQL warm "
        "| PG client CPU | PG server CPU | PG / DuckDB (warm wall) | (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for q, p in fun["postgres"]["queries"].items():
        dd = fun["duckdb"]["queries"][q]
        print(
            f"| {q} | {dd['warm']:.3f} s | {dd['cpu']:.2f} s | {p['cold']:.3f} s | "
            f"{p['warm']:.3f} s | {p['cpu']:.2f} s | {p['server_cpu']:.2f} s | "
            f"{p['warm'] / dd['warm']:.1f}x | {(p['cpu'] + p['server_cpu']) / dd['cpu']:.1f}x |"
        )
    print(
        "\n| funnel query (PostgreSQL) | cold, temp tables analyzed | server CPU "
        "| cold, not analyzed | server CPU | warm analyzed / not | warm server CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for q, p in fun["postgres"]["queries"].items():
        n = fun["postgres, temp tables not analyzed"]["queries"][q]
        print(
            f"| {q} | {p['cold']:.3f} s | {p['cold_server_cpu']:.2f} s | {n['cold']:.3f} s | "
            f"{n['cold_server_cpu']:.2f} s | {p['warm']:.3f} / {n['warm']:.3f} s | "
            f"{p['server_cpu']:.2f} / {n['server_cpu']:.2f} s |"
        )
    problems = [
        p
        for view in VIEWS
        for p in _same(fun["duckdb"]["reports"][view], fun["postgres"]["reports"][view], view)
    ]
    print(
        "\nfunnel reports of the two stores: "
        + ("equal" if not problems else "DIFFER:\n  " + "\n  ".join(problems))
    )
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
