"""Gap decomposition over the contract's funnel: factors, owners, segments and the mix effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.contract import Contract
from cueva.errors import UsageError
from cueva.gap.decompose import decompose
from cueva.gap.factors import funnel_factors, paired_factors
from cueva.workspace import Workspace

STAGES = ["lead", "mql", "sql", "opportunity", "won"]


def counts(rows: dict[str, list[float]]) -> pd.DataFrame:
    """Counts frame: segment -> [lead, mql, sql, opportunity, won, revenue, gross_margin]."""
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=[*STAGES, "revenue", "gross_margin"]
    )


@pytest.fixture
def contract(workspace: Workspace) -> Contract:
    return workspace.contract


def test_owners_follow_the_contract_stages(contract: Contract) -> None:
    got = {f.key: f.owner for f in funnel_factors(contract, margin=True, by="channel")}
    assert got == {
        "leads": "marketing",
        "mix": "marketing",
        "mql_rate": "marketing",
        "sql_rate": "shared",  # MQL (marketing) -> SQL (sales) is a hand-off
        "opportunity_rate": "sales",
        "win_rate": "sales",
        "deal_size": "sales",
        "margin_rate": "sales",
    }
    es = [f.label for f in funnel_factors(contract, language="es")]
    assert "tasa de cierre" in es


def test_product_of_factors_is_revenue(contract: Contract) -> None:
    base = counts({"all": [1000, 300, 150, 60, 20, 400_000, 100_000]})
    _, x0, _ = paired_factors(base, base, STAGES, margin=True)
    assert np.prod(x0[0, :-1]) == pytest.approx(400_000)
    assert np.prod(x0[0]) == pytest.approx(100_000)


def test_win_rate_drop_by_hand(contract: Contract) -> None:
    # Only the win rate changes: 20/60 -> 15/60; deal size stays 20k.
    base = counts({"all": [1000, 300, 150, 60, 20, 400_000, 0]})
    actual = counts({"all": [1000, 300, 150, 60, 15, 300_000, 0]})
    res = decompose(contract, base, actual, period="2026-Q2", base_label="plan")
    by = res.factors.set_index("factor")
    assert res.gap == pytest.approx(-100_000)
    assert by.loc["win_rate", "contribution"] == pytest.approx(-100_000)
    assert by.drop("win_rate")["contribution"].abs().max() == 0.0
    assert by.loc["win_rate", "base"] == pytest.approx(1 / 3)
    assert by.loc["win_rate", "actual"] == pytest.approx(0.25)
    assert by.loc["win_rate", "owner"] == "sales"


def test_two_changes_by_hand(contract: Contract) -> None:
    # leads 1000 -> 1100 and deal size 20k -> 18k: revenue 400k -> 396k.
    base = counts({"all": [1000, 300, 150, 60, 20, 400_000, 0]})
    actual = counts({"all": [1100, 330, 165, 66, 22, 396_000, 0]})
    res = decompose(contract, base, actual)
    by = res.factors.set_index("factor")["contribution"]
    lm = (396_000 - 400_000) / math.log(396_000 / 400_000)
    assert by["leads"] == pytest.approx(lm * math.log(1.1), rel=1e-12)
    assert by["deal_size"] == pytest.approx(lm * math.log(0.9), rel=1e-12)
    assert by.sum() == pytest.approx(-4_000, abs=1e-6)


def test_segments_add_up_and_mix_effect(contract: Contract) -> None:
    # Two channels with different yields; total leads unchanged, share moves to the weak one.
    base = counts(
        {
            "events": [500, 200, 100, 50, 20, 400_000, 0],  # 800 per lead
            "paid": [500, 100, 50, 20, 5, 50_000, 0],  # 100 per lead
        }
    )
    actual = counts(
        {
            "events": [300, 120, 60, 30, 12, 240_000, 0],
            "paid": [700, 140, 70, 28, 7, 70_000, 0],
        }
    )
    res = decompose(contract, base, actual, by="channel")
    f = res.factors.set_index("factor")["contribution"]
    assert res.gap == pytest.approx(-140_000)
    assert f.sum() == pytest.approx(res.gap, abs=1e-6)
    assert f["mix"] == pytest.approx(-140_000, abs=1e-6)  # all of it is mix
    assert f.drop("mix").abs().max() < 1e-6
    seg = res.segment_table().set_index("segment")
    assert seg.loc["events", "total"] == pytest.approx(-160_000)
    assert seg.loc["paid", "total"] == pytest.approx(20_000)
    # the long table sums to the same totals (independent pandas reduction)
    assert res.by_segment["contribution"].sum() == pytest.approx(res.gap, abs=1e-6)


def test_new_segment_and_vanished_segment(contract: Contract) -> None:
    base = counts({"a": [100, 50, 20, 10, 5, 50_000, 0], "gone": [10, 5, 2, 1, 1, 9_000, 0]})
    actual = counts({"a": [100, 50, 20, 10, 5, 50_000, 0], "new": [20, 10, 5, 2, 1, 7_000, 0]})
    res = decompose(contract, base, actual, by="channel")
    seg = res.segment_table().set_index("segment")["total"]
    assert seg["gone"] == pytest.approx(-9_000)
    assert seg["new"] == pytest.approx(7_000)
    assert res.factors["contribution"].sum() == pytest.approx(-2_000, abs=1e-6)


def test_no_wins_in_one_period(contract: Contract) -> None:
    base = counts({"all": [100, 50, 20, 10, 2, 30_000, 0]})
    actual = counts({"all": [100, 50, 20, 10, 0, 0, 0]})
    res = decompose(contract, base, actual)
    f = res.factors.set_index("factor")["contribution"]
    assert f["win_rate"] == pytest.approx(-30_000)  # deal size undefined -> unchanged
    assert f["deal_size"] == 0.0


def test_within_period_rate_undefined_is_a_clear_error(contract: Contract) -> None:
    base = counts({"all": [100, 50, 20, 10, 2, 30_000, 0]})
    actual = counts({"all": [0, 5, 2, 1, 0, 0, 0]})
    with pytest.raises(UsageError, match=r"mql but no lead.*--cohort"):
        decompose(contract, base, actual, period="2026-Q2")
    with pytest.raises(UsageError, match=">= 0"):
        decompose(contract, base, counts({"all": [-1, 0, 0, 0, 0, 0, 0]}))


def test_broken_segment_is_booked_as_cohort_timing(contract: Contract) -> None:
    # segment "(none)": 3 wins from opportunities of an earlier period, none created now
    base = counts({"a": [100, 50, 20, 10, 5, 50_000, 0], "(none)": [0, 0, 0, 0, 3, 24_000, 0]})
    actual = counts({"a": [120, 60, 24, 12, 6, 60_000, 0], "(none)": [0, 0, 0, 1, 1, 9_000, 0]})
    res = decompose(contract, base, actual, by="channel")
    f = res.factors.set_index("factor")
    assert f.loc["timing", "contribution"] == pytest.approx(9_000 - 24_000)
    assert f.loc["timing", "owner"] == "shared"
    assert res.gap == pytest.approx((60_000 + 9_000) - (50_000 + 24_000))
    assert f["contribution"].sum() == pytest.approx(res.gap, abs=1e-6)
    seg = res.segment_table().set_index("segment")
    assert seg.loc["a", "total"] == pytest.approx(10_000)
    assert seg.loc["a", "timing"] == 0.0


@st.composite
def counts_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 5))
    rows = {}
    for i in range(n):
        c = draw(st.lists(st.integers(0, 40), min_size=5, max_size=5))
        revenue = float(draw(st.integers(0, 10))) * 1000 if c[4] or draw(st.booleans()) else 0.0
        rows[f"s{i}"] = [*map(float, c), revenue, revenue * 0.7]
    return counts(rows)


@settings(max_examples=80, deadline=None)
@given(counts_frames(), counts_frames())
def test_any_counts_split_exactly_by_segment(base: pd.DataFrame, actual: pd.DataFrame) -> None:
    # within-period counts need not be monotone; segments whose chain breaks become timing
    from cueva.contract import parse_contract, starter_contract

    contract = parse_contract(starter_contract("T"))
    res = decompose(contract, base, actual, by="channel")
    expected = actual["revenue"].sum() - base["revenue"].sum()
    assert res.gap == pytest.approx(expected, abs=1e-6)
    assert res.factors["contribution"].sum() == pytest.approx(expected, abs=1e-6)
    assert res.by_segment["contribution"].sum() == pytest.approx(expected, abs=1e-6)
