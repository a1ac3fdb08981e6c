"""The store's result cache (cueva.store.cache) and its users: the funnel's wide stage entries
and deal tables (temporary tables of the engine), the gap's funnel entries and the SLA
scorecard's lead tables, kept per (data version, function, arguments, contract), bounded, and
all dropped by an import.

Data: tests/funnel_data.py (a fresh workspace per test: these tests import more rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cueva.contract import parse_contract, starter_contract
from cueva.errors import UsageError
from cueva.gap.data import funnel_entries, period_counts
from cueva.importer import import_files
from cueva.metrics import funnel as F
from cueva.periods import parse_period
from cueva.sla.evaluate import Cache, Range
from cueva.store import cache
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
    monkeypatch.setattr(cache, "CACHE_SIZE", 2)
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
    real = backend.compile
    compiled: list[Any] = []

    def counting(self: Any, expr: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(expr)
        return real(self, expr, *args, **kwargs)

    monkeypatch.setattr(backend, "compile", counting)
    q1 = F.stage_counts(store, contract, Q1)  # also compiles the cached entries' build
    n = len(compiled)
    assert n >= 1
    assert F.stage_counts(store, contract, Q1).equals(q1)
    assert len(compiled) == n  # the same query: its SQL is not compiled again
    jan = F.stage_counts(store, contract, parse_period("2026-01"))
    assert len(compiled) == n + 1  # another period is another query (the entries are cached)
    assert (_leads(q1), _leads(jan)) == (6, 3)  # P1-P6; P1, P2, P3 in January


@pytest.mark.parametrize("period", ["2026-Q1", "2031-01"])  # with entries; an empty period
def test_compiled_queries_give_ibis_own_results(ws: Workspace, period: str) -> None:
    # a warm query runs the SQL compiled once, without Ibis; its small result must equal, value
    # and type, what Ibis' own execute gives for the same expression
    store, contract = ws.store(), ws.contract
    q = F._query(store, contract, parse_period(period), "channel", "month")
    w = F._cached_wide(q)
    exprs = [F._counts_expr(q, w), F._cohort_expr(q, w, 30), F._times_expr(q, w)]
    for expr in exprs:
        mine = F._execute(expr, q.store)
        theirs = F._execute(expr)
        key = list(mine.columns[:3])
        mine = mine.sort_values(key).reset_index(drop=True)
        theirs = theirs.sort_values(key).reset_index(drop=True)
        if theirs.empty and "_q" in theirs.columns:
            # an array column (the quantiles) of no rows: Ibis types it float64, this object
            mine, theirs = mine.drop(columns="_q"), theirs.drop(columns="_q")
        pd.testing.assert_frame_equal(mine, theirs)
        assert (len(mine) > 0) == (period == "2026-Q1")


# --------------------------------------------------------------------------- one cache for all

AS_OF = datetime(2026, 4, 1)
#: P8: a new lead who becomes an MQL in March (tests/funnel_data.py has 6 leads and 5 MQLs
#: first entered in Q1: P1, P2, P3, P5, P7)
P8_PEOPLE = "person_id,account_id,created_at,channel,owner_id\nP8,a1,2026-03-10 09:00:00,ads,s1\n"
P8_EVENTS = "entity_type,entity_id,stage,entered_at\nperson,P8,mql,2026-03-12 10:00:00\n"


def _mql_leads(store: Any, contract: Any) -> int:
    sla = next(s for s in contract.service_levels if s.kind == "volume")
    return len(Cache(store, contract, AS_OF).leads(sla, Range([Q1], AS_OF)))


def _all_three(store: Any, contract: Any) -> tuple[int, int, int]:
    """Q1 leads by the funnel, Q1 MQLs by the gap's counts, Q1 MQLs by the scorecard."""
    funnel = _leads(F.stage_counts(store, contract, Q1))
    gap = int(period_counts(store, contract, Q1)["mql"].iloc[0])
    return funnel, gap, _mql_leads(store, contract)


def test_an_import_invalidates_every_cached_result(ws: Workspace, tmp_path: Path) -> None:
    store, contract = ws.store(), ws.contract
    rc = cache.result_cache(store)
    assert _all_three(store, contract) == (6, 5, 5)
    built = rc.stats.misses
    assert built >= 3 and len(rc) == built  # funnel, gap and SLA entries, all kept
    tables = set(_temp_tables(ws))
    assert tables  # the funnel's wide entries and the gap's entries are engine tables
    assert _all_three(store, contract) == (6, 5, 5)
    assert rc.stats.misses == built  # warm: nothing built again
    more = tmp_path / "more"
    more.mkdir()
    (more / "people.csv").write_text(P8_PEOPLE, encoding="utf-8")
    (more / "stage_events.csv").write_text(P8_EVENTS, encoding="utf-8")
    import_files(store, [more / "people.csv", more / "stage_events.csv"], timezone="Europe/Madrid")
    # every module sees the new lead: nothing was served from before the import
    assert _all_three(store, contract) == (7, 6, 6)
    assert rc.stats.invalidations == 1
    assert rc.stats.misses == 2 * built  # each entry built once more, none reused
    assert not tables & set(_temp_tables(ws))  # the old engine tables are all gone
    assert len(rc) == built


def test_two_contracts_do_not_share_entries(ws: Workspace, builds: list[Any]) -> None:
    store = ws.store()
    text = starter_contract("Cached")
    a = parse_contract(text)
    renamed = parse_contract(text.replace('company: "Cached"', 'company: "Other"'))
    demo = parse_contract(
        text.replace(
            "    - name: won\n",
            "    - name: demo\n      owner: sales\n"
            "      entry: {events: [demo], entity: opportunity, where: is_closed}\n"
            "    - name: won\n",
        )
    )
    assert cache.contract_key(a) == cache.contract_key(parse_contract(text))
    assert len({cache.contract_key(c) for c in (a, renamed, demo)}) == 3
    ca = F.stage_counts(store, a, Q1)
    cd = F.stage_counts(store, demo, Q1)
    assert list(ca["stage"]) == ["lead", "mql", "sql", "opportunity", "won"]
    assert list(cd["stage"]) == ["lead", "mql", "sql", "opportunity", "demo", "won"]
    assert int(cd.loc[cd["stage"] == "demo", "entered"].iloc[0]) == 2  # O1, O2 (test_funnel)
    F.stage_counts(store, renamed, Q1)
    assert len(builds) == 3  # an equal funnel in another contract is still its own entry
    assert F.stage_counts(store, a, Q1).equals(ca)
    assert len(builds) == 3  # an equal contract (parsed again) is the same entry
    # the gap's and the scorecard's entries are kept apart too
    ea, ed = funnel_entries(store, a), funnel_entries(store, demo)
    assert ea.get_name() != ed.get_name()
    assert "demo" not in set(ea.stage.execute()) and "demo" in set(ed.stage.execute())


class _Probe:
    """A build function that counts its calls and owns one engine table per build."""

    def __init__(self, store: Any, value: Any = None) -> None:
        self.store, self.value, self.calls = store, value, 0

    def __call__(self, names: list[str]) -> Any:
        self.calls += 1
        cache.temp_table(self.store, self.store.table("people").select("person_id"), names)
        return self.value if self.value is not None else self.calls


def test_result_cache_is_bounded_least_recently_used_first(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "CACHE_SIZE", 2)
    store = ws.store()
    p = {k: _Probe(store) for k in "abc"}
    for k in "ab":
        cache.cached(store, "probe", k, p[k])
    cache.cached(store, "probe", "a", p["a"])  # a is now the most recently used
    cache.cached(store, "probe", "c", p["c"])  # so b goes
    cache.cached(store, "probe", "a", p["a"])
    cache.cached(store, "probe", "b", p["b"])
    assert (p["a"].calls, p["b"].calls, p["c"].calls) == (1, 2, 1)
    stats = cache.result_cache(store).stats
    assert (stats.entries, stats.evictions) == (2, 2)
    assert len(_temp_tables(ws)) == 2  # evicted entries' tables were dropped
    cache.clear_cache(store)
    assert _temp_tables(ws) == [] and len(cache.result_cache(store)) == 0


def test_failed_build_leaves_nothing(ws: Workspace) -> None:
    store = ws.store()

    def broken(names: list[str]) -> Any:
        cache.temp_table(store, store.table("people"), names)
        raise UsageError("no")

    with pytest.raises(UsageError):
        cache.cached(store, "probe", "x", broken)
    assert _temp_tables(ws) == [] and len(cache.result_cache(store)) == 0
    probe = _Probe(store)
    assert cache.cached(store, "probe", "x", probe) == 1  # nothing cached from the failure


def test_stores_over_one_file_keep_separate_caches(ws: Workspace) -> None:
    # Ibis backends over the same file compare equal; their temporary tables are not shared
    first = ws.store()
    counts = F.stage_counts(first, ws.contract, Q1)
    with Workspace.open(ws.path).store() as second:
        assert cache.result_cache(second) is not cache.result_cache(first)
        assert F.stage_counts(second, ws.contract, Q1).equals(counts)
    assert F.stage_counts(first, ws.contract, Q1).equals(counts)


def test_result_cache_bounds_the_bytes_of_frames(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ws.store()
    frame = pd.DataFrame({"x": np.zeros(1000)})  # 8,000 bytes of values, plus the index
    size = int(frame.memory_usage(index=True).sum())
    monkeypatch.setattr(cache, "CACHE_BYTES", 2 * size)
    probes = {k: _Probe(store, frame) for k in "abc"}
    for k in "abc":
        cache.cached(store, "frames", k, probes[k])
    rc = cache.result_cache(store)
    assert (len(rc), rc.nbytes, rc.stats.evictions) == (2, 2 * size, 1)  # a was dropped
    cache.cached(store, "frames", "a", probes["a"])
    assert probes["a"].calls == 2
    monkeypatch.setattr(cache, "CACHE_BYTES", size // 2)
    cache.cached(store, "frames", "d", _Probe(store, frame))
    assert len(rc) == 1  # over the budget alone, the newest entry is still kept


@pytest.mark.parametrize("by", [None, "channel", "owner", "segment", "industry", "tier"])
def test_cached_entries_equal_the_pivot_of_the_stage_entries(ws: Workspace, by: str | None) -> None:
    # the cached wide entries read the people's stages straight from the contract's rules
    # (F._people_by_rules); given entries go through the generic pivot of stage_entries. Both
    # must agree, with a person-stage filter (mql: ads and unknown channel only), a stage
    # entered by a column and events (lead) and segments from people, accounts or both
    text = starter_contract("X").replace(
        "entry: {events: [mql]}", "entry: {events: [mql], filter: {channel: [ads, null]}}"
    )
    assert "filter: {channel" in text
    contract = parse_contract(text)
    store = ws.store()
    e = F.stage_entries(store, contract)
    for grain in (None, "month"):
        for fn in (F.stage_counts, F.conversion_by_cohort, F.stage_times):
            cached = fn(store, contract, Q1, by, grain)  # type: ignore[operator]
            given = fn(store, contract, Q1, by, grain, entries=e)  # type: ignore[operator]
            pd.testing.assert_frame_equal(cached, given)
    counts = F.stage_counts(store, contract, Q1)
    everyone = F.stage_counts(store, ws.contract, Q1)
    # mql in Q1: P1 (Jan 7), P2 (Jan 12), P3 (Jan 25), P5 (Feb 20), P7 (Jan 2); P3 (events)
    # is not an ads person
    assert int(everyone.loc[everyone["stage"] == "mql", "entered"].iloc[0]) == 5
    assert int(counts.loc[counts["stage"] == "mql", "entered"].iloc[0]) == 4
