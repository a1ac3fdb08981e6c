"""Benchmark the funnel queries on a synthetic company of N people (default 1,000,000).

Writes a seeded synthetic funnel (people, stage events, opportunities) as Parquet and imports
it into a DuckDB store (or, with --workspace, uses an existing workspace such as the large
demo), then times each funnel query warm (best of --repeat runs, after one warm-up run) by
channel and month, and the same funnel in plain pandas in the same process, from the tables
already loaded in memory (counts by channel and month, cohort conversion, time between
stages, deals, pipeline). Prints wall and CPU seconds, and the ratio pandas / Cueva.

Cold: the first call on a store (the stage entries are built and cached); warm: later calls
(the metrics read the cached entries until the data change). Peak memory: each side runs
again in a fresh child process (``--child``) that reports its peak resident set size
(VmHWM), next to a child that only imports the same modules and opens the store.

``--baseline SRC`` (with ``--workspace``) also runs an A/B of the warm calls against another
checkout of Cueva (e.g. ``git worktree add /tmp/base HEAD~1``, SRC ``/tmp/base/src``): fresh
child processes, this code and the baseline alternated three times, each timing 10 warm
``funnel_report`` and ``stage_times`` calls; prints each side's CPU seconds (min, median) and
the ratio baseline / this code.

Usage: .venv/bin/python benchmarks/bench_funnel.py [--people 1000000] [--seed 7] [--repeat 3]
       .venv/bin/python benchmarks/bench_funnel.py --workspace DIR --from 2025-01-01 --to 2026-06-30
       .venv/bin/python benchmarks/bench_funnel.py --workspace DIR --baseline /tmp/base/src
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from cueva.importer import import_files
from cueva.metrics import funnel as F
from cueva.periods import period_from_range
from cueva.workspace import Workspace

CHANNELS = np.array(["paid_search", "paid_social", "events", "webinar", "content", "organic"])
START = np.datetime64("2025-01-01T00:00:00", "s")
DAYS = 540
STAGES = ["lead", "mql", "sql", "opportunity", "won"]
WINDOW = 90


def synthesize(n: int, seed: int, folder: Path) -> list[Path]:
    """People, stage events and opportunities of a synthetic funnel, as Parquet files."""
    rng = np.random.default_rng(seed)
    day_s = 86400
    created = START + rng.integers(0, DAYS * day_s, n).astype("timedelta64[s]")
    ids = np.char.add("p", np.arange(n).astype(str))
    channel = rng.choice(CHANNELS, n)
    people = pa.table(
        {"person_id": ids, "created_at": created.astype("datetime64[us]"), "channel": channel}
    )
    is_mql = rng.random(n) < 0.3
    mql_at = created + (rng.lognormal(np.log(2), 1.0, n) * day_s).astype("timedelta64[s]")
    is_sql = is_mql & (rng.random(n) < 0.5)
    sql_at = mql_at + (rng.lognormal(np.log(3), 0.8, n) * day_s).astype("timedelta64[s]")
    ev_ids = np.concatenate([ids[is_mql], ids[is_sql]])
    events = pa.table(
        {
            "entity_type": np.full(len(ev_ids), "person"),
            "entity_id": ev_ids,
            "stage": np.concatenate([np.full(is_mql.sum(), "mql"), np.full(is_sql.sum(), "sql")]),
            "entered_at": np.concatenate([mql_at[is_mql], sql_at[is_sql]]).astype("datetime64[us]"),
        }
    )
    has_opp = is_sql & (rng.random(n) < 0.7)
    m = int(has_opp.sum())
    opp_created = sql_at[has_opp] + (rng.lognormal(np.log(6), 0.6, m) * day_s).astype(
        "timedelta64[s]"
    )
    close = (
        opp_created + (rng.lognormal(np.log(60), 0.5, m) * day_s).astype("timedelta64[s]")
    ).astype("datetime64[D]")
    end = np.datetime64("2026-06-30")
    closed = close <= end
    won = closed & (rng.random(m) < 0.3)
    opps = pa.table(
        {
            "opportunity_id": np.char.add("o", np.arange(m).astype(str)),
            "person_id": ids[has_opp],
            "created_at": opp_created.astype("datetime64[us]"),
            "close_date": close,
            "is_closed": closed,
            "is_won": won,
            "amount": np.round(rng.lognormal(np.log(20000), 0.6, m), 2),
        }
    )
    paths = []
    for name, table in (("people", people), ("stage_events", events), ("opportunities", opps)):
        path = folder / f"{name}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths


def load_frames(store: Any) -> dict[str, pd.DataFrame]:
    """The tables the pandas peer needs, read from the store into memory (not timed)."""
    cols = {
        "people": ["person_id", "created_at", "channel"],
        "stage_events": ["entity_type", "entity_id", "stage", "entered_at"],
        "opportunities": [
            "opportunity_id",
            "person_id",
            "created_at",
            "close_date",
            "is_closed",
            "is_won",
            "amount",
        ],
    }
    if "type" in store.table("opportunities").columns:
        cols["opportunities"].append("type")
    return {name: store.table(name).select(*c).to_pandas() for name, c in cols.items()}


def peer_types(contract: Any) -> list[str | None] | None:
    """The opportunity types the contract's won stage keeps (None: every type)."""
    allowed = F.deal_filter(contract)
    return list(allowed["type"]) if "type" in allowed else None


def child(side: str, workspace: Path, period: Any) -> None:
    """Run one side once in this (fresh) process and print its peak RSS in MiB as JSON."""
    ws = Workspace.open(workspace)
    store, contract = ws.store(), ws.contract
    t0 = time.perf_counter()
    if side == "cueva":
        F.funnel_report(store, contract, period, "channel", "month", target_pipeline=1e6)
    elif side == "pandas":
        frames = load_frames(store)
        pandas_funnel(frames, period.start, period.end, peer_types(contract))
    seconds = time.perf_counter() - t0
    print(json.dumps({"side": side, "peak_mib": peak_rss_mib(), "seconds": seconds}))


def warm_child(workspace: Path, period: Any) -> None:
    """Time 10 warm calls of ``funnel_report`` and of ``stage_times`` (by channel and month)
    in this fresh process; print their CPU seconds as JSON (for ``--baseline``)."""
    ws = Workspace.open(workspace)
    store, contract = ws.store(), ws.contract
    calls: dict[str, Callable[[], Any]] = {
        "funnel_report": lambda: F.funnel_report(
            store, contract, period, "channel", "month", target_pipeline=1e6
        ),
        "stage_times": lambda: F.stage_times(store, contract, period, "channel", "month"),
    }
    calls["funnel_report"]()  # builds the cache
    out: dict[str, list[float]] = {}
    for name, fn in calls.items():
        fn()
        cpu = []
        for _ in range(10):
            c0 = time.process_time()
            fn()
            cpu.append(time.process_time() - c0)
        out[name] = cpu
    print(json.dumps(out))


def ab_baseline(workspace: Path, baseline: Path, args: argparse.Namespace) -> None:
    """Warm CPU of this code and of the checkout at ``baseline`` (its ``src``), alternated."""
    runs: dict[str, dict[str, list[float]]] = {"this code": {}, "baseline": {}}
    for _ in range(3):
        for side in runs:
            env = dict(os.environ)
            if side == "baseline":
                env["PYTHONPATH"] = str(baseline)
            else:
                env.pop("PYTHONPATH", None)
            cmd = [sys.executable, __file__, "--child", "warm", "--workspace", str(workspace)]
            cmd += ["--from", args.from_, "--to", args.to]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            for name, cpu in json.loads(res.stdout.strip().splitlines()[-1]).items():
                runs[side].setdefault(name, []).extend(cpu)
    print(f"A/B warm CPU against {baseline} (30 calls each side, 3 alternated processes):")
    for name in runs["this code"]:
        cur, base = runs["this code"][name], runs["baseline"][name]
        print(
            f"  {name:16s} this code min {min(cur):.3f} s, median {statistics.median(cur):.3f}"
            f" s; baseline min {min(base):.3f} s, median {statistics.median(base):.3f} s; "
            f"ratio baseline / this code (median) {statistics.median(base) / statistics.median(cur):.2f}"
        )


def peak_rss_mib() -> float:
    """Peak resident set size of this process, in MiB: VmHWM (Linux), which starts afresh at
    exec; ``ru_maxrss`` keeps the parent's size from before the exec (a child of a large
    parent would report the parent's peak)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def peak_memory(workspace: Path, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    for side in ("imports", "cueva", "pandas"):
        cmd = [sys.executable, __file__, "--child", side, "--workspace", str(workspace)]
        cmd += ["--from", args.from_, "--to", args.to]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[side] = json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]
    return out


def pandas_funnel(
    frames: dict[str, pd.DataFrame],
    period_start: dt.date,
    period_end: dt.date,
    types: list[str | None] | None = None,
) -> dict[str, Any]:
    """The same funnel in plain pandas (the peer), from tables already in memory: counts by
    channel and month, cohort conversion and time between stages by channel, win rate and
    deal size by channel, and open pipeline by channel. ``types``: the opportunity types
    counted (the contract's won stage filter; None: all)."""
    people, ev, opps = frames["people"], frames["stage_events"], frames["opportunities"]
    if types is not None and "type" in opps.columns:
        keep = opps.type.isin([t for t in types if t is not None])
        opps = opps[keep | opps.type.isna()] if None in types else opps[keep]
    ev = ev[ev.entity_type == "person"]
    opps = opps.assign(
        is_closed=opps.is_closed.fillna(False).astype(bool)
        | opps.is_won.fillna(False).astype(bool),
        is_won=opps.is_won.fillna(False).astype(bool),
    )
    lo, hi = pd.Timestamp(period_start), pd.Timestamp(period_end)
    channel = people.set_index("person_id").channel
    lead = pd.concat(
        [
            people[["person_id", "created_at"]].set_axis(["entity_id", "ts"], axis=1),
            ev[ev.stage == "lead"][["entity_id", "entered_at"]].set_axis(
                ["entity_id", "ts"], axis=1
            ),
        ]
    )
    lead = lead.groupby("entity_id").ts.min().reset_index()
    parts = [lead.assign(stage="lead", person_id=lead.entity_id)]
    for stage in ("mql", "sql"):
        e = ev[ev.stage == stage].groupby("entity_id").entered_at.min().reset_index()
        parts.append(
            e.set_axis(["entity_id", "ts"], axis=1).assign(stage=stage, person_id=e.entity_id)
        )
    parts.append(
        opps[["opportunity_id", "created_at", "person_id"]]
        .set_axis(["entity_id", "ts", "person_id"], axis=1)
        .assign(stage="opportunity")
    )
    w = opps[opps.is_won]
    parts.append(
        pd.DataFrame(
            {
                "entity_id": w.opportunity_id,
                "ts": pd.to_datetime(w.close_date),
                "person_id": w.person_id,
                "stage": "won",
            }
        )
    )
    e = pd.concat(parts, ignore_index=True)
    e["channel"] = e.person_id.map(channel).fillna("(none)")
    inp = (e.ts >= lo) & (e.ts < hi)
    counts = e[inp].groupby([e.channel, e.ts.dt.to_period("M"), e.stage]).size()
    cohort, times = {}, {}
    for a, b in itertools.pairwise(STAGES):
        key = "person_id" if (a, b) == ("sql", "opportunity") else "entity_id"
        ea = e[e.stage == a]
        eb = e[e.stage == b].groupby(key).ts.min().rename("b_ts")
        p = ea[(ea.ts >= lo) & (ea.ts < hi)].join(eb, on=key)
        reached = p.b_ts.notna() & (p.b_ts <= p.ts + pd.Timedelta(days=WINDOW))
        cohort[a] = reached.groupby(p.channel).mean()
        first_a = ea.groupby(key).ts.min().rename("a_ts")
        q = e[(e.stage == b) & (e.ts >= lo) & (e.ts < hi)].join(first_a, on=key)
        q = q[q.a_ts.notna() & (q.a_ts <= q.ts)]
        d = (q.ts - q.a_ts).dt.total_seconds() / 86400
        times[a] = d.groupby(q.channel).quantile([0.5, 0.9])
    o = opps.assign(channel=opps.person_id.map(channel).fillna("(none)"))
    close = pd.to_datetime(o.close_date)
    c = o[o.is_closed & (close >= lo) & (close < hi)]
    deals = c.groupby("channel").agg(won=("is_won", "sum"), n=("is_won", "size"))
    open_ = o[(o.created_at < hi) & ~(o.is_closed & (close < hi))]
    pipeline = open_.groupby("channel").amount.sum()
    return {"counts": counts, "cohort": cohort, "times": times, "deals": deals, "pipe": pipeline}


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall-clock seconds and the CPU seconds of that run (all threads), after one
    warm-up run. On a shared machine the CPU time shows the work; the wall time the wait."""
    fn()  # warm-up
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        run = (time.perf_counter() - t0, time.process_time() - c0)
        best = min(best, run)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="time an existing workspace (e.g. the large demo) instead of synthetic data; "
        "its contract must have the starter's stages (lead, mql, sql, opportunity, won)",
    )
    parser.add_argument("--from", dest="from_", default="2025-01-01")
    parser.add_argument("--to", default="2026-06-30")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="with --workspace: also an A/B of the warm calls against the Cueva source folder "
        "SRC of another checkout (e.g. a git worktree's src)",
    )
    parser.add_argument(
        "--child", choices=["imports", "cueva", "pandas", "warm"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child == "warm":
        warm_child(args.workspace, period_from_range(args.from_, args.to))
        return
    if args.child:
        child(args.child, args.workspace, period_from_range(args.from_, args.to))
        return
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load average {load[0]:.1f} at start; "
        f"{dt.date.today()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.workspace is None:
            root = Path(tmp)
            (root / "data").mkdir()
            t0 = time.perf_counter()
            paths = synthesize(args.people, args.seed, root / "data")
            print(f"synthesized {args.people:,} people in {time.perf_counter() - t0:.1f}s")
            ws = Workspace.init(root / "ws", "Bench")
            ws_path = ws.path
            result = import_files(ws.store(), paths, timezone=ws.contract.timezone)
            rows = {f.table: f.rows for f in result.files}
            print(f"imported {result.rows:,} rows in {result.seconds:.1f}s: {rows}")
        else:
            ws = Workspace.open(args.workspace)
            ws_path = args.workspace
            print(f"workspace {args.workspace}")
        run(ws, period_from_range(args.from_, args.to), args.repeat)
        ws.close()
        mem = peak_memory(ws_path, args)
        print(
            f"peak RSS (fresh process, MiB): imports only {mem['imports']:.0f}, "
            f"cueva funnel_report (cold) {mem['cueva']:.0f}, pandas peer {mem['pandas']:.0f}; "
            f"above imports: cueva {mem['cueva'] - mem['imports']:.0f}, "
            f"pandas {mem['pandas'] - mem['imports']:.0f} "
            f"(ratio {(mem['cueva'] - mem['imports']) / (mem['pandas'] - mem['imports']):.2f})"
        )
        if args.baseline is not None:
            if args.workspace is None:
                raise SystemExit("--baseline needs --workspace")
            ab_baseline(ws_path, args.baseline, args)


def run(ws: Workspace, period: Any, repeat: int) -> None:
    store, contract = ws.store(), ws.contract
    counts = {t: store.row_count(t) for t in ("people", "stage_events", "opportunities")}
    print(f"rows: {counts}; period {period.start} to {period.last_day}; by channel and month")
    by, grain = "channel", "month"
    queries: dict[str, Callable[[], Any]] = {
        "stage_counts": lambda: F.stage_counts(store, contract, period, by, grain),
        "conversion_by_cohort": lambda: F.conversion_by_cohort(store, contract, period, by, grain),
        "stage_times": lambda: F.stage_times(store, contract, period, by, grain),
        "deal_metrics": lambda: F.deal_metrics(store, contract, period, by, grain),
        "open_pipeline": lambda: F.open_pipeline(store, contract, period, by, grain, 1e6),
        "funnel_report (all sections)": lambda: F.funnel_report(
            store, contract, period, by, grain, target_pipeline=1e6
        ),
    }
    F.clear_cache(store)
    t0, c0 = time.perf_counter(), time.process_time()
    queries["funnel_report (all sections)"]()
    cold = (time.perf_counter() - t0, time.process_time() - c0)
    print(
        f"  {'funnel_report, cold':32s} {cold[0]:6.3f}s wall, {cold[1]:6.3f}s CPU (builds the cache)"
    )
    timings = {name: best_of(fn, repeat) for name, fn in queries.items()}
    for name, (wall, cpu) in timings.items():
        print(f"  {name:32s} {wall:6.3f}s warm, {cpu:6.3f}s CPU (best of {repeat})")
    frames = load_frames(store)
    types = peer_types(contract)
    pandas_wall, pandas_cpu = best_of(
        lambda: pandas_funnel(frames, period.start, period.end, types), max(1, repeat - 2)
    )
    report_wall, report_cpu = timings["funnel_report (all sections)"]
    print(f"  {'plain pandas, same funnel':32s} {pandas_wall:6.3f}s warm, {pandas_cpu:6.3f}s CPU")
    print(
        f"ratio pandas / cueva funnel_report: warm {pandas_wall / report_wall:.1f}x wall, "
        f"{pandas_cpu / report_cpu:.1f}x CPU; cold {pandas_wall / cold[0]:.1f}x wall, "
        f"{pandas_cpu / cold[1]:.1f}x CPU; load average {os.getloadavg()[0]:.1f} at end"
    )


if __name__ == "__main__":
    main()
