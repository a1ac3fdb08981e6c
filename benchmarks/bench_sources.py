"""Salesforce-style export import vs the canonical import of the same data (same run).

    .venv/bin/python benchmarks/bench_sources.py            # 1M leads, 200k opportunities,
                                                             # 2M campaign members
    .venv/bin/python benchmarks/bench_sources.py --scale 0.1
    .venv/bin/python benchmarks/bench_sources.py --scale 0.25 --steps   # time each engine step

1. Generates a Salesforce export (Lead, Contact, Account, Opportunity, Campaign,
   CampaignMember, User CSVs; seeded, deterministic) with DuckDB.
2. Times ``import_salesforce`` into a fresh workspace.
3. Writes the canonical tables it produced as canonical CSV files (the same data), and times
   ``import_files`` of those into another fresh workspace.
4. Prints both speeds (source rows per second) and the ratio; the goal is >= 0.5.
"""

from __future__ import annotations

import argparse
import os
import platform
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
    _engine.Engine.to_parquet = timed(_engine.Engine.to_parquet, "parquet")  # type: ignore[method-assign]
    _core.import_files = timed(_core.import_files, "import_files")  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--steps", action="store_true", help="time each source-engine step")
    args = ap.parse_args()
    if args.steps:
        time_steps()
    with tempfile.TemporaryDirectory(prefix="cueva-bench-sources-") as tmp:
        root = Path(tmp)
        export = root / "export"
        export.mkdir()
        t = time.perf_counter()
        sizes = generate(export, args.scale)
        rows_in = sum(sum(1 for _ in p.open("rb")) - 1 for p in export.glob("*.csv"))
        print(f"generated {sizes} ({rows_in:,} export rows) in {time.perf_counter() - t:.1f}s")

        ws_sf = Workspace.init(root / "ws_sf", "Bench")
        t = time.perf_counter()
        summary = import_salesforce(ws_sf.store(), export, ws_sf.contract)
        sf_s = time.perf_counter() - t
        print(f"salesforce import: {sf_s:.2f}s, {summary.imported_rows:,} canonical rows")
        canon = root / "canonical"
        canon.mkdir()
        paths = canonical_csvs(ws_sf, canon)

        ws_c = Workspace.init(root / "ws_c", "Bench")
        t = time.perf_counter()
        result = import_files(ws_c.store(), paths, timezone=ws_c.contract.timezone)
        c_s = time.perf_counter() - t
        ws_c.close()
        print(f"canonical import:  {c_s:.2f}s, {result.rows:,} canonical rows")
        assert result.rows == summary.imported_rows, (result.rows, summary.imported_rows)
        ratio = c_s / sf_s
        print(
            f"speed ratio salesforce/canonical (same data): {ratio:.2f} "
            f"({'meets' if ratio >= 0.5 else 'MISSES'} the >= 0.5 goal)"
        )
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
        )


if __name__ == "__main__":
    main()
