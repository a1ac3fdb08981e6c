"""Reverse-funnel plan: hand-computed counts and months, what-ifs, mix, and the forward check."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.contract import Contract
from cueva.errors import UsageError
from cueva.gap.plan import (
    Baseline,
    build_plan,
    monthly_schedule,
    parse_assumptions,
    parse_mix,
    parse_target,
    spread_over_months,
)
from cueva.periods import parse_period
from cueva.workspace import Workspace

STAGES = ("lead", "mql", "sql", "opportunity", "won")
LAGS = {"mql": 10.0, "sql": 5.0, "opportunity": 15.0, "won": 60.0}


def baseline(rows: dict[str, list[float]], lags: dict[str, float] | None = None) -> Baseline:
    counts = pd.DataFrame.from_dict(rows, orient="index", columns=[*STAGES, "revenue", "pipeline"])
    return Baseline(
        window=parse_period("2026"),
        stages=STAGES,
        counts=counts,
        lags=LAGS if lags is None else lags,
        by=None if list(rows) == ["all"] else "channel",
        opportunity_stage="opportunity",
    )


ONE = {"all": [1000, 300, 150, 60, 20, 400_000, 1_200_000]}


@pytest.fixture
def contract(workspace: Workspace) -> Contract:
    return workspace.contract


def test_revenue_plan_by_hand(contract: Contract) -> None:
    plan = build_plan(contract, baseline(ONE), parse_period("2027-Q1"), "revenue", 600_000)
    need = plan.needed.loc["all"]
    # deal size 20k -> 30 won; win rate 20/60 -> 90 opportunities; 60/150 -> 225 SQLs;
    # 150/300 -> 450 MQLs; 300/1000 -> 1500 leads
    assert need["won"] == pytest.approx(30)
    assert need["opportunity"] == pytest.approx(90)
    assert need["sql"] == pytest.approx(225)
    assert need["mql"] == pytest.approx(450)
    assert need["lead"] == pytest.approx(1500)
    assert plan.forward() == pytest.approx(600_000)
    months = monthly_schedule(plan).set_index("month")
    # won: spread over the quarter by days (31, 28, 31 of 90)
    assert months.loc["2027-01", "won"] == pytest.approx(30 * 31 / 90)
    assert months.loc["2027-02", "won"] == pytest.approx(30 * 28 / 90)
    # opportunities 60 days earlier: 2026-11-02 .. 2027-01-30 -> 29, 31, 30 days
    assert months.loc["2026-11", "opportunity"] == pytest.approx(29)
    assert months.loc["2026-12", "opportunity"] == pytest.approx(31)
    assert months.loc["2027-01", "opportunity"] == pytest.approx(30)
    # leads 90 days earlier: 2026-10-03 .. 2026-12-31 -> 29, 30, 31 days
    assert months.loc["2026-10", "lead"] == pytest.approx(1500 * 29 / 90)
    assert months.loc["2026-12", "lead"] == pytest.approx(1500 * 31 / 90)
    assert "2027-01" not in months.index or months.loc["2027-01", "lead"] == 0
    totals = plan.totals().set_index("stage")
    assert totals.loc["lead", "days_before_target"] == 90
    assert totals.loc["won", "days_before_target"] == 0


def test_other_targets_and_what_ifs(contract: Contract) -> None:
    q = parse_period("2027-Q1")
    won = build_plan(contract, baseline(ONE), q, "new_customers", 40)
    assert won.needed.loc["all", "lead"] == pytest.approx(2000)
    pipe = build_plan(contract, baseline(ONE), q, "pipeline", 2_000_000)
    assert pipe.needed.loc["all", "opportunity"] == pytest.approx(100)
    assert pipe.needed.loc["all", "lead"] == pytest.approx(1000 / 60 * 100)
    assert pipe.forward() == pytest.approx(2_000_000)
    # won comes after the pipeline stage: it is expected 60 days later
    assert pipe.totals().set_index("stage").loc["won", "days_before_target"] == -60
    what_if = build_plan(
        contract, baseline(ONE), q, "revenue", 600_000, assume={"win_rate": 0.5, "won_days": 30}
    )
    assert what_if.needed.loc["all", "opportunity"] == pytest.approx(60)
    assert what_if.needed.loc["all", "lead"] == pytest.approx(1000)
    assert what_if.lags["won"] == 30
    assert what_if.forward() == pytest.approx(600_000)


def test_channel_mix(contract: Contract) -> None:
    b = baseline(
        {
            "events": [200, 100, 50, 25, 10, 300_000, 500_000],  # 1500 per lead
            "paid": [800, 200, 100, 35, 10, 100_000, 700_000],  # 125 per lead
        }
    )
    q = parse_period("2027-Q1")
    plan = build_plan(contract, b, q, "revenue", 1_000_000)
    # trailing mix 20/80: revenue per lead = 0.2*1500 + 0.8*125 = 400 -> 2500 leads
    assert plan.needed["lead"].sum() == pytest.approx(2500)
    assert plan.needed.loc["events", "lead"] == pytest.approx(500)
    assert plan.needed["revenue"].sum() == pytest.approx(1_000_000)
    shifted = build_plan(contract, b, q, "revenue", 1_000_000, mix={"events": 1, "paid": 1})
    # 50/50: 0.5*1500 + 0.5*125 = 812.5 per lead
    assert shifted.needed["lead"].sum() == pytest.approx(1_000_000 / 812.5)
    with pytest.raises(UsageError, match="unknown segment"):
        build_plan(contract, b, q, "revenue", 1e6, mix={"webinar": 1})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 5000),  # leads
            st.floats(0.05, 1.0),
            st.floats(0.05, 1.0),
            st.floats(0.05, 1.0),
            st.floats(0.05, 1.0),
            st.floats(100.0, 1e6),  # deal size
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["revenue", "new_customers", "pipeline"]),
    st.floats(1.0, 1e8),
)
def test_forward_run_reproduces_the_target(rows: list[tuple], kind: str, target: float) -> None:
    data = {}
    for i, (leads, r1, r2, r3, r4, size) in enumerate(rows):
        mql = leads * r1
        sql = mql * r2
        opp = sql * r3
        won = opp * r4
        data[f"s{i}"] = [leads, mql, sql, opp, won, won * size, opp * size * 2]
    b = baseline(data)
    ws_contract = _starter()
    plan = build_plan(ws_contract, b, parse_period("2027-Q1"), kind, target)  # type: ignore[arg-type]
    assert plan.forward() == pytest.approx(target, rel=1e-9)
    # applying the trailing rates to the planned leads, stage by stage, gives the plan
    n = plan.needed
    for prev, stage in itertools.pairwise(STAGES):
        rate = b.counts[stage] / b.counts[prev]
        assert np.allclose(n[prev] * rate, n[stage], rtol=1e-9)
    # the monthly schedule spreads exactly what each stage needs
    sums = plan.schedule.groupby("stage")["needed"].sum()
    for s in STAGES:
        assert sums[s] == pytest.approx(n[s].sum(), rel=1e-9)


def _starter() -> Contract:
    from cueva.contract import parse_contract, starter_contract

    return parse_contract(starter_contract("T"))


def test_spread_over_months() -> None:
    start = float(pd.Timestamp("2026-01-16").toordinal())
    got = spread_over_months(start, start + 31, 31.0)
    assert got == pytest.approx({"2026-01": 16.0, "2026-02": 15.0})


def test_parsing_and_errors(contract: Contract) -> None:
    assert parse_target("revenue=1.2M") == ("revenue", 1_200_000)
    assert parse_target("customers=40") == ("new_customers", 40)
    assert parse_assumptions(["win_rate=30%", "deal_size=25k"]) == {
        "win_rate": 0.3,
        "deal_size": 25_000,
    }
    assert parse_mix("events=0.3, paid=0.7") == {"events": 0.3, "paid": 0.7}
    for bad in ("revenue", "profit=3", "revenue=-5", "revenue=abc"):
        with pytest.raises(UsageError):
            parse_target(bad)
    with pytest.raises(UsageError, match="unknown name"):
        build_plan(contract, baseline(ONE), parse_period("2027-Q1"), "revenue", 1, assume={"x": 1})
    with pytest.raises(UsageError, match="not a valid value"):
        build_plan(
            contract, baseline(ONE), parse_period("2027-Q1"), "revenue", 1, assume={"win_rate": 2}
        )
    empty = baseline({"all": [1000, 300, 150, 60, 0, 0, 1_200_000]})
    with pytest.raises(UsageError, match="no data for the deal_size"):
        build_plan(contract, empty, parse_period("2027-Q1"), "revenue", 1)
    with_deal = build_plan(
        contract, empty, parse_period("2027-Q1"), "pipeline", 100, assume={"win_rate": 0.2}
    )
    assert with_deal.forward() == pytest.approx(100)


def test_saved_plan_files(workspace: Workspace) -> None:
    from cueva.errors import WorkspaceError
    from cueva.gap.run import load_plan, plan_counts, plan_path, save_plan

    with pytest.raises(WorkspaceError, match="no saved plan for 2026-Q2"):
        load_plan(workspace.path, "2026-Q2")
    path = plan_path(workspace.path, "2026-Q2")
    path.parent.mkdir(parents=True)
    path.write_text("segments: [1, 2\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_plan(workspace.path, "2026-Q2")
    path.write_text("just: text\n")
    with pytest.raises(UsageError, match="not a Cueva plan"):
        load_plan(workspace.path, "2026-Q2")

    b = baseline({"events": [200, 100, 50, 25, 10, 300_000, 500_000],
                  "paid": [800, 200, 100, 35, 10, 100_000, 700_000]})  # fmt: skip
    plan = build_plan(workspace.contract, b, parse_period("2026-Q2"), "revenue", 1_000_000)
    saved, wrote = save_plan(workspace, plan)
    assert saved == path and wrote
    data = load_plan(workspace.path, "2026-Q2")
    assert data["by"] == "channel" and set(data["segments"]) == {"events", "paid"}
    whole = plan_counts(data, workspace.contract, None)
    assert list(whole.index) == ["all"]
    assert whole.loc["all", "revenue"] == pytest.approx(1_000_000)
    assert plan_counts(data, workspace.contract, "channel").shape[0] == 2
    with pytest.raises(UsageError, match="by channel, not by segment"):
        plan_counts(data, workspace.contract, "segment")
    # the headline numbers went into the contract's targets; a year plan writes no targets
    assert workspace.contract.targets["2026-Q2"].revenue == pytest.approx(1_000_000)
    assert workspace.contract.targets["2026-Q2"].mqls == pytest.approx(plan.needed["mql"].sum())
    year = build_plan(workspace.contract, b, parse_period("2027"), "revenue", 2_000_000)
    _, wrote = save_plan(workspace, year)
    assert not wrote and "2027" not in workspace.contract.targets
