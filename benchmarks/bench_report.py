"""Benchmark: the joint meeting pack for one quarter of the demo company, PDF included.

    .venv/bin/python benchmarks/bench_report.py --scale large --workspace /tmp/demo-large

Creates the demo workspace (seed 7) when ``--workspace`` does not hold one yet, then times,
in one process: collecting the results (every section's metric functions), rendering the HTML
(charts to SVG), printing the PDF, and the whole ``write_pack``. As a peer it times the same
metric functions called directly, one after the other (what the single commands would run: funnel twice,
scorecard, gap plain and by channel, attribution),
so the ratio shows what the pack adds on top of the metrics. Target (issue 7): the whole pack,
PDF included, in under 15 seconds for a quarter of the ``large`` demo.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from cueva.demo import create_demo
from cueva.periods import parse_period
from cueva.report import collect_pack, render_html, render_pdf, write_pack
from cueva.workspace import Workspace

TARGET_SECONDS = 15.0


def peer(ws: Workspace, period: str, vs: str) -> float:
    """The metric functions the pack shows, called directly (no pack)."""
    from cueva.attribution import attribute_store
    from cueva.gap.run import gap_report
    from cueva.metrics.funnel import funnel_report
    from cueva.sla import scorecard

    store, contract = ws.store(), ws.contract
    p, q = parse_period(period), parse_period(vs)
    t0 = time.perf_counter()
    funnel_report(store, contract, p)
    funnel_report(store, contract, q)
    if contract.service_levels:
        scorecard(store, contract, p)
    gap_report(store, contract, p, vs=q)
    gap_report(store, contract, p, vs=q, by="channel")
    attribute_store(store, contract, start=p.start_dt, end=p.end_dt)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--period", default="2026-Q2")
    ap.add_argument("--vs", default="2026-Q1")
    ap.add_argument("--lang", default="es")
    args = ap.parse_args()

    path = args.workspace or Path(tempfile.gettempdir()) / f"cueva-bench-report-{args.scale}"
    if not (path / "cueva.duckdb").exists():
        t0 = time.perf_counter()
        create_demo(path, seed=7, scale=args.scale, force=True)
        print(f"created the {args.scale} demo in {time.perf_counter() - t0:.1f} s at {path}")

    with Workspace.open(path) as ws:
        rows = ws.store().row_count("touchpoints"), ws.store().row_count("people")
        print(f"workspace {path}: {rows[1]:,} people, {rows[0]:,} touchpoints")
        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}

        def clock() -> tuple[float, float]:
            return time.perf_counter(), time.process_time()

        def done(name: str, start: tuple[float, float]) -> float:
            timings[name] = time.perf_counter() - start[0]
            cpu[name] = time.process_time() - start[1]
            return timings[name]

        t = clock()
        data = collect_pack(ws, args.period, vs=args.vs, lang=args.lang)
        done("collect (cold)", t)
        t = clock()
        html = render_html(data)
        done("render HTML (first: starts the chart engine)", t)
        t = clock()
        render_pdf(html)
        done("print PDF", t)

        t = clock()
        peer(ws, args.period, args.vs)
        peer_s = done("peer: metric functions called directly", t)

        with tempfile.TemporaryDirectory() as tmp:
            t = clock()
            files = write_pack(ws, args.period, Path(tmp) / "pack.html", vs=args.vs,
                               lang=args.lang, pdf=True)  # fmt: skip
            total = done("write_pack, HTML + PDF (warm)", t)
            size = files.html.stat().st_size, files.pdf.stat().st_size if files.pdf else 0
        t = clock()
        collect_pack(ws, args.period, vs=args.vs, lang=args.lang)
        warm = done("collect (warm)", t)

    print(f"{'step':48s} {'wall':>8s} {'CPU':>8s}")
    for name, sec in timings.items():
        print(f"{name:48s} {sec:7.2f}s {cpu[name]:7.2f}s")
    print(f"unavailable sections: {sorted(data.unavailable) or 'none'}")
    print(f"HTML {size[0] / 1024:.0f} KiB, PDF {size[1] / 1024:.0f} KiB")
    print(f"ratio collect (warm) / peer metric calls: {warm / peer_s:.2f}")
    print(f"ratio whole pack (warm) / {TARGET_SECONDS:.0f} s target: {total / TARGET_SECONDS:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak RSS {peak:.2f} GiB; {platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")  # fmt: skip
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
