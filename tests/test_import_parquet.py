"""Import of Parquet-only batches: the checks run beside the write, in another thread, and the
write commits only when they found nothing (same guarantees as the sequential path)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cueva.errors import ImportValidationError
from cueva.importer import import_files
from cueva.store.duckdb import DuckDBAdapter
from cueva.workspace import Workspace
from tests.test_import import snapshot


def pq(path: Path, **columns: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_parquet(path)
    return path


def load(ws: Workspace, *paths: Path, **kw: Any) -> Any:
    return import_files(ws.store(), list(paths), timezone=ws.contract.timezone, **kw)


@pytest.fixture
def base(workspace: Workspace, tmp_path: Path) -> Workspace:
    """Owners, accounts, people and touchpoints already in the store (from Parquet)."""
    d = tmp_path / "base"
    load(
        workspace,
        pq(d / "owners.parquet", owner_id=["o1", "o2"], team=["sales", "marketing"]),
        pq(d / "accounts.parquet", account_id=["a1", "a2"], owner_id=["o1", "o2"]),
        pq(
            d / "people.parquet",
            person_id=["p1", "p2", "p3"],
            account_id=["a1", "a2", None],
            created_at=pd.to_datetime(["2026-01-05 10:00", "2026-02-01 00:00", "2026-02-03 00:00"]),
            channel=["paid_search", "events", "email"],
        ),
        pq(
            d / "touchpoints.parquet",
            touchpoint_id=["t1", "t2"],
            person_id=["p1", "p2"],
            channel=["email", "events"],
            occurred_at=pd.to_datetime(["2026-01-06", "2026-02-02"]),
        ),
    )
    return workspace


def rejected(ws: Workspace, *paths: Path) -> ImportValidationError:
    before = snapshot(ws)
    with pytest.raises(ImportValidationError) as info:
        load(ws, *paths)
    assert snapshot(ws) == before
    return info.value


def people(path: Path, ids: list[str], accounts: list[str | None]) -> Path:
    n = len(ids)
    return pq(
        path,
        person_id=ids,
        account_id=accounts,
        created_at=pd.to_datetime(["2026-03-01"] * n),
        channel=["email"] * n,
    )


def test_checks_run_beside_the_write_in_another_thread(
    base: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, int] = {}
    for name in ("check", "write"):
        original = getattr(DuckDBAdapter, name)

        def spy(self: DuckDBAdapter, *a: Any, _o: Any = original, _n: str = name) -> Any:
            seen[_n] = threading.get_ident()
            return _o(self, *a)

        monkeypatch.setattr(DuckDBAdapter, name, spy)
    load(base, people(tmp_path / "n" / "people.parquet", ["p9"], ["a1"]))
    assert seen["check"] != seen["write"]
    assert seen["write"] == threading.get_ident()


def test_only_parquet_batches_overlap(base: Workspace, tmp_path: Path) -> None:
    """A CSV is staged in a temporary table of the main connection: checked before writing."""
    a = base.store().adapter
    assert isinstance(a, DuckDBAdapter)
    f = people(tmp_path / "n" / "people.parquet", ["p9"], ["a1"])
    csv = tmp_path / "c" / "owners.csv"
    csv.parent.mkdir()
    csv.write_text("owner_id,team\no9,sales\n", encoding="utf-8")
    from cueva.importer import _source
    from cueva.schema import TABLES
    from cueva.store.base import ReadOptions

    staged = []
    try:
        for path, table in ((f, "people"), (csv, "owners")):
            src = _source(a, path, path.name, TABLES[table], "utf-8", None, tmp_path)
            staged.append(a.stage(src, TABLES[table], ReadOptions()))
        assert a.checks_beside_write(staged[:1])
        assert not a.checks_beside_write(staged)
    finally:
        a.drop_staged(staged)


@pytest.mark.parametrize(
    ("ids", "accounts", "row", "column", "message"),
    [
        (["p9", "p9"], ["a1", "a1"], 2, "person_id", "duplicate key"),
        (["p9", "p8"], ["a1", "zz"], 2, "account_id", "unknown id"),
        (["p9", " "], ["a1", "a1"], 2, "person_id", "required value is missing"),
    ],
)
def test_failed_checks_roll_back_the_overlapped_write(
    base: Workspace,
    tmp_path: Path,
    ids: list[str],
    accounts: list[str | None],
    row: int,
    column: str,
    message: str,
) -> None:
    # The batch also replaces p1 (a key already in the store): the write deletes and inserts
    # before the checks report, and the rollback must restore the old row.
    f = people(tmp_path / "n" / "people.parquet", ["p1", *ids], ["a2", *accounts])
    err = rejected(base, f)
    (e,) = err.errors
    assert (e.file, e.row, e.column) == ("people.parquet", row + 1, column)
    assert message in e.message


def test_errors_in_several_files_are_all_reported(base: Workspace, tmp_path: Path) -> None:
    d = tmp_path / "n"
    err = rejected(
        base,
        people(d / "people.parquet", ["p9", "p9"], ["a1", "a1"]),
        pq(
            d / "touchpoints.parquet",
            touchpoint_id=["t9"],
            person_id=["nobody"],
            channel=["email"],
            occurred_at=pd.to_datetime(["2026-03-02"]),
        ),
        pq(d / "accounts.parquet", account_id=["a9"], employees=[-5]),
    )
    assert err.counts == {"people.parquet": 1, "touchpoints.parquet": 1, "accounts.parquet": 1}
    assert {(e.file, e.row, e.column) for e in err.errors} == {
        ("people.parquet", 2, "person_id"),
        ("touchpoints.parquet", 1, "person_id"),
        ("accounts.parquet", 1, "employees"),
    }


def test_reimport_is_idempotent_and_newer_rows_replace(base: Workspace, tmp_path: Path) -> None:
    f = people(tmp_path / "n" / "people.parquet", ["p1", "p9"], ["a2", "a1"])
    first = load(base, f)
    after = snapshot(base)
    again = load(base, f)
    assert [x.skipped for x in again.files] == [True]
    assert snapshot(base) == after
    got = base.store().table("people").execute().set_index("person_id")
    assert sorted(got.index) == ["p1", "p2", "p3", "p9"]
    assert got.loc["p1", "account_id"] == "a2"  # replaced by key
    assert got.loc["p2", "account_id"] == "a2"  # untouched
    assert first.rows == 2
    tables = {k: v for k, v in after.items() if k != "_cueva_imports"}
    forced = load(base, f, force=True)
    assert forced.rows == 2
    assert snapshot(base, with_log=False) == tables


def test_a_failed_write_is_reported_and_changes_nothing(
    base: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cueva.errors import StoreError

    def broken(self: DuckDBAdapter, st: Any) -> int:
        self.raw.execute('DELETE FROM "people"')
        raise StoreError("disk full (simulated)")

    monkeypatch.setattr(DuckDBAdapter, "_write_one", broken)
    before = snapshot(base)
    with pytest.raises(StoreError, match="disk full"):
        load(base, people(tmp_path / "n" / "people.parquet", ["p9"], ["a1"]))
    assert snapshot(base) == before


def test_a_failed_write_with_bad_files_reports_the_files(
    base: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cueva.errors import StoreError

    def broken(self: DuckDBAdapter, st: Any) -> int:
        raise StoreError("disk full (simulated)")

    monkeypatch.setattr(DuckDBAdapter, "_write_one", broken)
    err = rejected(base, people(tmp_path / "n" / "people.parquet", ["p9", "p9"], ["a1", "a1"]))
    assert err.errors[0].message.startswith("duplicate key")


def touchpoints(path: Path, ids: list[str | None]) -> Path:
    n = len(ids)
    return pq(
        path,
        touchpoint_id=ids,
        person_id=["p1"] * n,
        channel=["email"] * n,
        occurred_at=pd.to_datetime(["2026-03-01 10:00"] * n),
    )


def test_touchpoint_ids_of_the_file_and_derived_ones(base: Workspace, tmp_path: Path) -> None:
    """Every touchpoint with its own id: the key check hashes the file's ids (a duplicate is
    located); without ids, identical touches are one touch."""
    err = rejected(base, touchpoints(tmp_path / "a" / "touchpoints.parquet", ["t7", "t8", "t7"]))
    assert [(e.row, e.column, e.value) for e in err.errors] == [(3, "touchpoint_id", "t7")]
    # Two identical touches without an id, beside one with an id: two rows land.
    load(base, touchpoints(tmp_path / "b" / "touchpoints.parquet", [None, "t9", " "]))
    got = base.store().table("touchpoints").execute()
    derived = got[got.touchpoint_id.str.startswith("h:")]
    assert len(got) == 4 and len(derived) == 1  # t1, t2 from the base, t9, one derived


def test_touchpoints_all_with_ids_are_written_by_one_plain_scan(
    base: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every touchpoint has its own id, the write reads the file once (no UNION with a
    second scan for the id-less ones); when one lacks an id, the identical copies collapse."""
    inserts: list[str] = []
    original = DuckDBAdapter._write_one

    def spy(self: DuckDBAdapter, st: Any) -> int:
        execute = self.raw.execute

        class Con:
            def __getattr__(self, name: str) -> Any:
                return getattr(base_con, name)

            def execute(self, sql: str, *args: Any) -> Any:
                if sql.startswith('INSERT INTO "touchpoints"'):
                    inserts.append(sql)
                return execute(sql, *args)

        base_con = self.raw
        self.raw = Con()  # type: ignore[assignment]
        try:
            return original(self, st)
        finally:
            self.raw = base_con

    monkeypatch.setattr(DuckDBAdapter, "_write_one", spy)
    load(base, touchpoints(tmp_path / "a" / "touchpoints.parquet", ["t7", "t8", "t9"]))
    assert len(inserts) == 1 and "UNION" not in inserts[0]
    got = base.store().table("touchpoints").execute()
    assert sorted(got.touchpoint_id) == ["t1", "t2", "t7", "t8", "t9"]
    load(base, touchpoints(tmp_path / "b" / "touchpoints.parquet", ["t10", None, None]))
    assert len(inserts) == 2 and "UNION" in inserts[1]
    got = base.store().table("touchpoints").execute()
    assert len(got) == 7 and got.touchpoint_id.str.startswith("h:").sum() == 1
