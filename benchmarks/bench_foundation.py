"""Foundation benchmark: generate the demo company, import it, run the funnel, compare with pandas.

Each phase runs in its own process so that its peak memory (max RSS) is its own:

1. ``generate``: ``cueva.demo.write_demo`` writes the demo's Parquet files;
2. ``import``: ``cueva.importer.import_files`` loads every table into a fresh store (rows/s);
   ``floor``: the same files copied by bare ``CREATE TABLE t AS SELECT * FROM read_parquet(f)``
   (one transaction, no parsing or checks) into a fresh DuckDB file: the floor for any import
   on this machine at this moment, so ``import / floor`` is comparable across loaded runs;
3. ``funnel``: ``cueva.metrics.funnel`` by month and by channel over the whole data range:
   each query once cold, then the best of ``--repeat`` warm runs;
4. ``pandas``: the same funnel (entries per stage by month and by channel, period
   conversion, won/lost and win rate) in plain pandas from the same Parquet files, timed the
   same way; its results are compared with Cueva's, value by value.

Prints the figures and the ratios against the targets: import >= 1M rows/s, every funnel
query < 1 s warm, peak memory < 2 GB, >= 10x faster than pandas at <= 1/4 of its memory.

Usage: .venv/bin/python benchmarks/bench_foundation.py --scale large|medium|small
       [--seed 7] [--repeat 3] [--dir PATH (default: a temporary folder)]
       [--data PATH: the demo's Parquet files already written (e.g. /tmp/cueva-large/data);
        skips generating them]
       [--workspace PATH: a workspace with the demo already imported (e.g. a private copy of
        /tmp/cueva-large; its data/ folder is the Parquet files unless --data says otherwise);
        skips generating, importing and the floor: only the funnel and pandas phases run]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The demo contract's funnel, which the pandas peer implements by hand (checked at run time;
# the peer reads the stages' ``filter`` from the contract).
STAGES = ("lead", "mql", "sql", "opportunity", "won")
VIEWS: dict[str, dict[str, str | None]] = {
    "month": {"by": None, "grain": "month"},
    "channel": {"by": "channel", "grain": None},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """(cold seconds, best warm seconds, CPU seconds of that warm run, last result).

    CPU time (all threads of the process) shows the work regardless of other load on the
    machine: on an idle machine a query takes about CPU / cores seconds at best."""
    t = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t
    best = (cold, cold)
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        out = fn()
        run = (time.perf_counter() - t, _cpu() - c)
        best = min(best, run) if best != (cold, cold) else run
    return cold, best[0], best[1], out


# ----------------------------------------------------------------------------- phases


def phase_generate(d: Path, scale: str, seed: int, repeat: int) -> dict[str, Any]:
    from cueva.demo import write_demo

    t = time.perf_counter()
    files = write_demo(d, seed, scale)
    return {"seconds": time.perf_counter() - t, "files": [str(f) for f in files]}


def phase_import(d: Path, scale: str, seed: int, repeat: int) -> dict[str, Any]:
    from cueva.contract import CONTRACT_FILE
    from cueva.demo import demo_contract_text
    from cueva.importer import import_files
    from cueva.workspace import Workspace

    ws_path = d / "ws"
    ws = Workspace.init(ws_path, "Bench")
    (ws_path / CONTRACT_FILE).write_text(demo_contract_text(), encoding="utf-8")
    ws.close()
    files = sorted((d / "data").glob("*.parquet"))
    size = sum(f.stat().st_size for f in files)
    with Workspace.open(ws_path) as ws:
        load_before = os.getloadavg()[0]
        cpu = _cpu()
        t = time.perf_counter()
        result = import_files(ws.store(), files, timezone=ws.contract.timezone)
        seconds = time.perf_counter() - t
        cpu = _cpu() - cpu
        per_table = {f.table: f.rows for f in result.files}
    return {
        "load": [load_before, os.getloadavg()[0]],
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": result.rows,
        "rows_per_second": result.rows / seconds,
        "bytes": size,
        "tables": per_table,
        "store_bytes": (ws_path / "cueva.duckdb").stat().st_size,
    }


def phase_floor(d: Path, scale: str, seed: int, repeat: int) -> dict[str, Any]:
    import duckdb

    from cueva.store.duckdb import IMPORT_MEMORY_LIMIT

    files = sorted((d / "data").glob("*.parquet"))
    path = d / "floor.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")  # the import's budget
    cpu = _cpu()
    t = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    rows = 0
    for f in files:
        name = f.stem
        con.execute(f"CREATE TABLE \"{name}\" AS SELECT * FROM read_parquet('{f}')")
        rows += con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[index]
    con.execute("COMMIT")
    seconds = time.perf_counter() - t
    cpu = _cpu() - cpu
    con.close()
    size = path.stat().st_size
    path.unlink()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "rows_per_second": rows / seconds,
        "store_bytes": size,
    }


def phase_funnel(d: Path, scale: str, seed: int, repeat: int) -> dict[str, Any]:
    from cueva.metrics import funnel as F
    from cueva.workspace import Workspace

    out: dict[str, Any] = {"queries": {}, "baseline_mb": _peak_mb()}
    with Workspace.open(d / "ws") as ws:
        store, contract = ws.store(), ws.contract
        out["opened_mb"] = _peak_mb()
        names = tuple(s.name for s in contract.funnel.stages)
        if names != STAGES:
            raise SystemExit(f"the demo contract's stages changed: {names}; update the peer")
        period = F.data_period(store, contract)
        out["period"] = [str(period.start), str(period.end)]
        out["period_mb"] = _peak_mb()
        for view, kw in VIEWS.items():
            by, grain = kw["by"], kw["grain"]
            queries: dict[str, Callable[[], Any]] = {
                "conversion_by_period": lambda by=by, grain=grain: F.conversion_by_period(
                    store, contract, period, by, grain
                ),
                "deal_metrics": lambda by=by, grain=grain: F.deal_metrics(
                    store, contract, period, by, grain
                ),
                "stage_counts": lambda by=by, grain=grain: F.stage_counts(
                    store, contract, period, by, grain
                ),
                "funnel_report": lambda by=by, grain=grain: F.funnel_report(
                    store, contract, period, by, grain
                ),
            }
            for name, fn in queries.items():
                cold, warm, cpu, res = _best(fn, repeat)
                out["queries"][f"{name} by {view}"] = {"cold": cold, "warm": warm, "cpu": cpu}
                if name == "conversion_by_period":
                    res.to_parquet(d / f"cueva_conversion_{view}.parquet")
                elif name == "deal_metrics":
                    res.to_parquet(d / f"cueva_deals_{view}.parquet")
    return out


def _keep(frame: pd.DataFrame, rule: dict[str, list[str | None]] | None) -> pd.Series:
    """Rows whose columns hold one of the listed values (a stage entry's ``filter``)."""
    mask = pd.Series(True, index=frame.index)
    for column, values in (rule or {}).items():
        allowed = frame[column].isin([v for v in values if v is not None])
        mask &= allowed | frame[column].isna() if None in values else allowed
    return mask


def pandas_funnel(
    people: pd.DataFrame,
    events: pd.DataFrame,
    opps: pd.DataFrame,
    start: date,
    end: date,
    filters: dict[str, dict[str, list[str | None]] | None],
) -> dict[str, dict[str, pd.DataFrame]]:
    """The demo contract's funnel in plain pandas: first entry per entity and stage (lead:
    people.created_at; mql, sql: first stage event; opportunity: created_at; won: close_date
    of won deals; the opportunity stages keep the deals their ``filter`` allows), counted by
    month and by channel over [start, end), with period conversion (entries into B / entries
    into A) and won, lost and win rate of the deals closed in the period that the won stage's
    filter keeps (by close month or channel)."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    all_opps = opps
    opps = all_opps[_keep(all_opps, filters["opportunity"])]
    channel = people.set_index("person_id")["channel"]
    parts = [
        pd.DataFrame({"stage": "lead", "pid": people.person_id, "at": people.created_at}),
    ]
    person_events = events[events.entity_type == "person"]
    for stage in ("mql", "sql"):
        ev = person_events[person_events.stage == stage]
        first = ev.groupby("entity_id", sort=False).entered_at.min()
        first = first[first.index.isin(people.person_id)]
        parts.append(pd.DataFrame({"stage": stage, "pid": first.index, "at": first.to_numpy()}))
    parts.append(
        pd.DataFrame({"stage": "opportunity", "pid": opps.person_id, "at": opps.created_at})
    )
    opps = all_opps[_keep(all_opps, filters["won"])]
    won = opps.is_won.fillna(False).astype(bool)
    parts.append(
        pd.DataFrame(
            {"stage": "won", "pid": opps.person_id[won], "at": pd.to_datetime(opps.close_date[won])}
        )
    )
    e = pd.concat(parts, ignore_index=True)
    e = e[e["at"].notna() & (e["at"] >= lo) & (e["at"] < hi)]
    e["channel"] = e.pid.map(channel).fillna("(none)")
    e["period"] = e["at"].dt.strftime("%Y-%m")

    closed = opps.is_closed.fillna(False).astype(bool) | won
    close = pd.to_datetime(opps.close_date)
    o = pd.DataFrame(
        {
            "won": won,
            "close": close,
            "channel": opps.person_id.map(channel).fillna("(none)"),
        }
    )[closed & (close >= lo) & (close < hi)]
    o["period"] = o.close.dt.strftime("%Y-%m")
    o["lost"] = ~o.won

    out: dict[str, dict[str, pd.DataFrame]] = {}
    for view, col in (("month", "period"), ("channel", "channel")):
        counts = e.groupby([col, "stage"]).size().unstack("stage", fill_value=0)
        counts = counts.reindex(columns=list(STAGES), fill_value=0)
        steps = []
        for a, b in itertools.pairwise(STAGES):
            s = pd.DataFrame(
                {
                    "from_stage": a,
                    "to_stage": b,
                    "from_entered": counts[a],
                    "to_entered": counts[b],
                }
            )
            s["conversion_period"] = np.where(
                s.from_entered > 0,
                s.to_entered / s.from_entered.where(s.from_entered > 0, 1),
                np.nan,
            )
            steps.append(s.reset_index())
        deals = o.groupby(col)[["won", "lost"]].sum()
        deals["win_rate"] = deals.won / (deals.won + deals.lost)
        out[view] = {
            "conversion": pd.concat(steps, ignore_index=True),
            "deals": deals.reset_index(),
        }
    return out


def phase_pandas(d: Path, scale: str, seed: int, repeat: int) -> dict[str, Any]:
    import pyarrow.parquet  # noqa: F401  (read_parquet's engine: part of the baseline)

    baseline = _peak_mb()
    data = d / "data"
    t = time.perf_counter()
    people = pd.read_parquet(
        data / "people.parquet", columns=["person_id", "created_at", "channel"]
    )
    events = pd.read_parquet(data / "stage_events.parquet")
    opps = pd.read_parquet(
        data / "opportunities.parquet",
        columns=[
            "opportunity_id",
            "person_id",
            "type",
            "created_at",
            "close_date",
            "is_closed",
            "is_won",
        ],
    )
    load = time.perf_counter() - t
    funnel = json.loads((d / "funnel.json").read_text())
    start, end = (date.fromisoformat(x) for x in funnel["period"])
    from cueva.contract import load_contract

    contract = load_contract(d / "ws" / "cueva.yaml")
    filters = {s.name: s.entry.filter for s in contract.funnel.stages}
    cold, warm, cpu, res = _best(
        lambda: pandas_funnel(people, events, opps, start, end, filters), repeat
    )
    return {
        "load": load,
        "cold": cold,
        "warm": warm,
        "cpu": cpu,
        "mismatches": compare(d, res),
        "baseline_mb": baseline,
    }


def compare(d: Path, res: dict[str, dict[str, pd.DataFrame]]) -> list[str]:
    """Every difference between Cueva's results and the pandas peer's (empty: they agree)."""
    problems = []
    for view, key in (("month", "period"), ("channel", "channel")):
        ours = pd.read_parquet(d / f"cueva_conversion_{view}.parquet")
        theirs = res[view]["conversion"]
        m = ours.merge(
            theirs, on=[key, "from_stage", "to_stage"], how="outer", suffixes=("", "_pd")
        )
        for c in ("from_entered", "to_entered"):
            m[f"{c}_pd"] = m[f"{c}_pd"].fillna(0)
            bad = m[m[c].fillna(-1) != m[f"{c}_pd"]]
            problems += [
                f"{view} {c} {row[key]} {row['from_stage']}: {row[c]} vs {row[c + '_pd']}"
                for _, row in bad.iterrows()
            ]
        a, b = m.conversion_period.to_numpy(float), m.conversion_period_pd.to_numpy(float)
        bad_conv = ~(np.isclose(a, b, rtol=1e-12) | (np.isnan(a) & np.isnan(b)))
        problems += [f"{view} conversion {k}" for k in m[key][bad_conv]]
        ours_d = pd.read_parquet(d / f"cueva_deals_{view}.parquet")
        md = ours_d.merge(res[view]["deals"], on=key, how="left", suffixes=("", "_pd"))
        for c in ("won", "lost"):
            md[f"{c}_pd"] = md[f"{c}_pd"].fillna(0)
            problems += [f"{view} deals {c} {k}" for k in md[key][md[c] != md[f"{c}_pd"]]]
        extra = set(res[view]["deals"][key]) - set(ours_d[key])
        problems += [f"{view} deals: pandas has {k} and Cueva not" for k in sorted(extra)]
        a, b = md.win_rate.to_numpy(float), md.win_rate_pd.to_numpy(float)
        bad_wr = ~(np.isclose(a, b, rtol=1e-12) | (np.isnan(a) & np.isnan(b)))
        problems += [f"{view} win rate {k}" for k in md[key][bad_wr]]
    return problems


PHASES: dict[str, Callable[[Path, str, int, int], dict[str, Any]]] = {
    "generate": phase_generate,
    "import": phase_import,
    "floor": phase_floor,
    "funnel": phase_funnel,
    "pandas": phase_pandas,
}


# ----------------------------------------------------------------------------- driver


def run_phase(phase: str, d: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--dir", str(d), "--scale", args.scale]
    cmd += ["--seed", str(args.seed), "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    (d / f"{phase}.json").write_text(json.dumps(result, indent=1))
    return result


def report(r: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"# Foundation benchmark: scale {args.scale}, seed {args.seed}, repeat {args.repeat}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    g, f, p = r["generate"], r["funnel"], r["pandas"]
    if "seconds" in g:
        print(f"generate demo: {g['seconds']:.1f} s, peak {g['peak_mb']:.0f} MB")
    else:
        print(f"demo files: {g['data']} (not generated in this run)")
    if "import" in r:
        report_import(r["import"], r["floor"])
    else:
        print(f"import: skipped (workspace {args.workspace} already imported)")
    report_funnel(f, p)


def report_import(i: dict[str, Any], fl: dict[str, Any]) -> None:
    gib = 1024
    ok = "ok" if i["rows_per_second"] >= 1e6 else "MISSED"
    print(
        f"import: {i['rows']:,} rows in {i['seconds']:.1f} s = {i['rows_per_second']:,.0f} rows/s "
        f"(target >= 1,000,000: {ok}); CPU {i['cpu_seconds']:.1f} s; "
        f"peak {i['peak_mb']:.0f} MB (target < 2048: {'ok' if i['peak_mb'] < 2 * gib else 'MISSED'}); "
        f"store {i['store_bytes'] / 2**20:.0f} MB; load average before/after "
        f"{i['load'][0]:.1f}/{i['load'][1]:.1f}"
    )
    print(
        f"import floor (bare CREATE TABLE AS SELECT * FROM read_parquet, no parsing or checks): "
        f"{fl['rows']:,} rows in {fl['seconds']:.1f} s = {fl['rows_per_second']:,.0f} rows/s; "
        f"CPU {fl['cpu_seconds']:.1f} s; store {fl['store_bytes'] / 2**20:.0f} MB -> import "
        f"takes {i['seconds'] / fl['seconds']:.2f}x the floor's wall time, "
        f"{i['cpu_seconds'] / fl['cpu_seconds']:.2f}x its CPU"
    )


def report_funnel(f: dict[str, Any], p: dict[str, Any]) -> None:
    print("funnel queries (whole data range " + " to ".join(f["period"]) + "):")
    slow = 0
    for name, t in f["queries"].items():
        flag = "" if t["warm"] < 1 else "  (over 1 s)"
        slow += t["warm"] >= 1
        print(
            f"  {name:<32} cold {t['cold']:6.2f} s   warm {t['warm']:6.2f} s "
            f"(CPU {t['cpu']:5.2f} s){flag}"
        )
    print(f"  every query < 1 s warm: {'ok' if not slow else f'MISSED ({slow} over)'}")
    same_work = [
        t
        for name, t in f["queries"].items()
        if name.split(" by ")[0] in ("conversion_by_period", "deal_metrics")
    ]
    ours = sum(t["warm"] for t in same_work)
    ours_cpu = sum(t["cpu"] for t in same_work)
    speed = p["warm"] / ours
    mem = f["peak_mb"] / p["peak_mb"]
    print(
        f"same funnel (entries by month and by channel, period conversion, win rate): "
        f"Cueva {ours:.2f} s warm, pandas {p['warm']:.2f} s warm (+{p['load']:.1f} s to read "
        f"Parquet) -> {speed:.1f}x faster (target >= 10x: {'ok' if speed >= 10 else 'MISSED'}); "
        f"CPU {ours_cpu:.2f} s vs {p['cpu']:.2f} s -> {p['cpu'] / ours_cpu:.1f}x less"
    )
    print(
        f"peak memory: Cueva funnel {f['peak_mb']:.0f} MB, pandas {p['peak_mb']:.0f} MB -> "
        f"{mem:.2f} of pandas (target <= 0.25: {'ok' if mem <= 0.25 else 'MISSED'})"
    )
    print(
        f"  baselines (max RSS before any data): Cueva process after imports "
        f"{f['baseline_mb']:.0f} MB, after opening the store {f['opened_mb']:.0f} MB "
        f"({f['opened_mb'] / p['peak_mb']:.2f} of the pandas peak), after data_period "
        f"{f.get('period_mb', 0):.0f} MB; pandas process after "
        f"imports {p['baseline_mb']:.0f} MB"
    )
    same = not p["mismatches"]
    print(f"results equal to pandas: {'yes' if same else 'NO: ' + '; '.join(p['mismatches'][:10])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--phase", choices=list(PHASES), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        out = PHASES[args.phase](args.dir, args.scale, args.seed, args.repeat)
        out["peak_mb"] = _peak_mb()
        print(json.dumps(out, default=str))
        return
    with tempfile.TemporaryDirectory(prefix="cueva-bench-") as tmp:
        d = args.dir or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        results: dict[str, dict[str, Any]] = {}
        if args.workspace:
            ws = d / "ws"
            if not ws.exists():
                ws.symlink_to(args.workspace.resolve(), target_is_directory=True)
            args.data = args.data or args.workspace / "data"
        if args.data:
            data = d / "data"
            if not data.exists():
                data.symlink_to(args.data.resolve(), target_is_directory=True)
            results["generate"] = {"data": str(args.data), "peak_mb": 0.0}
        for phase in PHASES:
            if phase == "generate" and args.data:
                continue
            if phase in ("import", "floor") and args.workspace:
                continue
            print(f"... {phase}", file=sys.stderr, flush=True)
            results[phase] = run_phase(phase, d, args)
        report(results, args)
        if results["pandas"]["mismatches"]:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
