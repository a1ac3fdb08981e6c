"""Dry run vs real import of a mapping import, same data, same run (issue 6).

    .venv/bin/python benchmarks/bench_sources_dry_run.py [--repeat 9]

Imports the X Education export (shared/data/leads/Leads.csv, 9,240 leads) through
tests/fixtures/leads/mapping.yaml with --quarantine, as a dry run and for real, each
``--repeat`` times alternately into a fresh workspace, and prints the best and median time of
each and the ratio dry/real. A dry run writes the canonical Parquet files and runs the
canonical import's checks (import_files(validate_only=True)), so it costs about what the
import does minus the write.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cueva.sources import import_mapping
from cueva.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.conftest import shared_file

    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="cueva-bench-") as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        (folder / "Leads.csv").symlink_to(shared_file("data", "leads", "Leads.csv"))
        mapping = folder / "mapping.yaml"
        shutil.copy(ROOT / "tests" / "fixtures" / "leads" / "mapping.yaml", mapping)
        for i in range(args.repeat):
            for dry in (True, False):
                ws = Workspace.init(Path(tmp) / f"ws{i}{dry}", "Bench Co")
                try:
                    started = time.perf_counter()
                    s = import_mapping(
                        ws.store(), mapping, ws.contract, dry_run=dry, quarantine=True
                    )
                    times[dry].append(time.perf_counter() - started)
                    assert s.written is not dry and s.import_problems == 0
                finally:
                    ws.close()
    for dry, label in ((True, "dry run"), (False, "import")):
        t = times[dry]
        print(f"{label:8}: best {min(t):.3f} s, median {statistics.median(t):.3f} s")
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"ratio dry run / import (medians): {ratio:.2f}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
