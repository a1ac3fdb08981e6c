"""Benchmark: the SLA scorecard for a quarter, and vectorised vs per-lead business hours.

Usage:
    .venv/bin/python benchmarks/bench_scorecard.py --workspace /tmp/demo_l   # an existing demo
    .venv/bin/python benchmarks/bench_scorecard.py --scale medium            # creates one first

Prints:
- the scorecard time for the quarter (with the trend over the 6 quarters before it): the first
  call in the process (cold) and the median of ``--repeat`` further calls (warm);
- the peak resident memory of the process (ru_maxrss);
- business hours from MQL to first human contact for the leads of those 7 quarters, computed by
  cueva.calendar (numpy) and by a straightforward per-lead Python loop over days, on the same
  leads, with the largest difference and the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cueva.calendar import business_hours
from cueva.contract import BusinessCalendar
from cueva.demo import create_demo, demo_contract_text
from cueva.periods import parse_period, previous
from cueva.sla import Cache, scorecard
from cueva.sla.evaluate import Range
from cueva.workspace import Workspace


def per_lead_business_hours(
    starts: list[datetime], ends: list[datetime], cal: BusinessCalendar, closed: set[date]
) -> list[float]:
    """The straightforward way: for each lead, walk the days and add each day's overlap."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    o, c = cal.open_minutes
    out = []
    for start, end in zip(starts, ends, strict=True):
        total = 0.0
        if end > start:
            d = start.date()
            while d <= end.date():
                if days[d.weekday()] in cal.working_days and d not in closed:
                    day0 = datetime(d.year, d.month, d.day)
                    lo = max(start, day0 + timedelta(minutes=o))
                    hi = min(end, day0 + timedelta(minutes=c))
                    if hi > lo:
                        total += (hi - lo).total_seconds()
                d += timedelta(days=1)
        out.append(total / 3600)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, help="An existing demo workspace.")
    ap.add_argument("--scale", default="medium", help="Demo scale to create when no --workspace.")
    ap.add_argument("--period", default="2026-Q2")
    ap.add_argument("--as-of", default="2026-07-01")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample", type=int, default=50_000, help="Leads for the per-lead loop.")
    args = ap.parse_args()

    if args.workspace is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_scorecard_"))
        t = time.perf_counter()
        create_demo(tmp / "ws", seed=7, scale=args.scale)
        print(f"created the {args.scale} demo in {time.perf_counter() - t:.1f}s")
        path = tmp / "ws"
    else:
        path = args.workspace
    (path / "cueva.yaml").write_text(demo_contract_text(), encoding="utf-8")  # current SLAs
    ws = Workspace.open(path)
    store, contract = ws.store(), ws.contract
    period = parse_period(args.period)
    as_of = datetime.fromisoformat(args.as_of)
    people = store.row_count("people")
    print(f"workspace {path}: {people:,} people, {store.row_count('activities'):,} activities")
    print(f"machine: {platform.processor() or platform.machine()}, python {sys.version.split()[0]}")

    t = time.perf_counter()
    card = scorecard(store, contract, period, as_of)
    cold = time.perf_counter() - t
    warm, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        scorecard(store, contract, period, as_of)
        warm.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)  # all threads of this process (DuckDB's too)
    load = os.getloadavg()[0]
    print(
        f"scorecard {period.label} ({len(card)} service levels, trend over 6 quarters): "
        f"cold {cold:.2f}s, warm median {statistics.median(warm):.2f}s wall "
        f"(min {min(warm):.2f}s), {statistics.median(cpu):.2f}s CPU, {args.repeat} runs; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(card[["service_level", "actual", "target", "status"]].to_string(index=False))

    # business hours, the same leads both ways
    sla = contract.service_level("response_time")
    rng = Range([*previous(period, 6), period], as_of)
    cache = Cache(store, contract, as_of)
    df = cache.leads(sla, rng, "human")  # entered_at, at (first human contact)
    until = df["at"].where(df["at"].notna(), pd.Timestamp(as_of))
    cal = contract.calendar_for(team=sla.giver)
    t = time.perf_counter()
    business_hours(df["entered_at"], until, cal, contract.timezone)
    t_all = time.perf_counter() - t
    n = min(args.sample, len(df))
    pick = np.random.default_rng(7).choice(len(df), n, replace=False)
    starts = df["entered_at"].iloc[pick]
    ends = until.iloc[pick]
    t = time.perf_counter()
    fast = business_hours(starts, ends, cal, contract.timezone)
    t_fast = time.perf_counter() - t
    import holidays

    assert cal.holidays is not None
    closed = set(
        holidays.country_holidays(
            cal.holidays.country, subdiv=cal.holidays.subdivision, years=range(2023, 2028)
        )
    ) | set(cal.extra_holidays)
    s_list = [x.to_pydatetime() for x in starts]
    e_list = [x.to_pydatetime() for x in ends]
    t = time.perf_counter()
    slow = per_lead_business_hours(s_list, e_list, cal, closed)
    t_slow = time.perf_counter() - t
    diff = float(np.max(np.abs(np.asarray(slow) - fast))) if n else 0.0
    print(
        f"business hours, all {len(df):,} leads of 7 quarters: numpy {t_all * 1000:.0f} ms "
        f"({len(df) / max(t_all, 1e-9):,.0f} leads/s)"
    )
    print(
        f"business hours, {n:,} sampled leads: numpy {t_fast * 1000:.1f} ms, per-lead Python "
        f"{t_slow:.2f}s, ratio {t_slow / t_fast:.0f}x, max difference {diff:.2e} h"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (ru_maxrss): {peak_mb:,.0f} MB")
    ws.close()


if __name__ == "__main__":
    main()
