"""The intermediate Parquet write of the CRM sources: cost of its sort order and codec.

Builds a touchpoint-like table from an export's ``CampaignMember.csv`` (made by
``benchmarks/bench_sources.py --export DIR``; two source files, a third of the rows from
the second) and times ``COPY ... TO parquet`` with each sort order the source engine could
use and two codecs, in one process, alternately. Prints wall and CPU time (user + sys).

    .venv/bin/python -u benchmarks/bench_sources_parquet.py --export /tmp/s2work/exp100
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb

ORDERS = {
    "file, row, key": "__file, __row, touchpoint_id",
    "file rank, row, key": "CASE __file WHEN 'CampaignMember.csv' THEN 0 "
    "WHEN 'Task.csv' THEN 1 ELSE 2 END, __row, touchpoint_id",
    "file rank, row": "CASE __file WHEN 'CampaignMember.csv' THEN 0 "
    "WHEN 'Task.csv' THEN 1 ELSE 2 END, __row",
    "no order": "",
}


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    src = str(args.export / "CampaignMember.csv").replace("'", "''")
    con.execute(
        "CREATE TABLE cm AS SELECT Id AS touchpoint_id, LeadId AS person_id, "
        "NULL::VARCHAR AS account_id, CampaignId AS campaign_id, 'email' AS channel, "
        "'member' AS touch_type, CAST(CreatedDate AS TIMESTAMPTZ) AS occurred_at, "
        "Status AS member_status, CASE WHEN hash(Id) % 3 = 0 THEN 'Task.csv' "
        "ELSE 'CampaignMember.csv' END AS __file, "
        "CAST(row_number() OVER () AS BIGINT) AS __row "
        f"FROM read_csv('{src}', header = true, all_varchar = true)"
    )
    n = con.execute("SELECT count(*) FROM cm").fetchone()
    print(f"load average {os.getloadavg()[0]:.1f}; {n[0] if n else 0:,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        for _ in range(args.rounds):
            for codec in ("snappy", "uncompressed"):
                for label, order in ORDERS.items():
                    by = f" ORDER BY {order}" if order else ""
                    t, c = time.perf_counter(), cpu_seconds()
                    con.execute(
                        f"COPY (SELECT * EXCLUDE (__file, __row) FROM cm{by}) TO '{path}' "
                        f"(FORMAT parquet, COMPRESSION {codec})"
                    )
                    print(
                        f"{codec:>12} order by {label:<20} {time.perf_counter() - t:6.2f}s "
                        f"wall {cpu_seconds() - c:6.2f}s CPU "
                        f"{path.stat().st_size / 1e6:6.1f} MB"
                    )


if __name__ == "__main__":
    main()
