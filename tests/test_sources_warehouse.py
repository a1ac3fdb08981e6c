"""Warehouse import: Fivetran dbt_salesforce / dbt_hubspot final models in a DuckDB file,
read in place through its URL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cueva.errors import UsageError
from cueva.sources.warehouse import import_warehouse
from cueva.workspace import Workspace

#: dbt_hubspot final models (also loaded into PostgreSQL by test_sources_warehouse_pg.py).
HUBSPOT_MODELS = {
    "hubspot__contacts": pd.DataFrame(
        {
            "contact_id": [1, 2, 3],
            "email": ["a@x.es", "b@x.es", "c@x.es"],
            "created_date": pd.to_datetime(
                ["2026-01-01 10:00", "2026-01-02 10:00", "2026-01-03 10:00"]
            ),
            "property_lifecyclestage": ["marketingqualifiedlead", "lead", "salesqualifiedlead"],
            "property_hs_analytics_source": ["PAID_SEARCH", "ORGANIC_SEARCH", "OFFLINE"],
            "property_hs_lifecyclestage_marketingqualifiedlead_date": pd.to_datetime(
                ["2026-01-05 10:00", None, "2026-01-04 10:00"]
            ),
            "property_hs_lifecyclestage_salesqualifiedlead_date": pd.to_datetime(
                [None, None, "2026-01-06 10:00"]
            ),
            "is_contact_deleted": [False, False, False],
        }
    ),
    "hubspot__deals": pd.DataFrame(
        {
            "deal_id": [10, 11],
            "deal_name": ["D10", "D11"],
            "deal_pipeline_stage_id": ["closedwon", "qualifiedtobuy"],
            "amount": [5000.0, 700.0],
            "closed_date": pd.to_datetime(["2026-02-01", "2026-03-01"]),
            "created_date": pd.to_datetime(["2026-01-10 09:00", "2026-01-11 09:00"]),
            "is_deal_deleted": [False, False],
        }
    ),
    "hubspot__deal_stages": pd.DataFrame(
        {
            "deal_id": [10, 10, 11],
            "deal_stage_name": ["appointmentscheduled", "closedwon", "qualifiedtobuy"],
            "date_stage_entered": pd.to_datetime(
                ["2026-01-10 09:00", "2026-02-01 12:00", "2026-01-11 09:00"]
            ),
            "date_stage_exited": pd.to_datetime(["2026-02-01 12:00", None, None]),
        }
    ),
}


def duckdb_warehouse(path: Path, tables: dict[str, pd.DataFrame]) -> str:
    """The models as tables of a DuckDB warehouse file; its URL."""
    con = duckdb.connect(str(path))
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    return f"duckdb://{path}"


def test_dbt_salesforce_models(tmp_path: Path, workspace: Workspace) -> None:
    opps = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3"],
            "opportunity_name": ["A", "B", "C"],
            "account_id": ["a1", "a1", "a2"],
            "account_name": ["Acme", "Acme", "Beta"],
            "industry": ["Retail", "Retail", None],
            "owner_id": ["u1", "u2", "u1"],
            "created_date": pd.to_datetime(
                ["2026-01-02 09:00", "2026-02-03 10:00", "2026-03-04 11:00"]
            ),
            "close_date": [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)],
            "stage_name": ["Closed Won", "Negotiation/Review", "Cerrada perdida"],
            "is_closed": [True, False, True],
            "is_won": [True, False, False],
            "amount": [1000.0, 2500.5, 300.0],
            "type": ["New Business", "Renewal", None],
            "contact_id": ["c1", None, "c2"],
            "forecast_category": ["Closed", "Pipeline", "Omitted"],
        }
    )
    contacts = pd.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3"],
            "account_id": ["a1", "a2", "a2"],
            "email": ["x@a.es", "y@b.es", None],
            "lead_source": ["Web", "Trade Show", "Otro"],
            "owner_id": ["u1", "u1", "u2"],
            "created_date": pd.to_datetime(
                ["2025-12-01 08:00", "2026-01-15 12:30", "2026-02-01 00:00"]
            ),
            "is_deleted": [False, False, True],
        }
    )
    url = duckdb_warehouse(
        tmp_path / "wh.duckdb",
        {"salesforce__opportunity_enhanced": opps, "salesforce__contact_enhanced": contacts},
    )
    summary = import_warehouse(workspace.store(), url, workspace.contract)
    store = workspace.store()
    got = store.table("opportunities").to_pandas().set_index("opportunity_id").sort_index()
    assert list(got.stage) == ["won", "negotiation", "lost"]
    assert list(got.amount) == [1000.0, 2500.5, 300.0]
    assert list(got.person_id.fillna("-")) == ["c1", "-", "c2"]
    assert list(got.type.fillna("-")) == ["new", "renewal", "-"]
    # 09:00 UTC is 10:00 in Madrid (the contract's timezone).
    assert got.loc["o1", "created_at"] == pd.Timestamp("2026-01-02 10:00")
    people = store.table("people").to_pandas().set_index("person_id").sort_index()
    assert list(people.index) == ["c1", "c2"]  # c3 is deleted
    assert list(people.channel) == ["organic_search", "events"]
    accounts = store.table("accounts").to_pandas().set_index("account_id").sort_index()
    assert list(accounts.name) == ["Acme", "Beta"]
    assert summary.dropped == {"deleted contacts": 1}
    files = {f.file: f for f in summary.files}
    assert "forecast_category" not in files["salesforce__opportunity_enhanced"].ignored_columns


def test_dbt_hubspot_models(tmp_path: Path, workspace: Workspace) -> None:
    url = duckdb_warehouse(tmp_path / "wh.duckdb", HUBSPOT_MODELS)
    import_warehouse(workspace.store(), url, workspace.contract)
    store = workspace.store()
    ev = store.table("stage_events").to_pandas()
    person = ev[ev.entity_type == "person"].sort_values(["entity_id", "stage"])
    assert list(zip(person.entity_id, person.stage, strict=True)) == [
        ("1", "mql"),
        ("3", "mql"),
        ("3", "sql"),
    ]
    opp_events = ev[ev.entity_type == "opportunity"]
    assert list(opp_events.stage) == ["won"]
    assert opp_events.entered_at.iloc[0] == pd.Timestamp("2026-02-01 13:00")
    hist = (
        store.table("opportunity_history").to_pandas().sort_values(["opportunity_id", "changed_at"])
    )
    assert list(hist.stage) == ["appointment_scheduled", "won", "qualified"]
    opps = store.table("opportunities").to_pandas().set_index("opportunity_id").sort_index()
    assert list(opps.is_won) == [True, False]


def test_warehouse_errors(tmp_path: Path, workspace: Workspace) -> None:
    url = duckdb_warehouse(tmp_path / "empty.duckdb", {"other": pd.DataFrame({"a": [1]})})
    with pytest.raises(UsageError, match="no dbt_salesforce or dbt_hubspot final model"):
        import_warehouse(workspace.store(), url, workspace.contract)
    with pytest.raises(UsageError, match="no such DuckDB file"):
        import_warehouse(workspace.store(), f"duckdb://{tmp_path}/nope.duckdb", workspace.contract)
