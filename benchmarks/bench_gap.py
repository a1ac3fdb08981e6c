"""Benchmark the plan and the gap for one quarter on a demo workspace.

Times, warm (the median of ``--repeat`` runs after one cold run):

- ``plan``: the reverse-funnel plan for 2026-Q3 from the trailing two quarters, by channel;
- ``gap``: 2026-Q2 against 2026-Q1 (revenue, within-period), and the same by channel.

The peer, run in the same process on the same store, is a plain pandas implementation of the
gap's counts for the demo contract (tables read from the store into pandas, first stage entries
by group-by, new-business opportunities, revenue), followed by the same LMDI step; the script
checks that both give the same counts and prints the ratio cueva / pandas.

Usage: .venv/bin/python benchmarks/bench_gap.py --scale large [--workspace DIR] [--repeat 5]
(without --workspace the demo is created in a temporary folder first; that is not timed.)
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from cueva.demo import create_demo
from cueva.gap.lmdi import lmdi
from cueva.gap.run import gap_report, make_plan
from cueva.periods import parse_period
from cueva.workspace import Workspace

TARGET_SECONDS = 2.0


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(cold seconds, warm median seconds, last result)."""
    t0 = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm), out


def pandas_counts(con: Any, q: Any) -> pd.Series:
    """The gap's counts for the demo contract, computed in pandas (the peer)."""
    people = con.table("people").select("person_id", "created_at").to_pandas()
    ev = con.table("stage_events").to_pandas()
    opp = (
        con.table("opportunities")
        .select("opportunity_id", "type", "created_at", "close_date", "is_won", "amount")
        .to_pandas()
    )
    start, end = pd.Timestamp(q.start), pd.Timestamp(q.end)

    def inside(s: pd.Series) -> pd.Series:
        s = pd.to_datetime(s)
        return (s >= start) & (s < end)

    out = {"lead": float(inside(people["created_at"]).sum())}
    ev = ev[ev["entity_type"] == "person"]
    for stage in ("mql", "sql"):
        first = ev[ev["stage"] == stage].groupby("entity_id")["entered_at"].min()
        out[stage] = float(inside(first).sum())
    new = opp[opp["type"].isna() | (opp["type"].str.lower() == "new")]
    out["opportunity"] = float(inside(new["created_at"]).sum())
    won = new[new["is_won"].fillna(False).astype(bool) & inside(new["close_date"])]
    out["won"] = float(len(won))
    out["revenue"] = float(won["amount"].fillna(0).sum())
    return pd.Series(out)


def pandas_gap(con: Any) -> np.ndarray:
    a = pandas_counts(con, parse_period("2026-Q2"))
    b = pandas_counts(con, parse_period("2026-Q1"))

    def factors(c: pd.Series) -> np.ndarray:
        st = ["lead", "mql", "sql", "opportunity", "won"]
        vals = [c["lead"]] + [c[y] / c[x] for x, y in itertools.pairwise(st)]
        return np.array([*vals, c["revenue"] / c["won"]])

    return lmdi(factors(b), factors(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--workspace", type=Path, default=None, help="an existing demo workspace")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load average "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="cueva-bench-gap-") as tmp:
        path = args.workspace
        if path is None:
            path = Path(tmp) / "demo"
            t0 = time.perf_counter()
            create_demo(path, seed=7, scale=args.scale)
            print(f"created the {args.scale} demo in {time.perf_counter() - t0:.0f}s (not timed)")
        with Workspace.open(path) as ws:
            store, contract = ws.store(), ws.contract
            people = store.row_count("people")
            print(f"workspace {path}: {people:,} people")
            q2, q1, q3 = (parse_period(p) for p in ("2026-Q2", "2026-Q1", "2026-Q3"))

            def plan() -> Any:
                return make_plan(store, contract, q3, "revenue", 12e6, by="channel")

            def gap() -> Any:
                return gap_report(store, contract, q2, vs=q1)

            def gap_by() -> Any:
                return gap_report(store, contract, q2, vs=q1, by="channel")

            rows = []
            for name, fn in (("plan by channel", plan), ("gap", gap), ("gap by channel", gap_by)):
                cold, warm, out = timed(fn, args.repeat)
                rows.append((name, cold, warm))
                if name == "gap":
                    ours = out.factors["contribution"].to_numpy()
            p_cold, p_warm, theirs = timed(lambda: pandas_gap(store.con), max(1, args.repeat // 2))
    for name, cold, warm in rows:
        flag = "ok" if warm < TARGET_SECONDS else "OVER TARGET"
        print(
            f"{name:<16} cold {cold:6.2f}s  warm {warm:6.2f}s  ({flag}: target {TARGET_SECONDS}s)"
        )
    print(f"{'pandas peer gap':<16} cold {p_cold:6.2f}s  warm {p_warm:6.2f}s")
    same = np.allclose(ours, theirs, rtol=1e-9, atol=1e-6)
    print(f"same contributions as the pandas peer: {same}")
    plan_gap = rows[0][2] + rows[1][2]
    print(f"plan + gap warm: {plan_gap:.2f}s; ratio gap cueva/pandas: {rows[1][2] / p_warm:.2f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
