"""Start-up time of the ``cueva`` command.

Runs ``cueva --help`` and ``cueva status WORKSPACE`` ``--repeat`` times each in fresh
processes and prints the median wall time and CPU time (user + sys of the child), beside a
baseline run in the same process: the interpreter importing ``cueva.cli`` plus the library
modules every command needs (ibis, pandas, the funnel, gap, SLA, attribution and report
modules), i.e. a CLI that imports everything up front. Then the slowest imports of
``import cueva.cli`` (``python -X importtime``, cumulative microseconds).

    .venv/bin/python benchmarks/bench_cli_startup.py --workspace DIR [--repeat 10]

Without ``--workspace`` a small demo workspace is created in a temporary folder first (not
timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PYTHON = sys.executable
CUEVA = str(Path(PYTHON).with_name("cueva"))

#: What a CLI that imports every command's library at start-up loads.
EAGER = (
    "import cueva.cli, ibis, pandas, cueva.metrics.funnel, cueva.metrics.registry, "
    "cueva.gap, cueva.gap.chart, cueva.sla, cueva.attribution, cueva.report, cueva.sources, "
    "cueva.importer, cueva.status, cueva.demo.generator, cueva.docs_gen"
)


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    run(cmd)  # warm the file cache
    samples = [run(cmd) for _ in range(repeat)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def slowest_imports(n: int = 12) -> list[tuple[int, str]]:
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import cueva.cli"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # indentation marks nesting
        if depth <= 2:
            rows.append((int(cumulative), "  " * depth + name.strip()))
    return sorted(rows, reverse=True)[:n]


def loaded_heavy() -> list[str]:
    code = (
        "import sys, cueva.cli; print(' '.join(m for m in ('ibis', 'pandas', 'numpy', "
        "'pyarrow', 'duckdb', 'altair', 'weasyprint', 'scipy', 'cueva.attribution') "
        "if m in sys.modules))"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, help="workspace for 'cueva status'")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace
        if ws is None:
            ws = Path(tmp) / "demo"
            subprocess.run([CUEVA, "demo", str(ws), "--scale", "small"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        load = os.getloadavg()
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
              f"load average {load[0]:.1f}; repeat {args.repeat} (median)")  # fmt: skip
        rows = {
            "python -c pass": [PYTHON, "-c", "pass"],
            "cueva --help": [CUEVA, "--help"],
            "cueva status WS": [CUEVA, "status", str(ws)],
            "baseline: eager imports": [PYTHON, "-c", EAGER],
        }
        results = {name: measure(cmd, args.repeat) for name, cmd in rows.items()}
    print(f"{'':<26}{'wall s':>8}{'CPU s':>8}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<26}{wall:>8.3f}{cpu:>8.3f}")
    base = results["baseline: eager imports"]
    for name in ("cueva --help", "cueva status WS"):
        wall, cpu = results[name]
        print(
            f"ratio eager baseline / {name}: wall {base[0] / wall:.1f}x, CPU {base[1] / cpu:.1f}x"
        )
    print(f"after 'import cueva.cli', loaded: {' '.join(loaded_heavy()) or 'none of the heavy'}")
    print("slowest top-level imports of 'import cueva.cli' (cumulative ms):")
    for us, name in slowest_imports():
        print(f"  {us / 1000:8.1f}  {name}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
