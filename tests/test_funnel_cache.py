"""The stage metrics' cache: wide stage entries computed once per store, data version,
contract funnel, segment and grain (temporary tables of the engine), rebuilt after an import.

Data: tests/funnel_data.py (a fresh workspace per test: these tests import more rows)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cueva.importer import import_files
from cueva.metrics import funnel as F
from cueva.periods import parse_period
from cueva.workspace import Workspace
from tests import funnel_data

Q1 = parse_period("2026-Q1")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace.init(tmp_path / "ws", "Cached")
    funnel_data.load(w, tmp_path / "data")
    yield w
    w.close()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every build of wide entries, as (by, grain, given entries?)."""
    calls: list[Any] = []
    real = F._build_wide

    def counting(q: Any, e: Any, names: list[str]) -> Any:
        calls.append((q.by, q.grain))
        return real(q, e, names)

    monkeypatch.setattr(F, "_build_wide", counting)
    return calls


def _temp_tables(ws: Workspace) -> list[str]:
    return [t for t in ws.store().con.list_tables() if t.startswith("_cueva_tmp_")]


def _leads(frame: Any) -> int:
    return int(frame.loc[frame["stage"] == "lead", "entered"].sum())


def test_warm_calls_reuse_the_entries(ws: Workspace, builds: list[Any]) -> None:
    store, contract = ws.store(), ws.contract
    first = F.stage_counts(store, contract, Q1, "channel", "month")
    again = F.stage_counts(store, contract, Q1, "channel", "month")
    F.conversion_by_cohort(store, contract, Q1, "channel", "month")
    F.stage_times(store, contract, parse_period("2026-01"), "channel", "month")
    assert builds == [("channel", "month")]  # one build for all four calls
    assert first.equals(again)
    F.stage_counts(store, contract, Q1, "owner")
    assert builds == [("channel", "month"), ("owner", None)]
    F.funnel_report(store, contract, Q1, "owner")
    assert len(builds) == 2


def test_an_import_rebuilds_the_entries(ws: Workspace, builds: list[Any], tmp_path: Path) -> None:
    store, contract = ws.store(), ws.contract
    before = F.stage_counts(store, contract, Q1)
    assert _leads(before) == 6  # P1-P6 (tests/test_funnel.py)
    more = tmp_path / "more" / "people.csv"
    more.parent.mkdir()
    more.write_text(
        "person_id,account_id,created_at,channel,owner_id\nP8,a1,2026-03-10 09:00:00,ads,s1\n",
        encoding="utf-8",
    )
    import_files(store, [more], timezone=contract.timezone)
    after = F.stage_counts(store, contract, Q1)
    assert _leads(after) == 7
    assert len(builds) == 2
    # the old entries were dropped with the old data version
    assert len(_temp_tables(ws)) == 2  # people and opportunities, wide


def test_given_entries_leave_no_temporary_tables(ws: Workspace, builds: list[Any]) -> None:
    store, contract = ws.store(), ws.contract
    e = F.stage_entries(store, contract)
    only_s1 = e.filter(e.owner_id == "s1")
    c = F.stage_counts(store, contract, Q1, entries=only_s1)
    c2 = F.stage_counts(store, contract, Q1, entries=only_s1)
    assert c.equals(c2)
    assert len(builds) == 2  # given entries are not cached: their expression may change
    assert _temp_tables(ws) == []


def test_the_cache_keeps_a_bounded_number_of_entries(
    ws: Workspace, builds: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(F, "CACHE_SIZE", 2)
    store, contract = ws.store(), ws.contract
    for by in ("channel", "owner", "segment", "channel"):
        F.stage_counts(store, contract, Q1, by)
    # channel was dropped when segment came in, so it was built again
    assert [b for b, _ in builds] == ["channel", "owner", "segment", "channel"]
    assert len(_temp_tables(ws)) == 4  # two cached entries of two tables each
    F.clear_cache(store)
    assert _temp_tables(ws) == []


def test_deal_metrics_are_cached_per_filter(ws: Workspace) -> None:
    store, contract = ws.store(), ws.contract
    a = F.deal_metrics(store, contract, Q1)
    n = len(_temp_tables(ws))
    b = F.deal_metrics(store, contract, Q1)
    assert len(_temp_tables(ws)) == n and a.equals(b)
    F.deal_metrics(store, contract, Q1, opportunity_filter={})
    assert len(_temp_tables(ws)) == n + 1


def test_materialized_drops_its_table(ws: Workspace) -> None:
    store = ws.store()
    with F.materialized(store, store.table("people")) as t:
        assert t.count().execute() == 7
        assert len(_temp_tables(ws)) == 1
    assert _temp_tables(ws) == []


def test_compiled_queries_are_reused(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    store, contract = ws.store(), ws.contract
    backend = type(store.con)
    real = backend.sql
    compiled: list[str] = []

    def counting(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(query)
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(backend, "sql", counting)
    q1 = F.stage_counts(store, contract, Q1)
    assert len(compiled) == 1
    assert F.stage_counts(store, contract, Q1).equals(q1)
    assert len(compiled) == 1  # the same query: its SQL is not compiled again
    jan = F.stage_counts(store, contract, parse_period("2026-01"))
    assert len(compiled) == 2  # another period is another query
    assert (_leads(q1), _leads(jan)) == (6, 3)  # P1-P6; P1, P2, P3 in January
