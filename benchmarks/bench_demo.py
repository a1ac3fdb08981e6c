"""Benchmark the demo generator: generate a scale and write it as Parquet.

Prints seconds for generation and for writing, rows per table, rows per second, peak memory
(resident set size) and the ratio of the total time to the 120-second target for ``large``.
There is no peer implementation to race: the target is absolute (issue 2, part 5).

Usage: .venv/bin/python benchmarks/bench_demo.py --scale large [--seed 7] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import psutil

from cueva.demo.generator import generate
from cueva.demo.writer import _write_tables

TARGET_SECONDS = 120.0


class PeakRSS:
    """Samples this process's resident set size every 20 ms in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a temp dir)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load average {load[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="cueva-bench-demo-") as tmp, PeakRSS() as rss:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        tables = generate(args.seed, args.scale)
        t1 = time.perf_counter()
        paths = _write_tables(out, tables)
        t2 = time.perf_counter()
        size = sum(p.stat().st_size for p in paths)
    rows = {name: t.num_rows for name, t in tables.items()}
    total_rows = sum(rows.values())
    for name, n in rows.items():
        print(f"  {name:<20} {n:>12,}")
    gen, write = t1 - t0, t2 - t1
    print(
        f"scale {args.scale}, seed {args.seed}: {total_rows:,} rows, {size / 2**20:,.0f} MiB Parquet"
    )
    print(f"generate {gen:.1f}s, write Parquet {write:.1f}s, total {gen + write:.1f}s")
    print(f"{total_rows / (gen + write):,.0f} rows/s; peak RSS {rss.peak / 2**30:.2f} GiB")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print(f"ratio to the {TARGET_SECONDS:.0f}s target: {(gen + write) / TARGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
