"""Salesforce-style export import vs the canonical import of the same data (same run).

    .venv/bin/python benchmarks/bench_sources.py            # 1M leads, 200k opportunities,
                                                             # 2M campaign members
    .venv/bin/python benchmarks/bench_sources.py --scale 0.1
    .venv/bin/python benchmarks/bench_sources.py --scale 0.25 --steps   # time each engine step
    .venv/bin/python benchmarks/bench_sources.py --export /tmp/sf-export   # keep/reuse the export
    .venv/bin/python benchmarks/bench_sources.py --repeat 3   # alternate the two imports 3 times

1. Generates a Salesforce export (Lead, Contact, Account, Opportunity, Campaign,
   CampaignMember, User CSVs; seeded, deterministic) with DuckDB.
2. Times ``import_salesforce`` into a fresh workspace.
3. Writes the canonical tables it produced as canonical CSV files (the same data), and times
   ``import_files`` of those into another fresh workspace.
4. Prints wall time and CPU time (user + sys of this process, all threads) of both imports
   and the ratios (canonical / Salesforce; the goal is >= 0.5). On a shared machine the CPU
   ratio is the steadier one: wall time also counts the time other processes held the cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from cueva.importer import import_files
from cueva.schema import LOAD_ORDER
from cueva.sources import import_salesforce
from cueva.workspace import Workspace


def generate(folder: Path, scale: float) -> dict[str, int]:
    n_leads = int(1_000_000 * scale)
    n_opps = int(200_000 * scale)
    n_members = int(2_000_000 * scale)
    n_accounts = max(10, int(50_000 * scale))
    n_campaigns = max(10, int(1_000 * scale))
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")

    def copy(name: str, sql: str) -> None:
        con.execute(f"COPY ({sql}) TO '{folder / name}.csv' (HEADER, DELIMITER ',')")

    sid = "printf('%s%012dAAA', '{p}', {x})"
    copy(
        "User",
        f"SELECT {sid.format(p='005', x='i')} AS Id, 'User ' || i AS Name, "
        "'u' || i || '@acme.example' AS Email, "
        "CASE WHEN i % 3 = 0 THEN 'Marketing' ELSE 'Sales' END AS Department "
        "FROM range(1, 201) t(i)",
    )
    copy(
        "Account",
        f"SELECT {sid.format(p='001', x='i')} AS Id, 'false' AS IsDeleted, NULL AS MasterRecordId, "
        "'Account ' || i AS Name, 'https://www.a' || i || '.example' AS Website, "
        "'Retail' AS Industry, 'Spain' AS BillingCountry, (i % 5000) AS NumberOfEmployees, "
        f"{sid.format(p='005', x='1 + i % 200')} AS OwnerId, "
        "strftime(TIMESTAMP '2025-01-01' + INTERVAL (i % 300) DAY, '%Y-%m-%dT%H:%M:%S.000Z') "
        f"AS CreatedDate FROM range(1, {n_accounts + 1}) t(i)",
    )
    types = "['Webinar','Trade Show','Email','Advertisement','Conference','Partners']"
    copy(
        "Campaign",
        f"SELECT {sid.format(p='701', x='i')} AS Id, 'false' AS IsDeleted, 'Campaign ' || i AS Name, "
        f"{types}[1 + i % 6] AS Type, NULL AS ParentId, "
        "strftime(DATE '2026-01-01' + INTERVAL (i % 90) DAY, '%Y-%m-%d') AS StartDate, "
        "strftime(DATE '2026-02-01' + INTERVAL (i % 90) DAY, '%Y-%m-%d') AS EndDate, "
        f"1000 * (i % 50) AS BudgetedCost FROM range(1, {n_campaigns + 1}) t(i)",
    )
    statuses = (
        "['Open - Not Contacted','Working - Contacted','Marketing Qualified',"
        "'Closed - Not Converted','Closed - Converted']"
    )
    sources = "['Web','Phone Inquiry','Partner Referral','Trade Show','Webinar','Advertisement']"
    # Leads 1..n_opps are converted (into contact i and opportunity i).
    copy(
        "Lead",
        f"SELECT {sid.format(p='00Q', x='i')} AS Id, 'false' AS IsDeleted, NULL AS MasterRecordId, "
        "'lead' || i || '@example.com' AS Email, "
        f"CASE WHEN i <= {n_opps} THEN 'Closed - Converted' ELSE {statuses}[1 + i % 4] END AS Status, "
        f"{sources}[1 + i % 6] AS LeadSource, {sid.format(p='005', x='1 + i % 200')} AS OwnerId, "
        "'Spain' AS Country, 'Company ' || (i % 9999) AS Company, "
        f"CASE WHEN i <= {n_opps} THEN 'true' ELSE 'false' END AS IsConverted, "
        f"CASE WHEN i <= {n_opps} THEN strftime(DATE '2026-01-20' + INTERVAL (i % 100) DAY, '%Y-%m-%d') END AS ConvertedDate, "
        f"CASE WHEN i <= {n_opps} THEN {sid.format(p='001', x=f'1 + i % {n_accounts}')} END AS ConvertedAccountId, "
        f"CASE WHEN i <= {n_opps} THEN {sid.format(p='003', x='i')} END AS ConvertedContactId, "
        f"CASE WHEN i <= {n_opps} THEN {sid.format(p='006', x='i')} END AS ConvertedOpportunityId, "
        "strftime(TIMESTAMP '2026-01-01 08:00' + INTERVAL (i % 100000) MINUTE, '%Y-%m-%dT%H:%M:%S.000Z') AS CreatedDate "
        f"FROM range(1, {n_leads + 1}) t(i)",
    )
    copy(
        "Contact",
        f"SELECT {sid.format(p='003', x='i')} AS Id, 'false' AS IsDeleted, NULL AS MasterRecordId, "
        f"{sid.format(p='001', x=f'1 + i % {n_accounts}')} AS AccountId, "
        "'lead' || i || '@example.com' AS Email, NULL AS LeadSource, 'Spain' AS MailingCountry, "
        f"{sid.format(p='005', x='1 + i % 200')} AS OwnerId, "
        "strftime(TIMESTAMP '2026-01-20 00:00' + INTERVAL (i % 100) DAY, '%Y-%m-%dT%H:%M:%S.000Z') AS CreatedDate "
        f"FROM range(1, {n_opps + 1}) t(i)",
    )
    stages = "['Prospecting','Qualification','Proposal/Price Quote','Negotiation/Review','Closed Won','Closed Lost']"
    copy(
        "Opportunity",
        f"SELECT {sid.format(p='006', x='i')} AS Id, 'false' AS IsDeleted, 'Deal ' || i AS Name, "
        f"{sid.format(p='001', x=f'1 + i % {n_accounts}')} AS AccountId, "
        f"{sid.format(p='005', x='1 + i % 200')} AS OwnerId, "
        "['New Business','Renewal','Existing Customer - Upgrade'][1 + i % 3] AS Type, "
        f"{stages}[1 + i % 6] AS StageName, round(1000 + (i * 37) % 90000, 2) AS Amount, "
        "'EUR' AS CurrencyIsoCode, "
        "strftime(DATE '2026-03-01' + INTERVAL (i % 120) DAY, '%Y-%m-%d') AS CloseDate, "
        "CASE WHEN i % 6 >= 4 THEN 'true' ELSE 'false' END AS IsClosed, "
        "CASE WHEN i % 6 = 4 THEN 'true' ELSE 'false' END AS IsWon, "
        "strftime(TIMESTAMP '2026-01-20 10:00' + INTERVAL (i % 100) DAY, '%Y-%m-%dT%H:%M:%S.000Z') AS CreatedDate "
        f"FROM range(1, {n_opps + 1}) t(i)",
    )
    # Member m: campaign m % n_campaigns, lead (m * 7919) % n_leads (unique pairs).
    copy(
        "CampaignMember",
        f"SELECT {sid.format(p='00v', x='m')} AS Id, 'false' AS IsDeleted, "
        f"{sid.format(p='701', x=f'1 + m % {n_campaigns}')} AS CampaignId, "
        f"{sid.format(p='00Q', x=f'1 + (m * 7919) % {n_leads}')} AS LeadId, NULL AS ContactId, "
        "CASE WHEN m % 3 = 0 THEN 'Responded' ELSE 'Sent' END AS Status, "
        "CASE WHEN m % 3 = 0 THEN 'true' ELSE 'false' END AS HasResponded, "
        "CASE WHEN m % 3 = 0 THEN strftime(DATE '2026-02-01' + INTERVAL (m % 90) DAY, '%Y-%m-%d') END AS FirstRespondedDate, "
        "strftime(TIMESTAMP '2026-01-15 09:00' + INTERVAL (m % 200000) MINUTE, '%Y-%m-%dT%H:%M:%S.000Z') AS CreatedDate "
        f"FROM range(1, {n_members + 1}) t(m)",
    )
    con.close()
    return {"leads": n_leads, "opportunities": n_opps, "campaign_members": n_members}


def canonical_csvs(ws: Workspace, out: Path) -> list[Path]:
    """The store's canonical tables as canonical CSV files (the same data, canonical form)."""
    ws.close()
    con = duckdb.connect(str(ws.store_path), read_only=True)
    paths = []
    for name in LOAD_ORDER:
        n = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        if n and n[0]:
            p = out / f"{name}.csv"
            con.execute(f"COPY \"{name}\" TO '{p}' (HEADER, DELIMITER ',')")
            paths.append(p)
    con.close()
    return paths


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def time_steps() -> None:
    """Print the time of every source-engine step (CSV reads, materialisations, Parquet)."""
    from cueva.sources import _core, _engine

    def timed(fn, label):  # type: ignore[no-untyped-def]
        def wrapper(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            out = fn(*a, **k)
            name = (
                a[2] if label == "read" else a[2] if label == "materialize" and len(a) > 2 else ""
            )
            print(f"  {label} {name}: {time.perf_counter() - t:.2f}s")
            return out

        return wrapper

    _engine.Engine.read_csv = timed(_engine.Engine.read_csv, "read")  # type: ignore[method-assign]
    _engine.Engine.materialize = timed(_engine.Engine.materialize, "materialize")  # type: ignore[method-assign]
    _engine.Engine.write_parquet = timed(_engine.Engine.write_parquet, "parquet")  # type: ignore[method-assign]
    _core.import_files = timed(_core.import_files, "import_files")  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--steps", action="store_true", help="time each source-engine step")
    ap.add_argument("--export", type=Path, help="folder of the export (generated when empty)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of both imports, alternated")
    args = ap.parse_args()
    if args.steps:
        time_steps()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="cueva-bench-sources-") as tmp:
        root = Path(tmp)
        export = args.export or root / "export"
        export.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if not any(export.glob("*.csv")):
            sizes = generate(export, args.scale)
            print(f"generated {sizes} in {time.perf_counter() - t:.1f}s")
        rows_in = sum(sum(1 for _ in p.open("rb")) - 1 for p in export.glob("*.csv"))
        print(f"export: {export} ({rows_in:,} export rows)")
        rows: list[tuple[float, float, float, float]] = []
        for run in range(args.repeat):
            ws_sf = Workspace.init(root / f"ws_sf{run}", "Bench")
            t, c = time.perf_counter(), cpu_seconds()
            summary = import_salesforce(ws_sf.store(), export, ws_sf.contract)
            sf_s, sf_c = time.perf_counter() - t, cpu_seconds() - c
            print(
                f"salesforce import: {sf_s:.2f}s wall, {sf_c:.2f}s CPU, "
                f"{summary.imported_rows:,} canonical rows"
            )
            canon = root / f"canonical{run}"
            canon.mkdir()
            paths = canonical_csvs(ws_sf, canon)

            ws_c = Workspace.init(root / f"ws_c{run}", "Bench")
            t, c = time.perf_counter(), cpu_seconds()
            result = import_files(ws_c.store(), paths, timezone=ws_c.contract.timezone)
            c_s, c_c = time.perf_counter() - t, cpu_seconds() - c
            ws_c.close()
            print(f"canonical import:  {c_s:.2f}s wall, {c_c:.2f}s CPU, {result.rows:,} rows")
            assert result.rows == summary.imported_rows, (result.rows, summary.imported_rows)
            rows.append((sf_s, sf_c, c_s, c_c))
            print(
                f"run {run + 1}: speed ratio canonical/salesforce (same data): wall "
                f"{c_s / sf_s:.2f}, CPU {c_c / sf_c:.2f} (goal >= 0.5); load average "
                f"{os.getloadavg()[0]:.1f}"
            )
        best_sf = min(r[0] for r in rows)
        best_c = min(r[2] for r in rows)
        cpu_sf = min(r[1] for r in rows)
        cpu_c = min(r[3] for r in rows)
        print(
            f"best of {len(rows)}: salesforce {best_sf:.2f}s wall / {cpu_sf:.2f}s CPU, canonical "
            f"{best_c:.2f}s wall / {cpu_c:.2f}s CPU; ratio wall {best_c / best_sf:.2f}, "
            f"CPU {cpu_c / cpu_sf:.2f} ({'meets' if cpu_c / cpu_sf >= 0.5 else 'MISSES'} "
            "the >= 0.5 goal by CPU time)"
        )


if __name__ == "__main__":
    main()
