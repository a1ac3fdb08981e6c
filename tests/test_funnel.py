"""Funnel metrics on the hand-made company of tests/funnel_data.py.

Every expected value is worked out by hand in the comments from the rows in funnel_data.py.
The period is 2026-Q1 ([2026-01-01, 2026-04-01)) unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest

from cueva.contract import parse_contract, starter_contract
from cueva.errors import ContractError, UsageError
from cueva.metrics.funnel import (
    ENTRY_COLUMNS,
    conversion_by_cohort,
    conversion_by_period,
    data_period,
    deal_metrics,
    funnel_report,
    open_pipeline,
    segment_columns,
    stage_counts,
    stage_entries,
    stage_times,
)
from cueva.metrics.registry import METRICS
from cueva.periods import parse_period, period_from_range
from cueva.workspace import Workspace
from tests import funnel_data

Q1 = parse_period("2026-Q1")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("funnel")
    w = Workspace.init(root / "ws", "Hand Made")
    funnel_data.load(w, root / "data")
    yield w
    w.close()


def _col(frame: pd.DataFrame, key: str, value: str) -> pd.DataFrame:
    return frame[frame[key] == value]


def by_stage(frame: pd.DataFrame, column: str) -> dict[str, object]:
    return dict(zip(frame["stage"], frame[column], strict=True))


def by_pair(frame: pd.DataFrame, column: str) -> dict[str, object]:
    return dict(zip(frame["from_stage"], frame[column], strict=True))


# ------------------------------------------------------------------------- stage entries


def test_stage_entries_are_first_entries_with_their_attributes(ws: Workspace) -> None:
    e = stage_entries(ws.store(), ws.contract).execute()
    assert tuple(e.columns) == ENTRY_COLUMNS
    # one row per (entity, stage): 7 leads, 5 mql, 5 sql, 7 opportunities, 3 won
    assert e.groupby("stage").size().to_dict() == {
        "lead": 7,
        "mql": 5,
        "sql": 5,
        "opportunity": 7,
        "won": 3,
    }
    assert not e.duplicated(["entity_id", "stage"]).any()
    at = {(r.entity_id, r.stage): r.entered_at for r in e.itertuples()}
    # P1 re-entered mql on 2026-02-01: the first entry counts
    assert at[("P1", "mql")] == pd.Timestamp("2026-01-07 10:00")
    # P6's 'lead' event (02-25) is earlier than its created_at (03-01): the earliest counts
    assert at[("P6", "lead")] == pd.Timestamp("2026-02-25")
    # won is entered on the close date (midnight), only for is_won deals
    assert at[("O1", "won")] == pd.Timestamp("2026-02-14")
    assert ("O2", "won") not in at and ("O7", "won") not in at
    rows = e.set_index(["entity_id", "stage"])
    o3 = rows.loc[("O3", "opportunity")]
    # O3 has no account of its own, and neither has its person P5
    assert o3.person_id == "P5" and pd.isna(o3.account_id) and o3.amount == 500
    o4 = rows.loc[("O4", "won")] if ("O4", "won") in rows.index else None
    assert o4 is None
    o4 = rows.loc[("O4", "opportunity")]
    assert pd.isna(o4.person_id) and o4.account_id == "a2" and o4.owner_id == "s1"
    p1 = rows.loc[("P1", "sql")]
    assert p1.entity_type == "person" and pd.isna(p1.opportunity_id) and pd.isna(p1.amount)
    assert p1.stage_order == 2
    # O7's owner (s2) is the opportunity's own, not its person's (s1)
    assert rows.loc[("O7", "opportunity")].owner_id == "s2"


def test_stage_entries_can_select_stages(ws: Workspace) -> None:
    e = stage_entries(ws.store(), ws.contract, ["won"]).execute()
    assert sorted(e["entity_id"]) == ["O1", "O3", "O5"]
    with pytest.raises(UsageError, match="unknown stage 'closed'; the contract's stages are"):
        stage_entries(ws.store(), ws.contract, ["closed"])


def _contract_with(ws: Workspace, old: str, new: str) -> object:
    text = starter_contract("X")
    assert old in text
    return parse_contract(text.replace(old, new))


def test_entry_rules_that_do_not_match_the_store_are_contract_errors(ws: Workspace) -> None:
    bad_field = _contract_with(ws, "people.created_at", "people.signup_at")
    with pytest.raises(ContractError, match=r"stage 'lead'.*people.signup_at is not a column"):
        stage_entries(ws.store(), bad_field)  # type: ignore[arg-type]
    not_a_date = _contract_with(ws, "people.created_at", "people.channel")
    with pytest.raises(ContractError, match="not a date or timestamp"):
        stage_entries(ws.store(), not_a_date)  # type: ignore[arg-type]
    bad_where = _contract_with(ws, "where: is_won", "where: is_big")
    with pytest.raises(ContractError, match="'where' column 'is_big'"):
        stage_entries(ws.store(), bad_where)  # type: ignore[arg-type]
    not_bool = _contract_with(ws, "where: is_won", "where: lost_reason")
    with pytest.raises(ContractError, match="not a boolean"):
        stage_entries(ws.store(), not_bool)  # type: ignore[arg-type]


def test_where_filters_the_stage_entities(ws: Workspace) -> None:
    # 'where' filters the entities of the stage: closed deals instead of won ones
    contract = _contract_with(
        ws,
        "opportunities.close_date, where: is_won",
        "opportunities.close_date, where: is_closed",
    )
    e = stage_entries(ws.store(), contract, ["won"]).execute()  # type: ignore[arg-type]
    # closed deals: O1, O2, O3, O5, O7 (O4 and O6 are open)
    assert sorted(e["entity_id"]) == ["O1", "O2", "O3", "O5", "O7"]


# ------------------------------------------------------------------------- counts


def test_stage_counts(ws: Workspace) -> None:
    c = stage_counts(ws.store(), ws.contract, Q1)
    assert list(c.columns) == ["stage", "entered"]
    # lead: P1-P6 (P7 was a lead in December); mql: P1, P2, P3, P5, P7; sql: P1, P3, P4, P5,
    # P7; opportunity: O1, O2, O3, O4, O6, O7 (O5 was created in December); won: O1, O3, O5
    assert by_stage(c, "entered") == {"lead": 6, "mql": 5, "sql": 5, "opportunity": 6, "won": 3}


def test_stage_counts_by_month(ws: Workspace) -> None:
    c = stage_counts(ws.store(), ws.contract, Q1, grain="month")
    assert list(c.columns) == ["period", "stage", "entered"]
    lead = _col(c, "stage", "lead")
    # January: P1, P2, P3; February: P4, P5, P6 (its lead event); March: nobody
    assert dict(zip(lead["period"], lead["entered"], strict=True)) == {
        "2026-01": 3,
        "2026-02": 3,
        "2026-03": 0,
    }
    won = _col(c, "stage", "won")
    assert list(won["entered"]) == [1, 1, 1]  # O5 Jan 20, O1 Feb 14, O3 Mar 27
    weekly = stage_counts(ws.store(), ws.contract, parse_period("2026-01"), grain="week")
    lead_w = _col(weekly, "stage", "lead")
    # weeks overlapping January 2026: W01 (Dec 29-Jan 4) ... W05 (Jan 26-Feb 1)
    assert list(lead_w["period"]) == ["2026-W01", "2026-W02", "2026-W03", "2026-W04", "2026-W05"]
    # P1 Jan 5 (W02), P2 Jan 10 (W02), P3 Jan 20 (W04)
    assert list(lead_w["entered"]) == [0, 2, 0, 1, 0]


def test_stage_counts_by_channel(ws: Workspace) -> None:
    c = stage_counts(ws.store(), ws.contract, Q1, by="channel")
    got = {(r.channel, r.stage): r.entered for r in c.itertuples()}
    # ads: leads P1 P2 P5, mql P1 P2 P5 P7, sql P1 P5 P7, opps O1 O3 O7, won O1 O3 O5
    assert [got[("ads", s)] for s in ("lead", "mql", "sql", "opportunity", "won")] == [
        3,
        4,
        3,
        3,
        3,
    ]
    # events: leads P3 P4, mql P3, sql P3 P4, opps O2 O6
    assert [got[("events", s)] for s in ("lead", "mql", "sql", "opportunity", "won")] == [
        2,
        1,
        2,
        2,
        0,
    ]
    assert got[("seo", "lead")] == 1
    # O4 has no person, and accounts have no channel: (none)
    assert got[("(none)", "opportunity")] == 1
    assert sum(got.values()) == 6 + 5 + 5 + 6 + 3


def test_segments_from_accounts_owner_and_extra_columns(ws: Workspace) -> None:
    store, contract = ws.store(), ws.contract
    seg = stage_counts(store, contract, Q1, by="segment")
    got = {(r.segment, r.stage): r.entered for r in seg.itertuples()}
    # people.segment: P1 SMB, P3 ENT, others empty. O4 has no person: its account a2 (ENT).
    assert got[("SMB", "lead")] == 1 and got[("ENT", "lead")] == 1
    assert got[("(none)", "lead")] == 4
    # opportunities: O1, O7 (P1, SMB); O2 (P3, ENT); O4 (account a2, ENT); O3, O6 (none)
    assert got[("SMB", "opportunity")] == 2
    assert got[("ENT", "opportunity")] == 2
    assert got[("(none)", "opportunity")] == 2
    ind = stage_counts(store, contract, Q1, by="industry")
    got = {(r.industry, r.stage): r.entered for r in ind.itertuples()}
    # industry is an accounts column: a1 tech (P1 P2), a2 retail (P3 P4), P5 P6 no account
    assert (got[("tech", "lead")], got[("retail", "lead")], got[("(none)", "lead")]) == (2, 2, 2)
    # O1, O7 (a1) tech; O2, O4, O6 (a2) retail; O3 (no account anywhere) none
    assert got[("tech", "opportunity")] == 2 and got[("retail", "opportunity")] == 3
    own = stage_counts(store, contract, Q1, by="owner")
    got = {(r.owner, r.stage): r.entered for r in own.itertuples()}
    # the entity's own owner: O7 belongs to s2 though its person P1 belongs to s1
    assert got[("s1", "opportunity")] == 3  # O1, O3, O4
    assert got[("s2", "opportunity")] == 3  # O2, O6, O7
    tier = stage_counts(store, contract, Q1, by="tier")
    got = {(r.tier, r.stage): r.entered for r in tier.itertuples()}
    assert got[("gold", "lead")] == 1 and got[("silver", "lead")] == 1
    assert got[("gold", "opportunity")] == 2  # O1 and O7 of P1


def test_unknown_segment_lists_the_valid_ones(ws: Workspace) -> None:
    valid = segment_columns(ws.store())
    assert valid[0] == "owner" and "channel" in valid and "tier" in valid
    assert "industry" in valid and valid.count("segment") == 1
    with pytest.raises(UsageError, match=r"unknown segment column 'chanel'; valid columns: owner"):
        stage_counts(ws.store(), ws.contract, Q1, by="chanel")
    with pytest.raises(UsageError, match="unknown grain 'year'"):
        stage_counts(ws.store(), ws.contract, Q1, grain="year")


# ------------------------------------------------------------------------- conversion


def test_conversion_by_period(ws: Workspace) -> None:
    c = conversion_by_period(ws.store(), ws.contract, Q1)
    assert list(c["from_stage"]) == ["lead", "mql", "sql", "opportunity"]
    assert list(c["to_stage"]) == ["mql", "sql", "opportunity", "won"]
    assert list(c["from_entered"]) == [6, 5, 5, 6]
    assert list(c["to_entered"]) == [5, 5, 6, 3]
    # 5/6, 5/5, 6/5 (more opportunities than SQLs: P1 has two), 3/6
    assert list(c["conversion_period"]) == pytest.approx([5 / 6, 1.0, 1.2, 0.5])
    monthly = conversion_by_period(ws.store(), ws.contract, Q1, grain="month")
    lead = _col(monthly, "from_stage", "lead")
    # leads by month 3, 3, 0; mqls by month: Jan P1 P2 P3 P7 = 4, Feb P5 = 1, Mar 0
    assert list(lead["conversion_period"][:2]) == pytest.approx([4 / 3, 1 / 3])
    assert pd.isna(lead["conversion_period"].iloc[2])  # no leads in March


def test_conversion_by_cohort(ws: Workspace) -> None:
    c = conversion_by_cohort(ws.store(), ws.contract, Q1)  # window: the contract's 90 days
    # lead -> mql: of P1-P6, P1 P2 P3 P5 reached mql (P4 skipped it, P6 never) = 4/6
    # mql -> sql: of P1 P2 P3 P5 P7, all but P2 = 4/5
    # sql -> opportunity (linked by person): P1 (O1), P3 (O2), P4 (O6), P5 (O3), and P7
    #   whose O5 predates its sql entry (out-of-order data counts as reached) = 5/5
    # opportunity -> won: O1 won 29.5 days after creation, O3 30 days after; = 2/6
    assert list(c["cohort"]) == [6, 5, 5, 6]
    assert list(c["reached"]) == [4, 4, 5, 2]
    assert list(c["conversion_cohort"]) == pytest.approx([4 / 6, 4 / 5, 1.0, 2 / 6])


def test_cohort_window_boundaries(ws: Workspace) -> None:
    def won_within(days: int) -> int:
        c = conversion_by_cohort(ws.store(), ws.contract, Q1, window_days=days)
        return int(by_pair(c, "reached")["opportunity"])  # type: ignore[call-overload]

    # O1: 29.5 days; O3: exactly 30 days (a won on the last day of the window counts)
    assert won_within(29) == 0
    assert won_within(30) == 2
    assert won_within(1) == 0
    with pytest.raises(UsageError, match="at least 1 day"):
        conversion_by_cohort(ws.store(), ws.contract, Q1, window_days=0)


def test_cohort_by_channel_and_month(ws: Workspace) -> None:
    c = conversion_by_cohort(ws.store(), ws.contract, Q1, by="channel", grain="month")
    row = c[(c.channel == "events") & (c.period == "2026-01") & (c.from_stage == "mql")]
    # events' January mql cohort: P3 (Jan 25), reached sql Feb 4 -> 1/1
    assert (int(row.cohort.iloc[0]), int(row.reached.iloc[0])) == (1, 1)
    row = c[(c.channel == "ads") & (c.period == "2026-01") & (c.from_stage == "mql")]
    # ads' January mql cohort: P1, P2, P7; P2 never reached sql -> 2/3
    assert row.conversion_cohort.iloc[0] == pytest.approx(2 / 3)


# ------------------------------------------------------------------------- times


def test_time_between_stages(ws: Workspace) -> None:
    t = stage_times(ws.store(), ws.contract, Q1)
    assert list(t["pairs"]) == [5, 4, 5, 3]
    # lead -> mql, mql entries in Q1: P1 2.0, P2 2.0, P3 5.0, P5 5.0, P7 13.0 days
    #   median 5, p90 = 5 + 0.6 * (13 - 5) = 9.8
    # mql -> sql, sql entries: P1 2, P3 10, P5 1, P7 1 (P4 skipped mql: no pair)
    #   median 1.5, p90 = 2 + 0.7 * (10 - 2) = 7.6
    # sql -> opportunity, opportunities: O1 6d2h (6.0833), O2 6, O3 4, O6 10,
    #   O7 69d14h (69.5833); O4 has no person
    #   median 6.0833, p90 = 10 + 0.6 * (69.5833 - 10) = 45.75
    # opportunity -> won, won entries: O1 29.5, O3 30, O5 23; median 29.5, p90 29.9
    assert list(t["median_days"]) == pytest.approx([5.0, 1.5, 6 + 2 / 24, 29.5])
    assert list(t["p90_days"]) == pytest.approx([9.8, 7.6, 45.75, 29.9])


# ------------------------------------------------------------------------- deals


def test_win_rate_deal_size_and_cycle(ws: Workspace) -> None:
    d = deal_metrics(ws.store(), ws.contract, Q1)
    assert len(d) == 1
    r = d.iloc[0]
    # closed in Q1: O5 won 4000 (Jan 20), O1 won 1000 (Feb 14), O2 lost 3000 (Mar 12),
    # O3 won 500 (Mar 27). O7 closes in April.
    assert (r.won, r.lost) == (3, 1)
    assert r.win_rate == pytest.approx(0.75)
    assert (r.won_amount, r.lost_amount) == (5500, 3000)
    assert r.win_rate_value == pytest.approx(5500 / 8500)
    assert r.avg_deal_size == pytest.approx(5500 / 3)
    # cycles of the won deals: O5 Dec 28 -> Jan 20 = 23 days, O1 Jan 15 -> Feb 14 = 30,
    # O3 Feb 25 -> Mar 27 = 30
    assert r.sales_cycle_median_days == 30
    assert r.sales_cycle_mean_days == pytest.approx(83 / 3)


def test_deals_by_month_and_owner(ws: Workspace) -> None:
    d = deal_metrics(ws.store(), ws.contract, Q1, grain="month")
    assert list(d["period"]) == ["2026-01", "2026-02", "2026-03"]
    assert list(d["win_rate"]) == pytest.approx([1.0, 1.0, 0.5])
    assert list(d["avg_deal_size"]) == pytest.approx([4000, 1000, 500])
    o = deal_metrics(ws.store(), ws.contract, Q1, by="owner")
    rates = dict(zip(o["owner"], o["win_rate"], strict=True))
    assert rates == {"s1": 1.0, "s2": 0.0}  # s1: O1 O3 O5 won; s2: O2 lost


def test_no_closed_deals_gives_empty_rates(ws: Workspace) -> None:
    d = deal_metrics(ws.store(), ws.contract, parse_period("2025-06"))
    r = d.iloc[0]
    assert (r.won, r.lost) == (0, 0)
    assert pd.isna(r.win_rate) and pd.isna(r.avg_deal_size)


# ------------------------------------------------------------------------- pipeline


def test_open_pipeline_and_coverage(ws: Workspace) -> None:
    p = open_pipeline(ws.store(), ws.contract, Q1, target=10000)
    r = p.iloc[0]
    # as of March 31: O4 2000 and O6 1500 are open, O7 700 closes only in April
    assert r.as_of == date(2026, 3, 31)
    assert (r.open_deals, r.open_pipeline) == (3, 4200)
    assert r.pipeline_coverage == pytest.approx(0.42)
    monthly = open_pipeline(ws.store(), ws.contract, Q1, grain="month")
    # Jan 31: O1 (O5 closed Jan 20). Feb 28: O2 3000, O3 500, O6 1500 (O1 closed Feb 14)
    assert list(monthly["as_of"]) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert list(monthly["open_deals"]) == [1, 3, 3]
    assert list(monthly["open_pipeline"]) == [1000, 5000, 4200]
    assert monthly["pipeline_coverage"].isna().all()
    # a deal is open on the day it is created: as of Feb 10, O1 and O2 (created that day)
    mid = open_pipeline(ws.store(), ws.contract, period_from_range("2026-02-01", "2026-02-10"))
    assert mid.iloc[0].open_deals == 2
    with pytest.raises(UsageError, match="positive"):
        open_pipeline(ws.store(), ws.contract, Q1, target=0)


def test_pipeline_by_channel(ws: Workspace) -> None:
    p = open_pipeline(ws.store(), ws.contract, Q1, by="channel", target=10000)
    got = dict(zip(p["channel"], p["open_pipeline"], strict=True))
    # O4 (no person, none) 2000; O6 (P4, events) 1500; O7 (P1, ads) 700
    assert got == {"(none)": 2000, "ads": 700, "events": 1500}
    assert dict(zip(p["channel"], p["pipeline_coverage"], strict=True))["ads"] == 0.07


# ------------------------------------------------------------------------- report


def test_funnel_report_sections(ws: Workspace) -> None:
    r = funnel_report(ws.store(), ws.contract, Q1, target_pipeline=10000)
    assert set(r) == {"stages", "deals", "pipeline"}
    s = r["stages"]
    assert list(s["stage"]) == ["lead", "mql", "sql", "opportunity", "won"]
    assert list(s["label"])[1] == "Marketing Qualified Lead"
    assert list(s["owner"]) == ["marketing", "marketing", "sales", "sales", "sales"]
    assert list(s["entered"]) == [6, 5, 5, 6, 3]
    assert list(s["next_stage"][:4]) == ["mql", "sql", "opportunity", "won"]
    assert pd.isna(s["next_stage"].iloc[4]) and pd.isna(s["conversion_period"].iloc[4])
    assert list(s["conversion_cohort"][:4]) == pytest.approx([4 / 6, 4 / 5, 1.0, 2 / 6])
    assert list(s["median_days"][:4]) == pytest.approx([5.0, 1.5, 6 + 2 / 24, 29.5])
    assert r["deals"].iloc[0].win_rate == 0.75
    assert r["pipeline"].iloc[0].pipeline_coverage == pytest.approx(0.42)
    # a metric's name is its column, in the section the registry says
    for m in METRICS.values():
        assert m.name in r[m.section].columns, m.name


def test_default_period_is_the_whole_data_range(ws: Workspace) -> None:
    p = data_period(ws.store(), ws.contract)
    # first entry: P7's lead on 2025-12-20; last: O7 closed (lost) on 2026-04-10. O4's
    # expected close date (2026-04-30) is no data: O4 is open
    assert (p.start, p.last_day) == (date(2025, 12, 20), date(2026, 4, 10))
    r = funnel_report(ws.store(), ws.contract)
    assert list(r["stages"]["entered"]) == [7, 5, 5, 7, 3]


def test_empty_store(workspace: Workspace) -> None:
    with pytest.raises(UsageError, match="no funnel data"):
        data_period(workspace.store(), workspace.contract)
    r = funnel_report(workspace.store(), workspace.contract, Q1)
    assert list(r["stages"]["entered"]) == [0, 0, 0, 0, 0]
    assert r["deals"].iloc[0].won == 0 and r["pipeline"].iloc[0].open_deals == 0


def test_timestamps_compare_as_wall_clock(ws: Workspace) -> None:
    # P1 became a lead at 10:00 on Jan 5; a period of Jan 5 alone includes it
    c = stage_counts(ws.store(), ws.contract, period_from_range("2026-01-05", "2026-01-05"))
    assert by_stage(c, "entered")["lead"] == 1


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_the_expressions_compile_for_other_engines(ws: Workspace, dialect: str) -> None:
    # the metrics are portable Ibis: the stage entries, segments, the wide (pivoted) entries
    # and the stage metrics over them (the heavy queries) compile for PostgreSQL too, with no
    # DuckDB-only SQL
    import ibis

    from cueva.metrics import funnel as F

    store, contract = ws.store(), ws.contract
    q = F._query(store, contract, Q1, "segment", "quarter")
    e = F._entries(q, None)
    w = F._lazy_wide(q, e)
    assert w.people is not None and w.opps is not None
    exprs = [e, w.people, w.opps, F._counts_expr(q, w), F._cohort_expr(q, w, 90)]
    for expr in [*exprs, F._times_expr(q, w)]:
        sql = str(ibis.to_sql(expr, dialect=dialect))
        assert "SELECT" in sql and "stage_events" in sql and "people" in sql


def test_metrics_accept_filtered_entries(ws: Workspace) -> None:
    e = stage_entries(ws.store(), ws.contract)
    only_s2 = e.filter(e.owner_id == "s2")
    c = stage_counts(ws.store(), ws.contract, Q1, entries=only_s2)
    # s2 owns P3 P4 P6 (leads), P3 (mql), P3 P4 (sql), O2 O6 O7 (opportunities), no won deal
    assert by_stage(c, "entered") == {"lead": 3, "mql": 1, "sql": 2, "opportunity": 3, "won": 0}
    co = conversion_by_cohort(ws.store(), ws.contract, Q1, entries=only_s2)
    # lead->mql: P3 of P3 P4 P6; mql->sql: P3; sql->opportunity: P3 (O2), P4 (O6); none won
    assert list(co["cohort"]) == [3, 1, 2, 3]
    assert list(co["reached"]) == [1, 1, 2, 0]


def test_an_opportunity_stage_entered_by_events(ws: Workspace) -> None:
    # a 'demo' stage between opportunity and won, entered by opportunity stage events, only
    # for closed deals: O1 (Jan 20 10:00) and O2 (Feb 12); O6's demo does not count (open)
    contract = _contract_with(
        ws,
        "    - name: won\n",
        "    - name: demo\n      owner: sales\n"
        "      entry: {events: [demo], entity: opportunity, where: is_closed}\n"
        "    - name: won\n",
    )
    store = ws.store()
    e = stage_entries(store, contract, ["demo"]).execute()  # type: ignore[arg-type]
    assert sorted(e["entity_id"]) == ["O1", "O2"]
    assert set(e["person_id"]) == {"P1", "P3"} and set(e["amount"]) == {1000.0, 3000.0}
    c = conversion_by_cohort(store, contract, Q1)  # type: ignore[arg-type]
    # opportunity -> demo: of O1 O2 O3 O4 O6 O7, O1 and O2; demo -> won: of O1 O2, O1
    assert list(c["from_stage"]) == ["lead", "mql", "sql", "opportunity", "demo"]
    assert list(c["cohort"][3:]) == [6, 2] and list(c["reached"][3:]) == [2, 1]
    t = stage_times(store, contract, Q1)  # type: ignore[arg-type]
    # opportunity -> demo: O1 4d22h, O2 2d; demo -> won: O1 Jan 20 10:00 -> Feb 14 = 24d14h
    assert list(t["pairs"][3:]) == [2, 1]
    assert list(t["median_days"][3:]) == pytest.approx([(4 + 22 / 24 + 2) / 2, 24 + 14 / 24])
