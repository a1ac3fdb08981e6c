#!/usr/bin/env python3
"""Attribution benchmark: Cueva against ChannelAttribution 2.2.5 and MAM 2.1.1 on one input.

Inputs are ChannelAttribution-style path files made by ``../shared/bench/gen_paths.py``
(20 channels, 1e5 and 1e6 rows by default; generated once into ``--work``). Every measurement
runs in its own fresh process, which reports its wall time and its peak resident memory
(``ru_maxrss``), so memory numbers do not leak between tools.

The peers are GPL / heavy and are never Cueva dependencies: install them in a separate
environment and pass its interpreter with ``--peer-python``::

    python3.11 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install channelattribution==2.2.5 matplotlib \
        marketing-attribution-models==2.1.1 psutil
    .venv/bin/python benchmarks/bench_attribution.py --peer-python /tmp/benchvenv/bin/python

Without ``--peer-python`` only Cueva runs (and the ratios are not printed).

Two timings per tool: ``model`` (the attribution call on data already in memory in the
tool's own input form) and ``total`` (from the CSV file to the result: reading, parsing and
the model). Ratios are peer / Cueva, so above 1 means Cueva is faster or smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GEN = ROOT.parent / "shared" / "bench" / "gen_paths.py"

RULES_MAM = ("first_touch", "last_touch", "linear", "position_based")
RULES_ALL = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "custom")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- workers


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far."""
    t = os.times()
    return t.user + t.system


def work_cueva(task: str, path: str) -> dict[str, Any]:
    # each task imports only the modules it uses (as a peer's script imports only the peer)
    import numpy as np

    from cueva.attribution.paths import read_path_file

    if task == "imports":  # the interpreter + numpy, pyarrow, scipy and the attribution code
        import cueva.attribution.markov
        import cueva.attribution.rules
        import cueva.attribution.shapley  # noqa: F401

        return {"model": 0.0, "total": 0.0, "read": 0.0, "cpu": _cpu(), "peak_mb": _peak_mb()}
    # the task's library modules are imported before the clock starts, as the peers' workers
    # import pandas and the peer first; their cost is reported apart ("import")
    ti, ci = time.perf_counter(), _cpu()
    import importlib

    import pyarrow.csv  # noqa: F401  (read_path_file imports it on its first call)

    for prefix in ("markov", "rules", "shapley"):
        if task.startswith(prefix):
            importlib.import_module(f"cueva.attribution.{prefix}")
    imports = {"import": time.perf_counter() - ti, "import_cpu": _cpu() - ci}
    t0, c0 = time.perf_counter(), _cpu()
    ps = read_path_file(path)
    t1 = time.perf_counter()
    out: dict[str, Any] = {}
    if task.startswith("markov"):
        from cueva.attribution.markov import markov_attribution

        t1 = time.perf_counter()
        order = int(task[len("markov") :] or 1)
        r = markov_attribution(ps, order=order)
        out["credit"] = dict(zip(ps.channels, r.credit["conversions"].tolist(), strict=True))
        out["states"] = len(r.states)
    elif task in ("rules_mam", "rules_all"):
        from cueva.attribution.rules import heuristic_credit

        t1 = time.perf_counter()
        for m in RULES_MAM if task == "rules_mam" else RULES_ALL:
            heuristic_credit(ps, m)
    elif task.startswith("shapley"):
        from cueva.attribution.shapley import shapley_attribution

        t1 = time.perf_counter()
        value = "conversion_rate" if task == "shapley_rate" else "conversions"
        credit, _ = shapley_attribution(ps, value)  # type: ignore[arg-type]
        out["credited"] = float(np.sum(credit["conversions"]))
    elif task != "read":
        raise SystemExit(f"unknown task {task}")
    t2 = time.perf_counter()
    return {
        "model": t2 - t1, "total": t2 - t0, "read": t1 - t0, "cpu": _cpu() - c0,
        "peak_mb": _peak_mb(), **imports, **out,
    }  # fmt: skip


def work_store(task: str, path: str) -> dict[str, Any]:
    """Attribution over a workspace's store (journeys built in the engine). ``task`` is
    ``milestone|models|period``: ``all`` models over all the data (the issue's target), or,
    like the meeting pack, ``attribute_store`` with the contract's model for one period."""
    from cueva.attribution.journeys import journeys_from_store
    from cueva.attribution.report import attribute, attribute_store
    from cueva.periods import parse_period
    from cueva.workspace import Workspace

    milestone, models, period = task.split("|")
    ws = Workspace.open(path)
    s = ws.contract.attribution.override(milestone=milestone or None)
    p = parse_period(period, ws.contract.fiscal_year_start) if period else None
    start, end = (p.start_dt, p.end_dt) if p else (None, None)
    t0, c0 = time.perf_counter(), _cpu()
    if models != "all":  # one call, as the meeting pack makes it
        r = attribute_store(ws.store(), ws.contract, models or None, s, start=start, end=end)
        t2 = time.perf_counter()
        return {
            "model": float("nan"), "total": t2 - t0, "read": float("nan"), "cpu": _cpu() - c0,
            "peak_mb": _peak_mb(), "journeys": r.meta["journeys"], "touches": -1,
            "models": r.meta["models"],
        }  # fmt: skip
    j = journeys_from_store(ws.store(), ws.contract, s, start=start, end=end)
    t1 = time.perf_counter()
    attribute(
        j.paths, "all", s, spend_by_channel=j.spend_by_channel,
        spend_by_campaign=j.spend_by_campaign, influenced=j.influenced, store_mode=True,
    )  # fmt: skip
    t2 = time.perf_counter()
    return {
        "model": t2 - t1, "total": t2 - t0, "read": t1 - t0, "cpu": _cpu() - c0,
        "peak_mb": _peak_mb(), "journeys": j.paths.n_paths, "touches": len(j.paths.touches),
        "models": "all",
    }  # fmt: skip


def work_ca(task: str, path: str) -> dict[str, Any]:
    import contextlib
    import io

    import pandas as pd

    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca

    t0, c0 = time.perf_counter(), _cpu()
    df = pd.read_csv(path, sep=";")
    t1 = time.perf_counter()
    out: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        if task == "markov1":
            r = ca.markov_model(
                df, "path", "total_conversions", var_value="total_conversion_value",
                var_null="total_null", order=1, seed=1, verbose=0, flg_pro=False,
            )  # fmt: skip
            out["credit"] = dict(
                zip(r.channel_name, r.total_conversions.astype(float), strict=True)
            )
        elif task == "heuristics":
            ca.heuristic_models(
                df, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
            )
        else:
            raise SystemExit(f"unknown task {task}")
    t2 = time.perf_counter()
    return {
        "model": t2 - t1, "total": t2 - t0, "read": t1 - t0, "cpu": _cpu() - c0,
        "peak_mb": _peak_mb(), **out,
    }  # fmt: skip


def work_mam(task: str, path: str) -> dict[str, Any]:
    import pandas as pd
    from mam import MAM

    t0, c0 = time.perf_counter(), _cpu()
    df = pd.read_csv(path, sep=";")
    conv = df[df.total_conversions > 0]
    null = df[df.total_null > 0]
    grouped = pd.concat(
        [
            pd.DataFrame(
                {
                    "path": conv.path,
                    "occurrences": conv.total_conversions,
                    "has_conv": True,
                    "value": conv.total_conversion_value,
                }
            ),
            pd.DataFrame(
                {"path": null.path, "occurrences": null.total_null, "has_conv": False, "value": 0.0}
            ),
        ],
        ignore_index=True,
    )
    t1 = time.perf_counter()
    mam = MAM(
        grouped,
        format_type="grouped_journey",
        channels_colname="path",
        journey_with_conv_colname="has_conv",
        occurrences_colname="occurrences",
        conversion_value_colname="value",
        path_separator=" > ",
    )
    t2 = time.perf_counter()
    out: dict[str, Any] = {}
    if task == "heuristics":
        mam.run_first_click()
        mam.run_last_click()
        mam.run_linear()
        mam.run_position_based()
    elif task == "markov":
        mam.run_markov()
    elif task == "shapley4":
        mam.run_shapley(max_size=4)
    else:
        raise SystemExit(f"unknown task {task}")
    t3 = time.perf_counter()
    # "model" for MAM includes building its internal journey table (its own parsing step)
    return {"model": t3 - t1, "total": t3 - t0, "read": t1 - t0, "prep": t2 - t1,
            "cpu": _cpu() - c0, "peak_mb": _peak_mb(), **out}  # fmt: skip


# ----------------------------------------------------------------------------- driver


def run(python: str, tool: str, task: str, path: Path) -> dict[str, Any] | None:
    cmd = [python, str(Path(__file__).resolve()), "--worker", tool, task, str(path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        print(f"  {tool} {task}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    return result


def ensure_input(work: Path, n: int) -> Path:
    path = work / f"paths_{n}.csv"
    if not path.is_file():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(GEN), "--n", str(n), "--seed", "0", "--out", str(path)], check=True
        )
    return path


def fmt(r: dict[str, Any] | None) -> str:
    if r is None:
        return "failed"
    cpu = f"  cpu {r['cpu']:6.2f} s" if "cpu" in r else ""
    return f"model {r['model']:7.2f} s  total {r['total']:7.2f} s{cpu}  peak {r['peak_mb']:7.0f} MB"


def end_to_end(me: str, peer: str | None, path: Path, rounds: int) -> None:
    """Issue 4's end-to-end pair (the file to exact Markov order 1, against CA's read_csv +
    markov_model), alternated ``rounds`` times so both see the same machine load; prints every
    run, then the ratios of the median and of the best runs (wall, CPU, peak memory). Library
    imports are outside "total" for both tools (CA's worker imports pandas and CA first); the
    second line adds Cueva's back (CA's own import is never counted)."""
    import statistics

    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    print(f"  cueva imports only           {fmt(run(me, 'cueva', 'imports', path))}")
    for i in range(rounds):
        o = run(me, "cueva", "markov1", path)
        t = run(peer, "ca", "markov1", path) if peer else None
        if o is not None:
            ours.append(o)
            print(
                f"  round {i + 1} cueva markov1  read {o['read']:5.2f} s  {fmt(o)}"
                f"  (imports before: {o['import']:.2f} s, cpu {o['import_cpu']:.2f} s)"
            )
        if t is not None:
            theirs.append(t)
            print(f"  round {i + 1} CA markov1     read {t['read']:5.2f} s  {fmt(t)}")
    if not ours or not theirs:
        return
    for what, pick in (("median", statistics.median), ("best", min)):
        w = pick(r["total"] for r in theirs) / pick(r["total"] for r in ours)
        c = pick(r["cpu"] for r in theirs) / pick(r["cpu"] for r in ours)
        m = pick(r["peak_mb"] for r in theirs) / pick(r["peak_mb"] for r in ours)
        print(
            f"  CA / cueva, {what} of {len(ours)}: total wall {w:.1f}x, CPU {c:.1f}x, peak {m:.2f}x"
        )
        w = pick(r["total"] for r in theirs) / pick(r["total"] + r["import"] for r in ours)
        c = pick(r["cpu"] for r in theirs) / pick(r["cpu"] + r["import_cpu"] for r in ours)
        print(f"    counting Cueva's imports (pyarrow.csv, the model): wall {w:.1f}x, CPU {c:.1f}x")
    model = statistics.median(r["model"] for r in theirs) / statistics.median(
        r["model"] for r in ours
    )
    print(f"  CA / cueva, median model call alone: {model:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--work", type=Path, default=HERE / "_work")
    ap.add_argument("--peer-python", default=None, help="interpreter with the peers installed")
    ap.add_argument("--skip-mam-markov", action="store_true", help="MAM Markov needs ~7 GB")
    ap.add_argument("--orders", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--store", type=Path, nargs="*", default=[], help="workspaces to time")
    ap.add_argument("--milestone", default="", help="milestone for --store (default: contract)")
    ap.add_argument(
        "--models", default="all",
        help="--store: 'all' (all models, all data) or a model list; '' = the contract's model",
    )  # fmt: skip
    ap.add_argument("--period", default="", help="--store: milestones in this period (2026-Q2)")
    ap.add_argument(
        "--rounds", type=int, default=0,
        help="only the end-to-end pair: Cueva Markov order 1 and CA's, alternated this many times",
    )  # fmt: skip
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "TASK", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        tool, task, path = a.worker
        fn = {"cueva": work_cueva, "store": work_store, "ca": work_ca, "mam": work_mam}[tool]
        print(json.dumps(fn(task, path)))
        return

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpu, python {platform.python_version()}"
    )
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    me = sys.executable
    peer = a.peer_python
    for ws in a.store:
        task = f"{a.milestone}|{a.models}|{a.period}"
        r = run(me, "store", task, ws)
        print(
            f"\n== store {ws}: models {a.models or '(contract)'}, milestone "
            f"{a.milestone or '(contract)'}, period {a.period or 'all'}"
        )
        if r is not None and a.models == "all":
            print(
                f"  {r['journeys']:,} journeys, {r['touches']:,} touches: journeys "
                f"{r['read']:.2f} s + models {r['model']:.2f} s = {r['total']:.2f} s "
                f"(CPU {r['cpu']:.2f} s), peak {r['peak_mb']:.0f} MB"
            )
        elif r is not None:
            print(
                f"  attribute_store ({', '.join(r['models'])}): {r['journeys']:,} journeys, "
                f"{r['total']:.2f} s (CPU {r['cpu']:.2f} s), peak {r['peak_mb']:.0f} MB"
            )
    for n in a.sizes:
        path = ensure_input(a.work, n)
        print(f"\n== {n:,} path rows ({path.name}, 20 channels)")
        if a.rounds:
            end_to_end(me, peer, path, a.rounds)
            continue
        res: dict[str, dict[str, Any] | None] = {}
        res["cueva imports only"] = run(me, "cueva", "imports", path)
        res["cueva read"] = run(me, "cueva", "read", path)
        res["cueva markov1"] = run(me, "cueva", "markov1", path)
        for k in a.orders:
            res[f"cueva markov{k}"] = run(me, "cueva", f"markov{k}", path)
        res["cueva rules (4 MAM models)"] = run(me, "cueva", "rules_mam", path)
        res["cueva rules (6 models)"] = run(me, "cueva", "rules_all", path)
        res["cueva shapley 20ch"] = run(me, "cueva", "shapley", path)
        res["cueva shapley 20ch rate"] = run(me, "cueva", "shapley_rate", path)
        if peer:
            res["CA markov1"] = run(peer, "ca", "markov1", path)
            res["CA heuristics"] = run(peer, "ca", "heuristics", path)
            res["MAM heuristics"] = run(peer, "mam", "heuristics", path)
            if not a.skip_mam_markov:
                res["MAM markov"] = run(peer, "mam", "markov", path)
        for name, r in res.items():
            print(f"  {name:28s} {fmt(r)}")
        if not peer:
            continue

        def ratio(peer_name: str, ours: str, res: dict[str, dict[str, Any] | None] = res) -> None:
            p, o = res.get(peer_name), res.get(ours)
            if p is None or o is None:
                return
            print(
                f"  {peer_name} / {ours}: model {p['model'] / o['model']:.1f}x, "
                f"total {p['total'] / o['total']:.1f}x, peak memory {p['peak_mb'] / o['peak_mb']:.1f}x"
            )

        print("  ratios (peer / cueva; >1: cueva faster or smaller)")
        ratio("CA markov1", "cueva markov1")
        ratio("MAM markov", "cueva markov1")
        ratio("MAM heuristics", "cueva rules (4 MAM models)")
        ratio("CA heuristics", "cueva rules (4 MAM models)")
        ca, ours = res.get("CA markov1"), res.get("cueva markov1")
        if ca and ours and "credit" in ca:
            exact = ours["credit"]
            rel = {c: ca["credit"][c] / exact[c] - 1 for c in exact if exact[c] > 0}
            big = [c for c in exact if exact[c] >= 0.05 * sum(exact.values())]
            small = [c for c in exact if exact[c] < 0.01 * sum(exact.values())]
            worst_big = max((abs(rel[c]) for c in big), default=float("nan"))
            worst_small = max((abs(rel[c]) for c in small), default=float("nan"))
            print(
                f"  CA Monte Carlo vs exact Markov: max |rel diff| {worst_big:.2%} on channels "
                f"with >= 5% of credit, {worst_small:.2%} on channels with < 1%"
            )


if __name__ == "__main__":
    main()
