"""The PostgreSQL store against a real server (tests/pg.py starts one; never mocked, never
skipped): the small demo gives the same funnel, scorecard, attribution, gap and status as
in DuckDB; imports are validated, all or nothing, idempotent, and a newer row replaces the old.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from cueva.demo import create_demo
from cueva.errors import ImportValidationError, StoreError, UsageError
from cueva.importer import import_files
from cueva.schema import LOAD_ORDER
from cueva.store import Store
from cueva.store.postgres import PostgresAdapter, redact, split_url
from cueva.workspace import STORE_URL_FILE, Workspace
from tests.conftest import invoke, write

pytestmark = pytest.mark.postgres


# ---------------------------------------------------------------- the demo in both stores


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> tuple[Path, str]:
    """The small demo (seed 7) in its DuckDB store and imported into a PostgreSQL database."""
    path = tmp_path_factory.mktemp("pgdemo") / "demo"
    create_demo(path, 7, "small")
    url = pg_server.new_database("demo")
    with Store.open(url) as store:
        got = import_files(store, sorted((path / "data").glob("*.parquet")), timezone="UTC")
    assert got.rows > 50_000
    return path, url


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON values, floats within a relative 1e-9 (sums may add up in another order)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, f"{where}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys differ"
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


COMMANDS = [
    ("funnel", "--by", "channel"),
    ("funnel", "--from", "2025-01-01", "--to", "2025-12-31", "--grain", "quarter"),
    ("scorecard", "--period", "2026-05"),
    ("attribute", "--model", "all", "--period", "2026-Q2"),
    ("attribute", "--model", "all", "--period", "2026-Q2", "--show", "comparison"),
    ("gap", "--period", "2026-Q2", "--vs", "2026-Q1"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c)[:40])
def test_demo_same_results_as_duckdb(
    demo: tuple[Path, str], command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    path, url = demo
    args = (command[0], str(path), *command[1:], "--format", "json")
    on_duckdb = invoke(capsys, *args)
    on_postgres = invoke(capsys, *args, "--store", url)
    assert on_duckdb.code == 0, on_duckdb.err
    assert on_postgres.code == 0, on_postgres.err
    a, b = json.loads(on_duckdb.out), json.loads(on_postgres.out)
    assert a, "empty result: nothing was compared"
    _close(a, b, command[0])


def test_demo_status_and_report(
    demo: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, url = demo
    status = {}
    for store in ((), ("--store", url)):
        got = invoke(capsys, "status", str(path), "--format", "json", *store)
        assert got.code == 0, got.err
        status[bool(store)] = {
            r["table"]: (r["rows"], r["from"], r["to"]) for r in json.loads(got.out)
        }
    assert status[True] == status[False]
    assert status[True]["touchpoints"][0] > 40_000
    out = tmp_path / "pack.html"
    got = invoke(
        capsys, "report", str(path), "--period", "2026-Q2", "--out", str(out), "--store", url
    )
    assert got.code == 0, got.err
    assert "Altamira" in out.read_text(encoding="utf-8")


def test_demo_tables_equal(demo: tuple[Path, str]) -> None:
    """Every canonical table holds the same rows and values in both stores."""
    path, url = demo
    with Store.open(f"duckdb://{path / 'cueva.duckdb'}") as d, Store.open(url) as p:
        for name in LOAD_ORDER:
            a = d.table(name).to_pandas()
            b = p.table(name).to_pandas()
            assert list(a.columns) == list(b.columns), name
            key = list(a.columns)
            a = a.sort_values(key).reset_index(drop=True)
            b = b.sort_values(key).reset_index(drop=True)
            pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)


# ---------------------------------------------------------------- imports


def _snapshot(store: Store) -> dict[str, pd.DataFrame]:
    out = {}
    for name in [*LOAD_ORDER, "_cueva_imports"]:
        frame = store.table(name).to_pandas()
        out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def _same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


OWNERS = "owner_id,name,team\nu1,Ana,sales\nu2,Ben,marketing\n"
ACCOUNTS = "account_id,name,employees,owner_id\na1,Acme,10,u1\na2,Beta,20,u2\n"


def test_import_errors_located_and_nothing_written(tmp_path: Path, pg_url: str) -> None:
    with Store.open(pg_url) as store:
        import_files(
            store,
            [
                write(tmp_path / "v1/owners.csv", OWNERS),
                write(tmp_path / "v1/accounts.csv", ACCOUNTS),
            ],
        )
        before = _snapshot(store)
        files = [
            write(tmp_path / "v2/accounts.csv", "account_id,name,employees\na3,Gamma,many\n"),
            # a1 is only in the PostgreSQL store: known; zz is nowhere: unknown
            write(
                tmp_path / "v2/opportunities.csv",
                "opportunity_id,account_id,created_at,amount\n"
                "o1,a1,2026-01-05,100\no2,zz,2026-01-06,-5\no3,a3,2026-13-01,7\n",
            ),
        ]
        with pytest.raises(ImportValidationError) as info:
            import_files(store, files)
        shown = {(e.file, e.row, e.column, e.value) for e in info.value.errors}
        assert ("accounts.csv", 2, "employees", "many") in shown
        assert ("opportunities.csv", 3, "account_id", "zz") in shown
        assert ("opportunities.csv", 3, "amount", "-5.0") in shown
        assert ("opportunities.csv", 4, "created_at", "2026-13-01") in shown
        assert not any(e.value == "a1" for e in info.value.errors)
        assert info.value.counts == {"accounts.csv": 1, "opportunities.csv": 3}
        _same(before, _snapshot(store))


def test_failure_while_writing_rolls_back(tmp_path: Path, pg_url: str) -> None:
    """A write that PostgreSQL refuses halfway (a trigger on the last table) leaves nothing:
    the tables written before it in the same import are rolled back too."""
    with Store.open(pg_url) as store:
        import_files(store, [write(tmp_path / "v1/owners.csv", OWNERS)])
        store.adapter.query(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        store.adapter.query(
            "CREATE TRIGGER refuse BEFORE INSERT ON opportunities "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse()"
        )
        before = _snapshot(store)
        files = [
            write(
                tmp_path / "v2/owners.csv", "owner_id,name,team\nu1,Ana Ruiz,sales\nu3,Cy,sales\n"
            ),
            write(tmp_path / "v2/accounts.csv", ACCOUNTS),
            write(
                tmp_path / "v2/opportunities.csv",
                "opportunity_id,account_id,created_at\no1,a1,2026-01-05\n",
            ),
        ]
        with pytest.raises(StoreError, match="refused by the test"):
            import_files(store, files)
        _same(before, _snapshot(store))
        # the connection is usable afterwards
        assert store.row_count("owners") == 2


def test_reimport_idempotent_and_newer_rows_replace(tmp_path: Path, pg_url: str) -> None:
    people = write(
        tmp_path / "v1/people.csv",
        "person_id,email,created_at,channel,score\n"
        "p1,a@x.es,2026-01-01 10:00,paid_search,1\np2,b@x.es,2026-01-02 11:00:00+01:00,email,2\n",
    )
    spend = write(
        tmp_path / "v1/spend.csv",
        "date,campaign_id,channel,cost\n2026-01-01,,paid_search,10.5\n2026-01-01,c1,,3\n",
    )
    touches = write(
        tmp_path / "v1/touchpoints.csv",
        "person_id,channel,occurred_at\np1,email,2026-01-03\np1,email,2026-01-03\np2,email,2026-01-04\n",
    )
    campaigns = write(tmp_path / "v0/campaigns.csv", "campaign_id,channel\nc1,email\n")
    with Store.open(pg_url) as store:
        import_files(store, [campaigns])
        import_files(store, [people, spend, touches], timezone="Europe/Madrid")
        first = _snapshot(store)
        assert len(first["touchpoints"]) == 2  # the same touch listed twice is one touch
        assert len(first["spend"]) == 2
        again = import_files(store, [people, spend, touches], timezone="Europe/Madrid")
        assert all(f.skipped for f in again.files)
        import_files(store, [people, spend, touches], timezone="Europe/Madrid", force=True)
        forced = _snapshot(store)
        for name in LOAD_ORDER:  # nullable spend keys and derived touch ids: no duplicates
            pd.testing.assert_frame_equal(first[name], forced[name], obj=name)
        newer = write(
            tmp_path / "v2/people.csv",
            "person_id,email,created_at,channel,score\np2,new@x.es,2026-01-02 12:00,email,5\n"
            "p3,c@x.es,2026-02-01,organic,3\n",
        )
        import_files(store, [newer], timezone="Europe/Madrid")
        got = store.table("people").to_pandas().set_index("person_id").sort_index()
        assert list(got.index) == ["p1", "p2", "p3"]
        assert got.loc["p2", "email"] == "new@x.es"
        assert got.loc["p2", "score"] == "5"  # an extra CSV column is text, as in DuckDB
        # an offset is converted to the contract's wall-clock time
        assert first["people"].set_index("person_id").loc["p2", "created_at"] == pd.Timestamp(
            "2026-01-02 11:00"
        )
        cols = store.adapter.table_columns("people")
        assert cols["score"] == "text" and cols["created_at"] == "timestamp without time zone"
        # a typed extra column (Parquet) keeps its type; another type later is refused
        ranked = tmp_path / "v3/people.parquet"
        ranked.parent.mkdir()
        frame = pd.DataFrame({"person_id": ["p4"], "created_at": [pd.Timestamp("2026-03-01")]})
        frame.assign(rank=[7]).to_parquet(ranked)
        import_files(store, [ranked])
        assert store.adapter.table_columns("people")["rank"] == "bigint"
        assert store.table("people").rank.sum().execute() == 7
        frame.assign(rank=[True]).to_parquet(ranked)
        before = _snapshot(store)
        with pytest.raises(ImportValidationError, match="type BOOLEAN here but bigint"):
            import_files(store, [ranked])
        _same(before, _snapshot(store))


def test_urls_and_errors(pg_url: str) -> None:
    assert split_url("postgres://me@h:5/db/sales") == ("postgresql://me@h:5/db", "sales")
    assert split_url("postgresql://me@h/db?sslmode=require") == (
        "postgresql://me@h/db?sslmode=require",
        None,
    )
    assert redact("postgresql://me:s3cret@h:5432/db") == "postgresql://me:***@h:5432/db"
    dead = pg_url.rsplit(":", 1)[0] + ":1/nowhere"
    with pytest.raises(StoreError, match="cannot open the store") as info:
        Store.open(dead.replace("cueva@", "cueva:pw@"))
    assert "pw" not in str(info.value)


def test_schema_in_url(pg_url: str, tmp_path: Path) -> None:
    """``/DATABASE/SCHEMA`` keeps Cueva's tables in their own schema."""
    with Store.open(pg_url + "/crm") as store:
        import_files(store, [write(tmp_path / "owners.csv", OWNERS)])
        assert store.row_count("owners") == 2
        assert isinstance(store.adapter, PostgresAdapter)
    with psycopg.connect(split_url(pg_url)[0]) as con:
        got = con.execute("SELECT count(*) FROM crm.owners").fetchone()
        assert got == (2,)
        public = con.execute("SELECT to_regclass('public.owners')").fetchone()
        assert public == (None,)


def test_workspace_cli_against_postgres(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """init, import and funnel through the CLI with --store, errors as one line."""
    ws = tmp_path / "team"
    Workspace.init(ws, "Team").close()
    write(tmp_path / "owners.csv", OWNERS)
    got = invoke(capsys, "import", str(ws), str(tmp_path / "owners.csv"), "--store", pg_url)
    assert got.code == 0, got.err
    bad = write(tmp_path / "bad/accounts.csv", "account_id,owner_id\na1,nobody\n")
    got = invoke(capsys, "import", str(ws), str(bad), "--store", pg_url)
    assert got.code == 1
    assert "accounts.csv row 2, column owner_id: 'nobody': unknown id" in got.err
    with Store.open(pg_url) as store:
        assert store.row_count("owners") == 2 and store.row_count("accounts") == 0


def test_workspace_records_its_store(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``Workspace.init(..., store_url=URL)`` (cueva init --store URL) records the URL in
    store.url; later commands use that store without --store."""
    monkeypatch.delenv("CUEVA_STORE", raising=False)
    ws = Workspace.init(tmp_path / "team", "Team", store_url=pg_url)
    assert ws.store_label == pg_url
    ws.close()
    assert not (tmp_path / "team" / "cueva.duckdb").exists()
    assert (tmp_path / "team" / STORE_URL_FILE).read_text().splitlines()[-1] == pg_url
    write(tmp_path / "owners.csv", OWNERS)
    got = invoke(capsys, "import", str(tmp_path / "team"), str(tmp_path / "owners.csv"))
    assert got.code == 0, got.err
    with Workspace.open(tmp_path / "team") as again:
        assert again.store_url == pg_url
        assert again.store().row_count("owners") == 2
    # --force keeps the recorded store; an explicit URL or CUEVA_STORE still wins
    Workspace.init(tmp_path / "team", "Team", force=True).close()
    assert Workspace.open(tmp_path / "team").store_url == pg_url
    monkeypatch.setenv("CUEVA_STORE", "duckdb://" + str(tmp_path / "other.duckdb"))
    assert Workspace.open(tmp_path / "team").store_url.startswith("duckdb://")
    with pytest.raises(UsageError, match="PGPASSWORD"):
        Workspace.init(tmp_path / "secret", store_url=pg_url.replace("cueva@", "cueva:pw@"))
    dead = pg_url.rsplit(":", 1)[0] + ":1/nowhere"
    with pytest.raises(StoreError):
        Workspace.init(tmp_path / "unreachable", store_url=dead)
    assert not (tmp_path / "unreachable").exists()
    assert not (tmp_path / "secret").exists()


def test_lost_connection_is_a_store_error(pg_url: str) -> None:
    """A query on a connection the server closed raises StoreError (one line in the CLI)."""
    with Store.open(pg_url) as store:
        assert store.row_count("people") == 0
        adapter = store.adapter
        assert isinstance(adapter, PostgresAdapter)
        with psycopg.connect(split_url(pg_url)[0], autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (adapter.con.info.backend_pid,))
        with pytest.raises(StoreError, match="the PostgreSQL store failed"):
            store.table("people").count().execute()


def test_missing_server_binaries_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without initdb/pg_ctl/postgres anywhere the fixture fails (never skips), saying what
    to install."""
    from tests import pg

    monkeypatch.setenv(pg.BINDIR_ENV, str(tmp_path))
    monkeypatch.setattr(pg.shutil, "which", lambda name: None)
    monkeypatch.setattr(pg.glob, "glob", lambda pattern: [])
    with pytest.raises(RuntimeError, match="install Debian's 'postgresql' package"):
        pg.find_bindir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / name).write_text("")
    assert pg.find_bindir() == tmp_path


def test_compiler_closes_the_gaps_the_metrics_hit() -> None:
    """The SQL the three fixes produce (checked without a server; the demo tests run it)."""
    import ibis

    from cueva.store.postgres import COMPILER

    t = ibis.table({"id": "int64", "version": "int64", "flag": "boolean", "day": "date"}, name="ev")

    def sql(expr: Any) -> str:
        return str(COMPILER.to_sqlglot(expr).sql("postgres"))

    assert 'CAST(CAST("t0"."flag" AS INT) AS BIGINT)' in sql(t.select(n=t.flag.cast("int64")))
    assert sql(t.select(m=t.day.truncate("M"))) == (
        'SELECT CAST(DATE_TRUNC(\'MONTH\', CAST("t0"."day" AS TIMESTAMP)) AS DATE) AS "m" '
        'FROM "ev" AS "t0"'
    )
    latest = sql(t.filter(t.version == t.version.max().over(group_by=t.id)))
    assert 'WHERE "version" = _w' in latest and '"t0"."version" = _w' not in latest


def test_cli_init_with_store(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cueva init DIR --store URL`` records the store; ``status`` then reads PostgreSQL."""
    monkeypatch.delenv("CUEVA_STORE", raising=False)
    team = tmp_path / "team"
    got = invoke(capsys, "init", str(team), "--store", pg_url)
    assert got.code == 0, got.err
    assert pg_url in got.out and not (team / "cueva.duckdb").exists()
    write(tmp_path / "owners.csv", OWNERS)
    assert invoke(capsys, "import", str(team), str(tmp_path / "owners.csv")).code == 0
    got = invoke(capsys, "status", str(team), "--format", "json")
    assert got.code == 0, got.err
    assert '"owners"' in got.out
    with Store.open(pg_url) as store:
        assert store.row_count("owners") == 2
    got = invoke(capsys, "init", str(tmp_path / "bad"), "--store", pg_url.replace("@", ":pw@", 1))
    assert got.code == 1 and "PGPASSWORD" in got.err and "Traceback" not in got.err
