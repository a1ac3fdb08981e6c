"""Warehouse import from PostgreSQL (a real server, tests/pg.py): Fivetran dbt_salesforce and
dbt_hubspot final models in a schema of a PostgreSQL database (tables and views) give the same
canonical rows as the same models in a DuckDB warehouse file, which
tests/test_sources_warehouse.py checks value by value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import psycopg
import pytest

from cueva.errors import CuevaError, UsageError
from cueva.schema import LOAD_ORDER
from cueva.sources.warehouse import import_warehouse
from cueva.store.postgres import split_url
from cueva.workspace import Workspace
from tests.test_sources_warehouse import HUBSPOT_MODELS, duckdb_warehouse

pytestmark = pytest.mark.postgres

SALESFORCE = {
    "salesforce__opportunity_enhanced": pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4"],
            "opportunity_name": ["A", "B", "C", 'D, "quoted"'],
            "account_id": ["a1", "a1", "a2", "a2"],
            "account_name": ["Acme", "Acme", "Beta", "Beta"],
            "industry": ["Retail", "Retail", None, None],
            "number_of_employees": [120, 120, None, None],
            "owner_id": ["u1", "u2", "u1", "u2"],
            "created_date": pd.to_datetime(
                ["2026-01-02 09:00", "2026-02-03 10:00", "2026-03-04 11:00", "2026-03-05 23:30"]
            ),
            "close_date": [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), None],
            "stage_name": ["Closed Won", "Negotiation/Review", "Cerrada perdida", "Prospecting"],
            "is_closed": [True, False, True, False],
            "is_won": [True, False, False, False],
            "amount": [1000.0, 2500.5, 300.0, 0.1],
            "type": ["New Business", "Renewal", None, "New Business"],
            "contact_id": ["c1", None, "c2", "c2"],
            "forecast_category": ["Closed", "Pipeline", "Omitted", "Pipeline"],
        }
    ),
    "salesforce__contact_enhanced": pd.DataFrame(
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
    ),
}


def _pg_warehouse(url: str, schema: str, tables: dict[str, pd.DataFrame], view: str) -> str:
    """The models in ``schema``; ``view`` is a view over a table, as dbt often builds them."""
    conninfo, _ = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
    backend = ibis.connect(f"{url}/{schema}")
    for name, frame in tables.items():
        backend.create_table(name if name != view else f"{name}_base", frame)
    backend.disconnect()
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'CREATE VIEW "{schema}"."{view}" AS SELECT * FROM "{schema}"."{view}_base"')
    return f"{url}/{schema}"


def _canonical(ws: Workspace) -> dict[str, pd.DataFrame]:
    out = {}
    store = ws.store()
    for name in LOAD_ORDER:
        frame = store.table(name).to_pandas()
        out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


@pytest.mark.parametrize(
    ("tables", "view"),
    [(SALESFORCE, "salesforce__contact_enhanced"), (HUBSPOT_MODELS, "hubspot__deals")],
    ids=["dbt_salesforce", "dbt_hubspot"],
)
def test_postgres_models_equal_duckdb_models(
    tmp_path: Path, pg_url: str, tables: dict[str, pd.DataFrame], view: str
) -> None:
    from_duckdb = Workspace.init(tmp_path / "a", "A")
    from_postgres = Workspace.init(tmp_path / "b", "B")
    want = import_warehouse(
        from_duckdb.store(),
        duckdb_warehouse(tmp_path / "wh.duckdb", tables),
        from_duckdb.contract,
    )
    got = import_warehouse(
        from_postgres.store(),
        _pg_warehouse(pg_url, "dbt_prod", tables, view),
        from_postgres.contract,
    )
    a, b = _canonical(from_duckdb), _canonical(from_postgres)
    assert sum(len(f) for f in a.values()) > 5
    for name in LOAD_ORDER:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert got.dropped == want.dropped
    assert [(f.file, f.rows, f.ignored_columns) for f in got.files] == [
        (f.file, f.rows, f.ignored_columns) for f in want.files
    ]
    from_duckdb.close()
    from_postgres.close()


def test_postgres_warehouse_into_postgres_store(tmp_path: Path, pg_server: object) -> None:
    """A team's whole path on one server: dbt models in one database, Cueva's store in
    another; the funnel of the imported deals is computed by PostgreSQL."""
    from tests.pg import PgServer

    assert isinstance(pg_server, PgServer)
    wh = _pg_warehouse(
        pg_server.new_database("wh"), "analytics", SALESFORCE, "salesforce__opportunity_enhanced"
    )
    ws = Workspace.init(tmp_path / "team", "Team", store_url=pg_server.new_database("store"))
    import_warehouse(ws.store(), wh, ws.contract)
    opps = ws.store().table("opportunities").to_pandas().set_index("opportunity_id").sort_index()
    assert list(opps.stage) == ["won", "negotiation", "lost", "prospecting"]
    assert list(opps.amount) == [1000.0, 2500.5, 300.0, 0.1]
    # 09:00 UTC is 10:00 in Madrid (the contract's timezone).
    assert opps.loc["o1", "created_at"] == pd.Timestamp("2026-01-02 10:00")
    people = ws.store().table("people").to_pandas()
    assert sorted(people.person_id) == ["c1", "c2"]  # c3 is deleted
    ws.close()


def test_postgres_warehouse_errors(tmp_path: Path, pg_url: str) -> None:
    ws = Workspace.init(tmp_path / "ws", "W")
    with pytest.raises(UsageError, match="no dbt_salesforce or dbt_hubspot final model"):
        import_warehouse(ws.store(), pg_url + "/nothing_here", ws.contract)
    dead = pg_url.rsplit(":", 1)[0] + ":1/nowhere"
    with pytest.raises(CuevaError, match="cannot open the warehouse"):
        import_warehouse(ws.store(), dead, ws.contract)
    ws.close()
