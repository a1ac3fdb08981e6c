"""Benchmark: the joint meeting pack for one quarter of the demo company, PDF included.

    .venv/bin/python benchmarks/bench_report.py --scale large --workspace /tmp/demo-large

Creates the demo workspace (seed 7) when ``--workspace`` does not hold one yet, then prints
wall and CPU seconds (user + sys of every thread, the engine's included) of:

1. the pack as a user gets it: ``cueva report ... --pdf`` in a fresh process (imports, cold
   engine caches), and ``write_pack`` in a fresh process with and without ``concurrent``
   (attribution on a second connection beside the other sections, chart engine and PDF
   printer started meanwhile) -- the ratio of the two is the gain of running concurrently;
2. in this process, each section of ``collect_pack`` one after the other, cold (funnel,
   scorecard, gap plain and by channel, attribution, glossary and actions), the first HTML
   render (starts the chart engine), the first PDF print;
3. as a peer, the same metric functions called directly, one after the other (what the single
   commands would run: funnel twice, scorecard, gap plain and by channel, attribution), so the
   ratio shows what the pack adds on top of the metrics;
4. the whole ``write_pack`` warm (engine caches filled), concurrent and sequential,
   alternating, ``--rounds`` times each (best shown, every round printed).

``--workers attribution`` (or ``attribution,scorecard``, the default) chooses the sections that
run in worker threads when concurrent, for every run of the script (``cueva report`` itself
always uses the default).

Target (issue 7): the whole pack, PDF included, in under 15 seconds for a quarter of the
``large`` demo.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cueva.demo import create_demo
from cueva.periods import parse_period
from cueva.report import _collect, collect_pack, render_html, render_pdf, write_pack
from cueva.workspace import Workspace

TARGET_SECONDS = 15.0

ROWS: list[tuple[str, float, float]] = []


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def timed(name: str) -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    w, c = time.perf_counter(), _cpu()
    yield out
    out["wall"], out["cpu"] = time.perf_counter() - w, _cpu() - c
    ROWS.append((name, out["wall"], out["cpu"]))
    print(f"  {name:58s} {out['wall']:7.2f}s {out['cpu']:7.2f}s", flush=True)


def fresh_process(name: str, argv: list[str]) -> dict[str, float]:
    """``argv`` in a new Python process: wall and the child's CPU (user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ROWS.append((name, wall, cpu))
    print(f"  {name:58s} {wall:7.2f}s {cpu:7.2f}s", flush=True)
    return {"wall": wall, "cpu": cpu}


def peer(ws: Workspace, period: str, vs: str) -> None:
    """The metric functions the pack shows, called directly (no pack)."""
    from cueva.attribution import attribute_store
    from cueva.gap.run import gap_report
    from cueva.metrics.funnel import funnel_report
    from cueva.sla import scorecard

    store, contract = ws.store(), ws.contract
    p, q = parse_period(period), parse_period(vs)
    funnel_report(store, contract, p)
    funnel_report(store, contract, q)
    if contract.service_levels:
        scorecard(store, contract, p)
    gap_report(store, contract, p, vs=q)
    gap_report(store, contract, p, vs=q, by="channel")
    attribute_store(store, contract, start=p.start_dt, end=p.end_dt)


def sections_one_by_one(ws: Workspace, period: str, vs: str, lang: str) -> Any:
    """collect_pack(concurrent=False) with each section's filler timed."""
    names = ("_funnel", "_scorecard", "_gap", "_attribution", "_glossary")
    saved = {n: getattr(_collect, n) for n in names}

    def wrap(name: str, fill: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with timed(f"  section {name.strip('_')}"):
                return fill(*args, **kwargs)

        return run

    try:
        for n, f in saved.items():
            setattr(_collect, n, wrap(n, f))
        with timed("collect, sections one after the other (cold)"):
            return collect_pack(ws, period, vs=vs, lang=lang, concurrent=False)
    finally:
        for n, f in saved.items():
            setattr(_collect, n, f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--period", default="2026-Q2")
    ap.add_argument("--vs", default="2026-Q1")
    ap.add_argument("--lang", default="es")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--workers",
        default=",".join(_collect.WORKER_SECTIONS),
        help="sections run in worker threads when concurrent (default: %(default)s)",
    )
    args = ap.parse_args()
    workers = tuple(w for w in args.workers.split(",") if w)
    _collect.WORKER_SECTIONS = workers

    path = args.workspace or Path(tempfile.gettempdir()) / f"cueva-bench-report-{args.scale}"
    if not (path / "cueva.duckdb").exists():
        t0 = time.perf_counter()
        create_demo(path, seed=7, scale=args.scale, force=True)
        print(f"created the {args.scale} demo in {time.perf_counter() - t0:.1f} s at {path}")
    with Workspace.open(path) as ws:
        rows = ws.store().row_count("touchpoints"), ws.store().row_count("people")
    print(f"workspace {path}: {rows[1]:,} people, {rows[0]:,} touchpoints; workers: {workers}")
    print(f"  {'step':58s} {'wall':>8s} {'CPU':>8s}")

    tmp = Path(tempfile.mkdtemp(prefix="cueva-bench-report-"))
    out = tmp / "pack.html"
    pack_args = ["--period", args.period, "--vs", args.vs, "--lang", args.lang]
    py = sys.executable
    code = (
        "import sys; from cueva.workspace import Workspace; from cueva.report import write_pack\n"
        "from cueva.report import _collect\n"
        f"_collect.WORKER_SECTIONS = {workers!r}\n"
        "with Workspace.open(sys.argv[1]) as ws:\n"
        "    write_pack(ws, sys.argv[2], sys.argv[5], vs=sys.argv[3], lang=sys.argv[4],"
        " pdf=True, concurrent=sys.argv[6] == 'yes')"
    )
    # 1. fresh processes
    cli = fresh_process(
        "fresh process: cueva report --pdf (what a user runs)",
        [py, "-m", "cueva", "report", str(path), *pack_args, "--out", str(out), "--pdf"],
    )
    fresh = {}
    for mode in ("yes", "no"):
        label = "concurrent" if mode == "yes" else "sequential"
        fresh[mode] = fresh_process(
            f"fresh process: write_pack, {label}",
            [py, "-c", code, str(path), args.period, args.vs, args.lang, str(out), mode],
        )
    size = out.stat().st_size, out.with_suffix(".pdf").stat().st_size

    with Workspace.open(path) as ws:
        # 2. this process, cold, step by step
        data = sections_one_by_one(ws, args.period, args.vs, args.lang)
        with timed("render HTML, first (starts the chart engine)"):
            html = render_html(data)
        with timed("print PDF, first"):
            render_pdf(html)
        with timed("render HTML, again"):
            html = render_html(data)
        with timed("print PDF, again"):
            render_pdf(html)
        # 3. peer
        with timed("peer: the metric functions called directly") as peer_t:
            peer(ws, args.period, args.vs)
        # 4. warm, alternating
        warm: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for r in range(args.rounds):
            for conc in (True, False):
                label = "concurrent" if conc else "sequential"
                with timed(f"whole pack warm, HTML + PDF, {label} (round {r + 1})") as t:
                    write_pack(ws, args.period, out, vs=args.vs, lang=args.lang, pdf=True,
                               concurrent=conc)  # fmt: skip
                warm[conc].append(t)
        with timed("collect warm, concurrent") as collect_t:
            collect_pack(ws, args.period, vs=args.vs, lang=args.lang)

    best = {k: min(v, key=lambda t: t["wall"]) for k, v in warm.items()}
    print(f"unavailable sections: {sorted(data.unavailable) or 'none'}")
    print(f"HTML {size[0] / 1024:.0f} KiB, PDF {size[1] / 1024:.0f} KiB")
    print(
        f"ratio whole pack warm concurrent / sequential (best of {args.rounds}): "
        f"wall {best[True]['wall'] / best[False]['wall']:.2f}, "
        f"CPU {best[True]['cpu'] / best[False]['cpu']:.2f}"
    )
    print(
        f"ratio fresh process concurrent / sequential: wall "
        f"{fresh['yes']['wall'] / fresh['no']['wall']:.2f}"
    )
    print(f"ratio collect warm / peer metric calls: {collect_t['wall'] / peer_t['wall']:.2f}")
    print(
        f"ratio whole pack warm (concurrent, best) / {TARGET_SECONDS:.0f} s target: "
        f"{best[True]['wall'] / TARGET_SECONDS:.2f}; "
        f"cueva report in a fresh process / target: {cli['wall'] / TARGET_SECONDS:.2f}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    print(
        f"peak RSS {peak:.2f} GiB (fresh processes {child:.2f} GiB); {platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}"
    )
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0 if best[True]["wall"] <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
