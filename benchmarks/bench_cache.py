"""The store's result cache (cueva.store.cache): each user with the cache cleared before every
call (the cost without it) against warm calls that find their entries, in the same process.

    .venv/bin/python benchmarks/bench_cache.py --workspace DIR [--repeat 3]

DIR: a demo workspace (e.g. a copy of the ``large`` demo; the store is only read, apart from
the engine's temporary tables). Prints, for the funnel report by channel and month, the SLA
scorecard (2026-Q2 with its 6-quarter trend, as of 2026-07-01) and the gap 2026-Q2 vs 2026-Q1
by channel: the median wall and CPU time (all threads of the process) of calls after
``clear_cache`` and of warm calls, their ratio; the scorecard (cache cleared) with its stage
entries kept in a cached temporary table against the plain expression, alternating; and what
one data-version check costs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cueva.gap.run import gap_report
from cueva.metrics.funnel import funnel_report, stage_entries
from cueva.periods import parse_period
from cueva.sla import scorecard
from cueva.store import cache
from cueva.workspace import Workspace


def timed(fn: Callable[[], Any], repeat: int, before: Callable[[], None]) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        before()
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ws = Workspace.open(args.workspace)
    store, contract = ws.store(), ws.contract
    q2, q1 = parse_period("2026-Q2"), parse_period("2026-Q1")
    as_of = datetime(2026, 7, 1)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f}; {store.row_count('people'):,} people; repeat {args.repeat}"
    )
    users: dict[str, Callable[[], Any]] = {
        "funnel_report by channel, month": lambda: funnel_report(
            store, contract, q2, by="channel", grain="month"
        ),
        "scorecard 2026-Q2 (+6 quarters)": lambda: scorecard(store, contract, q2, as_of),
        "gap 2026-Q2 vs Q1 by channel": lambda: gap_report(
            store, contract, q2, vs=q1, by="channel"
        ),
    }
    print(f"{'':<34}{'cleared: wall':>14}{'CPU':>7}{'warm: wall':>12}{'CPU':>7}{'ratio CPU':>11}")
    for name, fn in users.items():
        fn()  # compile and load once
        cold = timed(fn, args.repeat, lambda: cache.clear_cache(store))
        warm = timed(fn, args.repeat, lambda: None)
        print(
            f"{name:<34}{cold[0]:>13.2f}s{cold[1]:>6.2f}s{warm[0]:>11.2f}s{warm[1]:>6.2f}s"
            f"{cold[1] / warm[1]:>10.1f}x"
        )
    # the scorecard's stage entries in a cached temporary table vs the plain expression
    # (recomputed inside each join), alternating, cache cleared before each call
    sla_cache = importlib.import_module("cueva.sla.evaluate").Cache
    kept = sla_cache.stage

    def plain(self: Any, name: str) -> Any:
        e = stage_entries(self.store, self.contract, [name])
        return e.select("person_id", "owner_id", "entered_at")

    ab: dict[str, list[float]] = {"table": [], "plain": []}
    for _ in range(args.repeat):
        for label, stage in (("table", kept), ("plain", plain)):
            sla_cache.stage = stage
            cache.clear_cache(store)
            c = time.process_time()
            scorecard(store, contract, q2, as_of)
            ab[label].append(time.process_time() - c)
    sla_cache.stage = kept
    t_table, t_plain = statistics.median(ab["table"]), statistics.median(ab["plain"])
    print(
        f"scorecard, cache cleared: SLA stage entries as a cached table {t_table:.2f}s CPU, "
        f"as a plain expression {t_plain:.2f}s CPU (ratio {t_plain / t_table:.2f})"
    )
    version = timed(lambda: cache.data_version(store), 5, lambda: None)
    stats = cache.result_cache(store).stats
    print(f"data version check: {version[0] * 1000:.1f} ms wall, {version[1] * 1000:.1f} ms CPU")
    print(f"cache: {stats}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    ws.close()


if __name__ == "__main__":
    main()
